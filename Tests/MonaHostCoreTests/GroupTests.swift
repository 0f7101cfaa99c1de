import Foundation
import Testing

/// RTMFP's host services (ABI 1.5) through the crpc fixture (crpc_groups.c): groups and their Lua
/// objects and events, mona:joinGroup's virtual members, the client id of an opened peer, address
/// changes, and the redirections of onHandshake and onRendezVousUnknown.
@Suite("Groups, redirections and address changes (ABI 1.5)", .serialized)
struct GroupTests {
    /// A 32-byte id whose bytes are all `byte`, in hex.
    static func id(_ byte: UInt8) -> String { String(repeating: String(format: "%02x", byte), count: 32) }

    static let group = id(0xAB)

    static let app = """
    held = {}
    function onConnection(client)
        function client:onJoinGroup(group)
            self.writer:writeInvocation("onJoinGroup", group.id, group:size(), group.members(self.id) == self,
                group.members(self.rawId) == self, group.members[self.id] == self, mona.groups(group.id) == group,
                mona.groups(group.rawId) == group, mona.groups[group.id] == group, #group.rawId)
        end
        function client:onUnjoinGroup(group)
            self.writer:writeInvocation("onUnjoinGroup", group.id, group:size(), group.members[self.id] == self)
        end
        function client:onAddressChanged(old)
            self.writer:writeInvocation("onAddressChanged", old, tostring(self.address))
        end
        function client:groups()
            local listed = {}
            for id, group in pairs(mona.groups) do listed[#listed + 1] = id:sub(1, 4) .. "=" .. group:size() end
            table.sort(listed)
            return #mona.groups, table.concat(listed, ",")
        end
        function client:ids()
            local hexed = self.rawId:gsub(".", function(c) return string.format("%02x", c:byte()) end)
            return self.id, #self.rawId, hexed == self.id, mona.clients(self.rawId) == self
        end
        function client:virtual(peer, group)
            local member = mona:joinGroup(peer, group)
            if not member then return nil end
            held[peer] = member
            local found = mona.groups(group)
            return member.id, #member.rawId, found:size(), found.members(peer) == member
        end
        function client:release(peer) held[peer]:release() end
        function client:drop(peer)
            held[peer] = nil
            for _ = 1, 4 do collectgarbage() end
        end
        function client:badJoins()
            mona:joinGroup()
            mona:joinGroup("short")
            mona:joinGroup(string.rep("1", 64))
            mona:joinGroup(string.rep("1", 64), "short")
        end
    end
    """

    /// Opens a session whose client has peer id `id(byte)`.
    static func peer(_ harness: LuaHarness, _ byte: UInt8) throws -> LuaHarness.Session {
        let session = try harness.connect()
        try session.expect("openid \(id(byte)) /", "opened {}")
        return session
    }

