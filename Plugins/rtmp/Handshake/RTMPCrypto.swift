// The cryptography the handshake needs, provided by the host at run time (OpenSSL behind the host API):
// the session implements these protocols over MonaHost, the tests over CMonaCrypto.

/// An RC4 key stream (RTMPE): one per direction, kept by the session for the life of the connection.
protocol RTMPCipher: AnyObject {
    /// XORs `bytes` in place with the next `bytes.count` bytes of the key stream.
    func apply(_ bytes: UnsafeMutableRawBufferPointer)
}

extension RTMPCipher {
    /// XORs `bytes` in place with the next `bytes.count` bytes of the key stream.
    func apply(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { apply($0) }
    }
}

/// HMAC, randomness, Diffie-Hellman (1024-bit MODP group 2) and RC4, as the handshake uses them.
protocol RTMPCrypto {
    /// HMAC-SHA256 of `data` keyed with `key`: 32 bytes.
    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8]
    /// `count` cryptographically secure random bytes (fewer, or none, on failure).
    func randomBytes(_ count: Int) -> [UInt8]
    /// A new key pair in group 2: a handle for the calls below and the public key, big-endian, left-padded
    /// to 128 bytes; nil on failure.
    func dhNew() -> (handle: UInt64, publicKey: [UInt8])?
    /// The shared secret with the peer's public key, big-endian without leading zeros; nil if the peer's
    /// key is invalid.
    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]?
    /// Frees a key pair.
    func dhFree(_ handle: UInt64)
    /// An RC4 key stream keyed with `key`; nil on failure.
    func rc4(key: [UInt8]) -> (any RTMPCipher)?
}
