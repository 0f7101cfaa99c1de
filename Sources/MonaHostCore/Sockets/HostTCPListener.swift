import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// What a host-driven listener tells its user.
protocol HostTCPListenerDelegate: AnyObject {
    /// A connection was accepted and reads; the delegate attaches itself to it (or aborts it).
    func accepted(_ listener: HostTCPListener, _ connection: HostTCPConnection)
}

/// A listening TCP socket the host drives for itself (Lua's TCP servers): accepted connections are
/// `HostTCPConnection`s; banned peers are closed at once, as on the plugins' listeners. Loop thread only.
final class HostTCPListener: LoopHandle, LoopStreamListener {
    let handle: UInt64
    private unowned let reactor: Reactor
    weak var delegate: HostTCPListenerDelegate?
    /// The address it is bound to.
    private(set) var bound = mona_addr.none
    /// When the last accept failure was logged (loop ms), to log one line per second at most.
    private var lastFailureLog: UInt64 = 0

    init(reactor: Reactor) {
        handle = reactor.makeHandle()
        self.reactor = reactor
    }

    /// Binds and listens on host:port (port 0: one the system picks); nil on success, else why not.
    func listen(host: String, port: UInt16) -> String? {
        let descriptor: Int32
        switch SocketFactory.bound(type: Int32(SOCK_STREAM.rawValue), host: host, port: port) {
        case .failure(let failure): return failure.text
        case .success(let (fd, address)):
            descriptor = fd
            bound = address
        }
        let status = listen(descriptor: descriptor, on: reactor.loop)
        guard status == 0 else {
            close()
            return String(cString: uv_strerror(status))
        }
        return nil
    }

    func incoming(_ status: Int32) {
        guard status == 0 else {
            let now = uv_now(reactor.loop)
            if lastFailureLog == 0 || now &- lastFailureLog >= 1000 {
                lastFailureLog = now
                reactor.runtime.log(.warn, "TCP server \(bound.description): cannot accept: \(String(cString: uv_strerror(status)))")
            }
            return
        }
        let connection = HostTCPConnection(reactor: reactor)
        guard connection.accept(from: uvStream) else { return }
        if let ip = connection.peer.ipText, reactor.runtime.blacklist.contains(ip) {
            reactor.runtime.log(.info, "Data rejected because client \(ip) is banned")
            return connection.abort()
        }
        guard let delegate else { return connection.abort() }
        delegate.accepted(self, connection)
    }
}
