import MonaValues
import PluginABI

/// RTMFP's services of the host (ABI 1.5), in Swift terms: NetGroup memberships, the redirections of
/// onHandshake and onRendezVousUnknown, and address mobility.
extension MonaHost {
    private var ctx: OpaquePointer? { api.pointee.ctx }

    /// A group membership: the handle `groupLeave` ends, and the peer ids (32 bytes each) of the members
    /// to introduce to the newcomer, the most recently joined first.
    public struct GroupMembership {
        public let handle: mona_handle
        public let peers: [[UInt8]]
    }

    /// True when the host serves these functions (ABI 1.5 and later; an older host answers
    /// MONA_E_UNSUPPORTED to the group functions and has no handshake_targets).
    public var servesGroups: Bool {
        Int(api.pointee.struct_size) >= MemoryLayout<mona_host_api>.offset(of: \mona_host_api.handshake_targets)!
            + MemoryLayout<UnsafeRawPointer>.size
    }

    /// group_join: `client` becomes the newest member of the group `groupID` (32 bytes) and Lua
    /// client:onJoinGroup runs; at most `capacity` peers to introduce come back. A refusal carries the
    /// status: MONA_E_EXISTS (the peer id is a member already), MONA_E_CLOSED (the client closed during
    /// onJoinGroup), MONA_E_INVAL, or MONA_E_UNSUPPORTED from an older host.
    public func groupJoin(client: mona_handle, groupID: [UInt8], capacity: Int) -> Result<GroupMembership, Refusal> {
        var peers = [UInt8](repeating: 0, count: max(0, capacity) * 32)
        var count = 0
        var membership: mona_handle = 0
        let status = groupID.withUnsafeBufferPointer { group in
            peers.withUnsafeMutableBufferPointer { out in
                api.pointee.group_join(ctx, client, group.baseAddress, group.count, out.baseAddress, max(0, capacity), &count, &membership)
            }
        }
        guard status == MONA_OK else {
            let reason = switch status {
            case MONA_E_EXISTS: "a member of the group has this peer id already"
            case MONA_E_CLOSED: "the client was closed while joining"
            case MONA_E_UNSUPPORTED: "the host has no groups"
            default: "refused"
            }
            return .failure(Refusal(status: status, kind: MONA_ERR_OTHER, message: "group_join: \(reason)"))
        }
        let introduced = (0..<min(count, max(0, capacity))).map { Array(peers[$0 * 32..<($0 + 1) * 32]) }
        return .success(GroupMembership(handle: membership, peers: introduced))
    }

    /// group_leave: Lua client:onUnjoinGroup, then the member goes. The plugin repairs its overlay
    /// itself (see the header).
    @discardableResult
    public func groupLeave(_ membership: mona_handle) -> Int32 {
        api.pointee.group_leave(ctx, membership)
    }

    /// peer_addresses: where Lua's onRendezVousUnknown(protocol, peerId) of the root application sends
    /// an initiator looking for `peerID` (32 bytes), a peer none of the plugin's clients is: at most
    /// `capacity` addresses, none of them wildcard ("myself" is skipped).
    public func rendezvousTargets(peerID: [UInt8], capacity: Int) -> [mona_addr] {
        guard peerID.count == 32, capacity > 0 else { return [] }
        var found = [mona_addr](repeating: mona_addr(), count: capacity)
        var count = 0
        let status = peerID.withUnsafeBufferPointer { id in
            found.withUnsafeMutableBufferPointer { api.pointee.peer_addresses(ctx, id.baseAddress, $0.baseAddress, capacity, &count) }
        }
        return status == MONA_OK ? Array(found.prefix(count)) : []
    }

    /// handshake_targets: where Lua's onHandshake(protocol, address, path, properties, attempts) of the
    /// application of `path` sends a client shaking hands; empty: connect it normally (also from a host
    /// older than ABI 1.5). "myself" comes as 0.0.0.0 port 0 (`isMyself`): the address the client used.
    /// `protocol` nil is the plugin's section; `properties` one OBJECT (e.g. the URL's query) or nil.
    public func handshakeTargets(protocol name: String? = nil, peer: mona_addr, path: String, properties: MonaValue?,
                                 attempts: UInt32, capacity: Int) -> [mona_addr] {
        guard servesGroups, capacity > 0 else { return [] }
        let propertyBytes = properties.map { MVSWriter.encode([$0]) } ?? []
        var found = [mona_addr](repeating: mona_addr(), count: capacity)
        var count = 0
        var peer = peer
        let status = withOptionalCString(name) { protocolName in
            path.withCString { pathText in
                propertyBytes.withUnsafeBufferPointer { props in
                    found.withUnsafeMutableBufferPointer {
                        api.pointee.handshake_targets(ctx, protocolName, &peer, pathText, props.baseAddress, props.count, attempts,
                                                      $0.baseAddress, capacity, &count)
                    }
                }
            }
        }
        return status == MONA_OK ? Array(found.prefix(count)) : []
    }

    /// client_address_changed: client.address becomes `peer`, then Lua client:onAddressChanged(old).
    @discardableResult
    public func addressChanged(client: mona_handle, peer: mona_addr) -> Int32 {
        var peer = peer
        return api.pointee.client_address_changed(ctx, client, &peer)
    }
}

extension mona_addr {
    /// True for the "myself" redirection target (a wildcard host and port 0): the plugin puts the
    /// address the client used to reach the server in its place.
    public var isMyself: Bool {
        port == 0 && withUnsafeBytes(of: ip) { $0.allSatisfy { $0 == 0 } }
    }
}
