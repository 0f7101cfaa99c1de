import CMonaTLS
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// What the loop's TLS connections share (loop thread only): the one output every call appends its
/// ciphertext to, emptied into the connection's socket after the call (a send's at its end, or every
/// `TCPConnection.ciphertextBatch` bytes: `TCPConnection.flushTLS`);
/// the buffer reads are decrypted into; the buffer small parts of a gathered send are staged in, so
/// that they go out as one record; and the index of the established TLS connections by their
/// addresses, which tells Lua that a client is `secure`.
final class TLSLoopState {
    let output: UnsafeMutablePointer<mona_tls_output>
    /// Decrypted bytes are delivered from here (as much as one TCP read at most).
    let plaintext: UnsafeMutableRawBufferPointer
    /// Small parts of one send, gathered into one record (the largest plaintext of a TLS record).
    let staging: UnsafeMutableRawBufferPointer
    /// The established TLS connections, by their peer and local addresses.
    private var secure: [Endpoints: TCPConnection] = [:]

    init() {
        output = .allocate(capacity: 1)
        output.initialize(to: mona_tls_output())
        plaintext = .allocate(byteCount: Reactor.tcpReadSize, alignment: 16)
        staging = .allocate(byteCount: 16384, alignment: 16)
    }

    deinit {
        free(output.pointee.data)
        output.deallocate()
        plaintext.deallocate()
        staging.deallocate()
    }

    /// A connection finished its handshake.
    func established(_ connection: TCPConnection) {
        let addresses = connection.addresses()
        secure[Endpoints(addresses.peer, addresses.local)] = connection
    }

    /// A TLS connection ended.
    func ended(_ connection: TCPConnection) {
        let addresses = connection.addresses()
        let key = Endpoints(addresses.peer, addresses.local)
        if secure[key] === connection { secure[key] = nil }
    }

    /// True when `plugin` owns an established TLS connection between `peer` and `local` (what it
    /// passes to client_open for a client of that connection).
    func isSecure(_ plugin: LoadedPlugin, peer: mona_addr, local: mona_addr) -> Bool {
        guard let connection = secure[Endpoints(peer, local)], !connection.isClosing else { return false }
        return connection.owner === plugin
    }

    /// Two addresses as a hashable key.
    private struct Endpoints: Hashable {
        let peer: [UInt8]
        let local: [UInt8]

        init(_ peer: mona_addr, _ local: mona_addr) {
            self.peer = withUnsafeBytes(of: peer) { Array($0) }
            self.local = withUnsafeBytes(of: local) { Array($0) }
        }
    }
}
