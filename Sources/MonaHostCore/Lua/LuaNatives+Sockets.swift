import CLuaJIT
import CLuaShim
import PluginABI

/// The natives behind Lua's sockets (`prelude/sockets`). Addresses cross as IP text and a port (the
/// prelude resolves names first); a failure is nil and its text.
extension LuaNatives {
    static let socketFunctions: [(String, lua_CFunction)] = [
        ("tcpConnect", tcpConnect), ("tcpListen", tcpListen), ("udpBind", udpBind), ("socketSend", socketSend),
        ("socketState", socketState), ("udpConnect", udpConnect), ("udpDisconnect", udpDisconnect),
        ("socketClose", socketClose),
    ]

    private static func sockets(_ L: OpaquePointer?) -> LuaSockets { runtime(L).sockets }

    private static func handle(at index: Int32, _ L: OpaquePointer?) -> UInt64 { UInt64(max(lua_tonumber(L, index), 0)) }

    /// The address of (ip text, port) at `index`, `index + 1`; nil when it is not one.
    private static func address(at index: Int32, _ L: OpaquePointer?) -> mona_addr? {
        let port = lua_tonumber(L, index + 1)
        guard port >= 0, port <= 65535, port.rounded() == port else { return nil }
        return mona_addr(ip: string(L, index), port: UInt16(port))
    }

    private static func failed(_ L: OpaquePointer?, _ text: String) -> Int32 {
        lua_pushnil(L)
        lua_pushstring(L, text)
        return 2
    }

    /// tcpConnect(ip, port) → handle, or nil and why.
    static let tcpConnect: lua_CFunction = { L in
        guard let target = address(at: 1, L) else { return failed(L, "invalid address \(string(L, 1)):\(string(L, 2))") }
        switch sockets(L).connect(to: target) {
        case .success(let handle):
            lua_pushnumber(L, Double(handle))
            return 1
        case .failure(let failure):
            return failed(L, failure.text)
        }
    }

    /// tcpListen(ip, port) → handle and the bound address text, or nil and why.
    static let tcpListen: lua_CFunction = { L in
        guard let local = address(at: 1, L) else { return failed(L, "invalid address \(string(L, 1)):\(string(L, 2))") }
        return opened(L, sockets(L).listen(host: local.ipText ?? "", port: local.port))
    }

    /// udpBind(ip, port, broadcast) → handle and the bound address text, or nil and why.
    static let udpBind: lua_CFunction = { L in
        guard let local = address(at: 1, L) else { return failed(L, "invalid address \(string(L, 1)):\(string(L, 2))") }
        return opened(L, sockets(L).bindUDP(host: local.ipText ?? "", port: local.port, broadcast: lua_toboolean(L, 3) != 0))
    }

    private static func opened(_ L: OpaquePointer?, _ result: Result<(UInt64, mona_addr), SocketFailure>) -> Int32 {
        switch result {
        case .success(let (handle, bound)):
            lua_pushnumber(L, Double(handle))
            lua_pushstring(L, bound.description)
            return 2
        case .failure(let failure):
            return failed(L, failure.text)
        }
    }

    /// socketSend(handle, data[, ip, port]) → nothing when sent or queued, else why not. The bytes are
    /// written from the Lua string itself; only what the kernel does not take at once is copied.
    static let socketSend: lua_CFunction = { L in
        var length = 0
        let pointer = mona_lua_tolstring(L, 2, &length)
        let bytes = UnsafeRawBufferPointer(start: pointer.map { UnsafeRawPointer($0) }, count: pointer == nil ? 0 : length)
        let sockets = sockets(L)
        let target = handle(at: 1, L)
        let failure: String?
        if let connection = sockets.connection(target) {
            failure = connection.send(bytes)
        } else if let socket = sockets.udpSocket(target) {
            if lua_type(L, 3) == LUA_TNIL || lua_type(L, 3) == LUA_TNONE {
                failure = socket.send(bytes, to: nil)
            } else if let to = address(at: 3, L) {
                failure = socket.send(bytes, to: to)
            } else {
                failure = "invalid address \(string(L, 3)):\(string(L, 4))"
            }
        } else {
            failure = "socket not connected"
        }
        guard let failure else { return 0 }
        lua_pushstring(L, failure)
        return 1
    }

    /// socketState(handle) → for a TCP connection: usable, local address, peer address, idle time (ms);
    /// for a TCP server: true, bound address; for a UDP socket: true, bound address, connected peer
    /// (or nil). Nothing for a handle that is closed.
    static let socketState: lua_CFunction = { L in
        let sockets = sockets(L)
        let target = handle(at: 1, L)
        if let connection = sockets.connection(target) {
            lua_pushboolean(L, connection.isUsable ? 1 : 0)
            lua_pushstring(L, connection.local.description)
            lua_pushstring(L, connection.peer.description)
            lua_pushnumber(L, Double(connection.idleTime))
            return 4
        }
        if let listener = sockets.listener(target) {
            lua_pushboolean(L, 1)
            lua_pushstring(L, listener.bound.description)
            return 2
        }
        guard let socket = sockets.udpSocket(target) else { return 0 }
        lua_pushboolean(L, 1)
        lua_pushstring(L, socket.bound.description)
        let peer = socket.peer
        if peer.ipText != nil { lua_pushstring(L, peer.description) } else { lua_pushnil(L) }
        return 3
    }

    /// udpConnect(handle, ip, port) → nothing, or why not.
    static let udpConnect: lua_CFunction = { L in
        guard let socket = sockets(L).udpSocket(handle(at: 1, L)) else {
            lua_pushstring(L, "UDP socket closed")
            return 1
        }
        guard let peer = address(at: 2, L) else {
            lua_pushstring(L, "invalid address \(string(L, 2)):\(string(L, 3))")
            return 1
        }
        guard let failure = socket.connect(to: peer) else { return 0 }
        lua_pushstring(L, failure)
        return 1
    }

    static let udpDisconnect: lua_CFunction = { L in
        sockets(L).udpSocket(handle(at: 1, L))?.disconnect()
        return 0
    }

    /// socketClose(handle): Lua is done with the socket (graceful for a TCP connection); no event follows.
    static let socketClose: lua_CFunction = { L in
        sockets(L).close(handle(at: 1, L))
        return 0
    }
}
