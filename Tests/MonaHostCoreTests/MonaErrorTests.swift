@testable import MonaHostCore
import PluginABI
import Testing

/// The `mona_error` the host fills for plugins: the kind, and the message NUL-terminated and cut to fit.
@Suite struct MonaErrorTests {
    private static func message(_ error: mona_error) -> [UInt8] {
        withUnsafeBytes(of: error.message) { Array($0.prefix { $0 != 0 }) }
    }

    @Test func theMessageIsCopiedWholeOrCutToItsField() {
        var error = mona_error()
        withUnsafeMutableBytes(of: &error.message) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0x41) }
        ObjectModelAPI.explain(&error, MONA_ERR_NOTFOUND, "File live/cam.m3u8 doesn't exist")
        #expect(error.kind == MONA_ERR_NOTFOUND)
        #expect(Self.message(error) == Array("File live/cam.m3u8 doesn't exist".utf8), "terminated: the old bytes after it are not read")

        let capacity = MemoryLayout.size(ofValue: error.message)
        ObjectModelAPI.explain(&error, MONA_ERR_OTHER, String(repeating: "é", count: capacity))
        #expect(Self.message(error).count == capacity - 1)
        #expect(withUnsafeBytes(of: error.message) { $0[capacity - 1] } == 0)

        ObjectModelAPI.explain(&error, MONA_ERR_SCRIPT, "")
        #expect(Self.message(error).isEmpty && error.kind == MONA_ERR_SCRIPT)
        ObjectModelAPI.explain(nil, MONA_ERR_SCRIPT, "nowhere") // no error asked for: nothing happens
    }

    @Test func piecesAreWrittenOneAfterTheOtherAndCutWhereTheFieldEnds() {
        var error = mona_error()
        ObjectModelAPI.explain(&error, MONA_ERR_NOTFOUND) { write in
            write("File ")
            write("live/cam.m3u8")
            write(" doesn't exist")
        }
        #expect(error.kind == MONA_ERR_NOTFOUND)
        #expect(Self.message(error) == Array("File live/cam.m3u8 doesn't exist".utf8))

        let capacity = MemoryLayout.size(ofValue: error.message)
        let long = String(repeating: "a", count: capacity - 3)
        ObjectModelAPI.explain(&error, MONA_ERR_OTHER) { write in
            write(long)
            write("bcd")
            write("never written")
        }
        #expect(Self.message(error) == Array((long + "bc").utf8))
        #expect(withUnsafeBytes(of: error.message) { $0[capacity - 1] } == 0)
    }
}
