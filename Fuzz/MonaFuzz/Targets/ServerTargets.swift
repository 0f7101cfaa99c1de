@testable import MonaHostCore

/// The frames between MonaServers, fed in pieces as a link's connection feeds them (what one read
/// leaves is passed again with the next bytes), and the application lists of `.` messages.
func fuzzServerFrames(_ input: [UInt8]) {
    var reader = ServerFrameReader()
    var kept: [UInt8] = []
    for piece in FuzzSlices(input) {
        kept += piece
        let outcome: Result<Int, ServerFrameError> = kept.withUnsafeBytes { bytes in
            do throws(ServerFrameError) {
                return .success(try reader.read(bytes) { message in
                    if case .message(".", let payload) = message { _ = try? ServerFrameReader.strings(payload) }
                })
            } catch {
                return .failure(error)
            }
        }
        guard case .success(let used) = outcome else { return }
        kept.removeFirst(used)
    }
}
