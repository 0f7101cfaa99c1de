import CLuaJIT
import CLuaShim

/// The natives behind server objects and broadcasters (`prelude/servers`).
extension LuaNatives {
    static let serverFunctions: [(String, lua_CFunction)] = [
        ("serverSend", serverSend), ("serverReject", serverReject), ("serverAnnounce", serverAnnounce),
    ]

    /// serverSend(handle, handler, AMF bytes) → false when the link is gone.
    static let serverSend: lua_CFunction = { L in
        let handle = UInt64(max(lua_tonumber(L, 1), 0))
        let sent = runtime(L).host.servers?.send(handle, handler: string(L, 2), payload: LuaBridge(L: L!).bytes(at: 3)) ?? false
        lua_pushboolean(L, sent ? 1 : 0)
        return 1
    }

    /// serverReject(handle, reason): the peer gets the reason, then the link ends.
    static let serverReject: lua_CFunction = { L in
        runtime(L).host.servers?.reject(UInt64(max(lua_tonumber(L, 1), 0)), reason: string(L, 2))
        return 0
    }

    /// serverAnnounce(path): an application started; every peer opens it too.
    static let serverAnnounce: lua_CFunction = { L in
        runtime(L).host.servers?.announce(string(L, 1))
        return 0
    }
}
