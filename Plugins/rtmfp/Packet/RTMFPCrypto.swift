import MonaPluginKit

// The cryptography of RFC 7425's Flash profile, provided by the host at run time (OpenSSL behind the
// host API): the plugin uses `RTMFPHostCrypto`, the tests an implementation over CMonaCrypto.

/// AES-128-CBC, SHA-256, HMAC-SHA256, randomness and Diffie-Hellman in MODP groups 2, 5 and 14, as
/// the packet layer and the handshake use them.
protocol RTMFPCrypto {
    /// AES-128-CBC in place over `bytes` (a multiple of 16 bytes, no padding) with a 16-byte `key` and
    /// a zero IV; false when the key or the size is wrong.
    func aes128CBC(encrypt: Bool, key: [UInt8], bytes: UnsafeMutableRawBufferPointer) -> Bool
    /// SHA-256 of `bytes`: 32 bytes.
    func sha256(_ bytes: [UInt8]) -> [UInt8]
    /// HMAC-SHA256 of `data` keyed with `key`: 32 bytes.
    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8]
    /// HMAC-SHA256 of `bytes` keyed with `key`: 32 bytes (the packets' HMACs, without a copy).
    func hmacSHA256(key: [UInt8], bytes: UnsafeRawBufferPointer) -> [UInt8]
    /// `count` cryptographically secure random bytes.
    func randomBytes(_ count: Int) -> [UInt8]
    /// A new key pair in MODP `group` (2, 5 or 14): a handle for the calls below and the public key,
    /// big-endian, left-padded to the prime's size; nil for another group or on failure.
    func dhNew(group: Int) -> (handle: UInt64, publicKey: [UInt8])?
    /// The shared secret with the peer's public key, big-endian without leading zeros; nil if the peer's
    /// key is out of range.
    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]?
    /// Frees a key pair.
    func dhFree(_ handle: UInt64)
}

extension RTMFPCrypto {
    func hmacSHA256(key: [UInt8], bytes: UnsafeRawBufferPointer) -> [UInt8] { hmacSHA256(key: key, data: Array(bytes)) }
}

/// `RTMFPCrypto` over the host's services.
struct RTMFPHostCrypto: RTMFPCrypto {
    let host: MonaHost

    func aes128CBC(encrypt: Bool, key: [UInt8], bytes: UnsafeMutableRawBufferPointer) -> Bool {
        host.aes128CBC(encrypt: encrypt, key: key, bytes: bytes)
    }

    func sha256(_ bytes: [UInt8]) -> [UInt8] { host.sha256(bytes) }
    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] { host.hmacSHA256(key: key, data: data) }
    func hmacSHA256(key: [UInt8], bytes: UnsafeRawBufferPointer) -> [UInt8] { host.hmacSHA256(key: key, bytes: bytes) }
    func randomBytes(_ count: Int) -> [UInt8] { host.randomBytes(count) }

    func dhNew(group: Int) -> (handle: UInt64, publicKey: [UInt8])? {
        guard let group = Int32(exactly: group) else { return nil }
        return host.dhNew(group: group)
    }

    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]? { host.dhSecret(handle, peerKey: peerKey) }
    func dhFree(_ handle: UInt64) { host.dhFree(handle) }
}
