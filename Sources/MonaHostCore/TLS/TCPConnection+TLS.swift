import CLibUV
import CMonaTLS
import PluginABI

/// A connection accepted on a TLS listener: the host runs the handshake before the plugin hears of it,
/// then decrypts what it reads into the loop's plaintext buffer and hands it to `tcp_data` exactly as
/// plain bytes, and encrypts what the plugin sends. Every call's ciphertext goes straight to the
/// socket's output path (`writeOut`: tried at once, only what the kernel refuses queued), so the
/// plugin's back-pressure counts ciphertext and works as on a plain connection; encrypting is the one
/// copy TLS adds. A handshake that fails, or is not done within `handshakeLimitMs`, is one log line and
/// the connection closed: the plugin never sees it.
extension TCPConnection {
    /// How long a peer has to finish its handshake.
    static let handshakeLimitMs: UInt64 = 10_000

    /// Starts the handshake of a connection accepted on a TLS listener (its first read drives it).
    func startTLS(_ endpoint: TLSEndpoint) {
        guard let made = endpoint.makeSession(output: reactor.tls.output) else {
            reactor.runtime.log(.error, "\(owner.section): no memory for the TLS state of \(peer.description); connection closed")
            return abort()
        }
        tls = made
        handshakeTimer = LoopTimer(reactor: reactor, delayMs: Self.handshakeLimitMs) { [unowned self] in
            endHandshakeTimer()
            reactor.runtime.log(.info, "\(owner.section): TLS handshake with \(peer.description) not done within \(Self.handshakeLimitMs / 1000) s; connection closed")
            abort()
        }
        updateReading()
    }

    private func endHandshakeTimer() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
    }

    /// Ciphertext was read (in the loop's read buffer): handshake, decrypt, deliver, then keep what the
    /// plugin did not get to (it paused reading).
    func receivedCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard let tls, !closing else { return }
        tls.feed(bytes)
        pumpTLS()
        settleTLS()
    }

    /// Keeps the ciphertext the calls left (the read buffer is the loop's).
    private func settleTLS() {
        guard let tls, !tls.settle() else { return }
        reactor.runtime.log(.error, "\(owner.section): no memory to keep TLS input of \(peer.description); connection closed")
        closeReason = MONA_CLOSED_ERROR
        close(how: MONA_CLOSE_ABORT)
    }

    /// Reading resumes (tcp_set_reading): bytes decrypted or read before the pause come first, as a
    /// callback of their own.
    func resumeTLSInput() {
        guard let tls, tls.established, tls.hasInput else { return }
        reactor.execute { [self] in
            guard !isClosing, !closing else { return }
            pumpTLS()
            settleTLS()
        }
    }

    /// Advances the handshake, then decrypts and delivers while the owner reads.
    private func pumpTLS() {
        guard let tls else { return }
        if !tls.established {
            let outcome = tls.handshake()
            flushTLS() // the server's flight, or the alert that ends a failed handshake
            switch outcome {
            case .wantInput: return
            case .failed, .closed:
                reactor.runtime.log(.info, "\(owner.section): TLS handshake with \(peer.description) failed (\(tls.failure)); connection closed")
                return abort()
            case .progress:
                endHandshakeTimer()
                guard !closing, !isClosing else { return } // the flight could not be written
                reactor.tls.established(self)
                reactor.runtime.log(.debug, "\(owner.section): \(tls.version) with \(peer.description)")
                offerToOwner()
            }
        }
        let buffer = reactor.tls.plaintext
        var outcome = TLSSession.Outcome.progress(0)
        while accepted, !closing, readingWanted, case .progress = outcome {
            var filled = 0
            while filled < buffer.count {
                outcome = tls.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                guard case .progress(let count) = outcome else { break }
                filled += count
            }
            flushTLS() // what reading produced (alerts, key updates)
            if filled > 0 { received(UnsafeRawBufferPointer(rebasing: buffer[..<filled])) }
        }
        guard accepted, !closing else { return }
        switch outcome {
        case .closed:
            endOfInput(streamEnded: false)
        case .failed:
            reactor.runtime.log(.info, "\(owner.section): TLS error from \(peer.description) (\(tls.failure)); connection closed")
            failed(UV_EPROTO.rawValue)
        default:
            break
        }
    }

    /// Writes the ciphertext the last TLS call produced to the socket (and empties the loop's output).
    @discardableResult
    func flushTLS() -> Bool {
        let output = reactor.tls.output
        guard output.pointee.size > 0 else { return true }
        defer { output.pointee.size = 0 }
        return writeOut(UnsafeRawBufferPointer(start: output.pointee.data, count: output.pointee.size))
    }

    /// Ciphertext gathered in the loop's output past which a send writes it out before going on.
    static let ciphertextBatch = 256 * 1024

    /// tcp_send on a TLS connection: encrypted by pieces of at most 64 KiB, the ciphertext of the whole
    /// send written out at once (one system call, as a plain send).
    func sendEncrypted(_ bytes: UnsafeRawBufferPointer) -> Int64 {
        guard encryptAll(bytes), flushTLS() else { return Int64(MONA_E_CLOSED) }
        return afterSend()
    }

    /// tcp_send_parts on a TLS connection: small parts are gathered into one record, large ones
    /// encrypted from where they are (shared buffers included); the ciphertext is written at the end.
    func sendEncrypted(_ parts: [UnsafeRawBufferPointer]) -> Int64 {
        let staging = reactor.tls.staging
        var staged = 0
        for part in parts {
            if staged + part.count <= staging.count {
                UnsafeMutableRawBufferPointer(rebasing: staging[staged...]).copyMemory(from: part)
                staged += part.count
                continue
            }
            if staged > 0 {
                guard encrypt(UnsafeRawBufferPointer(rebasing: staging[..<staged])) else { return Int64(MONA_E_CLOSED) }
                staged = 0
            }
            if part.count <= staging.count {
                UnsafeMutableRawBufferPointer(rebasing: staging[0...]).copyMemory(from: part)
                staged = part.count
            } else {
                guard encryptAll(part) else { return Int64(MONA_E_CLOSED) }
            }
        }
        if staged > 0, !encrypt(UnsafeRawBufferPointer(rebasing: staging[..<staged])) { return Int64(MONA_E_CLOSED) }
        guard flushTLS() else { return Int64(MONA_E_CLOSED) }
        return afterSend()
    }

    /// Encrypts bytes by pieces of at most 64 KiB; false when the connection failed.
    private func encryptAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Reactor.tcpReadSize)
            guard encrypt(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) else { return false }
            offset = end
        }
        return true
    }

    /// Encrypts one piece into the loop's output, written out when it passes `ciphertextBatch` (else
    /// by the caller at the end of its send); false when the connection failed.
    private func encrypt(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let tls else { return false }
        guard tls.write(bytes) else {
            flushTLS()
            reactor.runtime.log(.error, "\(owner.section): TLS error towards \(peer.description) (\(tls.failure)); connection closed")
            failed(UV_EPROTO.rawValue)
            return false
        }
        return reactor.tls.output.pointee.size < Self.ciphertextBatch || flushTLS()
    }

    /// A graceful or half close says so to the peer first (close_notify), after what is queued.
    func sendCloseNotify() {
        guard let tls, tls.established, !outputClosed else { return }
        tls.closeNotify()
        flushTLS()
    }
}
