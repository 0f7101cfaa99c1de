import Foundation
import Testing

/// Lua's sockets (mona:createTCPClient, createTCPServer, createUDPSocket) on a real server: the
/// scripts talk to test sockets over loopback, and tell the test what they saw through a crpc client
/// (its writer's pushes arrive as "invoke …" lines).
@Suite("Lua sockets", .serialized)
struct LuaSocketTests {
    /// The application under test: a TCP server whose accepted clients behave as `mode` says, a UDP echo,
    /// and RPCs for the crpc client (which also receives the events as pushes).
    static let application = """
    local watcher
    local function push(...) if watcher then watcher.writer:writeInvocation(...) end end
    local held = {}
    mode = "echo"

    server = mona:createTCPServer()
    function server:onConnection(client)
        if mode == "unreferenced" then return push("accepted") end
        held[client] = true
        function client:onDisconnection(...) held[self] = nil push("serverSideClosed", select("#", ...)) end
        if mode == "echo" then
            function client:onData(data) self:send(data) end
        elseif mode == "frames" then
            -- 2-byte big-endian length, then the payload: each whole frame is echoed, a partial one waits.
            function client:onData(data)
                if #data < 2 then return 0 end
                local size = data:byte(1) * 256 + data:byte(2)
                if #data < 2 + size then return 0 end
                self:send(data:sub(1, 2 + size))
                return 2 + size
            end
        elseif mode == "consumption" then
            function client:onData(data)
                self:send(data .. "|")
                local first = data:sub(1, 1)
                if first == "e" and #data == 2 then return 0 end
                if first == "x" then return end
                if first == "n" then return nil end
                return 2
            end
        elseif mode == "flood" then
            local chunk, total, err = string.rep("x", floodChunk), 0, nil
            repeat
                err = client:send(chunk)
                if not err then total = total + #chunk end
            until err or total >= 1024 * 1048576
            push("flood", total, err)
        end
    end
    assert(server:start("127.0.0.1", 0))

    udp = mona:createUDPSocket()
    assert(udp:bind("127.0.0.1:0"))
    function udp:onPacket(data, from) self:send(data .. "@" .. from, from) end

    function onConnection(client)
        watcher = client
        function client:ports() return server.address.port, udp.address.port, server.running end
        function client:setMode(value, chunk) mode, floodChunk = value, chunk end
        function client:collect() collectgarbage() end
        function client:connect(...)
            tcp = mona:createTCPClient()
            function tcp:onData(data) push("clientData", data) end
            function tcp:onDisconnection(...) push("clientClosed", select("#", ...), ...) end
            return tcp:connect(...), tcp.connected
        end
        function client:connectForms(port)
            forms = { mona:createTCPClient(), mona:createTCPClient(), mona:createTCPClient() }
            return forms[1]:connect(port), forms[2]:connect(mona:createSocketAddress("127.0.0.1", port)),
                forms[3]:connect(mona:createIPAddress("127.0.0.1"), port)
        end
        function client:send(data) return select("#", tcp:send(data)) end
        function client:state()
            return tcp.connected, tostring(tcp.address) ~= "0.0.0.0:0", tostring(tcp.peerAddress), type(tcp.idleTime)
        end
        function client:disconnect() tcp:disconnect() return tcp.connected, tcp:send("late") end
        function client:forget() tcp = nil collectgarbage() end
        function client:udpClient(port)
            u2 = mona:createUDPSocket()
            function u2:onPacket(data, from) push("packet", data, from == tostring(self.peerAddress)) end
            local err = u2:connect("127.0.0.1", port)
            return err == nil, u2:send("hello"), tostring(u2.peerAddress), u2.address.port ~= 0
        end
        function client:udpDisconnect(port)
            u2:disconnect()
            return tostring(u2.peerAddress), u2:send("no peer"), u2:send("to", "127.0.0.1:" .. port)
        end
        function client:udpClose() u2:close() return u2:send("late") end
        function client:dnsConnect()
            local ip = mona:createIPAddressWithDNS("localhost") -- this machine, in the family "localhost" resolves to
            dnsServer = mona:createTCPServer()
            function dnsServer:onConnection(peer) push("dnsAccepted", peer.connected) end
            dnsServer:start(ip, 0)
            dnsClient = mona:createTCPClient()
            return dnsClient:connect("localhost", dnsServer.address.port)
        end
        function client:stopServer() server:stop() return server.running end
    end
    """

