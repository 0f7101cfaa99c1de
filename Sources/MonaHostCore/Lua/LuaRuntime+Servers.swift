import CLuaJIT
import CLuaShim

/// The other MonaServers as Lua sees them (`prelude/servers`): server objects in `mona.servers`, the root's
/// onServerConnection and onServerDisconnection, the handlers scripts define on server objects, and
/// the applications peers run.
extension LuaRuntime: ServerMeshDelegate {
    func serverConnected(_ link: ServerLink) -> Result<[String], ServerRefusal> {
        var outcome: Result<[String], ServerRefusal> = .failure(ServerRefusal(reason: "Lua failure"))
        call("serverConnected", what: "onServerConnection", {
            lua_pushnumber(L, Double(link.handle))
            lua_pushstring(L, link.address)
            lua_pushboolean(L, link.isTarget ? 1 : 0)
            pushPairs(link.configs)
            pushPairs(link.properties)
            return 5
        }, results: { first, count in
            let bridge = LuaBridge(L: L)
            if lua_toboolean(L, first) != 0 {
                outcome = .success(count > 1 ? (first + 1...first + count - 1).map { bridge.string(at: $0) } : [])
            } else {
                outcome = .failure(ServerRefusal(reason: count > 1 ? bridge.string(at: first + 1) : "rejected"))
            }
        })
        return outcome
    }

    /// Pushes pairs as an array of { key, value } (their order kept).
    private func pushPairs(_ pairs: [ServerConfigPair]) {
        lua_createtable(L, Int32(pairs.count), 0)
        for (index, pair) in pairs.enumerated() {
            lua_createtable(L, 2, 0)
            lua_pushstring(L, pair.key)
            lua_rawseti(L, -2, 1)
            lua_pushstring(L, pair.value)
            lua_rawseti(L, -2, 2)
            lua_rawseti(L, -2, Int32(index + 1))
        }
    }

    func serverDisconnected(_ link: ServerLink, error: String?) {
        call("serverDisconnected", what: "onServerDisconnection") {
            lua_pushnumber(L, Double(link.handle))
            if let error { lua_pushstring(L, error) } else { lua_pushnil(L) }
            return 2
        }
    }

    /// The payload is AMF values (`toAMF`'s): a payload that is not closes the link, as bad frames do.
    func serverMessage(_ link: ServerLink, handler: String, payload: [UInt8]) {
        guard case .success(let values)? = ValueCodecs.decode(named: "AMF", payload) else {
            host.log(.error, "Server \(link.address) sent \(handler) with arguments that are not AMF: link closed")
            return link.end("bad data: \(handler) arguments are not AMF")
        }
        call("serverMessage", what: "server:\(handler)") {
            lua_pushnumber(L, Double(link.handle))
            lua_pushstring(L, handler)
            return 2 + LuaBridge(L: L).push(values)
        }
    }

    func serverApplications(_ link: ServerLink, paths: [String]) {
        call("openApplications") {
            lua_createtable(L, Int32(paths.count), 0)
            for (index, path) in paths.enumerated() {
                lua_pushstring(L, path)
                lua_rawseti(L, -2, Int32(index + 1))
            }
            return 1
        }
    }
}
