import Foundation
import Testing

/// A real server on a temporary www/ tree, driven through the crpc fixture plugin (a line protocol
/// that opens clients, calls their methods and prints what the Lua writers send). Protocol plugins
/// reuse it to run Lua applications under test.
final class LuaHarness {
    let folder: String
    let port: UInt16
    let server: ServerProcess

    /// Writes `files` (paths relative to the folder, e.g. "www/main.lua") and starts the server.
    init(files: [String: String], ini extra: String = "", arguments: [String] = [], log: Int = 7) throws {
        folder = try TestEnvironment.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(folder)/plugins", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(folder)/www", withIntermediateDirectories: true)
        try TestEnvironment.buildCPlugin("crpc", into: "\(folder)/plugins")
        for (path, content) in files { try Self.write(content, to: "\(folder)/\(path)") }
        port = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTMP.port=0\nHTTP.port=0\nRTSP.port=0\n\(extra)\n[plugins]\npath=plugins\n[rpc]\nlibrary=libcrpc.so\nhost=127.0.0.1\nport=\(port)\n"
        server = try ServerProcess(directory: folder, ini: ini, extra: arguments, log: log)
        try server.waitUntilStarted()
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

        /// Sends a command and expects exactly this answer (recorded as a test issue otherwise).
        func expect(_ line: String, _ expected: String, _ comment: Comment? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
            let answer = try command(line)
            #expect(answer == expected, comment, sourceLocation: sourceLocation)
        }
    }
}
