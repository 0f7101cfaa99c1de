import Foundation
import Testing

/// A real server on a temporary www/ tree, driven through the crpc fixture plugin (a line protocol
/// that opens clients, calls their methods and prints what the Lua writers send). Protocol plugins
/// reuse it to run Lua applications under test.
final class LuaHarness {
    let folder: String
    private(set) var port: UInt16 = 0
    private(set) var server: ServerProcess
    private let arguments: [String]
    private let log: Int
    private let executable: String

    /// Writes `files` (paths relative to the folder, e.g. "www/main.lua") and starts the server.
    /// With `ownExecutable`, the server runs from a copy of MonaServer inside the folder.
    /// `crpcDefines` go to the C compiler of the crpc fixture (e.g. an older declared ABI version).
    init(files: [String: String], ini extra: String = "", arguments: [String] = [], log: Int = 7,
         ownExecutable: Bool = false, crpcDefines: [String] = []) throws {
        folder = try TestEnvironment.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(folder)/plugins", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(folder)/www", withIntermediateDirectories: true)
        try TestEnvironment.buildCPlugin("crpc", into: "\(folder)/plugins", defines: crpcDefines)
        for (path, content) in files { try Self.write(content, to: "\(folder)/\(path)") }
        executable = ownExecutable ? "\(folder)/MonaServer" : "\(TestEnvironment.products)/MonaServer"
        if ownExecutable {
            try FileManager.default.copyItem(atPath: "\(TestEnvironment.products)/MonaServer", toPath: executable)
        }
        self.arguments = arguments
        self.log = log
        // The port is free when picked, not reserved: another test's listener (or a connection's source
        // port) may take it before the server binds it. The server then says it cannot listen: again on another.
        var attempt = 0
        while true {
            port = TestEnvironment.freePort()
            let ini = "RTMFP.port=0\nRTMP.port=0\nHTTP.port=0\nRTSP.port=0\n\(extra)\n[plugins]\npath=plugins\n[rpc]\nlibrary=libcrpc.so\nhost=127.0.0.1\nport=\(port)\n"
            server = try ServerProcess(directory: folder, ini: ini, extra: arguments, log: log, executable: executable)
            try server.waitUntilStarted()
            attempt += 1
            guard server.output.contains("rpc: cannot listen on TCP"), attempt < 3 else { break }
            _ = server.terminate()
        }
    }

    /// Starts the server again on the same folder (after a stop or a kill).
    func restart() throws {
        if server.process.isRunning { _ = server.terminate() }
        server = try ServerProcess(directory: folder, ini: nil, extra: arguments, log: log, executable: executable)
        try server.waitUntilStarted()
    }

    /// Kills the server with SIGKILL, as a crash would.
    func kill9() {
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
    }

    /// Compiles `Tests/Fixtures/luamodules/<name>.c` into `<folder>/<relative>` as a Lua C module.
    func buildLuaModule(_ name: String, at relative: String) throws {
        let output = "\(folder)/\(relative)"
        let result = try TestEnvironment.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-Wall", "-Werror",
                                                              "-I/usr/include/luajit-2.1",
                                                              "\(TestEnvironment.repository)/Tests/Fixtures/luamodules/\(name).c",
                                                              "-o", output])
        guard result.status == 0 else { throw TestFailure("cc \(name).c: \(result.output)") }
    }

    deinit {
        _ = server.terminate()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Writes a file, creating its folders.
    static func write(_ content: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try TestEnvironment.write(content, to: path)
    }

    /// A new connection to the crpc plugin.
    func connect() throws -> Session { Session(try TestSocket(tcpPort: port)) }

    /// One crpc connection: a command and its answer line.
    final class Session {
        let socket: TestSocket
        init(_ socket: TestSocket) { self.socket = socket }

        @discardableResult
        func command(_ line: String) throws -> String {
            try socket.send(line + "\n")
            return try socket.readLine()
        }

        func readLine() throws -> String { try socket.readLine() }

        /// Reads a line and expects exactly this text.
        func expectLine(_ expected: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let line = try readLine()
            #expect(line == expected, comment, sourceLocation: sourceLocation)
        }

        /// Sends a command that has no answer line (media pushes).
        func send(_ line: String) throws { try socket.send(line + "\n") }

        /// Sends a command and expects exactly this answer (recorded as a test issue otherwise).
        func expect(_ line: String, _ expected: String, _ comment: Comment? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
            let answer = try command(line)
            #expect(answer == expected, comment, sourceLocation: sourceLocation)
        }
    }
}
