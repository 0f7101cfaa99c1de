import NIOCore
import NIOPosix
import PluginABI

/// The one event loop of the server and every socket and timer the plugins hold.
///
/// Everything here runs on `loop`: plugin callbacks are called from it and host API calls arrive on
/// it, so the tables need no lock. Each resource remembers the plugin that owns it, so that a plugin's
/// leftovers can be closed when it stops.
final class Reactor: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let loop: EventLoop
    let pool: NIOThreadPool
    unowned let runtime: HostRuntime
    private var lastHandle: UInt64 = 0

    var connections: [UInt64: TCPConnection] = [:]
    var listeners: [UInt64: TCPListener] = [:]
    var udpSockets: [UInt64: UDPSocket] = [:]
    var timers: [UInt64: PluginTimer] = [:]

    init(runtime: HostRuntime) {
        self.runtime = runtime
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
    }

    /// A fresh handle, never reused.
    func makeHandle() -> UInt64 {
        lastHandle += 1
        return lastHandle
    }

    /// Runs `body` on the loop and waits for it (from a thread that is not the loop).
    func sync<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        try loop.submit(body).wait()
    }

    /// Closes everything `plugin` still holds, with MONA_CLOSED_SHUTDOWN for its connections; the
    /// future completes once the sockets are closed.
    func closeAll(ownedBy plugin: LoadedPlugin) -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        var closing: [EventLoopFuture<Void>] = []
        for (handle, timer) in timers where timer.owner === plugin {
            timer.cancel()
            timers[handle] = nil
        }
        for (handle, listener) in listeners where listener.owner === plugin {
            closing.append(listener.close())
            listeners[handle] = nil
        }
        for (handle, socket) in udpSockets where socket.owner === plugin {
            closing.append(socket.close())
            udpSockets[handle] = nil
        }
        for connection in connections.values where connection.owner === plugin {
            closing.append(connection.shutdown())
        }
        return EventLoopFuture.andAllComplete(closing, on: loop)
    }

    /// Stops the loop and the pool (after every plugin is gone).
    func shutdown() {
        try? pool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
    }
}