    /// A server running `application`, a crpc session opened on "/", and the ports of the Lua TCP server
    /// and UDP socket.
    private struct Running {
        let harness: LuaHarness
        let session: LuaHarness.Session
        let tcp: UInt16
        let udp: UInt16
    }

    private func start() throws -> Running {
        let harness = try LuaHarness(files: ["www/main.lua": Self.application])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        let ports = try session.command("call ports").split(separator: " ")
        guard ports.count == 4, ports[0] == "ok", let tcp = UInt16(ports[1]), let udp = UInt16(ports[2]) else {
            throw TestFailure("ports: \(ports)")
        }
        #expect(ports[3] == "true", "server.running")
        return Running(harness: harness, session: session, tcp: tcp, udp: udp)
    }

    @Test func faqPolicyServerAnswersThePolicyRequest() throws {
        let repository = TestEnvironment.repository
        let port = TestEnvironment.freePort()
        let harness = try LuaHarness(files: [
            "www/main.lua": try String(contentsOfFile: "\(repository)/www/main.lua", encoding: .utf8),
            "www/policy/main.lua": try String(contentsOfFile: "\(repository)/www/policy/main.lua", encoding: .utf8),
        ], ini: "[policy]\nport=\(port)")
        let flash = try TestSocket(tcpPort: port)
        try flash.send("<policy-file-")
        try flash.send("request/>\0") // the request in two pieces: onData keeps the first (returns 0)
        var answer: [UInt8] = []
        while let chunk = flash.receiveSome(), !chunk.isEmpty { answer += chunk }
        let text = String(decoding: answer, as: UTF8.self)
        #expect(text.hasPrefix("<?xml"))
        #expect(text.contains(#"<allow-access-from domain="*" to-ports="*"/></cross-domain-policy>"#))
        #expect(answer.last == 0, "the policy ends with a NUL byte, then the server closes")
        #expect(harness.server.waitFor("Policy file sent to 127.0.0.1:"))
    }

    @Test func faqStyleScriptRunsUnchanged() throws {
        // The FAQ's form: onData sends the policy and returns data.length (nil: all consumed); the
        // client object is referenced by nothing but the connection.
        let port = TestEnvironment.freePort()
        let harness = try LuaHarness(files: ["www/main.lua": """
        policyServer = mona:createTCPServer()
        function policyServer:onConnection(client)
            function client:onData(data)
                INFO("answering the policy request")
                self:send("<cross-domain-policy><allow-access-from domain=\\"*\\" to-ports=\\"\(port)\\"/></cross-domain-policy>\\0")
                return data.length
            end
        end
        policyServer:start(\(port));
        """])
        for _ in 0..<2 { // twice on one connection: nothing is left over from the first request
            let flash = try TestSocket(tcpPort: port)
            try flash.send("<policy-file-request/>\0")
            let expected = "<cross-domain-policy><allow-access-from domain=\"*\" to-ports=\"\(port)\"/></cross-domain-policy>\0"
            #expect(try flash.receive(count: expected.utf8.count) == Array(expected.utf8))
            try flash.send("<policy-file-request/>\0")
            #expect(try flash.receive(count: expected.utf8.count) == Array(expected.utf8))
        }
        #expect(harness.server.waitFor("answering the policy request"))
    }

    @Test func echoOf64KiBAndFraming() throws {
        let app = try start()
        let (session, port) = (app.session, app.tcp)
        let payload = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let echo = try TestSocket(tcpPort: port)
        try echo.send(payload)
        #expect(try echo.receive(count: payload.count) == payload, "64 KiB echoed byte for byte")

        try session.expect("call setMode frames", "ok ")
        var frames: [UInt8] = []
        for start in stride(from: 0, to: payload.count, by: 1000) {
            let piece = payload[start..<min(start + 1000, payload.count)]
            frames += [UInt8(piece.count >> 8), UInt8(piece.count & 0xFF)] + piece
        }
        let framed = try TestSocket(tcpPort: port)
        try framed.send(Array(frames.prefix(frames.count / 2 + 7))) // a frame cut in two: its rest comes later
        try framed.send(Array(frames.dropFirst(frames.count / 2 + 7)))
        #expect(try framed.receive(count: frames.count) == frames, "every frame echoed whole, in order")
    }

