import MonaValues
import PluginABI

/// The object-model part of the host API: clients, RPC, writers and file access (served by the Lua
/// runtime), media (MediaAPI), and RTMFP's groups, redirections and address changes (GroupsAPI).
enum ObjectModelAPI {
    static func fill(_ api: inout mona_host_api) {
        api.client_open = { ctx, info, args, argsSize, writerContext, client, response, err in
            client?.pointee = 0
            response?.pointee = mona_buffer()
            let plugin = LoadedPlugin.from(ctx)
            guard let info else { return plugin.refuse("client_open", "no mona_client_info") }
            guard let copied = ABIStruct.copy(info, declaredSize: info.pointee.struct_size, minimumSize: ABIStruct.clientInfoSize10,
                                              into: mona_client_info())
            else {
                return plugin.refuse("client_open", "mona_client_info of \(info.pointee.struct_size) bytes, below its 1.0 layout (\(ABIStruct.clientInfoSize10))")
            }
            guard let lua = plugin.runtime.lua else {
                ObjectModelAPI.explain(err, MONA_ERR_APPLICATION, "the server is stopping")
                return MONA_E_REJECTED
            }
            guard let values = ObjectModelAPI.values(args, argsSize) else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS arguments")
                return plugin.refuse("client_open", "malformed MVS arguments (\(argsSize) bytes)")
            }
            let outcome = lua.openClient(plugin: plugin, info: copied, args: values, writerContext: writerContext)
            if let (kind, message) = outcome.error { ObjectModelAPI.explain(err, kind, message) }
            client?.pointee = outcome.client
            if !outcome.response.isEmpty { HostAPITable.fill(response, MVSWriter.encode(outcome.response)) }
            return outcome.status
        }
        api.client_close = { ctx, client in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "client_close") { return refused }
            return lua.closeClient(client)
        }
        api.client_invoke = { ctx, client, method, methodSize, args, argsSize, results, err in
            results?.pointee = mona_buffer()
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "client_invoke") {
                ObjectModelAPI.explain(err, MONA_ERR_OTHER, "unknown client")
                return refused
            }
            guard let method else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "no method name")
                return plugin.refuse("client_invoke", "no method name")
            }
            guard args != nil || argsSize == 0 else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS arguments")
                return plugin.refuse("client_invoke", "malformed MVS arguments (NULL with \(argsSize) bytes)")
            }
            let name = String(decoding: UnsafeRawBufferPointer(start: method, count: methodSize), as: UTF8.self)
            let outcome = lua.invoke(client: client, method: name, args: UnsafeRawBufferPointer(start: args, count: args == nil ? 0 : argsSize))
            if let (kind, message) = outcome.error { ObjectModelAPI.explain(err, kind, message) }
            if outcome.status == MONA_E_INVAL { return plugin.refuse("client_invoke", "\(name): malformed MVS arguments (\(argsSize) bytes)") }
            // MONA_PENDING exists from ABI 1.2: older plugins get MONA_OK without results (their 1.x contract).
            if outcome.status == MONA_PENDING, !plugin.knowsPendingCalls {
                return MONA_OK
            }
            if !outcome.results.isEmpty { HostAPITable.fill(results, outcome.results) }
            return outcome.status
        }
        api.client_parameter = { ctx, client, key, buffer, capacity in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua, let key else { return -1 }
            if ObjectModelAPI.checkClient(plugin, client, in: lua, "client_parameter") != nil { return -1 }
            guard let value = lua.parameter(client: client, key: String(cString: key)) else { return -1 }
            return HostAPITable.copyOut(value, buffer, capacity)
        }
        api.client_set_property = { ctx, client, key, value, size in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "client_set_property") { return refused }
            guard let key else { return plugin.refuse("client_set_property", "no key") }
            guard let values = ObjectModelAPI.values(value, size), values.count == 1 else {
                return plugin.refuse("client_set_property", "\(String(cString: key)): not one MVS value (\(size) bytes)")
            }
            lua.setProperty(client: client, key: String(cString: key), value: values[0])
            return MONA_OK
        }
        api.writer_open = { ctx, client, context, writer in
            writer?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "writer_open") { return refused }
            guard let handle = lua.openWriter(plugin: plugin, client: client, context: context) else { return MONA_E_INVAL }
            writer?.pointee = handle
            return MONA_OK
        }
        api.writer_closed = { ctx, writer, _ in
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.check(plugin, owner: lua.writers[writer]?.plugin, writer, "writer_closed") { return refused }
            guard let record = lua.writers[writer] else { return MONA_E_INVAL }
            lua.writers[writer] = nil
            lua.writerUses[writer] = nil
            plugin.entry.writer_released?(plugin.instance, record.context)
            return MONA_OK
        }
        api.client_read_file = { ctx, client, name, nameSize, parameters, parametersSize, decision, path, properties, err in
            decision?.pointee = MONA_FILE_DENY
            path?.pointee = mona_buffer()
            properties?.pointee = mona_buffer()
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "client_read_file") { return refused }
            guard parameters != nil || parametersSize == 0 else {
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS parameters")
                return plugin.refuse("client_read_file", "malformed MVS parameters (NULL with \(parametersSize) bytes)")
            }
            let file = name.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: nameSize), as: UTF8.self) } ?? ""
            let stream = UnsafeRawBufferPointer(start: parameters, count: parameters == nil ? 0 : parametersSize)
            switch lua.readFile(client: client, name: file, parameters: stream) {
            case .none:
                return MONA_E_INVAL
            case .malformed?:
                ObjectModelAPI.explain(err, MONA_ERR_PROTOCOL, "malformed MVS parameters")
                return plugin.refuse("client_read_file", "malformed MVS parameters (\(parametersSize) bytes)")
            case .allow(let resolved, let templateValues)?:
                decision?.pointee = MONA_FILE_ALLOW
                HostAPITable.fill(path, text: resolved)
                if let templateValues { HostAPITable.fill(properties, templateValues) }
            case .deny(let kind, let message)?:
                ObjectModelAPI.explain(err, kind, message)
            case .missing(let name)?:
                ObjectModelAPI.explain(err, MONA_ERR_NOTFOUND) { write in
                    write("File ")
                    write(name)
                    write(" doesn't exist")
                }
            case .handled?:
                decision?.pointee = MONA_FILE_HANDLED
            }
            return MONA_OK
        }
        MediaAPI.fill(&api)
        GroupsAPI.fill(&api)
    }

    /// The values of an MVS argument, nil when malformed (NULL with a size counts as malformed).
    static func values(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [MonaValue]? {
        guard size > 0 else { return [] }
        guard let data else { return nil }
        return try? MVSReader.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    }

    /// nil when `client` is one `plugin` opened (and has not closed), else the answer: MONA_E_INVAL.
    static func checkClient(_ plugin: LoadedPlugin, _ client: mona_handle, in lua: LuaRuntime, _ function: String) -> Int32? {
        check(plugin, owner: lua.clients[client]?.plugin, client, function)
    }

    /// nil when `owner` (the owner of `handle`, nil when unknown) is `plugin`, else MONA_E_INVAL: a handle
    /// of another plugin is refused with a warning, an unknown one (closed already: a race the plugin
    /// cannot always avoid) with a debug line.
    static func check(_ plugin: LoadedPlugin, owner: LoadedPlugin?, _ handle: mona_handle, _ function: String) -> Int32? {
        guard let owner else {
            plugin.runtime.log(.debug, "\(plugin.section): \(function): handle \(handle) is unknown or closed")
            return MONA_E_INVAL
        }
        guard owner !== plugin else { return nil }
        return plugin.refuse(function, "handle \(handle) belongs to \(owner.section)")
    }

    /// Fills a mona_error (message truncated to fit, NUL-terminated).
    static func explain(_ err: UnsafeMutablePointer<mona_error>?, _ kind: Int32, _ text: String) {
        explain(err, kind) { write in write(text) }
    }

    /// Fills a mona_error with the pieces `compose` writes, one after the other: straight into the
    /// caller's struct, no copy of the 500-byte field, no string joining the pieces (this runs for
    /// every file request that finds no file, e.g. each HLS request).
    static func explain(_ err: UnsafeMutablePointer<mona_error>?, _ kind: Int32,
                        _ compose: (_ write: (String) -> Void) -> Void) {
        guard let err else { return }
        err.pointee.kind = kind
        let capacity = MemoryLayout.size(ofValue: err.pointee.message) - 1 // the NUL's place kept
        let message = UnsafeMutableRawPointer(err) + MemoryLayout<mona_error>.offset(of: \.message)!
        var count = 0
        compose { piece in
            var piece = piece
            piece.withUTF8 { utf8 in
                let taken = min(utf8.count, capacity - count)
                if taken > 0 { (message + count).copyMemory(from: utf8.baseAddress!, byteCount: taken) }
                count += taken
            }
        }
        message.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
    }
}
