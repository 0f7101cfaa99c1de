import CLuaJIT
import CLuaShim
import PluginABI

/// Lua's sockets (`mona:createTCPClient`, `createTCPServer`, `createUDPSocket`) by handle, and their
/// events into the prelude (`prelude/sockets`: onData, onDisconnection, onConnection, onPacket).
///
/// Lua owns its socket objects: when one is collected, its finalizer closes the socket here
/// (`close`), and the socket, detached, tells Lua nothing more. Loop thread only.
final class LuaSockets: HostTCPConnectionDelegate, HostTCPListenerDelegate, HostUDPSocketDelegate {
    private unowned let runtime: LuaRuntime
    private var connections: [UInt64: HostTCPConnection] = [:]
    private var listeners: [UInt64: HostTCPListener] = [:]
    private var udpSockets: [UInt64: HostUDPSocket] = [:]

    init(runtime: LuaRuntime) { self.runtime = runtime }

    private var reactor: Reactor { runtime.host.reactor }

    // MARK: what Lua asks

    /// Dials a TCP connection: its handle, or why it could not start.
    func connect(to address: mona_addr) -> Result<UInt64, SocketFailure> {
        let connection = HostTCPConnection(reactor: reactor)
        if let failure = connection.connect(to: address) { return .failure(SocketFailure(text: failure)) }
        connection.delegate = self
        connections[connection.handle] = connection
        return .success(connection.handle)
    }

    /// Opens a TCP server: its handle and bound address, or why not.
    func listen(host: String, port: UInt16) -> Result<(UInt64, mona_addr), SocketFailure> {
        let listener = HostTCPListener(reactor: reactor)
        if let failure = listener.listen(host: host, port: port) { return .failure(SocketFailure(text: failure)) }
        listener.delegate = self
        listeners[listener.handle] = listener
        return .success((listener.handle, listener.bound))
    }

    /// Opens a bound UDP socket: its handle and bound address, or why not.
    func bindUDP(host: String, port: UInt16, broadcast: Bool) -> Result<(UInt64, mona_addr), SocketFailure> {
        let socket = HostUDPSocket(reactor: reactor)
        if let failure = socket.open(host: host, port: port, broadcast: broadcast) { return .failure(SocketFailure(text: failure)) }
        socket.delegate = self
        udpSockets[socket.handle] = socket
        return .success((socket.handle, socket.bound))
    }

    func connection(_ handle: UInt64) -> HostTCPConnection? { connections[handle] }
    func listener(_ handle: UInt64) -> HostTCPListener? { listeners[handle] }
    func udpSocket(_ handle: UInt64) -> HostUDPSocket? { udpSockets[handle] }

    /// Lua is done with a socket (`disconnect`, `stop`, `close`, or its object was collected): a TCP
    /// connection ends gracefully, the others close; no event follows.
    func close(_ handle: UInt64) {
        if let connection = connections.removeValue(forKey: handle) {
            connection.disconnect()
        } else if let listener = listeners.removeValue(forKey: handle) {
            listener.delegate = nil
            listener.close()
        } else if let socket = udpSockets.removeValue(forKey: handle) {
            socket.delegate = nil
            socket.close()
        }
    }

    /// The Lua state ends: every socket closes at once, silently.
    func closeAll() {
        for connection in connections.values {
            connection.delegate = nil
            connection.abort()
        }
        for listener in listeners.values {
            listener.delegate = nil
            listener.close()
        }
        for socket in udpSockets.values {
            socket.delegate = nil
            socket.close()
        }
        connections = [:]
        listeners = [:]
        udpSockets = [:]
    }

    // MARK: events

    func received(_ connection: HostTCPConnection, _ bytes: UnsafeRawBufferPointer) -> Int {
        var consumed = bytes.count
        let L = runtime.L
        runtime.call("socketData", what: "TCPClient:onData", {
            lua_pushnumber(L, Double(connection.handle))
            lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
            return 2
        }, results: { first, count in
            if count > 0, lua_type(L, first) == LUA_TNUMBER {
                let number = lua_tonumber(L, first)
                consumed = number.isNaN ? bytes.count : Int(max(0, min(number, Double(bytes.count))))
            }
        })
        return consumed
    }

    func closed(_ connection: HostTCPConnection, error: String?) {
        guard connections.removeValue(forKey: connection.handle) != nil else { return }
        let L = runtime.L
        runtime.call("socketClosed", what: "TCPClient:onDisconnection") {
            lua_pushnumber(L, Double(connection.handle))
            if let error { lua_pushstring(L, error) } else { lua_pushnil(L) }
            lua_pushstring(L, connection.local.description)
            return 3
        }
    }

    func accepted(_ listener: HostTCPListener, _ connection: HostTCPConnection) {
        connection.delegate = self
        connections[connection.handle] = connection
        let L = runtime.L
        runtime.call("socketAccepted", what: "TCPServer:onConnection") {
            lua_pushnumber(L, Double(listener.handle))
            lua_pushnumber(L, Double(connection.handle))
            return 2
        }
    }

    func received(_ socket: HostUDPSocket, _ bytes: UnsafeRawBufferPointer, from sender: mona_addr) {
        let L = runtime.L
        runtime.call("socketPacket", what: "UDPSocket:onPacket") {
            lua_pushnumber(L, Double(socket.handle))
            lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
            lua_pushstring(L, sender.description)
            return 3
        }
    }
}

/// Why a socket could not open, as Lua's error text.
struct SocketFailure: Error {
    let text: String
}
