import Foundation
import Testing

/// Two (or one and a hand-made peer) of our servers linked as MonaServer 1.x links them (`[servers]`):
/// hello with configurations, mona.servers and its targets/initiators, handlers with AMF arguments,
/// broadcast, the `.` application list, refusal and redial, bad input. Each server's script tells the
/// test what it saw through a crpc client (pushes arrive as "invoke …" lines).
@Suite("Multi-server", .serialized)
struct ServerMeshTests {
    static let application = """
    local watcher
    local function push(...) if watcher then watcher.writer:writeInvocation(...) end end
    local rejections = mona.configs.test and mona.configs.test.rejections or 0
    function onServerConnection(server)
        if rejections > 0 then
            rejections = rejections - 1
            error("go away", 0)
        end
        function server:ping(n, t) push("ping", n, t and t.k) self:send("pong", n + 1) end
        function server:pong(n) push("pong", n) end
    end
    function onServerDisconnection(server, ...) push("serverDown", server.address, select("#", ...)) end
    function onHandshake(protocol) return mona.servers[1], mona.servers, mona.servers.initiators end
    function onConnection(client)
        watcher = client
        function client:servers()
            local server = mona.servers[1]
            if not server then return mona.servers.count end
            return mona.servers.count, #mona.servers.targets, mona.servers.initiators.count, server.isTarget,
                server.role, server["rpc.port"], mona.servers[server.address] == server, type(mona.servers)
        end
        function client:ping() mona.servers[1]:send("ping", 1, { k = "v" }) end
        function client:broadcast() mona.servers:broadcast("ping", 7, { k = "w" }) end
        function client:misuse() mona.servers.x = 1 mona.servers[1]:send(".") end
        function client:rejectPeer() mona.servers[1]:reject("bye") end
        function client:order()
            local first, second = mona.servers[1], mona.servers[2]
            return first.address < second.address, tostring(mona:createSocketAddress(second)) == second.address,
                tostring(mona:createIPAddress(first)), #mona.servers, mona.servers[3] == nil
        end
    end
    """

