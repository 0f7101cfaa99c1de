import CLuaJIT
import CLuaShim
import MonaValues
import PluginABI

/// The RTMFP side of the object model in Lua: group memberships (group_join, group_leave), the
/// redirection events onHandshake and onRendezVousUnknown, and address mobility.
extension LuaRuntime {
    /// What group_join gave.
    enum GroupJoining {
        /// A member now: its membership, and the peer ids (32 bytes each) to introduce, newest first.
        case joined(membership: UInt64, peers: [[UInt8]])
        /// Not a member: MONA_E_EXISTS or MONA_E_CLOSED.
        case refused(Int32)
    }

    /// Most peers one join answers (a bound on what Lua builds for a plugin's capacity).
    static let maxIntroducedPeers = 1 << 16

    /// Makes `client` (an open one) the newest member of the group of 32-byte id `group`: onJoinGroup,
    /// then at most `capacity` peers to introduce.
    func joinGroup(plugin: LoadedPlugin, client: UInt64, group: [UInt8], capacity: Int) -> GroupJoining {
        let membership = host.reactor.makeHandle()
        memberships[membership] = MembershipRecord(plugin: plugin, client: client)
        clients[client]?.memberships.insert(membership)
        var outcome = GroupJoining.refused(MONA_E_CLOSED)
        call("joinGroup", client: client, what: "client:onJoinGroup", {
            lua_pushnumber(L, Double(membership))
            lua_pushnumber(L, Double(client))
            group.withUnsafeBytes { lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            lua_pushnumber(L, Double(min(capacity, Self.maxIntroducedPeers)))
            return 4
        }, results: { first, _ in
            switch LuaBridge(L: L).string(at: first) {
            case "OK": outcome = .joined(membership: membership, peers: strings(in: first + 1).filter { $0.count == 32 })
            case "EXISTS": outcome = .refused(MONA_E_EXISTS)
            default: break
            }
        })
        if case .refused = outcome { // never a member, or no more (its client closed during onJoinGroup)
            memberships[membership] = nil
            clients[client]?.memberships.remove(membership)
        }
        return outcome
    }

    /// Ends a membership: onUnjoinGroup while still a member, then the member goes (and its group with
    /// its last member). Nothing for an ended membership.
    func leaveGroup(_ membership: UInt64) {
        guard let record = memberships.removeValue(forKey: membership) else { return }
        clients[record.client]?.memberships.remove(membership)
        call("leaveGroup", client: record.client, what: "client:onUnjoinGroup") {
            lua_pushnumber(L, Double(membership))
            return 1
        }
    }

    /// client.address becomes `peer`, then client:onAddressChanged(old).
    func changeAddress(client: UInt64, to peer: mona_addr) {
        call("addressChanged", client: client, what: "client:onAddressChanged") {
            lua_pushnumber(L, Double(client))
            lua_pushstring(L, peer.description)
            return 2
        }
    }

    /// onHandshake(protocol, address, path, properties, attempts) of the application of `path`: at most
    /// `capacity` redirection targets, "myself" (any wildcard host) as 0.0.0.0:0.
    func handshakeTargets(protocol name: String, peer: mona_addr, path: String, properties: MonaValue?, attempts: UInt32,
                          capacity: Int) -> [mona_addr] {
        var targets: [mona_addr] = []
        call("handshake", what: "onHandshake", {
            lua_pushstring(L, name)
            lua_pushstring(L, peer.description)
            lua_pushstring(L, path)
            if let properties { _ = LuaBridge(L: L).push([properties]) } else { lua_pushnil(L) }
            lua_pushnumber(L, Double(attempts))
            return 5
        }, results: { first, _ in targets = redirections(in: first, capacity: capacity, keepMyself: true) })
        return targets
    }

    /// onRendezVousUnknown(protocol, rawPeerId) of the root application: at most `capacity` addresses,
    /// without "myself" nor wildcard hosts.
    func rendezvousTargets(protocol name: String, peerID: [UInt8], capacity: Int) -> [mona_addr] {
        var targets: [mona_addr] = []
        call("rendezvousUnknown", what: "onRendezVousUnknown", {
            lua_pushstring(L, name)
            peerID.withUnsafeBytes { lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            return 2
        }, results: { first, _ in targets = redirections(in: first, capacity: capacity, keepMyself: false) })
        return targets
    }

    /// The strings of the Lua array at `index`, as bytes.
    private func strings(in index: Int32) -> [[UInt8]] {
        guard lua_type(L, index) == LUA_TTABLE else { return [] }
        let bridge = LuaBridge(L: L)
        return (0..<Int32(clamping: lua_objlen(L, index))).map { position in
            lua_rawgeti(L, index, position + 1)
            defer { mona_lua_pop(L, 1) }
            return bridge.bytes(at: -1)
        }
    }

    /// The targets the prelude listed as { ip, port, ip, port, … } at `index`: the first `capacity`
    /// distinct ones; a wildcard host is "myself" (0.0.0.0:0), kept or dropped.
    private func redirections(in index: Int32, capacity: Int, keepMyself: Bool) -> [mona_addr] {
        guard lua_type(L, index) == LUA_TTABLE else { return [] }
        let bridge = LuaBridge(L: L)
        let length = Int32(clamping: lua_objlen(L, index))
        var found: [mona_addr] = []
        var seen: Set<String> = []
        var position: Int32 = 1
        while position < length, found.count < capacity {
            lua_rawgeti(L, index, position)
            lua_rawgeti(L, index, position + 1)
            let ip = bridge.string(at: -2)
            let port = UInt16(exactly: lua_tonumber(L, -1))
            mona_lua_pop(L, 2)
            position += 2
            guard let port, var address = mona_addr(ip: ip, port: port) else { continue }
            if address.isWildcard {
                guard keepMyself else { continue }
                address = .myself
            }
            if seen.insert(address.description).inserted { found.append(address) }
        }
        return found
    }
}

extension mona_addr {
    /// "myself" among redirection targets: 0.0.0.0:0, the address the client used.
    static var myself: mona_addr {
        var address = mona_addr()
        address.family = UInt16(MONA_AF_INET)
        return address
    }

    /// True when the host is 0.0.0.0 or ::.
    var isWildcard: Bool { withUnsafeBytes(of: ip) { $0.allSatisfy { $0 == 0 } } }
}
