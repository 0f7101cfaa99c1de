import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// What a host-driven TCP connection tells its user (Lua's sockets, a link between servers). Every call
/// is a libuv callback of its own, never made from inside a call of the user into the connection.
protocol HostTCPConnectionDelegate: AnyObject {
    /// Bytes arrived: what was left unconsumed before, then the new bytes. Returns how many were consumed.
    func received(_ connection: HostTCPConnection, _ bytes: UnsafeRawBufferPointer) -> Int
    /// The connection ended (the peer closed, or `error` happened); the delegate is detached already.
    func closed(_ connection: HostTCPConnection, error: String?)
}

/// One TCP connection the host drives for itself (not a plugin's): dialled (`connect`) or accepted
/// by a `HostTCPListener`, read into the loop's buffer, written as `TCPConnection` writes (the socket
/// first, then a copy of what the kernel did not take, one write in libuv at a time) with a bounded
/// queue. Loop thread only.
final class HostTCPConnection: LoopHandle, LoopStreamReader {
    let handle: UInt64
    private unowned let reactor: Reactor
    /// Who hears about data and the end; nil once detached (after `disconnect` or the end).
    weak var delegate: HostTCPConnectionDelegate?
    /// The peer's address (the target of a dialled connection).
    private(set) var peer = mona_addr.none
    /// The local address (none until a dialled connection is established).
    private(set) var local = mona_addr.none
    /// Bytes left unconsumed by the delegate, passed again with the next ones.
    private var input: [UInt8] = []
    /// Bytes of the write libuv has (one at a time).
    private var inFlight = 0
    /// Bytes queued meanwhile, for the next write: one growing block, so many small sends to a peer
    /// that reads slowly cost their bytes, not a request each.
    private var pending: UnsafeMutableRawPointer?
    private var pendingSize = 0
    private var pendingCapacity = 0
    /// Loop time (ms) of the last byte sent or received.
    private var lastActivity: UInt64
    /// Why the connection failed, told to the delegate when it ends.
    private var failure: String?
    /// `disconnect` was called: what is queued goes out, then a half-close, then the rest is drained.
    private var disconnecting = false
    /// The peer half-closed: once our output is closed too, the connection ends.
    private var peerFinished = false
    /// Aborts a disconnection the peer does not let finish.
    private var drainTimer: LoopTimer?

    /// Past this many bytes queued (a peer that does not read), `send` refuses more.
    static let maxQueuedBytes = 16 << 20
    /// The most bytes a delegate may leave unconsumed; beyond, the connection fails.
    static let maxUnconsumedBytes = Int(MONA_TCP_MAX_UNCONSUMED)

    init(reactor: Reactor) {
        handle = reactor.makeHandle()
        self.reactor = reactor
        lastActivity = uv_now(reactor.loop)
    }

    private var tcp: UnsafeMutablePointer<uv_tcp_t> { raw.assumingMemoryBound(to: uv_tcp_t.self) }

    /// True while the connection is open and not disconnecting.
    var isUsable: Bool { isOpen && !isClosing && !disconnecting }

    /// Bytes queued and not yet written to the kernel.
    var queuedBytes: Int { inFlight + pendingSize }

    /// Milliseconds since the last byte sent or received.
    var idleTime: UInt64 { uv_now(reactor.loop) &- lastActivity }

    // MARK: opening

    /// Dials `address`; nil when the attempt started (its failure comes later as `closed(error:)`),
    /// else why it could not.
    func connect(to address: mona_addr) -> String? {
        guard uv_tcp_init(reactor.loop, tcp) == 0 else { return "cannot create a TCP socket" }
        opened()
        peer = address
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        request.initialize(to: uv_connect_t())
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = address.withSockAddr { target, _ in
            uv_tcp_connect(request, tcp, target) { request, status in
                let connection = Unmanaged<HostTCPConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
                request!.deallocate()
                connection.connectionMade(status)
            }
        } ?? UV_EINVAL.rawValue
        guard status == 0 else {
            Unmanaged<HostTCPConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close()
            return String(cString: uv_strerror(status))
        }
        return nil
    }