    /// Joins `group`, checks the onJoinGroup line (size `size`), returns the membership and the peers line.
    static func join(_ session: LuaHarness.Session, capacity: Int, size: Int,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> (membership: String, peers: String) {
        try session.socket.send("join \(group) \(capacity)\n")
        try session.expectLine(#"invoke onJoinGroup "\#(group)" \#(size) true true true true true true 32"#,
                               "the client is a member during onJoinGroup, the group in mona.groups", sourceLocation: sourceLocation)
        let parts = try session.readLine().split(separator: " ", omittingEmptySubsequences: false)
        #expect(parts.first == "joined", sourceLocation: sourceLocation)
        return (parts.count > 1 ? String(parts[1]) : "", parts.count > 2 ? String(parts[2]) : "")
    }

    @Test func joiningAndLeavingShowInLuaAndIntroduceTheNewestMembersFirst() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let (a, b, c, d) = (try Self.peer(harness, 1), try Self.peer(harness, 2), try Self.peer(harness, 3), try Self.peer(harness, 4))
        try a.expect("call groups", #"ok 0 """#, "no group before its first member")

        let first = try Self.join(a, capacity: 6, size: 1)
        #expect(first.peers == "", "nobody to introduce to the first member")
        #expect(try Self.join(b, capacity: 6, size: 2).peers == Self.id(1))
        #expect(try Self.join(c, capacity: 6, size: 3).peers == "\(Self.id(2)),\(Self.id(1))", "the most recently joined first")
        let fourth = try Self.join(d, capacity: 2, size: 4)
        #expect(fourth.peers == "\(Self.id(3)),\(Self.id(2))", "at most `capacity`, newest first")
        try d.expect("join \(Self.group) 6", "join -5", "MONA_E_EXISTS: a member already, no second onJoinGroup")
        try a.expect("call groups", #"ok 1 "abab=4""#)

        try a.expect("leave \(first.membership)", #"invoke onUnjoinGroup "\#(Self.group)" 4 true"#, "still a member during onUnjoinGroup")
        try a.expectLine("leave 0")
        try a.expect("leave \(first.membership)", "leave -1", "an ended membership is unknown")
        try a.expect("call groups", #"ok 1 "abab=3""#)
        #expect(try Self.join(a, capacity: 6, size: 4).peers == "\(Self.id(4)),\(Self.id(3)),\(Self.id(2))", "a rejoin is the newest")

        try c.expect("close", #"invoke onUnjoinGroup "\#(Self.group)" 4 true"#, "closing a client leaves its groups first")
        try c.expectLine("closed")
        try a.expect("call groups", #"ok 1 "abab=3""#)
        for (session, size) in [(a, 3), (b, 2), (d, 1)] {
            try session.expect("close", #"invoke onUnjoinGroup "\#(Self.group)" \#(size) true"#)
            try session.expectLine("closed")
        }
        let observer = try Self.peer(harness, 5)
        try observer.expect("call groups", #"ok 0 """#, "the group went with its last member")
    }

    @Test func badGroupIdsAndOtherPluginsHandlesAreRefused() throws {
        let otherPort = TestEnvironment.freePort()
        let harness = try LuaHarness(files: ["www/main.lua": Self.app],
                                     ini: "[thief]\nlibrary=libcrpc.so\nhost=127.0.0.1\nport=\(otherPort)\n")
        let owner = try Self.peer(harness, 1)
        try owner.expect("join abcd 6", "join -1", "a group id of 2 bytes")
        #expect(harness.server.waitFor("rpc: group_join refused: a group id of 2 bytes (32 expected)"))
        let membership = try Self.join(owner, capacity: 6, size: 1).membership
        let client = try owner.command("handles").split(separator: " ")[1]

        let thief = LuaHarness.Session(try TestSocket(tcpPort: otherPort))
        try thief.expect("openid \(Self.id(2)) /", "opened {}")
        try thief.expect("steal join \(client)", "steal join -1")
        try thief.expect("steal leave \(membership)", "steal leave -1")
        try thief.expect("steal moved \(client)", "steal moved -1")
        #expect(harness.server.waitFor("thief: group_join refused: handle \(client) belongs to rpc"))
        #expect(harness.server.waitFor("thief: group_leave refused: handle \(membership) belongs to rpc"))
        #expect(harness.server.waitFor("thief: client_address_changed refused: handle \(client) belongs to rpc"))
        try owner.expect("call groups", #"ok 1 "abab=1""#, "the owner's membership is untouched")
        try owner.expect("leave \(membership)", #"invoke onUnjoinGroup "\#(Self.group)" 1 true"#)
        try owner.expectLine("leave 0")
    }

    @Test func virtualMembersCountUntilReleasedOrCollected() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let a = try Self.peer(harness, 0x1C) // ids with letters: crpc reads digits-only tokens as numbers
        try a.expect("call virtual \(Self.id(0x9A)) \(Self.group)", #"ok "\#(Self.id(0x9A))" 32 1 true"#)
        try a.expect("call groups", #"ok 1 "abab=1""#, "a virtual member makes the group")
        #expect(try Self.join(a, capacity: 6, size: 2).peers == Self.id(0x9A), "a virtual member is introduced to those who join")
        try a.expect("call virtual \(Self.id(0x8B)) \(Self.group)", #"ok "\#(Self.id(0x8B))" 32 3 true"#)
        try a.expect("call release \(Self.id(0x9A))", "ok ")
        try a.expect("call groups", #"ok 1 "abab=2""#)
        try a.expect("call release \(Self.id(0x9A))", "ok ", "a second release does nothing")
        try a.expect("call drop \(Self.id(0x8B))", "ok ")
        try a.expect("call groups", #"ok 1 "abab=1""#, "a collected member object releases its member")
        try a.expect("call virtual \(Self.id(0x1C)) \(Self.group)", "ok nil", "the client's own peer id is a member already")
        #expect(harness.server.waitFor("Member \(Self.id(0x1C)) is already in group \(Self.group)"))
        try a.expect("call badJoins", "ok ")
        for message in ["Member id argument missing", "Bad member format id short", "Group id argument missing", "Bad group format id short"] {
            #expect(harness.server.waitFor(message), "\(message) is logged")
        }
        try a.expect("call groups", #"ok 1 "abab=1""#, "failed joins make no group")
    }

    @Test func anRTMFPClientIsKnownByItsPeerIdAndFollowsItsAddress() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let a = try Self.peer(harness, 0x5C)
        try a.expect("call ids", #"ok "\#(Self.id(0x5C))" 32 true true"#, "client.id is the hex of client_id, client.rawId its bytes")
        let moved = try a.command("moved 10.1.2.3 4567")
        #expect(moved.hasPrefix(#"invoke onAddressChanged "127.0.0.1:"#) && moved.hasSuffix(#"" "10.1.2.3:4567""#), "\(moved)")
        try a.expectLine("moved 0")
        try a.expect("moved 10.1.2.3 4567", "moved 0", "the same address: no event")
        try a.expect("moved 10.1.2.3 80", #"invoke onAddressChanged "10.1.2.3:4567" "10.1.2.3:80""#)
        try a.expectLine("moved 0")
        try a.expect("moved nothing 1", "moved -1", "an address of no family is refused")
    }

    static let redirectingApps = [
        "www/main.lua": """
        function onHandshake(protocol, address, path, properties, attempts)
            NOTE("handshake ", protocol, " ", address:match("^127%.0%.0%.1:%d+$") and "peer" or address, " [", path, "] ",
                 type(properties.n), " ", attempts)
            local mode = properties.mode
            if mode == "one" then return "1.2.3.4:1935" end
            if mode == "many" then
                return { "5.6.7.8:1936", { mona:createSocketAddress("9.9.9.9", 99), "MySelf" } }, "1.2.3.4:1935", "0.0.0.0:1935"
            end
            if mode == "fail" then error("handshake boom") end
            if mode == "odd" then return "example.com:1935", true, 12, mona:createIPAddress("3.3.3.3"), "[::1]:7" end
        end
        function onRendezVousUnknown(protocol, peerId)
            NOTE("rendezvous ", protocol, " ", #peerId)
            if peerId == string.rep("\\1", 32) then return "myself", "0.0.0.0:1935", { "2.2.2.2:2" } end
            if peerId == string.rep("\\2", 32) then error("rendezvous boom") end
        end
        """,
        "www/sub/main.lua": """
        function onHandshake(protocol, address, path, properties, attempts) return "7.7.7.7:" .. attempts end
        """,
    ]

    @Test func onHandshakeRedirectsToTheTargetsItReturns() throws {
        let harness = try LuaHarness(files: Self.redirectingApps)
        let session = try harness.connect()
        try session.expect("handshake - 1 mode=one n=5", "targets 1.2.3.4:1935")
        #expect(harness.server.waitFor("handshake rpc peer [] number 1"), "protocol (the section), address, path, converted properties, attempts")
        try session.expect("handshake - 2 mode=many", "targets 5.6.7.8:1936 9.9.9.9:99 0.0.0.0:0 1.2.3.4:1935",
                           "arrays, SocketAddress objects, \"myself\" as 0.0.0.0:0 (a wildcard host too, once)")
        try session.expect("handshake - 1 mode=odd", "targets 0.0.0.0:0 3.3.3.3:0 [::1]:7",
                           "a port is one of the wildcard host (\"myself\"), an IPAddress has port 0; names and booleans are skipped")
        #expect(harness.server.waitFor("onHandshake redirection target example.com:1935 skipped: invalid IP address example.com"))
        #expect(harness.server.waitFor("onHandshake redirection target of type boolean skipped"))
        try session.expect("handshake - 1 mode=fail", "targets", "an error: no redirection")
        #expect(harness.server.waitFor("Error in onHandshake of application www: "))
        #expect(harness.server.waitFor("handshake boom"))
        try session.expect("handshake - 1", "targets", "nothing returned: connect normally")
        try session.expect("handshake /sub/ 3", "targets 7.7.7.7:3", "the application of the path, loaded, normalised")
        try session.expect("handshake /missing 1", "targets", "no such application: no redirection")
    }

    @Test func onRendezVousUnknownAnswersWithoutMyself() throws {
        let harness = try LuaHarness(files: Self.redirectingApps)
        let session = try harness.connect()
        try session.expect("rendezvous \(Self.id(1))", "targets 2.2.2.2:2", "\"myself\" and wildcard hosts are skipped")
        #expect(harness.server.waitFor("rendezvous rpc 32"), "the plugin's section and the raw peer id")
        try session.expect("rendezvous \(Self.id(2))", "targets")
        #expect(harness.server.waitFor("rendezvous boom"))
        try session.expect("rendezvous \(Self.id(3))", "targets", "nothing returned")
    }
}
