import CMonaTLS

/// The TLS state of one connection (`mona_tls`): its handshake, then the records both ways. Freed
/// with the connection.
final class TLSSession {
    private let tls: OpaquePointer
    /// The handshake is done: the connection is the plugin's.
    private(set) var established = false
    /// The reason of the last failure, for the log line.
    private(set) var failure = ""
    private var error = [CChar](repeating: 0, count: 256)

    init(_ tls: OpaquePointer) { self.tls = tls }

    deinit { mona_tls_free(tls) }

    /// What a step of the handshake or of reading came to.
    enum Outcome: Equatable {
        /// Bytes were decrypted (a count), or the handshake is done.
        case progress(Int)
        /// More ciphertext is needed.
        case wantInput
        /// The peer ended its side (close_notify).
        case closed
        /// A protocol error (`failure` says which).
        case failed
    }

    /// Hands ciphertext borrowed until `settle`.
    func feed(_ bytes: UnsafeRawBufferPointer) {
        mona_tls_feed(tls, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// Copies what the last calls left of the fed bytes; false when memory is short.
    func settle() -> Bool { mona_tls_settle(tls) == 0 }

    /// True while decrypted bytes or unread ciphertext wait inside.
    var hasInput: Bool { mona_tls_has_input(tls) != 0 }

    /// Advances the handshake.
    func handshake() -> Outcome {
        switch mona_tls_handshake(tls, &error, error.count) {
        case 1:
            established = true
            return .progress(0)
        case 0: return .wantInput
        default: return fail()
        }
    }

    /// Decrypts into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        let result = mona_tls_read(tls, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count, &error, error.count)
        switch result {
        case let count where count > 0: return .progress(count)
        case Int(MONA_TLS_CLOSED): return .closed
        case Int(MONA_TLS_WANT_INPUT): return .wantInput
        default: return fail()
        }
    }

    /// Encrypts `bytes` into the loop's output; false on failure (`failure` says why).
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        guard mona_tls_write(tls, base.assumingMemoryBound(to: UInt8.self), bytes.count, &error, error.count) == 0 else {
            _ = fail()
            return false
        }
        return true
    }

    /// Appends the close_notify alert to the loop's output (once, after the handshake).
    func closeNotify() { mona_tls_close_notify(tls) }

    /// The negotiated version ("TLSv1.3").
    var version: String { String(cString: mona_tls_version(tls)) }

    private func fail() -> Outcome {
        failure = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return .failed
    }
}
