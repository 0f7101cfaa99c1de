import Foundation
import Testing

/// A long-running server returns to its baseline: thousands of short HTTP, WebSocket and RTMP
/// connections leave neither Lua memory nor resident memory behind.
@Suite("Lua memory under connection churn", .serialized)
struct LuaLeakTests {
    static let app = """
    function onConnection(client)
        function client:ping() return "pong" end
        function client:memory()
            collectgarbage("collect")
            collectgarbage("collect")
            return collectgarbage("count"), mona.clients.count
        end
    end
    """

    /// A server with HTTP (and WebSocket upgrades) and RTMP on free ports.
    static func server() throws -> (server: ServerProcess, http: UInt16, rtmp: UInt16, folder: String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try LuaHarness.write(app, to: "\(folder)/www/main.lua")
        let http = TestEnvironment.freePort()
        let rtmp = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTSP.port=0\n[HTTP]\nhost=127.0.0.1\nport=\(http)\n[RTMP]\nhost=127.0.0.1\nport=\(rtmp)\nwriteDelay=0\n"
        let server = try ServerProcess(directory: folder, ini: ini, log: 6)
        try server.waitUntilStarted()
        return (server, http, rtmp, folder)
    }

    /// One HTTP request on its own connection; the body of the answer.
    static func httpGet(_ path: String, port: UInt16) throws -> String {
        let socket = try TestSocket(tcpPort: port)
        try socket.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        var bytes: [UInt8] = []
        while let chunk = socket.receiveSome(), !chunk.isEmpty { bytes += chunk }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no HTTP answer to \(path): \(text)") }
        return String(text[split.upperBound...])
    }

    /// Lua's memory in KiB after a full collection, once every churned client is gone (the measuring
    /// request is the one client left).
    static func luaMemory(port: UInt16) throws -> Double {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let body = try httpGet("/memory", port: port)
            let values = body.trimmingCharacters(in: CharacterSet(charactersIn: "[]\n ")).split(separator: ",")
            guard values.count == 2, let memory = Double(values[0]), let clients = Double(values[1]) else {
                throw TestFailure("unexpected /memory answer: \(body)")
            }
            if clients <= 1 { return memory }
            guard Date() < deadline else { throw TestFailure("\(clients) clients still open") }
        }
    }

    /// `count` connections of each protocol: an HTTP RPC, a WebSocket upgrade with one RPC, an RTMP connect.
    static func churn(http: UInt16, rtmp: UInt16, count: Int) throws {
        for _ in 0..<count {
            #expect(try httpGet("/ping", port: http) == #"["pong"]"#)
        }
        for _ in 0..<count {
            let client = try WebSocketTestClient(port: http)
            guard client.status == 101 else { throw TestFailure("WebSocket upgrade answered \(client.status)") }
            try client.sendText(#"["ping"]"#)
            #expect(try client.readText() == #"["pong"]"#)
        }
        for _ in 0..<count {
            let client = try RTMPTestClient(port: rtmp)
            var noDelay: Int32 = 1 // connect right after C2: not held back by Nagle until C2's ACK
            setsockopt(client.socket.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            let answer = try client.connect(app: "", port: rtmp)
            guard answer.first == .string("_result") else { throw TestFailure("RTMP connect answered \(answer)") }
        }
    }

    @Test func thousandsOfConnectionsLeaveNoLuaNorResidentMemory() throws {
        let (server, http, rtmp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try Self.churn(http: http, rtmp: rtmp, count: 200) // warm-up: pools, caches, JIT traces
        let luaBefore = try Self.luaMemory(port: http)
        let residentBefore = server.residentKiB()
        try Self.churn(http: http, rtmp: rtmp, count: 1000)
        let luaAfter = try Self.luaMemory(port: http)
        let residentAfter = server.residentKiB()
        print("Lua \(luaBefore) → \(luaAfter) KiB, RSS \(residentBefore) → \(residentAfter) KiB after 3000 connections")
        #expect(luaAfter - luaBefore < 100, "Lua memory back to its baseline: \(luaBefore) → \(luaAfter) KiB")
        #expect(residentAfter - residentBefore < 3000, "resident memory back near its baseline: \(residentBefore) → \(residentAfter) KiB")
    }
}
