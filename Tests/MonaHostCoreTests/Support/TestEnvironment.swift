import Foundation
import PluginABI

/// Paths and helpers shared by the tests: the build products, the repository, temporary folders,
/// free ports and C fixtures compiled on the fly.
enum TestEnvironment {
    /// The folder of the test bundle, where `swift build` also put MonaServer and libMona*.so.
    static let products: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()

    /// The repository root (this file is Tests/MonaHostCoreTests/Support/TestEnvironment.swift).
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A new empty temporary folder.
    static func temporaryDirectory() throws -> String {
        let base = (NSTemporaryDirectory() as NSString).resolvingSymlinksInPath
        var template = Array("\(base)/mona-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        return String(cString: made)
    }

    /// A port free for TCP and UDP on 127.0.0.1 a moment ago, never handed out before in this process,
    /// and outside the kernel's ephemeral range (`ip_local_port_range`): a listener bound to port 0 or
    /// the source port of any connection, from which the kernel picks, cannot take it before the
    /// server under test binds it.
    static func freePort() -> UInt16 {
        let (low, high) = ephemeralRange
        // The larger of the ranges below and above the ephemeral one, skipping the well-known ports.
        let below = 10_000..<max(10_000, low)
        let above = min(65_536, high + 1)..<65_536
        let candidates = below.count >= above.count ? below : above
        portLock.lock()
        defer { portLock.unlock() }
        for _ in 0..<1000 where !candidates.isEmpty {
            let port = UInt16(Int.random(in: candidates))
            guard !givenPorts.contains(port), isFree(port, Int32(SOCK_STREAM.rawValue)), isFree(port, Int32(SOCK_DGRAM.rawValue))
            else { continue }
            givenPorts.insert(port)
            return port
        }
        return boundToZero() // no free candidate (unlikely): the kernel's choice
    }

    private static let portLock = NSLock()
    nonisolated(unsafe) private static var givenPorts = Set<UInt16>()

    /// The kernel's ephemeral port range (32768–60999 when it cannot be read).
    private static let ephemeralRange: (Int, Int) = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let numbers = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        return numbers.count == 2 && numbers[0] <= numbers[1] ? (numbers[0], numbers[1]) : (32768, 60999)
    }()

    /// Whether a socket of `type` binds 127.0.0.1:`port` now (it is released at once).
    private static func isFree(_ port: UInt16, _ type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A port the kernel picks (bound to 0, read back, released).
    private static func boundToZero() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// The host's ABI version as the server prints it ("major.minor").
    static let hostABI = "\(MONA_ABI_VERSION >> 16).\(MONA_ABI_VERSION & 0xFFFF)"

    /// Compiles `Tests/Fixtures/cplugins/<name>.c` (with its companions `<name>_*.c`) against the ABI
    /// header alone into `<folder>/lib<name>.so` (`defines`: NAME=VALUE for the C compiler; `flags`:
    /// more compiler options, e.g. -fvisibility=hidden).
    @discardableResult
    static func buildCPlugin(_ name: String, into folder: String, defines: [String] = [], flags: [String] = []) throws -> String {
        let fixtures = "\(repository)/Tests/Fixtures/cplugins"
        let companions = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? [])
            .filter { $0.hasPrefix("\(name)_") && $0.hasSuffix(".c") }.sorted().map { "\(fixtures)/\($0)" }
        return try compile(compiler: ["cc", "-std=c99"], sources: ["\(fixtures)/\(name).c"] + companions,
                           output: "\(folder)/lib\(name).so", options: defines.map { "-D\($0)" } + flags)
    }

    /// Compiles `Tests/Fixtures/cplugins/<name>.cpp` with g++ into `<folder>/lib<name>.so`: a C++ plugin
    /// that includes the header and defines its entry with no annotation of its own.
    @discardableResult
    static func buildCxxPlugin(_ name: String, into folder: String, flags: [String] = []) throws -> String {
        try compile(compiler: ["g++", "-std=c++20"], sources: ["\(repository)/Tests/Fixtures/cplugins/\(name).cpp"],
                    output: "\(folder)/lib\(name).so", options: flags)
    }

    private static func compile(compiler: [String], sources: [String], output: String, options: [String]) throws -> String {
        let result = try run("/usr/bin/env", compiler + ["-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                                                         "-I", "\(repository)/Sources/PluginABI/include"]
                                                + options + sources + ["-o", output])
        guard result.status == 0 else { throw TestFailure("\(compiler[0]) \(sources.map { ($0 as NSString).lastPathComponent }) failed: \(result.output)") }
        return output
    }

    /// Runs a command to completion; returns its exit status and its merged output.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // Children inherit the test runner's blocked signals: `timeout`'s TERM would never reach a tool that
        // hangs, so a time-out kills (KILL cannot be blocked) and the run still ends.
        process.arguments = executable == "/usr/bin/timeout" && arguments.first.map({ !$0.hasPrefix("-") }) == true
            ? ["-s", "KILL"] + arguments : arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Writes a text file.
    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// A failure of the test machinery itself.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