    private func connectionMade(_ status: Int32) {
        guard status == 0 else {
            if status != UV_ECANCELED.rawValue { failed(status) }
            return
        }
        guard !isClosing else { return }
        uv_tcp_nodelay(tcp, 1)
        local = address(uv_tcp_getsockname)
        lastActivity = uv_now(reactor.loop)
        startReadingStream()
    }

    /// Accepts the next connection of a listening stream and starts reading; false if there was none.
    func accept(from server: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        uv_tcp_init(reactor.loop, tcp)
        opened()
        guard uv_accept(server, uvStream) == 0 else {
            close()
            return false
        }
        uv_tcp_nodelay(tcp, 1)
        peer = address(uv_tcp_getpeername)
        local = address(uv_tcp_getsockname)
        startReadingStream()
        return true
    }

    private func address(_ get: (UnsafePointer<uv_tcp_t>?, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32) -> mona_addr {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                get(tcp, pointer, &length) == 0 ? mona_addr(UnsafePointer(pointer)) : .none
            }
        }
    }

    // MARK: input

    func received(_ bytes: UnsafeRawBufferPointer) {
        lastActivity = uv_now(reactor.loop)
        guard let delegate, !disconnecting, !isClosing else { return } // a disconnection drains what comes
        if input.isEmpty {
            let consumed = delegate.received(self, bytes)
            keep(bytes, consumed: consumed)
        } else {
            input.append(contentsOf: bytes)
            let data = input
            input = []
            let consumed = data.withUnsafeBytes { delegate.received(self, $0) }
            data.withUnsafeBytes { keep($0, consumed: consumed) }
        }
    }

    /// Keeps what the delegate left, while it is still attached (it may have disconnected meanwhile).
    private func keep(_ bytes: UnsafeRawBufferPointer, consumed: Int) {
        guard self.delegate != nil, !disconnecting, !isClosing, consumed < bytes.count else { return }
        let kept = bytes.count - max(consumed, 0)
        guard kept <= Self.maxUnconsumedBytes else {
            failure = "\(kept) bytes left unconsumed, over the limit of \(Self.maxUnconsumedBytes)"
            reactor.runtime.log(.error, "TCP connection \(peer.description): \(failure!); connection closed")
            return close()
        }
        input = Array(bytes[(bytes.count - kept)...])
    }

    func endOfInput() {
        peerFinished = true
        guard !disconnecting else { return close() } // the drain of a disconnection is over
        let delegate = delegate
        self.delegate = nil
        input = []
        delegate?.closed(self, error: nil)
        finishWriting()
    }

    /// A read, write or connect failed: the connection closes and the delegate hears the error.
    func failed(_ status: Int32) {
        if failure == nil { failure = String(cString: uv_strerror(status)) }
        close()
    }

    deinit { free(pending) }

    override func handleClosed() {
        drainTimer?.cancel()
        drainTimer = nil
        input = []
        free(pending)
        pending = nil
        pendingSize = 0
        pendingCapacity = 0
        let delegate = delegate
        self.delegate = nil
        delegate?.closed(self, error: failure)
    }

    // MARK: output

    /// Sends bytes: to the socket at once when nothing is queued, else (or for what the kernel did not
    /// take) copied and queued. Nil when sent or queued, else why not (closed, or `maxQueuedBytes` queued).
    func send(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard isUsable else { return "TCP connection closed" }
        guard queuedBytes < Self.maxQueuedBytes else {
            return "more than \(Self.maxQueuedBytes) bytes wait for \(peer.description) to read them: data refused"
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        var written = 0
        if queuedBytes == 0 {
            var buffer = uv_buf_init(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)), UInt32(bytes.count))
            let result = uv_try_write(uvStream, &buffer, 1)
            if result >= 0 {
                written = Int(result)
            } else if result != UV_EAGAIN.rawValue {
                failed(result)
                return String(cString: uv_strerror(result))
            }
        }
        if written > 0 { lastActivity = uv_now(reactor.loop) }
        guard written < bytes.count else { return nil }
        let rest = bytes.count - written
        if pendingSize + rest > pendingCapacity {
            pendingCapacity = max(pendingSize + rest, 2 * pendingCapacity, 4096)
            pending = realloc(pending, pendingCapacity)
        }
        (pending! + pendingSize).copyMemory(from: base + written, byteCount: rest)
        pendingSize += rest
        guard inFlight == 0 else { return nil } // the write in flight submits it when it ends
        let status = submitPending()
        return status == 0 ? nil : String(cString: uv_strerror(status))
    }

    /// Hands what is pending to libuv as one write (it owns the block from then on).
    private func submitPending() -> Int32 {
        let write = HostWrite(connection: self, bytes: pending!, size: pendingSize)
        inFlight = pendingSize
        pending = nil
        pendingSize = 0
        pendingCapacity = 0
        let status = write.submit()
        if status != 0 {
            inFlight = 0
            failed(status)
        }
        return status
    }

    /// The write in flight ended: what was queued meanwhile goes next.
    fileprivate func written(status: Int32) {
        inFlight = 0
        guard status == 0 else {
            if status != UV_ECANCELED.rawValue { failed(status) }
            return
        }
        lastActivity = uv_now(reactor.loop)
        if pendingSize > 0, !isClosing {
            _ = submitPending()
        } else if disconnecting, queuedBytes == 0 {
            halfClose()
        }
    }

    // MARK: the end

    /// Ends the connection gracefully and detaches the delegate (which hears nothing more): what is
    /// queued is written, then the output is half-closed and what the peer still sends is read and
    /// dropped until it closes (so that it gets everything, with no reset); after `drainLimitMs` it is cut.
    func disconnect() {
        delegate = nil
        input = []
        finishWriting()
    }

    private func finishWriting() {
        guard isOpen, !isClosing, !disconnecting else { return }
        disconnecting = true
        drainTimer = LoopTimer(reactor: reactor, delayMs: TCPConnection.drainLimitMs) { [unowned self] in
            drainTimer?.cancel()
            drainTimer = nil
            close()
        }
        if queuedBytes == 0 { halfClose() }
    }

    private func halfClose() {
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.initialize(to: uv_shutdown_t())
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_shutdown(request, uvStream) { request, _ in
            let connection = Unmanaged<HostTCPConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            if connection.peerFinished { connection.close() } // both directions are done
        }
        if status != 0 {
            Unmanaged<HostTCPConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close() // not connected (any more): nothing to drain
        }
    }

    /// Closes at once (what is queued is lost); the delegate, if still attached, hears the end.
    func abort() { close() }
}

/// One write: a block of copied bytes it owns (freed once written), and the connection (kept alive
/// until libuv's callback).
private final class HostWrite {
    private let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let bytes: UnsafeMutableRawPointer
    private let size: Int
    private let connection: HostTCPConnection

    init(connection: HostTCPConnection, bytes: UnsafeMutableRawPointer, size: Int) {
        self.connection = connection
        self.bytes = bytes
        self.size = size
        request.initialize(to: uv_write_t())
    }

    deinit {
        free(bytes)
        request.deallocate()
    }

    /// Hands the bytes to libuv (in order after the writes before it); libuv's status.
    func submit() -> Int32 {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var buffer = uv_buf_init(bytes.assumingMemoryBound(to: CChar.self), UInt32(size))
        let status = uv_write(request, connection.uvStream, &buffer, 1) { request, status in
            let write = Unmanaged<HostWrite>.fromOpaque(request!.pointee.data).takeRetainedValue()
            write.connection.written(status: status)
        }
        if status != 0 { Unmanaged<HostWrite>.fromOpaque(request.pointee.data).release() }
        return status
    }
}
