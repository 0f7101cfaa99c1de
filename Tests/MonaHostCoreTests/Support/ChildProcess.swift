import Foundation

/// A real client (ffmpeg, rtmpdump…) started for a test, its output captured; killed when released.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the exit (SIGKILL after `timeout` seconds); returns the status (nil if killed) and the output.
    func wait(timeout: TimeInterval) -> (status: Int32?, output: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        var killed = false
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            killed = true
        }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (killed ? nil : process.terminationStatus, text)
    }
}
