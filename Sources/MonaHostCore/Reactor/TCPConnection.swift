import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection (a libuv `uv_tcp_t`) and the plugin session it feeds.
///
/// Reads land in the loop's one read buffer and go to `tcp_data` from there; only the bytes the
/// plugin leaves unconsumed are copied (kept for the next call). Sends try the socket first and queue
/// only what the kernel did not take (`TCPConnection+Output.swift`).
final class TCPConnection: LoopHandle {
    let handle: UInt64
    /// The plugin that receives the callbacks (changes on handoff).
    unowned var owner: LoadedPlugin
    unowned let reactor: Reactor
    let listenerContext: UnsafeMutableRawPointer?
    /// The plugin's session context; nil until accepted or adopted.
    var session: UnsafeMutableRawPointer?
    /// True once the owner accepted the connection (it then gets tcp_closed).
    var accepted = false
    /// Bytes the owner left unconsumed.
    var input: [UInt8] = []
    /// A tcp_send returned a non-zero queue: tell the owner when it drains.
    var wantsWritable = false
    /// Inside a tcp_data callback (handoffs wait for it to return).
    var dispatching = false
    /// A handoff requested from inside tcp_data.
    var pendingHandoff: (target: LoadedPlugin, bytes: [UInt8], request: [UInt8])?
    /// Why the connection ends, once known (MONA_CLOSED_*).
    var closeReason: Int32?
    /// The connection is ending (the plugin or the host closed it): input is ignored, sends refused.
    var closing = false
    /// The plugin half-closed (MONA_CLOSE_WRITE).
    var outputClosed = false
    /// A graceful close waits for the send queue to drain.
    var closeWhenDrained = false
    /// Ends a graceful close whose queue did not drain within `drainLimitMs`.
    private var drainTimer: LoopTimer?
    /// How long a graceful close waits for the peer to read what is queued (then it aborts).
    static let drainLimitMs: UInt64 = 30_000
    /// Bytes queued while a write is in flight, for the next write (TCPConnection+Output.swift).
    var pendingWrite: WriteRequest?
    /// The write in flight when it writes straight to the socket (sendfile), libuv carrying only its probe.
    var directWrite: WriteRequest?
    /// The peer half-closed (end of its uvStream, or its TLS close_notify).
    private var peerFinished = false
    /// What the plugin asked with tcp_set_reading.
    private(set) var readingWanted = true
    /// The TLS state of a connection accepted on a TLS listener (TLS/TCPConnection+TLS.swift).
    var tls: TLSSession?
    /// Ends a TLS handshake that takes too long.
    var handshakeTimer: LoopTimer?
    /// Whether libuv is reading.
    private var reading = false
    private(set) var peer = mona_addr.none
    private(set) var local = mona_addr.none

    init(handle: UInt64, owner: LoadedPlugin, reactor: Reactor, listenerContext: UnsafeMutableRawPointer?) {
        self.handle = handle
        self.owner = owner
        self.reactor = reactor
        self.listenerContext = listenerContext
    }

    var tcp: UnsafeMutablePointer<uv_tcp_t> { raw.assumingMemoryBound(to: uv_tcp_t.self) }

    /// Accepts the next connection of a listening stream; false if there was none.
    func accept(from server: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        uv_tcp_init(reactor.loop, tcp)
        opened()
        guard uv_accept(server, uvStream) == 0 else {
            close()
            return false
        }
        uv_tcp_nodelay(tcp, 1)
        return true
    }

    // MARK: life

    /// The connection is open: the owner accepts it (or not) and reading starts; on a TLS listener
    /// (`endpoint`), the handshake comes first.
    func becameActive(tls endpoint: TLSEndpoint?) {
        peer = address(uv_tcp_getpeername)
        local = address(uv_tcp_getsockname)
        reactor.connections[handle] = self
        if let ip = peer.ipText, reactor.runtime.blacklist.contains(ip) {
            reactor.runtime.log(.info, "Data rejected because client \(ip) is banned")
            abort()
            return
        }
        if let endpoint { return startTLS(endpoint) }
        offerToOwner()
    }

