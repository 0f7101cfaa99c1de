import MonaValues
import PluginABI

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
        api.client_address_changed = { ctx, handle, _ in
            FakeHostTable.host(ctx, "client_address_changed").clients[handle] == nil ? MONA_E_INVAL : MONA_OK
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
        api.group_join = { ctx, _, _, _, _, _, count, _ in
            _ = FakeHostTable.host(ctx, "group_join")
            count?.pointee = 0
            return MONA_E_UNSUPPORTED
        }
        api.group_leave = { ctx, _ in
            _ = FakeHostTable.host(ctx, "group_leave")
            return MONA_E_UNSUPPORTED
        }
        api.peer_addresses = { ctx, _, _, _, count in
            _ = FakeHostTable.host(ctx, "peer_addresses")
            count?.pointee = 0
            return MONA_E_NOTFOUND
        }
    }
}
