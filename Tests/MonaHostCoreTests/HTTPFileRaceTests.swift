import Foundation
import Testing

/// A folder of www/ swapped for a symbolic link to outside www/ while requests are served: the host's
/// check and the plugin's open cannot be raced into serving the outside file.
@Suite("HTTP files and swapped symbolic links", .serialized)
struct HTTPFileRaceTests {
    /// Flips `www/swap` between a real folder and a link to `outside` until `stop` is set.
    final class Swapper: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private(set) var flips = 0
        private let done = DispatchSemaphore(value: 0)

        func start(folder: String) {
            Thread.detachNewThread { [self] in
                let swap = "\(folder)/www/swap", parked = "\(folder)/www/.parked"
                while !isStopped {
                    rename(swap, parked)
                    symlink("\(folder)/outside", swap)
                    unlink(swap)
                    rename(parked, swap)
                    lock.withLock { flips += 1 }
                }
                done.signal()
            }
        }

        private var isStopped: Bool { lock.withLock { stopped } }

        func stop() {
            lock.withLock { stopped = true }
            _ = done.wait(timeout: .now() + 5)
        }
    }

    @Test func aFolderSwappedForALinkNeverServesTheOutsideFile() throws {
        let (server, port, folder) = try HTTPIntegrationTests.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try LuaHarness.write("inside\n", to: "\(folder)/www/swap/data.txt")
        try LuaHarness.write("OUTSIDE\n", to: "\(folder)/outside/data.txt")
        let swapper = Swapper()
        swapper.start(folder: folder)
        var output = ""
        for _ in 0..<4 {
            let urls = Array(repeating: "http://127.0.0.1:\(port)/swap/data.txt", count: 250)
            output += try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "20"] + urls).output
        }
        swapper.stop()
        #expect(swapper.flips > 100, "the folder was swapped while requests were served (\(swapper.flips) times)")
        #expect(!output.contains("OUTSIDE"), "the file outside www/ was served")
        // The real folder, left in place, is served.
        let after = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/swap/data.txt"])
        #expect(after.output == "inside\n")
    }
}
