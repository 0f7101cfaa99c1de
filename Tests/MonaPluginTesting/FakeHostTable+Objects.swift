import MonaValues
import PluginABI
import Synchronization

/// The object model's host functions of the fake: clients, RPC, files, writers, publications,
/// subscriptions. What Lua would answer comes from the FakeHost's closures.
extension FakeHostTable {
    static func values(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> [MonaValue]? {
        try? MVSReader.decode(bytes(pointer, size))
    }

    static func clients(_ api: inout mona_host_api) {
        api.client_open = { ctx, info, args, argsSize, writerContext, client, response, err in
            let host = FakeHostTable.host(ctx, "client_open")
            guard let info, let client, let arguments = FakeHostTable.values(args, argsSize) else { return MONA_E_INVAL }
            let made = FakeHost.Client(handle: host.makeHandle(), info: info.pointee, arguments: arguments,
                                       writer: host.makeHandle())
            switch host.onOpen(made) {
            case .accept(let answer):
                host.clients[made.handle] = made
                if let id = info.pointee.client_id { // RTMFP's peer id: what group members are known by
                    host.groups.peerIDs[made.handle] = FakeHostTable.bytes(id, 32)
                }
                host.writers[made.writer] = FakeHost.Writer(handle: made.writer, client: made.handle, context: writerContext)
                client.pointee = made.handle
                FakeHostTable.fill(response, answer.isEmpty ? [] : MVSWriter.encode(answer))
                return MONA_OK
            case .reject(let status, let kind, let message):
                FakeHostTable.fill(response, [])
                FakeHostTable.fill(err, kind, message)
                return status
            }
        }
        api.client_close = { ctx, handle in
            let host = FakeHostTable.host(ctx, "client_close")
            guard let client = host.clients.removeValue(forKey: handle) else { return MONA_E_INVAL }
            host.groups.clientClosed(handle)
            host.release(client: client)
            return MONA_OK
        }
        api.client_invoke = { ctx, handle, method, methodSize, args, argsSize, results, err in
            let host = FakeHostTable.host(ctx, "client_invoke")
            FakeHostTable.fill(results, [])
            guard let client = host.clients[handle], let arguments = FakeHostTable.values(args, argsSize) else { return MONA_E_INVAL }
            switch host.onInvoke(client, FakeHostTable.text(method, methodSize), arguments) {
            case .results(let answer):
                FakeHostTable.fill(results, MVSWriter.encode(answer))
                return MONA_OK
            case .pending(let token):
                FakeHostTable.fill(results, MVSWriter.encode([.number(Double(token))]))
                return MONA_PENDING
            case .failure(let status, let kind, let message):
                FakeHostTable.fill(err, kind, message)
                return status
            }
        }
        api.client_parameter = { ctx, _, _, _, _ in
            _ = FakeHostTable.host(ctx, "client_parameter")
            return -1
        }
        api.client_set_property = { ctx, handle, key, value, size in
            let host = FakeHostTable.host(ctx, "client_set_property")
            guard let client = host.clients[handle], let key, let decoded = FakeHostTable.values(value, size) else { return MONA_E_INVAL }
            client.setProperties[String(cString: key)] = decoded
            return MONA_OK
        }
        api.client_address_changed = { ctx, handle, peer in
            let host = FakeHostTable.host(ctx, "client_address_changed")
            guard host.clients[handle] != nil, let peer else { return MONA_E_INVAL }
            host.groups.addressChanges.append((handle, peer.pointee))
            return MONA_OK
        }
        api.writer_open = { ctx, handle, context, writer in
            let host = FakeHostTable.host(ctx, "writer_open")
            guard host.clients[handle] != nil, let writer else { return MONA_E_INVAL }
            let made = FakeHost.Writer(handle: host.makeHandle(), client: handle, context: context)
            host.writers[made.handle] = made
            writer.pointee = made.handle
            return MONA_OK
        }
        api.writer_closed = { ctx, handle, code in
            guard let writer = FakeHostTable.host(ctx, "writer_closed").writers[handle] else { return MONA_E_INVAL }
            writer.closedCode = code
            return MONA_OK
        }
        api.client_read_file = { ctx, handle, name, nameSize, parameters, parametersSize, decision, path, properties, err in
            let host = FakeHostTable.host(ctx, "client_read_file")
            FakeHostTable.fill(path, [])
            FakeHostTable.fill(properties, [])
            guard let client = host.clients[handle], let decision, let arguments = FakeHostTable.values(parameters, parametersSize)
            else { return MONA_E_INVAL }
            switch host.onReadFile(client, FakeHostTable.text(name, nameSize), arguments) {
            case .allow(let file, let values):
                decision.pointee = MONA_FILE_ALLOW
                FakeHostTable.fill(path, Array(file.utf8))
                FakeHostTable.fill(properties, values.isEmpty ? [] : MVSWriter.encode(values))
            case .deny(let kind, let message):
                decision.pointee = MONA_FILE_DENY
                FakeHostTable.fill(err, kind, message)
            case .handled:
                decision.pointee = MONA_FILE_HANDLED
            }
            return MONA_OK
        }
    }

    static func media(_ api: inout mona_host_api) {
        api.publish = { ctx, handle, name, nameSize, publication, err in
            let host = FakeHostTable.host(ctx, "publish")
            guard let publication else { return MONA_E_INVAL }
            let title = FakeHostTable.text(name, nameSize)
            if host.publications.values.contains(where: { $0.name == title && !$0.unpublished }) {
                FakeHostTable.fill(err, MONA_ERR_OTHER, "\(title) is already published")
                return MONA_E_EXISTS
            }
            if case .reject(let status, let kind, let message) = host.onPublish(host.clients[handle], title) {
                FakeHostTable.fill(err, kind, message)
                return status
            }
            let made = FakeHost.Publication(handle: host.makeHandle(), name: title, client: handle)
            host.publications[made.handle] = made
            publication.pointee = made.handle
            return MONA_OK
        }
        api.unpublish = { ctx, handle in
            guard let publication = FakeHostTable.host(ctx, "unpublish").publications[handle] else { return MONA_E_INVAL }
            publication.unpublished = true
            return MONA_OK
        }
        api.pub_audio = { ctx, handle, time, data, size, flags in
            guard let publication = FakeHostTable.host(ctx, "pub_audio").publications[handle] else { return MONA_E_INVAL }
            publication.frames.append((MONA_MEDIA_AUDIO, time, FakeHostTable.bytes(data, size), flags))
            return MONA_OK
        }
        api.pub_video = { ctx, handle, time, data, size, flags in
            guard let publication = FakeHostTable.host(ctx, "pub_video").publications[handle] else { return MONA_E_INVAL }
            publication.frames.append((MONA_MEDIA_VIDEO, time, FakeHostTable.bytes(data, size), flags))
            return MONA_OK
        }
        api.pub_data = { ctx, handle, format, data, size in
            guard let publication = FakeHostTable.host(ctx, "pub_data").publications[handle] else { return MONA_E_INVAL }
            publication.data.append((format, FakeHostTable.bytes(data, size)))
            return MONA_OK
        }
        api.pub_set_metadata = { ctx, handle, data, size in
            guard let publication = FakeHostTable.host(ctx, "pub_set_metadata").publications[handle],
                  let decoded = FakeHostTable.values(data, size) else { return MONA_E_INVAL }
            publication.metadata = decoded
            return MONA_OK
        }
        api.pub_clear_metadata = { ctx, handle in
            guard let publication = FakeHostTable.host(ctx, "pub_clear_metadata").publications[handle] else { return MONA_E_INVAL }
            publication.metadata = nil
            return MONA_OK
        }
        api.pub_flush = { ctx, handle in
            guard let publication = FakeHostTable.host(ctx, "pub_flush").publications[handle] else { return MONA_E_INVAL }
            publication.flushes += 1
            return MONA_OK
        }
        api.pub_configs = { ctx, name, nameSize, audio, video in
            let host = FakeHostTable.host(ctx, "pub_configs")
            FakeHostTable.fill(audio, [])
            FakeHostTable.fill(video, [])
            guard audio != nil, video != nil else { return MONA_E_INVAL }
            guard let configs = host.publicationConfigs[FakeHostTable.text(name, nameSize)] else { return MONA_E_NOTFOUND }
            FakeHostTable.fill(audio, configs.audio)
            FakeHostTable.fill(video, configs.video)
            return MONA_OK
        }
        api.subscribe = { ctx, handle, name, nameSize, query, querySize, context, subscription, err in
            let host = FakeHostTable.host(ctx, "subscribe")
            guard let client = host.clients[handle], let subscription else { return MONA_E_INVAL }
            let title = FakeHostTable.text(name, nameSize)
            if case .reject(let status, let kind, let message) = host.onSubscribe(client, title) {
                FakeHostTable.fill(err, kind, message)
                return status
            }
            let made = FakeHost.Subscription(handle: host.makeHandle(), client: handle, name: title,
                                             query: FakeHostTable.text(query, querySize), context: context)
            host.subscriptions[made.handle] = made
            subscription.pointee = made.handle
            if host.running.contains(title) { _ = name.map { host.entry.sink_start?(host.instance, context, $0, nameSize) } }
            host.onSubscribed(made)
            return MONA_OK
        }
        api.unsubscribe = { ctx, handle in
            let host = FakeHostTable.host(ctx, "unsubscribe")
            guard let subscription = host.subscriptions[handle], !subscription.ended else { return MONA_E_INVAL }
            host.end(subscription)
            return MONA_OK
        }
        api.sub_set_option = { ctx, handle, key, value, size in
            let host = FakeHostTable.host(ctx, "sub_set_option")
            guard let subscription = host.subscriptions[handle], let key, let decoded = FakeHostTable.values(value, size) else { return MONA_E_INVAL }
            subscription.options[String(cString: key)] = decoded
            return MONA_OK
        }
        groups(&api)
    }

    /// group_join, group_leave, peer_addresses and handshake_targets (ABI 1.5), over `FakeHost.groups`.
    static func groups(_ api: inout mona_host_api) {
        api.group_join = { ctx, client, groupID, groupSize, peers, capacity, count, membership in
            let host = FakeHostTable.host(ctx, "group_join")
            count?.pointee = 0
            membership?.pointee = 0
            guard host.clients[client] != nil, let groupID, groupSize == 32, let count, let membership, peers != nil || capacity == 0
            else { return MONA_E_INVAL }
            let handle = host.makeHandle()
            guard let introduced = host.groups.join(client: client, membership: handle, group: FakeHostTable.bytes(groupID, 32))
            else { return MONA_E_EXISTS }
            if let peers {
                for (index, peer) in introduced.prefix(capacity).enumerated() { (peers + index * 32).update(from: peer, count: 32) }
            }
            count.pointee = min(introduced.count, capacity)
            membership.pointee = handle
            return MONA_OK
        }
        api.group_leave = { ctx, membership in
            FakeHostTable.host(ctx, "group_leave").groups.leave(membership) ? MONA_OK : MONA_E_INVAL
        }
        api.peer_addresses = { ctx, peerID, addresses, capacity, count in
            let host = FakeHostTable.host(ctx, "peer_addresses")
            count?.pointee = 0
            guard let peerID, let count, addresses != nil || capacity == 0 else { return MONA_E_INVAL }
            let id = FakeHostTable.bytes(peerID, 32)
            host.groups.rendezvous.append(id)
            let found = Array(host.groups.onRendezVousUnknown(id).prefix(capacity))
            for (index, address) in found.enumerated() { addresses?[index] = address }
            count.pointee = found.count
            return MONA_OK
        }
        api.handshake_targets = { ctx, name, peer, path, properties, propertiesSize, attempts, targets, capacity, count in
            let host = FakeHostTable.host(ctx, "handshake_targets")
            count?.pointee = 0
            guard let peer, let count, targets != nil || capacity == 0, let values = FakeHostTable.values(properties, propertiesSize),
                  values.count <= 1 else { return MONA_E_INVAL }
            let request = FakeGroups.Handshake(protocol: name.map { String(cString: $0) } ?? host.section, peer: peer.pointee,
                                               path: path.map { String(cString: $0) } ?? "", properties: values.first,
                                               attempts: attempts)
            host.groups.handshakes.append(request)
            let found = Array(host.groups.onHandshake(request).prefix(capacity))
            for (index, address) in found.enumerated() { targets?[index] = address }
            count.pointee = found.count
            return MONA_OK
        }
    }
}

extension FakeHost {
    /// The fake's groups, redirections and address changes (ABI 1.5): what the plugin asked, and the
    /// test's answers.
    public var groups: FakeGroups { FakeGroups.of(self) }
}

/// The RTMFP services of a FakeHost: a group model of its own (members in the order they joined, a
/// join answering the other members newest first, as the real host does), and onHandshake /
/// onRendezVousUnknown decided by the test's closures. Kept beside the fake (one per FakeHost).
public final class FakeGroups: @unchecked Sendable { // used on its test's thread, like its FakeHost
    /// A member of a group: a client's membership, or a virtual member (`addVirtualMember`, Lua's
    /// mona:joinGroup) with membership 0.
    public struct Member: Equatable {
        public let membership: mona_handle
        public let client: mona_handle
        public let peerID: [UInt8]
    }

