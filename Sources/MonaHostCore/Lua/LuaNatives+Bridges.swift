import CLuaJIT
import CLuaShim
import MonaValues
import PluginABI

/// The natives that cross into plugins (writers), codecs and the data store.
extension LuaNatives {
    /// write(writer, op, name, …): the Lua writer methods, forwarded to the plugin behind the writer.
    static let write: lua_CFunction = { L in
        let runtime = runtime(L)
        let handle = UInt64(lua_tonumber(L, 1))
        guard let writer = runtime.writers[handle], writer.plugin.isLive else {
            lua_pushboolean(L, 0)
            return 1
        }
        let plugin = writer.plugin
        let entry = plugin.entry
        runtime.writerUses[handle, default: 0] += 1
        let bridge = LuaBridge(L: L!)
        let top = lua_gettop(L)
        var status = MONA_E_UNSUPPORTED
        switch string(L, 2) {
        case "invoke", "message", "response":
            let mvs: [UInt8]
            do throws(LuaBridge.Unsupported) {
                mvs = top >= 4 ? try bridge.encode(from: 4, to: top) : []
            } catch {
                return fail(L, "a \(error.type) cannot be sent to a client")
            }
            if string(L, 2) == "invoke" {
                var name = string(L, 3)
                status = name.withUTF8 { text in
                    mvs.withUnsafeBufferPointer {
                        entry.writer_invoke?(plugin.instance, writer.context, UnsafeRawPointer(text.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                             text.count, $0.baseAddress, $0.count) ?? MONA_E_UNSUPPORTED
                    }
                }
            } else {
                // A late answer carries its call's token (1...0x7FFFFFFF), a late failure the token negated
                // (plugins of ABI 1.2 and later only: older ones were never told); a push, 0.
                var response: Int32 = 0
                if string(L, 2) == "response" {
                    let token = lua_tonumber(L, 3)
                    // Only the prelude passes tokens: one out of range is a bug, reported, never sent.
                    guard token.magnitude >= 1, token.magnitude <= 0x7FFF_FFFF, token.rounded() == token else {
                        return fail(L, "a late answer with the bad pending token \(token)")
                    }
                    response = Int32(token)
                    if response < 0 { plugin.counters.pointee.rpcErrors &+= 1 } // a call that waited failed
                    if response < 0 && !plugin.knowsPendingCalls { return 0 }
                }
                status = mvs.withUnsafeBufferPointer {
                    entry.writer_message?(plugin.instance, writer.context, response, $0.baseAddress, $0.count) ?? MONA_E_UNSUPPORTED
                }
            }
        case "property":
            let mvs: [UInt8]
            do throws(LuaBridge.Unsupported) {
                mvs = top >= 4 ? try bridge.encode(from: 4, to: top) : []
            } catch {
                return fail(L, "a \(error.type) cannot be a client property")
            }
            guard let setProperty = entry.writer_set_property else { break }
            var key = string(L, 3)
            status = key.withUTF8 { text in
                mvs.withUnsafeBufferPointer {
                    setProperty(plugin.instance, writer.context, UnsafeRawPointer(text.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                text.count, $0.baseAddress, $0.count)
                }
            }
        case "raw":
            let bytes = bridge.bytes(at: 4)
            status = bytes.withUnsafeBufferPointer {
                entry.writer_raw?(plugin.instance, writer.context, $0.baseAddress, $0.count) ?? MONA_E_UNSUPPORTED
            }
        case "flush":
            status = entry.writer_flush?(plugin.instance, writer.context, lua_toboolean(L, 4)) ?? MONA_E_UNSUPPORTED
        case "close":
            status = entry.writer_close?(plugin.instance, writer.context, Int32(lua_tonumber(L, 4))) ?? MONA_E_UNSUPPORTED
        case "reliable":
            status = entry.writer_set_reliable?(plugin.instance, writer.context, lua_toboolean(L, 4)) ?? MONA_E_UNSUPPORTED
        case "reliable?":
            lua_pushboolean(L, 1)
            return 1
        case "new":
            var created: mona_handle = 0
            let made = entry.writer_new?(plugin.instance, writer.context, &created) ?? MONA_E_UNSUPPORTED
            guard made == MONA_OK, runtime.writers[created] != nil else { return 0 }
            lua_pushnumber(L, Double(created))
            return 1
        default:
            return fail(L, "unknown writer operation \(string(L, 2))")
        }
        lua_pushboolean(L, status == MONA_OK ? 1 : 0)
        return 1
    }

    /// writerUses(writer) → how many writer calls it has had (onRead detects an answer of its own).
    static let writerUses: lua_CFunction = { L in
        lua_pushnumber(L, Double(runtime(L).writerUses[UInt64(lua_tonumber(L, 1))] ?? 0))
        return 1
    }

    /// async(id, host): resolves a host name on the blocking pool, then resumes continuation `id`
    /// on the loop with the IP text (or nil).
    static let async: lua_CFunction = { L in
        let runtime = runtime(L)
        let id = Int(lua_tonumber(L, 1))
        let name = string(L, 2)
        let host = runtime.host
        host.reactor.runBlocking({ resolveName(name) }) { address in
            host.lua?.resume(continuation: id, with: address)
        }
        return 0
    }

    /// encode(format, …) → one string (mona:toAMF, toJSON, …).
    static let encode: lua_CFunction = { L in
        let runtime = runtime(L)
        let format = string(L, 1)
        let values: [MonaValue]
        do throws(LuaBridge.Unsupported) {
            values = try LuaBridge(L: L!).values(from: 2, to: lua_gettop(L))
        } catch {
            return fail(L, "to\(format): a \(error.type) cannot be serialized")
        }
        guard let output = ValueCodecs.encode(named: format, values) else {
            return fail(L, "to\(format) is not available")
        }
        for warning in output.warnings { runtime.host.log(.warn, warning) }
        push(L, output.bytes)
        return 1
    }

    /// decode(format, text) → the values (mona:fromAMF, fromJSON, …).
    static let decode: lua_CFunction = { L in
        let runtime = runtime(L)
        let format = string(L, 1)
        switch ValueCodecs.decode(named: format, LuaBridge(L: L!).bytes(at: 2)) {
        case .none:
            return fail(L, "from\(format) is not available")
        case .some(.failure(let message)):
            runtime.host.log(.error, "from\(format): \(message)")
            return 0
        case .some(.success(let values)):
            lua_settop(L, 0)
            return LuaBridge(L: L!).push(values)
        }
    }

    /// toXML(document) → text, or nil and an error.
    static let toXML: lua_CFunction = { L in
        switch XMLBridge(L: L!).serialize(at: 1) {
        case .success(let text):
            lua_pushstring(L, text)
            return 1
        case .failure(let message):
            lua_pushnil(L)
            lua_pushstring(L, message.description)
            return 2
        }
    }

    /// fromXML(text) → document table, or nil and an error.
    static let fromXML: lua_CFunction = { L in
        let text = string(L, 1)
        switch XMLBridge(L: L!).parse(text) {
        case .success:
            return 1
        case .failure(let message):
            lua_pushnil(L)
            lua_pushstring(L, message.description)
            return 2
        }
    }

    /// dataSet(path, text): the data table stores a primitive.
    static let dataSet: lua_CFunction = { L in
        let runtime = runtime(L)
        runtime.host.data?.set(path(L, 1), LuaBridge(L: L!).bytes(at: 2))
        return 0
    }

    /// dataRemove(path): the data table removes an entry and what is below it.
    static let dataRemove: lua_CFunction = { L in
        runtime(L).host.data?.remove(path(L, 1))
        return 0
    }

    private static func path(_ L: OpaquePointer?, _ index: Int32) -> [String] {
        var parts: [String] = []
        var position: Int32 = 1
        while true {
            lua_rawgeti(L, index, position)
            defer { mona_lua_pop(L, 1) }
            guard lua_type(L, -1) == LUA_TSTRING else { return parts }
            parts.append(string(L, -1))
            position += 1
        }
    }
}
