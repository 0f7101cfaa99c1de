import MonaValues
import PluginABI

/// The RTMFP services of the host API (ABI 1.5), served by the Lua runtime: groups (group_join,
/// group_leave), the redirections of onRendezVousUnknown (peer_addresses) and onHandshake
/// (handshake_targets), and address mobility (client_address_changed).
enum GroupsAPI {
    static func fill(_ api: inout mona_host_api) {
        api.group_join = { ctx, client, groupID, groupSize, peers, capacity, count, membership in
            count?.pointee = 0
            membership?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "group_join") { return refused }
            guard let groupID, groupSize == 32, let count, let membership, peers != nil || capacity == 0 else {
                return plugin.refuse("group_join", "a group id of \(groupSize) bytes (32 expected), or a NULL count, membership or peers")
            }
            let group = Array(UnsafeBufferPointer(start: groupID, count: 32))
            switch lua.joinGroup(plugin: plugin, client: client, group: group, capacity: capacity) {
            case .joined(let handle, let introduced):
                if let peers {
                    for (index, peer) in introduced.enumerated() { (peers + index * 32).update(from: peer, count: 32) }
                }
                count.pointee = introduced.count
                membership.pointee = handle
                return MONA_OK
            case .refused(let status):
                return status
            }
        }
        api.group_leave = { ctx, membership in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.check(plugin, owner: lua.memberships[membership]?.plugin, membership, "group_leave") {
                return refused
            }
            lua.leaveGroup(membership)
            return MONA_OK
        }
        api.peer_addresses = { ctx, peerID, addresses, capacity, count in
            count?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            guard let peerID, let count, addresses != nil || capacity == 0 else {
                return plugin.refuse("peer_addresses", "a NULL peer_id or count, or NULL addresses with a capacity")
            }
            let found = lua.rendezvousTargets(protocol: plugin.section, peerID: Array(UnsafeBufferPointer(start: peerID, count: 32)),
                                              capacity: capacity)
            GroupsAPI.copy(found, to: addresses, count: count)
            return MONA_OK
        }
        api.handshake_targets = { ctx, name, peer, path, properties, propertiesSize, attempts, targets, capacity, count in
            count?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            guard let peer, let count, targets != nil || capacity == 0 else {
                return plugin.refuse("handshake_targets", "a NULL peer or count, or NULL targets with a capacity")
            }
            guard let values = ObjectModelAPI.values(properties, propertiesSize), values.count <= 1,
                  values.allSatisfy({ if case .object = $0 { true } else { false } })
            else { return plugin.refuse("handshake_targets", "properties are not one MVS OBJECT (\(propertiesSize) bytes)") }
            let found = lua.handshakeTargets(protocol: name.map { String(cString: $0) } ?? plugin.section, peer: peer.pointee,
                                             path: path.map { String(cString: $0) } ?? "", properties: values.first,
                                             attempts: attempts, capacity: capacity)
            GroupsAPI.copy(found, to: targets, count: count)
            return MONA_OK
        }
        api.client_address_changed = { ctx, client, peer in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "client_address_changed") { return refused }
            guard let peer, peer.pointee.ipText != nil else {
                return plugin.refuse("client_address_changed", "no address (NULL, or of family \(peer?.pointee.family ?? 0))")
            }
            lua.changeAddress(client: client, to: peer.pointee)
            return MONA_OK
        }
    }

    /// Writes addresses into a plugin's array (room for at least `found.count`) and their count.
    private static func copy(_ found: [mona_addr], to out: UnsafeMutablePointer<mona_addr>?, count: UnsafeMutablePointer<Int>) {
        guard let out else { return }
        for (index, address) in found.enumerated() { out[index] = address }
        count.pointee = found.count
    }
}
