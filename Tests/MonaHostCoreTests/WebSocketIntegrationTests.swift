import Foundation
import Testing

/// The WebSocket plugin in the real server: Python's `websockets` for the happy paths, a raw client for
/// the RFC 6455 cases.
@Suite("WebSocket plugin with python websockets and raw frames", .serialized)
struct WebSocketIntegrationTests {
    static let app = """
    function onConnection(client, query)
        if query and query.reject then error("go away") end
        if client.protocol == "WebSocket" then
            client.writer:writeInvocation("welcome", query and query.name, query and query.n)
            client.properties("ws", "yes", { path = "/" })
        end
        function client:echo(...) return ... end
        function client:fail() error("kaboom", 0) end
        function client:nothing() end
        function client:broadcast(message)
            for id, other in pairs(mona.clients) do
                if other ~= client then other.writer:writeInvocation("news", message) end
            end
            return "sent"
        end
        function client:bye(code) client.writer:close(code) end
        function client:onMessage(data) return data end
    end
    """

    /// A server with the HTTP and WebSocket plugins on a free port.
    static func server(webSocket: String = "") throws -> (ServerProcess, UInt16, String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try LuaHarness.write(app, to: "\(folder)/www/main.lua")
        try LuaHarness.write("function onConnection(client) end", to: "\(folder)/www/room/main.lua")
        let port = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTMP.port=0\nRTSP.port=0\n[HTTP]\nhost=127.0.0.1\nport=\(port)\n[WebSocket]\n\(webSocket)"
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, port, folder)
    }

    static let python = """
    import asyncio, json, sys, websockets

    async def main(port):
        base = f"ws://127.0.0.1:{port}/"
        async with websockets.connect(base + "?name=ann&n=3", subprotocols=["chat", "other"]) as ws:
            print("subprotocol", ws.subprotocol)
            print("cookie", ws.response_headers.get("Set-Cookie"))
            print("welcome", await ws.recv())
            await ws.send(json.dumps(["echo", 1, "a", {"b": True}, None]))
            print("echo", await ws.recv())
            await ws.send(json.dumps(["fail"]))
            print("fail", await ws.recv())
            await ws.send(json.dumps(["missing"]))
            print("missing", await ws.recv())
            await ws.send(json.dumps(["nothing"]))
            await ws.send(json.dumps(["echo", "still open"]))
            print("after", await ws.recv())
            await ws.send(bytes([0, 1, 255]))
            print("binary", (await ws.recv()).hex())
            await ws.send("plain text")
            answer = await ws.recv()
            print("text", type(answer).__name__, answer)
            await ws.send("x" * 100000)
            print("long", len(await ws.recv()))
            async with websockets.connect(base + "room/"):
                await ws.send(json.dumps(["broadcast", "hello room"]))
                print("broadcast", await ws.recv())
            await ws.ping()
            await ws.send(json.dumps(["bye", 4001]))
            try:
                await ws.recv()
            except websockets.ConnectionClosed as closed:
                print("closed", closed.code)

    asyncio.run(asyncio.wait_for(main(int(sys.argv[1])), 20))
    """

    @Test func aRealClientCallsPushesAndCloses() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try Self.python.write(toFile: "\(folder)/client.py", atomically: true, encoding: .utf8)
        let run = try TestEnvironment.run("/usr/bin/python3", ["\(folder)/client.py", "\(port)"])
        #expect(run.status == 0, "\(run.output)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines == [
            "subprotocol chat",
            "cookie ws=yes; Path=/",
            #"welcome ["welcome","ann",3]"#,
            #"echo [1,"a",{"b":true},null]"#,
            #"fail ["__error","fail","kaboom"]"#,
            #"missing ["__error","missing","Method client 'missing' not found in application "]"#,
            #"after ["still open"]"#,
            "binary 0001ff",
            "text bytes b'plain text'",
            "long 100000",
            #"broadcast ["sent"]"#,
            "closed 4001",
        ], "\(run.output)")
    }

    @Test func theSampleApplicationServesItsPageAndAnswersOverWebSocket() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for file in ["main.lua", "index.html"] {
            try LuaHarness.write(try String(contentsOfFile: "\(TestEnvironment.repository)/www/\(file)", encoding: .utf8), to: "\(folder)/www/\(file)")
        }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: "RTMFP.port=0\nRTMP.port=0\nRTSP.port=0\n[HTTP]\nhost=127.0.0.1\nport=\(port)\n")
        defer { _ = server.terminate() }
        try server.waitUntilStarted()
        let page = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/"])
        #expect(page.output.contains("new WebSocket("), "GET / serves the demo page")
        let client = try WebSocketTestClient(port: port)
        #expect(client.status == 101)
        #expect(try client.readText().hasPrefix(#"["welcome","Welcome to MonaServer, 127.0.0.1:"#))
        try client.sendText(#"["hello","Bob"]"#)
        let answer = try client.readText()
        #expect(answer.hasPrefix(#"["Hello Bob! Server time: "#) && answer.contains(", connected clients: "), "\(answer)")
    }

    @Test func aPushFromAnotherClientReachesAWebSocket() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let client = try WebSocketTestClient(port: port, path: "/room/")
        #expect(client.status == 101)
        // An HTTP client of the root application broadcasts to every other client, this one included.
        let http = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/broadcast?hi"])
        #expect(http.output == #"["sent"]"#)
        #expect(try client.readText() == #"["news","hi"]"#)
    }

    @Test func publishAndPlayOverWebSocket() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let player = try WebSocketTestClient(port: port)
        _ = try player.readText()
        try player.sendText(#"["__play","chat"]"#)
        try player.sendText(#"["echo","ready"]"#)
        #expect(try player.readText() == #"["ready"]"#, "playing a name nobody publishes waits")
        let publisher = try WebSocketTestClient(port: port)
        _ = try publisher.readText()
        try publisher.sendText(#"["__publish","chat"]"#)
        #expect(try player.readText() == #"["__publishing","chat"]"#)
        try publisher.sendText(#"["hello",1,{"a":true}]"#)
        #expect(try player.readText() == #"["hello",1,{"a":true}]"#, "the publisher's JSON arrays are the publication's data")
        let intruder = try WebSocketTestClient(port: port)
        _ = try intruder.readText()
        try intruder.sendText(#"["__publish","chat"]"#)
        #expect(try intruder.readText() == #"["__error","__publish","chat is already publishing"]"#)
        try publisher.sendText(#"["__closePublish"]"#)
        #expect(try player.readText() == #"["__unpublishing","chat"]"#)
        try publisher.sendText(#"["echo",2]"#)
        #expect(try publisher.readText() == "[2]", "calls are calls again")
        try player.sendText(#"["__closePlay"]"#)
        try player.sendText(#"["echo",3]"#)
        #expect(try player.readText() == "[3]")
    }

    @Test func refusedHandshakesGetAnHTTPError() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let old = try WebSocketTestClient(port: port, headers: ["Sec-WebSocket-Version": "8"])
        #expect(old.status == 426)
        #expect(old.responseHead.contains("Sec-WebSocket-Version: 13"))
        #expect(old.socket.waitForEOF())
        let noKey = try WebSocketTestClient(port: port, headers: ["Sec-WebSocket-Key": ""])
        #expect(noKey.status == 400)
        let rejected = try WebSocketTestClient(port: port, path: "/?reject=1")
        #expect(rejected.status == 500)
        let refusal = try rejected.body()
        #expect(refusal.contains("The application could not answer this request") && !refusal.contains("go away"),
                "a script's refusal stays in the log: \(refusal)")
        let invalid = try WebSocketTestClient(port: port, path: "/%5C")
        #expect(invalid.status == 400)
        #expect(invalid.socket.waitForEOF(), "an upgrade request that is not handed over ends the connection")
        let missing = try WebSocketTestClient(port: port, path: "/nowhere/")
        #expect(missing.status == 404)
        #expect(missing.socket.waitForEOF())
    }

    /// RFC 6455 violations: each gets its close code, then the connection ends; the server goes on.
    static let violations: [(name: String, bytes: [UInt8], code: UInt16)] = [
        ("unmasked frame", WebSocketTestClient.frame(1, Array("hi".utf8), masked: false), 1002),
        ("reserved bit", WebSocketTestClient.frame(1, Array("hi".utf8), rsv: 4), 1002),
        ("unknown opcode", WebSocketTestClient.frame(5, []), 1002),
        ("fragmented ping", WebSocketTestClient.frame(9, [], fin: false), 1002),
        ("continuation first", WebSocketTestClient.frame(0, Array("hi".utf8)), 1002),
        ("invalid UTF-8", WebSocketTestClient.frame(1, [0x68, 0xC3, 0x28]), 1007),
        ("invalid UTF-8 across fragments",
         WebSocketTestClient.frame(1, [0x68, 0xE2], fin: false) + WebSocketTestClient.frame(0, [0x28, 0x28]), 1007),
        ("oversize message", WebSocketTestClient.frame(2, [UInt8](repeating: 0, count: 5000)), 1009),
        ("close with code 1005", WebSocketTestClient.frame(8, [0x03, 0xED]), 1002),
        ("close with a 1-byte payload", WebSocketTestClient.frame(8, [0x03]), 1002),
    ]

    @Test func protocolViolationsCloseWithTheirCode() throws {
        let (server, port, folder) = try Self.server(webSocket: "maxMessageSize=4096\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        for violation in Self.violations {
            let client = try WebSocketTestClient(port: port)
            #expect(client.status == 101, "\(violation.name)")
            #expect(try client.readText() == #"["welcome",null,null]"#)
            try client.send(violation.bytes)
            #expect(try client.readClose() == violation.code, "\(violation.name)")
            #expect(client.socket.waitForEOF(), "\(violation.name) ends the connection")
        }
        #expect(try WebSocketTestClient(port: port).status == 101, "the server goes on")
    }

    @Test func framesSplitAnywhereOrBatchedAndTheClosingHandshake() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let client = try WebSocketTestClient(port: port)
        _ = try client.readText()
        // One message in one-byte writes, in two fragments with a ping between them.
        let split = WebSocketTestClient.frame(1, Array(#"["echo","#.utf8), fin: false) + WebSocketTestClient.frame(9, [7])
            + WebSocketTestClient.frame(0, Array(#""split"]"#.utf8))
        for byte in split { try client.send([byte]) }
        let pong = try client.readFrame()
        #expect(pong.opcode == 10 && pong.payload == [7])
        #expect(try client.readText() == #"["split"]"#)
        // Three calls in one write: three answers in order.
        try client.send((1...3).flatMap { WebSocketTestClient.frame(1, Array(#"["echo",\#($0)]"#.utf8)) })
        #expect(try (1...3).map { _ in try client.readText() } == ["[1]", "[2]", "[3]"])
        // The client closes: the server answers with the same code, then ends the connection.
        try client.send(WebSocketTestClient.frame(8, [0x0F, 0xA0] + Array("done".utf8)))
        #expect(try client.readClose() == 4000)
        #expect(client.socket.waitForEOF())
    }

    @Test func silentClientsArePingedThenClosed() throws {
        let (server, port, folder) = try Self.server(webSocket: "timeout=2\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let client = try WebSocketTestClient(port: port)
        _ = try client.readText()
        let ping = try client.readFrame()
        #expect(ping.opcode == 9, "a ping after timeout/2")
        #expect(try client.readClose() == 1001, "closed after the whole timeout without an answer")
        // Our close answer ends it.
        try client.send(WebSocketTestClient.frame(8, [0x03, 0xE9]))
        #expect(client.socket.waitForEOF())
    }
}