    /// The owner accepts the connection (or not) and reading starts.
    func offerToOwner() {
        let plugin = owner
        guard plugin.isLive, let accept = plugin.entry.tcp_accepted else { return abort() }
        session = accept(plugin.instance, listenerContext, handle, &peer, &local)
        guard session != nil else { return abort() }
        accepted = true
        updateReading()
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

    /// Closes at once, without tcp_closed if the owner never accepted.
    func abort() {
        closing = true
        close()
    }

    /// The socket is closed: the owner hears tcp_closed (a callback of its own: libuv's close callback).
    override func handleClosed() {
        if reactor.connections[handle] === self { reactor.connections[handle] = nil }
        input = []
        pendingWrite = nil
        directWrite = nil
        drainTimer?.cancel()
        drainTimer = nil
        handshakeTimer?.cancel()
        handshakeTimer = nil
        if tls != nil {
            reactor.tls.ended(self)
            tls = nil
        }
        if accepted {
            accepted = false
            let plugin = owner
            if plugin.isLive || plugin.state == .stopped {
                plugin.entry.tcp_closed?(plugin.instance, session, handle, closeReason ?? MONA_CLOSED_BY_PEER)
            }
            session = nil
        }
    }

    // MARK: input

    /// Starts or stops libuv's reading to match what the plugin wants and the connection's state.
    func updateReading() {
        let handshaking = tls?.established == false
        let wanted = readingWanted && (accepted || handshaking) && !closing && !peerFinished && !isClosing
        guard wanted != reading else { return }
        reading = wanted
        guard wanted else {
            uv_read_stop(uvStream)
            return
        }
        uv_read_start(uvStream, { handle, _, buffer in
            // Every connection reads into the loop's buffer (the loop's data): a read is handed on
            // before the next one starts.
            let loop = uv_handle_get_loop(handle)
            buffer!.pointee = uv_buf_init(uv_loop_get_data(loop)!.assumingMemoryBound(to: CChar.self),
                                          UInt32(Reactor.tcpReadSize))
        }, { stream, count, buffer in
            let connection = LoopHandle.owner(stream, as: TCPConnection.self)
            if count > 0 {
                connection.owner.counters.pointee.receivedBytes &+= UInt64(count) // as on the wire (TLS: ciphertext)
                let bytes = UnsafeRawBufferPointer(start: buffer!.pointee.base, count: count)
                if connection.tls != nil { connection.receivedCiphertext(bytes) } else { connection.received(bytes) }
            } else if count == Int(UV_EOF.rawValue) {
                connection.endOfInput(streamEnded: true)
            } else if count < 0 {
                connection.failed(Int32(count))
            }
        })
    }

    /// Bytes for the owner (read, or decrypted from what was read).
    func received(_ bytes: UnsafeRawBufferPointer) {
        guard accepted, !closing else { return }
        if input.isEmpty {
            guard let consumed = deliver(bytes), consumed < bytes.count else { return }
            input.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
        } else {
            input.append(contentsOf: bytes)
            deliverInput()
        }
    }

    /// Passes the kept bytes again (after new bytes were appended, or after a handoff).
    private func deliverInput() {
        let data = input
        input = []
        guard let consumed = data.withUnsafeBytes({ deliver($0) }), consumed < data.count else { return }
        input = Array(data[consumed...])
    }

    /// Calls tcp_data; returns how many bytes were consumed, or nil when the connection went away
    /// (closed, over the limit, handed over).
    private func deliver(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let plugin = owner
        guard let onData = plugin.entry.tcp_data else { return nil }
        dispatching = true
        let consumed = onData(plugin.instance, session, handle, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                              bytes.count)
        dispatching = false
        if let handoff = pendingHandoff {
            pendingHandoff = nil
            perform(handoff: handoff)
            return nil
        }
        guard accepted, !closing else { return nil }
        let kept = bytes.count - min(consumed, bytes.count)
        if kept > Int(MONA_TCP_MAX_UNCONSUMED) {
            reactor.runtime.log(.error, "\(plugin.section): \(peer.description) left \(kept) bytes unconsumed, over the host's limit; connection closed")
            closeReason = MONA_CLOSED_LIMIT
            close(how: MONA_CLOSE_ABORT)
            return nil
        }
        return bytes.count - kept
    }

    /// The peer sends nothing more: the end of the TCP stream (libuv stopped reading), or a TLS
    /// close_notify (reading stops here).
    func endOfInput(streamEnded: Bool) {
        peerFinished = true
        if streamEnded { reading = false } else { updateReading() }
        guard accepted, !closing else {
            if !closing { // a TLS peer that left during its handshake
                reactor.runtime.log(.info, "\(owner.section): TLS handshake with \(peer.description) failed (the peer closed); connection closed")
                abort()
            }
            return
        }
        if outputClosed { // both directions are done
            closing = true
            return close()
        }
        let plugin = owner
        if let eof = plugin.entry.tcp_eof {
            eof(plugin.instance, session, handle)
        } else {
            close(how: MONA_CLOSE_GRACEFUL)
        }
    }

    /// A read or write failed: the connection closes with MONA_CLOSED_ERROR.
    func failed(_ status: Int32) {
        if closeReason == nil { closeReason = MONA_CLOSED_ERROR }
        reactor.runtime.log(.debug, "\(owner.section): connection \(peer.description) failed: \(String(cString: uv_strerror(status)))")
        closing = true
        close()
    }

    // MARK: host services

    /// Pauses or resumes reading (tcp_set_reading): one epoll change, no allocation.
    func setReading(_ enabled: Bool) {
        readingWanted = enabled
        updateReading()
        if enabled { resumeTLSInput() }
    }

    func close(how: Int32) {
        if closeReason == nil { closeReason = MONA_CLOSED_BY_PLUGIN }
        switch how {
        case MONA_CLOSE_WRITE:
            guard !outputClosed, !closing else { return }
            sendCloseNotify()
            outputClosed = true
            shutdownOutput()
        case MONA_CLOSE_ABORT:
            closing = true
            close()
        default:
            guard !closing else { return }
            sendCloseNotify()
            closing = true
            updateReading()
            guard queuedBytes > 0 else { return close() }
            closeWhenDrained = true
            // A peer that never reads would keep a closing connection forever: give it a bounded time.
            drainTimer = LoopTimer(reactor: reactor, delayMs: Self.drainLimitMs) { [unowned self] in
                drainTimer?.cancel()
                drainTimer = nil
                close()
            }
        }
    }

    /// Half-closes once what is queued is written (libuv's shutdown request); if the peer already
    /// finished, the connection then closes.
    private func shutdownOutput() {
        submitPendingWrite(evenIfBusy: true) // libuv's shutdown waits for the writes it has: all of them first
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.initialize(to: uv_shutdown_t())
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_shutdown(request, uvStream) { request, status in
            let connection = Unmanaged<TCPConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            if status == 0, connection.peerFinished, !connection.isClosing {
                connection.closing = true
                connection.close()
            }
        }
        if status != 0 {
            Unmanaged<TCPConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            failed(status)
        }
    }

    /// Closes because the server or the plugin stops; `then` runs once the socket is closed.
    func shutdown(then: @escaping () -> Void) {
        if closeReason == nil { closeReason = MONA_CLOSED_SHUTDOWN }
        closing = true
        close(then: then)
    }

    func addresses() -> (peer: mona_addr, local: mona_addr) { (peer, local) }

    func handoff(to target: LoadedPlugin, bytes: [UInt8], request: [UInt8]) {
        if dispatching {
            pendingHandoff = (target, bytes, request)
        } else {
            perform(handoff: (target, bytes, request))
        }
    }

    private func perform(handoff: (target: LoadedPlugin, bytes: [UInt8], request: [UInt8])) {
        let target = handoff.target
        owner = target
        session = nil
        accepted = false
        wantsWritable = false
        input = handoff.bytes
        readingWanted = true
        guard target.isLive, let adopt = target.entry.tcp_adopted else { return abort() }
        session = handoff.request.withUnsafeBufferPointer { request in
            adopt(target.instance, handle, &peer, &local, request.baseAddress, request.count)
        }
        guard session != nil else { return abort() }
        accepted = true
        reactor.runtime.log(.debug, "connection \(peer.description) handed over to \(target.section)")
        if !input.isEmpty { deliverInput() }
        updateReading()
    }
}
