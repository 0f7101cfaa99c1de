import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// A listening socket of a plugin; accepted connections become `TCPConnection`s owned by the plugin
/// (on a TLS listener, once their handshake is done).
final class TCPListener: LoopHandle, LoopStreamListener {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let bound: mona_addr
    /// The certificate of a TLS listener (`<section>.tlsPort`); nil for plain TCP.
    let tls: TLSEndpoint?
    /// The TLS listener the host opened beside this one for the same tcp_listen (closed with it).
    var companion: TCPListener?
    private unowned let reactor: Reactor
    /// When the last accept failure was logged (loop milliseconds), to log one line per second at most.
    private var lastFailureLog: UInt64 = 0
    /// When the descriptor limit was last reported (loop milliseconds), to say it once per 10 s at most.
    private var lastLimitLog: UInt64 = 0

    init(handle: UInt64, owner: LoadedPlugin, context: UnsafeMutableRawPointer?, bound: mona_addr, tls: TLSEndpoint?,
         reactor: Reactor) {
        self.handle = handle
        self.owner = owner
        self.context = context
        self.bound = bound
        self.tls = tls
        self.reactor = reactor
    }

    /// Adopts the listening descriptor; false (and the descriptor closed) when libuv refuses it.
    func start(descriptor: Int32) -> Bool {
        let status = listen(descriptor: descriptor, on: reactor.loop)
        guard status == 0 else {
            reactor.runtime.log(.error, "\(owner.section): cannot accept on TCP \(bound.description): \(String(cString: uv_strerror(status)))")
            close()
            return false
        }
        return true
    }

    func incoming(_ status: Int32) {
        guard status == 0 else {
            // EMFILE/ENFILE: libuv already accepted and closed the waiting connections with its
            // reserve descriptor, so the loop does not spin; say it once a second at most.
            let now = uv_now(reactor.loop)
            if now &- lastFailureLog >= 1000 || lastFailureLog == 0 {
                lastFailureLog = now
                reactor.runtime.log(.error, "\(owner.section): cannot accept on TCP \(bound.description): \(String(cString: uv_strerror(status)))")
            }
            return
        }
        let connection = TCPConnection(handle: reactor.makeHandle(), owner: owner, reactor: reactor,
                                       listenerContext: context)
        guard connection.accept(from: uvStream) else { return }
        owner.counters.pointee.connectionsAccepted &+= 1
        noteDescriptorLimit(connection)
        connection.becameActive(tls: tls)
    }

    /// Past the descriptor limit libuv accepts and closes waiting connections at once (with a reserve
    /// descriptor, so the loop does not spin) and says nothing: say it here, once in a while, when a
    /// connection got one of the last descriptors (descriptors are handed out lowest first).
    private func noteDescriptorLimit(_ connection: TCPConnection) {
        var descriptor = uv_os_fd_t()
        var limit = rlimit()
        guard uv_fileno(connection.uvHandle, &descriptor) == 0, getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0,
              rlim_t(descriptor) + 3 >= limit.rlim_cur else { return }
        let now = uv_now(reactor.loop)
        guard lastLimitLog == 0 || now &- lastLimitLog >= 10_000 else { return }
        lastLimitLog = now
        reactor.runtime.log(.error, "\(owner.section): the descriptor limit (\(limit.rlim_cur)) is reached on TCP \(bound.description): connections past it are refused until others close (raise it with ulimit -n)")
    }
}