    /// What the plugin asked handshake_targets.
    public struct Handshake {
        public let `protocol`: String
        public let peer: mona_addr
        public let path: String
        public let properties: MonaValue?
        public let attempts: UInt32
    }

    /// The peer id of each client the plugin opened with a client_id.
    public internal(set) var peerIDs: [mona_handle: [UInt8]] = [:]
    /// The members of each group (by its 32-byte id), the oldest first.
    public internal(set) var members: [[UInt8]: [Member]] = [:]
    /// Memberships the plugin ended with group_leave, in order.
    public internal(set) var left: [mona_handle] = []
    /// The peer ids the plugin asked peer_addresses about, in order.
    public internal(set) var rendezvous: [[UInt8]] = []
    /// The handshakes the plugin asked handshake_targets about, in order.
    public internal(set) var handshakes: [Handshake] = []
    /// The addresses client_address_changed gave, in order.
    public internal(set) var addressChanges: [(client: mona_handle, address: mona_addr)] = []
    /// Answers peer_addresses (onRendezVousUnknown): nobody by default.
    public var onRendezVousUnknown: ([UInt8]) -> [mona_addr] = { _ in [] }
    /// Answers handshake_targets (onHandshake): no redirection by default.
    public var onHandshake: (Handshake) -> [mona_addr] = { _ in [] }