    /// A server linked to nobody yet, listening for links on `serversPort`.
    private func acceptor(serversPort: UInt16, extra: String = "") throws -> LuaHarness {
        try LuaHarness(files: ["www/main.lua": Self.application, "www/early/main.lua": #"NOTE("early started in ", path)"#],
                       ini: "\(extra)\n[servers]\nport=\(serversPort)")
    }

    /// A server that dials `serversPort` (as target "role=edge"), and the other ports given.
    private func dialler(serversPort: UInt16, also others: [UInt16] = []) throws -> LuaHarness {
        let targets = (["127.0.0.1:\(serversPort)?role=edge"] + others.map { "127.0.0.1:\($0)" }).joined(separator: "; ")
        return try LuaHarness(files: ["www/main.lua": Self.application, "www/early/main.lua": #"NOTE("early started in ", path)"#],
                              ini: "[servers]\ntargets=\(targets)")
    }

    @Test func twoServersLinkCallEachOtherAndShareApplications() throws {
        let port = TestEnvironment.freePort()
        let b = try acceptor(serversPort: port)
        #expect(b.server.waitFor("Servers: listening on TCP 0.0.0.0:\(port)"))
        let a = try dialler(serversPort: port)
        let aSession = try a.connect()
        let bSession = try b.connect()
        try aSession.expect("open /", "opened {}")
        try bSession.expect("open /", "opened {}")
        #expect(a.server.waitFor("Connection established with 127.0.0.1:\(port) server"), "dialled on the first manage tick")
        #expect(b.server.waitFor("Connection established with 127.0.0.1:"))

        try aSession.expect("call servers", #"ok 1 1 0 true "edge" \#(b.port) true "table""#,
                            "a target, its hello's configs under the entry's ?role=edge")
        try bSession.expect("call servers", #"ok 1 0 1 false nil \#(a.port) true "table""#, "an initiator")

        try aSession.expect("call ping", "ok ")
        try bSession.expectLine(#"invoke ping 1 "v""#, "server:ping(1, {k=\"v\"}) ran on the other server")
        try aSession.expectLine("invoke pong 2", "and its answer came back")
        try aSession.expect("call broadcast", "ok ")
        try bSession.expectLine(#"invoke ping 7 "w""#)
        try aSession.expectLine("invoke pong 8")

        // Redirections to servers: their address for the protocol (the crpc fixture's section, "rpc"),
        // loopback replaced by the link's host; the broadcaster adds the same one (dropped), the
        // initiators none.
        try aSession.expect("handshake - 1", "targets 127.0.0.1:\(b.port)")

        // An application opened on one server opens on the other (`.`).
        try bSession.expect("open /early", "opened {}")
        #expect(a.server.waitFor("early started in /early"))

        try aSession.expect("call misuse", "ok ")
        #expect(a.server.waitFor("Servers collection is read-only"))
        #expect(a.server.waitFor("Server handler . is invalid"))

        #expect(b.server.terminate().status == 0)
        try aSession.expectLine(#"invoke serverDown "127.0.0.1:\#(port)" 0"#, "onServerDisconnection(server): a normal end, no error")
        try aSession.expect("call servers", "ok 0")
    }

    @Test func broadcastReachesEveryServer() throws {
        let (portB, portC) = (TestEnvironment.freePort(), TestEnvironment.freePort())
        let b = try acceptor(serversPort: portB)
        let c = try acceptor(serversPort: portC)
        let a = try dialler(serversPort: portB, also: [portC])
        let (aSession, bSession, cSession) = (try a.connect(), try b.connect(), try c.connect())
        for session in [aSession, bSession, cSession] { try session.expect("open /", "opened {}") }
        #expect(a.server.waitFor("Connection established with 127.0.0.1:\(portB) server"))
        #expect(a.server.waitFor("Connection established with 127.0.0.1:\(portC) server"))
        try aSession.expect("call order", #"ok true true "127.0.0.1" 2 true"#, "servers by address; a server is an address too")
        try aSession.expect("call broadcast", "ok ")
        try bSession.expectLine(#"invoke ping 7 "w""#)
        try cSession.expectLine(#"invoke ping 7 "w""#)
        try aSession.expectLine("invoke pong 8")
        try aSession.expectLine("invoke pong 8")
    }

    @Test func refusedLinkIsRedialled() throws {
        let port = TestEnvironment.freePort()
        let b = try acceptor(serversPort: port, extra: "[test]\nrejections=1")
        let a = try dialler(serversPort: port)
        #expect(a.server.waitFor("Connection with 127.0.0.1:\(port) server, go away"), "the refusal's reason is logged")
        #expect(a.server.waitFor("Disconnection from 127.0.0.1:\(port) server: go away"))
        #expect(a.server.waitFor("Connection established with 127.0.0.1:\(port) server", occurrences: 2, timeout: 30),
                "dialled again ~16 s later, and accepted")
        #expect(b.server.waitFor("Connection established with 127.0.0.1:"), "the second time")

        // server:reject(reason) on an established link: the peer logs the reason, both ends hear of it.
        let session = try b.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call rejectPeer", "ok ")
        let line = try session.readLine()
        #expect(line.hasPrefix(#"invoke serverDown "127.0.0.1:"#) && line.hasSuffix(#"" 1"#), "with the reason as error: \(line)")
        #expect(a.server.waitFor("Connection with 127.0.0.1:\(port) server, bye"))
    }

    @Test func wireFormatOfMonaServer1AndBadInput() throws {
        let port = TestEnvironment.freePort()
        let b = try acceptor(serversPort: port)
        let session = try b.connect()
        try session.expect("open /", "opened {}")
        let silent = try TestSocket(tcpPort: port, timeout: 15) // connects and never says hello
        // A peer speaking 1.x's bytes by hand: hello (control 0, type 1, pairs of varint strings).
        let peer = try TestSocket(tcpPort: port)
        let pairs: [UInt8] = [1] + [4] + Array("role".utf8) + [4] + Array("hand".utf8)
        try peer.send(Self.frame([0, 0] + pairs))
        let hello = try Self.readFrame(peer)
        #expect(Array(hello.prefix(3)) == [0, 0, 1], "a hello answers the hello")
        #expect(String(decoding: hello, as: UTF8.self).contains("servers.port"), "it carries every configuration parameter")
        #expect(try Self.readFrame(peer) == [1] + Array(".".utf8) + [0], "then the applications running there: the root, \"\"")
        // "ping" by name, then by reference 1, with AMF0 numbers (1.0 and 3.0).
        try peer.send(Self.frame([4] + Array("ping".utf8) + [0, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]))
        try session.expectLine("invoke ping 1 nil")
        #expect(Array(try Self.readFrame(peer).prefix(5)) == [4] + Array("pong".utf8), "the answer names its handler the first time")
        try peer.send(Self.frame([0, 1, 0, 0x40, 0x08, 0, 0, 0, 0, 0, 0]))
        try session.expectLine("invoke ping 3 nil")
        // Arguments that are not AMF (an AMF0 number cut short), then a reference nobody named: each
        // closes its link, with a log line.
        let second = try TestSocket(tcpPort: port)
        try second.send(Self.frame([0, 0, 1]))
        _ = try Self.readFrame(second)
        _ = try Self.readFrame(second)
        try second.send(Self.frame([4] + Array("ping".utf8) + [0, 0x3F]))
        #expect(b.server.waitFor("Server 127.0.0.1:\(second.localPort) sent ping with arguments that are not AMF: link closed"))
        #expect(second.waitForEOF())
        try session.expectLine(#"invoke serverDown "127.0.0.1:\#(second.localPort)" 1"#)
        try peer.send(Self.frame([0, 9]))
        #expect(b.server.waitFor("Server 127.0.0.1:"))
        #expect(b.server.waitFor("sent an unknown handler reference 9: link closed"))
        #expect(peer.waitForEOF())
        try session.expectLine(#"invoke serverDown "127.0.0.1:\#(peer.localPort)" 1"#, "onServerDisconnection(server, error) after bad input")
        #expect(silent.waitForEOF(), "a peer that sends no hello is cut after 10 s")
        #expect(b.server.waitFor("Server 127.0.0.1:\(silent.localPort) sent no hello within 10 s: link closed"))
    }

    /// The body of the next frame a peer receives.
    private static func readFrame(_ socket: TestSocket) throws -> [UInt8] {
        let head = try socket.receive(count: 4)
        return try socket.receive(count: Int(head[0]) << 24 | Int(head[1]) << 16 | Int(head[2]) << 8 | Int(head[3]))
    }

    /// A frame: its 32-bit big-endian length, then the bytes.
    private static func frame(_ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body
    }
}
