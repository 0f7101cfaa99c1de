import Foundation

/// A MonaServer started from the build products for one test, with its console output captured.
/// Stopped (SIGKILL if need be) when released, so no test leaves a server behind.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let directory: String
    private let condition = NSCondition()
    private var text = ""
    private var finished = false

    /// Starts `<executable>` with `--dir=directory --log=<log>` and `extra` (the ini is then
    /// `directory/MonaServer.ini`). Pass `ini: nil` to start without a configuration file, and an
    /// `executable` inside `directory` with `dirOption: false` to rely on the default layout.
    init(directory: String, ini: String?, extra: [String] = [], log: Int = 7,
         executable: String = "\(TestEnvironment.products)/MonaServer", dirOption: Bool = true) throws {
        self.directory = directory
        if let ini { try TestEnvironment.write(ini, to: "\(directory)/MonaServer.ini") }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = (dirOption ? ["--dir=\(directory)"] : []) + ["--log=\(log)"] + extra
        var environment = ProcessInfo.processInfo.environment
        environment["MONA_TEST_VARIABLE"] = "from the test"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                condition.lock()
                if data.isEmpty { finished = true } else { text += String(decoding: data, as: UTF8.self) }
                condition.broadcast()
                condition.unlock()
                if data.isEmpty { break }
            }
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Everything the server printed so far.
    var output: String {
        condition.lock()
        defer { condition.unlock() }
        return text
    }

    /// Waits until the output contains `needle` (`occurrences` times); false after `timeout` seconds or
    /// if the server ended.
    @discardableResult
    func waitFor(_ needle: String, occurrences: Int = 1, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        func found() -> Bool { occurrences == 1 ? text.contains(needle) : text.components(separatedBy: needle).count > occurrences }
        while !found() {
            if finished || !condition.wait(until: deadline) { return found() }
        }
        return true
    }

    /// Waits (at most 2 s) until the reader has seen the end of the server's output.
    func waitForEndOfOutput() {
        let deadline = Date().addingTimeInterval(2)
        condition.lock()
        defer { condition.unlock() }
        while !finished, condition.wait(until: deadline) {}
    }

    /// Waits for the "started" line and fails with the output if it does not come.
    func waitUntilStarted() throws {
        guard waitFor("MonaServer started") else { throw TestFailure("server did not start:\n\(output)") }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status and how long it took.
    func terminate(timeout: TimeInterval = 5) -> (status: Int32, seconds: TimeInterval) {
        let start = Date()
        kill(process.processIdentifier, SIGTERM)
        let deadline = start.addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return (-1, Date().timeIntervalSince(start))
        }
        process.waitUntilExit()
        waitForEndOfOutput()
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }

    /// The resident memory of the server in KiB (VmRSS).
    func residentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