    /// Adds a member without a client to a group, as Lua's mona:joinGroup does.
    public func addVirtualMember(peerID: [UInt8], group: [UInt8]) {
        members[group, default: []].append(Member(membership: 0, client: 0, peerID: peerID))
    }

    /// The group of a membership, nil when it is not one (any more).
    public func group(of membership: mona_handle) -> [UInt8]? {
        members.first { $0.value.contains { $0.membership == membership } }?.key
    }

    /// group_join: nil when the peer id is a member already, else the other members newest first.
    func join(client: mona_handle, membership: mona_handle, group: [UInt8]) -> [[UInt8]]? {
        let peerID = peerIDs[client] ?? Self.standIn(for: client)
        let current = members[group] ?? []
        guard !current.contains(where: { $0.peerID == peerID }) else { return nil }
        members[group] = current + [Member(membership: membership, client: client, peerID: peerID)]
        return current.reversed().map(\.peerID)
    }

    /// group_leave: false for a membership that is not one.
    func leave(_ membership: mona_handle) -> Bool {
        guard group(of: membership) != nil else { return false }
        remove { $0.membership == membership }
        left.append(membership)
        return true
    }

    /// client_close ends the client's memberships.
    func clientClosed(_ client: mona_handle) {
        remove { $0.client == client && $0.membership != 0 }
    }

    private func remove(where matches: (Member) -> Bool) {
        for (group, list) in members {
            let kept = list.filter { !matches($0) }
            members[group] = kept.isEmpty ? nil : kept
        }
    }

    /// A peer id for a client opened without one: its handle, big-endian, in the last 8 bytes.
    static func standIn(for client: mona_handle) -> [UInt8] {
        [UInt8](repeating: 0, count: 24) + (0..<8).map { UInt8(truncatingIfNeeded: client >> (56 - 8 * $0)) }
    }

    /// One FakeGroups per live FakeHost (the fake's own storage is not ours to extend).
    private static let registry = Mutex<[ObjectIdentifier: Entry]>([:])

    private struct Entry: @unchecked Sendable { // the host is only compared, never used, off its thread
        weak var host: FakeHost?
        let groups: FakeGroups
    }

    static func of(_ host: FakeHost) -> FakeGroups {
        let key = ObjectIdentifier(host)
        return registry.withLock { table in
            if let entry = table[key], entry.host === host { return entry.groups }
            table = table.filter { $0.value.host != nil }
            let made = FakeGroups()
            table[key] = Entry(host: host, groups: made)
            return made
        }
    }
}