    @Test func onDataConsumedCounts() throws {
        let app = try start()
        let (session, port) = (app.session, app.tcp)
        try session.expect("call setMode consumption", "ok ")
        let peer = try TestSocket(tcpPort: port)
        func exchange(_ sent: String, _ expected: String, _ comment: Comment) throws {
            try peer.send(sent)
            #expect(String(decoding: try peer.receive(count: expected.utf8.count), as: UTF8.self) == expected, comment)
        }
        try exchange("abcdef", "abcdef|cdef|ef|", "2 consumed: called again with the rest; 0 keeps \"ef\"")
        try exchange("gh", "efgh|gh|", "the kept bytes come first with the new ones")
        try exchange("xyz", "xyz|", "no return value: all consumed")
        try exchange("n1", "n1|", "nil: all consumed")
        try exchange("q", "q|", "a count past the end: all consumed")
        try exchange("12", "12|", "nothing was left over")
    }

    @Test func clientConnectsSendsReceivesAndCloses() throws {
        let app = try start()
        let session = app.session
        let listener = try TestListener()
        try session.expect("call connect 127.0.0.1 \(listener.port)", "ok true true", "connected as soon as it dials")
        try session.expect("call send hello", "ok 0", "send returns no value, even before the connection is made")
        let peer = try listener.accept()
        #expect(try peer.receive(count: 5) == Array("hello".utf8))
        try peer.send("world")
        try session.expectLine(#"invoke clientData "world""#)
        try session.expect("call state", #"ok true true "127.0.0.1:\#(listener.port)" "number""#)
        peer.shutdownWrite()
        try session.expectLine(#"invoke clientClosed 1 "127.0.0.1:\#(listener.port)""#, "the peer closed: no error")
        try session.expect("call state", #"ok false true "127.0.0.1:\#(listener.port)" "number""#)
        #expect(peer.waitForEOF(), "the server side closes too")

        // Another dial, given as one "host:port" string, ended by the script: queued bytes go out first.
        try session.expect("call connect 127.0.0.1:\(listener.port)", "ok true true")
        let second = try listener.accept()
        try session.expect("call send bye", "ok 0")
        try session.expect("call disconnect", #"invoke clientClosed 1 "127.0.0.1:\#(listener.port)""#,
                           "onDisconnection runs inside disconnect()")
        try session.expectLine(#"ok false "TCPClient not connected""#)
        #expect(try second.receive(count: 3) == Array("bye".utf8))
        #expect(second.waitForEOF())

        // The other forms: a port alone (this machine), a SocketAddress, an IPAddress and a port.
        try session.expect("call connectForms \(listener.port)", "ok true true true")
        for _ in 0..<3 { _ = try listener.accept() }

        // A port where nobody listens: the failure comes as onDisconnection with an error.
        let closedPort = TestEnvironment.freePort()
        try session.expect("call connect 127.0.0.1 \(closedPort)", "ok true true")
        let line = try session.readLine()
        #expect(line.hasPrefix(#"invoke clientClosed 2 "127.0.0.1:\#(closedPort)" "#), "\(line)")
        #expect(line.lowercased().contains("refused"), "\(line)")
    }

    @Test func udpEchoAndConnectedSocket() throws {
        let app = try start()
        let (session, udpPort) = (app.session, app.udp)
        let peer = TestSocket(udpTimeout: 5)
        let own = peer.bindLoopback()
        peer.sendDatagram(Array("ping".utf8), port: udpPort)
        #expect(peer.receiveDatagram() == Array("ping@127.0.0.1:\(own)".utf8), "onPacket(data, sender) and send(data, sender)")

        let other = TestSocket(udpTimeout: 5)
        let otherPort = other.bindLoopback()
        try session.expect("call udpClient \(otherPort)", #"ok true true "127.0.0.1:\#(otherPort)" true"#,
                           "connect returns nothing, send true; an unbound socket binds on first use")
        guard let hello = other.receiveDatagramAndPort() else { throw TestFailure("no datagram from the Lua socket") }
        #expect(hello.bytes == Array("hello".utf8))
        other.sendDatagram(Array("back".utf8), port: hello.port)
        try session.expectLine(#"invoke packet "back" true"#)
        try session.expect("call udpDisconnect \(otherPort)", #"ok "0.0.0.0:0" false true"#, "disconnected: no peer, an address is needed again")
        #expect(other.receiveDatagram() == Array("to".utf8))
        try session.expect("call udpClose", "ok false", "a closed socket has no peer any more")
    }

    @Test func hostNamesAreResolvedOffTheLoop() throws {
        let app = try start()
        let session = app.session
        try session.expect("call dnsConnect", "pending 1", "the RPC waits for the look-ups (the loop does not)")
        let lines = Set([try session.readLine(), try session.readLine()])
        #expect(lines == ["response 1 true", "invoke dnsAccepted true"], "connect(\"localhost\", port) resolved, then connected")
    }

    @Test(arguments: [262_144, 1024])
    func peerThatNeverReadsCostsBoundedMemory(chunk: Int) throws {
        let app = try start()
        let (session, port) = (app.session, app.tcp)
        try session.expect("call setMode flood \(chunk)", "ok ")
        let before = app.harness.server.residentKiB()
        let idle = try TestSocket(tcpPort: port) // never reads until the script gave up
        let line = try session.readLine()
        let parts = line.split(separator: " ", maxSplits: 3)
        guard parts.count == 4, parts[0] == "invoke", parts[1] == "flood", let total = Int(parts[2]) else {
            throw TestFailure("flood: \(line)")
        }
        #expect(parts[3].contains("data refused"), "send reports the error: \(parts[3])")
        #expect(total < 64 << 20, "sends are refused once 16 MiB wait (plus what the kernel holds): \(total) accepted")
        #expect(app.harness.server.residentKiB() - before < 96 * 1024, "the server's memory stays bounded, small sends included")
        #expect(try idle.receive(count: total).allSatisfy { $0 == UInt8(ascii: "x") }, "everything accepted is delivered")
    }

    @Test func objectsLuaNoLongerReferencesAreCollectedAndClosed() throws {
        let app = try start()
        let (session, port) = (app.session, app.tcp)
        try session.expect("call setMode unreferenced", "ok ")
        let dropped = try TestSocket(tcpPort: port)
        try session.expectLine("invoke accepted ", "onConnection ran and kept no reference")
        try session.expect("call collect", "ok ")
        #expect(dropped.waitForEOF(), "an accepted client nobody keeps is closed by the next full collection")

        let listener = try TestListener()
        try session.expect("call connect 127.0.0.1 \(listener.port)", "ok true true")
        let peer = try listener.accept()
        try session.expect("call forget", "ok ")
        #expect(peer.waitForEOF(), "a TCPClient nobody keeps is closed when collected")

        try session.expect("call stopServer", "ok false")
        #expect(throws: TestFailure.self) { try TestSocket(tcpPort: port) }
    }

    @Test func reloadedScriptListensAgainOnItsPort() throws {
        let port = TestEnvironment.freePort()
        func script(_ version: String) -> String {
            """
            server = mona:createTCPServer()
            function server:onConnection(client)
                function client:onData(data) self:send("\(version)") end
            end
            NOTE("\(version) listening ", server:start("127.0.0.1", \(port)))
            """
        }
        let harness = try LuaHarness(files: ["www/main.lua": script("v1")])
        #expect(harness.server.waitFor("v1 listening (true)"))
        try LuaHarness.write(script("v2"), to: "\(harness.folder)/www/main.lua")
        #expect(harness.server.waitFor("v2 listening (true)"),
                "the old environment's server was collected (and closed) before the new main.lua ran")
        let peer = try TestSocket(tcpPort: port)
        try peer.send("?")
        #expect(try peer.receive(count: 2) == Array("v2".utf8))
    }
}
