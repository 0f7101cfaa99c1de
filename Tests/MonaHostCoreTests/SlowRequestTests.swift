import Foundation
import Testing

/// Requests and messages that trickle in (slowloris): a byte now and then must not hold a connection
/// open past the time-out.
@Suite("Slow requests and messages", .serialized)
struct SlowRequestTests {
    /// Sends `bytes` one at a time every `pace` seconds on a thread of its own, until they are all sent or
    /// the server closed the connection.
    static func trickle(_ bytes: [UInt8], on socket: TestSocket, pace: TimeInterval = 0.2) {
        let fd = socket.fd
        Thread.detachNewThread {
            for byte in bytes {
                if Glibc.send(fd, [byte], 1, Int32(MSG_NOSIGNAL)) != 1 { return }
                usleep(UInt32(pace * 1_000_000)) // the pace of the trickle, not a synchronisation
            }
        }
    }

    @Test func aRequestHeadThatTricklesInGets408() throws {
        let (server, port, folder) = try HTTPIntegrationTests.server(extraIni: "timeout=1\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let socket = try TestSocket(tcpPort: port)
        let started = Date()
        Self.trickle(Array("GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: \(String(repeating: "s", count: 60))".utf8), on: socket)
        let line = try socket.readLine()
        #expect(line.hasPrefix("HTTP/1.1 408"), "\(line)")
        #expect(socket.waitForEOF(), "the connection is closed")
        #expect(Date().timeIntervalSince(started) < 3, "within the time-out (1 s) and a timer round")
    }

    @Test func aBodyThatStopsComingGets408AndAQuietConnectionCloses() throws {
        let (server, port, folder) = try HTTPIntegrationTests.server(extraIni: "timeout=1\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let partial = try TestSocket(tcpPort: port)
        try partial.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n[\"add\"")
        #expect(try partial.readLine().hasPrefix("HTTP/1.1 408"))
        #expect(partial.waitForEOF())
        // A complete request then silence: the answer, then a plain close (no 408).
        let quiet = try TestSocket(tcpPort: port)
        try quiet.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        var all: [UInt8] = []
        while let chunk = quiet.receiveSome(), !chunk.isEmpty { all += chunk }
        let text = String(decoding: all, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200") && text.hasSuffix("hello world") && !text.contains("408"), "\(text)")
    }

    @Test func aWebSocketMessageThatTricklesInIsClosed() throws {
        let (server, port, folder) = try WebSocketIntegrationTests.server(webSocket: "timeout=2\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let client = try WebSocketTestClient(port: port, timeout: 6)
        _ = try client.readText() // the welcome
        let started = Date()
        let frame = WebSocketTestClient.frame(1, Array("[\"echo\",\"\(String(repeating: "z", count: 80))\"]".utf8))
        Self.trickle(frame, on: client.socket, pace: 0.1)
        #expect(try client.readClose() == 1008, "a message not complete within the time-out")
        #expect(Date().timeIntervalSince(started) < 4, "within the time-out (2 s) and a tick")
    }
}
