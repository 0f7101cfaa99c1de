import MonaValues
import PluginABI

/// The object-model part of the host API: clients, RPC, writers and file access (served by the Lua
/// runtime), media (MediaAPI), and groups, which answer MONA_E_UNSUPPORTED ("this host does not
/// provide that service") until the RTMFP work brings them.
enum ObjectModelAPI {
    static func fill(_ api: inout mona_host_api) {
        api.client_open = { ctx, info, args, argsSize, writerContext, client, response, err in
            client?.pointee = 0
            response?.pointee = mona_buffer()
            let plugin = LoadedPlugin.from(ctx)
            guard let info, info.pointee.struct_size >= UInt32(MemoryLayout<mona_client_info>.size) else { return MONA_E_INVAL }
            guard let lua = plugin.runtime.lua else {
                ObjectModelAPI.explain(err, MONA_ERR_APPLICATION, "the server is stopping")
                return MONA_E_REJECTED
            }
            guard let values = ObjectModelAPI.values(args, argsSize) else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS arguments")
                return MONA_E_INVAL
            }
            let outcome = lua.openClient(plugin: plugin, info: info.pointee, args: values, writerContext: writerContext)
            if let (kind, message) = outcome.error { ObjectModelAPI.explain(err, kind, message) }
            client?.pointee = outcome.client
            if !outcome.response.isEmpty { HostAPITable.fill(response, MVSWriter.encode(outcome.response)) }
            return outcome.status
        }
        api.client_close = { ctx, client in
            guard let lua = LoadedPlugin.from(ctx).runtime.lua else { return MONA_E_CLOSED }
            return lua.closeClient(client)
        }
        api.client_invoke = { ctx, client, method, methodSize, args, argsSize, results, err in
            results?.pointee = mona_buffer()
            guard let lua = LoadedPlugin.from(ctx).runtime.lua else { return MONA_E_CLOSED }
            guard let method, args != nil || argsSize == 0 else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS arguments")
                return MONA_E_INVAL
            }
            let name = String(decoding: UnsafeRawBufferPointer(start: method, count: methodSize), as: UTF8.self)
            let outcome = lua.invoke(client: client, method: name, args: UnsafeRawBufferPointer(start: args, count: args == nil ? 0 : argsSize))
            if let (kind, message) = outcome.error { ObjectModelAPI.explain(err, kind, message) }
            // MONA_PENDING exists from ABI 1.2: older plugins get MONA_OK without results (their 1.x contract).
            if outcome.status == MONA_PENDING, !LoadedPlugin.from(ctx).knowsPendingCalls {
                return MONA_OK
            }
            if !outcome.results.isEmpty { HostAPITable.fill(results, outcome.results) }
            return outcome.status
        }
        api.client_parameter = { ctx, client, key, buffer, capacity in
            guard let lua = LoadedPlugin.from(ctx).runtime.lua, let key,
                  let value = lua.parameter(client: client, key: String(cString: key)) else { return -1 }
            return HostAPITable.copyOut(value, buffer, capacity)
        }
        api.client_set_property = { ctx, client, key, value, size in
            guard let lua = LoadedPlugin.from(ctx).runtime.lua, let key,
                  let values = ObjectModelAPI.values(value, size), values.count == 1 else { return MONA_E_INVAL }
            lua.setProperty(client: client, key: String(cString: key), value: values[0])
            return MONA_OK
        }
        api.client_address_changed = { _, _, _ in MONA_E_UNSUPPORTED }
        api.writer_open = { ctx, client, context, writer in
            writer?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let handle = plugin.runtime.lua?.openWriter(plugin: plugin, client: client, context: context) else {
                return MONA_E_INVAL
            }
            writer?.pointee = handle
            return MONA_OK
        }
        api.writer_closed = { ctx, writer, _ in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua, let record = lua.writers[writer], record.plugin === plugin else { return MONA_E_INVAL }
            lua.writers[writer] = nil
            lua.writerUses[writer] = nil
            plugin.entry.writer_released?(plugin.instance, record.context)
            return MONA_OK
        }
        api.client_read_file = { ctx, client, name, nameSize, parameters, parametersSize, decision, path, properties, err in
            decision?.pointee = MONA_FILE_DENY
            path?.pointee = mona_buffer()
            properties?.pointee = mona_buffer()
            guard let lua = LoadedPlugin.from(ctx).runtime.lua else { return MONA_E_CLOSED }
            guard parameters != nil || parametersSize == 0 else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS parameters")
                return MONA_E_INVAL
            }
            let file = name.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: nameSize), as: UTF8.self) } ?? ""
            let stream = UnsafeRawBufferPointer(start: parameters, count: parameters == nil ? 0 : parametersSize)
            switch lua.readFile(client: client, name: file, parameters: stream) {
            case .none:
                return MONA_E_INVAL
            case .malformed?:
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS parameters")
                return MONA_E_INVAL
            case .allow(let resolved, let templateValues)?:
                decision?.pointee = MONA_FILE_ALLOW
                HostAPITable.fill(path, Array(resolved.utf8))
                if let templateValues { HostAPITable.fill(properties, templateValues) }
            case .deny(let kind, let message)?:
                ObjectModelAPI.explain(err, kind, message)
            case .handled?:
                decision?.pointee = MONA_FILE_HANDLED
            }
            return MONA_OK
        }
        MediaAPI.fill(&api)
        api.group_join = { _, _, _, _, _, _, count, membership in
            count?.pointee = 0
            membership?.pointee = 0
            return MONA_E_UNSUPPORTED
        }
        api.group_leave = { _, _ in MONA_E_UNSUPPORTED }
        api.peer_addresses = { _, _, _, _, count in
            count?.pointee = 0
            return MONA_E_UNSUPPORTED
        }
    }

    /// Fills a mona_error saying the service is missing.
    static func explain(_ err: UnsafeMutablePointer<mona_error>?, _ service: String) {
        explain(err, MONA_ERR_OTHER, "\(service): not provided by this host yet")
    }

    /// The values of an MVS argument, nil when malformed.
    static func values(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [MonaValue]? {
        guard let data, size > 0 else { return [] }
        return try? MVSReader.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    }

    /// Fills a mona_error (message truncated to fit, NUL-terminated).
    static func explain(_ err: UnsafeMutablePointer<mona_error>?, _ kind: Int32, _ text: String) {
        guard let err else { return }
        err.pointee.kind = kind
        withUnsafeMutableBytes(of: &err.pointee.message) { raw in
            let bytes = Array(text.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }
}
