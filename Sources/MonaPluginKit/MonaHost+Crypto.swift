import PluginABI

/// Crypto services of the host (OpenSSL behind the host API), in Swift terms.
extension MonaHost {
    private var ctx: OpaquePointer? { api.pointee.ctx }

    /// `count` cryptographically secure random bytes.
    public func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        _ = bytes.withUnsafeMutableBufferPointer { api.pointee.random_bytes(ctx, $0.baseAddress, $0.count) }
        return bytes
    }

    /// SHA-256 of `bytes`: 32 bytes.
    public func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { data in
            digest.withUnsafeMutableBufferPointer { api.pointee.sha256(ctx, data.baseAddress, data.count, $0.baseAddress) }
        }
        return digest
    }

    /// HMAC-SHA256 of `data` keyed with `key`: 32 bytes.
    public func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hmacSHA256(key: key, bytes: $0) }
    }

    /// HMAC-SHA256 of `bytes` (not copied) keyed with `key`: 32 bytes.
    public func hmacSHA256(key: [UInt8], bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBufferPointer { k in
            digest.withUnsafeMutableBufferPointer {
                api.pointee.hmac_sha256(ctx, k.baseAddress, k.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, $0.baseAddress)
            }
        }
        return digest
    }

    /// AES-128-CBC in place over `bytes` (a multiple of 16 bytes, no padding added or removed) with a
    /// 16-byte `key` and a 16-byte `iv` (nil: zeros). False for a bad key, IV or size.
    public func aes128CBC(encrypt: Bool, key: [UInt8], bytes: UnsafeMutableRawBufferPointer, iv: [UInt8]? = nil) -> Bool {
        guard key.count == 16, iv.map({ $0.count == 16 }) ?? true, bytes.count % 16 == 0 else { return false }
        guard let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return bytes.isEmpty }
        let status = key.withUnsafeBufferPointer { k in
            if let iv {
                return iv.withUnsafeBufferPointer { api.pointee.aes128_cbc(ctx, encrypt ? 1 : 0, k.baseAddress, $0.baseAddress, data, bytes.count) }
            }
            return api.pointee.aes128_cbc(ctx, encrypt ? 1 : 0, k.baseAddress, nil, data, bytes.count)
        }
        return status == MONA_OK
    }

    /// A Diffie-Hellman key pair of group 2 (RTMP's): its handle and 128-byte public key.
    public func dhNew() -> (handle: mona_handle, publicKey: [UInt8])? { dhNew(group: 2) }

    /// A Diffie-Hellman key pair in MODP group 2, 5 or 14: its handle and public key, left-padded to
    /// the group's size (128, 192 or 256 bytes); nil for another group or on failure.
    public func dhNew(group: Int32) -> (handle: mona_handle, publicKey: [UInt8])? {
        var handle: mona_handle = 0
        var key = [UInt8](repeating: 0, count: 256)
        var size = 0
        let status = key.withUnsafeMutableBufferPointer { api.pointee.dh_new(ctx, group, &handle, $0.baseAddress, $0.count, &size) }
        return status == MONA_OK && size <= key.count ? (handle, Array(key.prefix(size))) : nil
    }

    /// The shared secret of a key pair with the peer's public key, big-endian without leading zeros;
    /// nil if the peer's key is out of range.
    public func dhSecret(_ handle: mona_handle, peerKey: [UInt8]) -> [UInt8]? {
        var secret = [UInt8](repeating: 0, count: 256)
        var size = 0
        let status = peerKey.withUnsafeBufferPointer { peer in
            secret.withUnsafeMutableBufferPointer { api.pointee.dh_secret(ctx, handle, peer.baseAddress, peer.count, $0.baseAddress, $0.count, &size) }
        }
        return status == MONA_OK && size <= secret.count ? Array(secret.prefix(size)) : nil
    }

    public func dhFree(_ handle: mona_handle) {
        _ = api.pointee.dh_free(ctx, handle)
    }

    /// An RC4 key stream keyed with `key` (1 to 256 bytes); nil on failure.
    public func rc4New(key: [UInt8]) -> mona_handle? {
        var handle: mona_handle = 0
        let status = key.withUnsafeBufferPointer { api.pointee.rc4_new(ctx, $0.baseAddress, $0.count, &handle) }
        return status == MONA_OK ? handle : nil
    }

    /// XORs `bytes` in place with the next `bytes.count` bytes of the key stream.
    public func rc4Apply(_ handle: mona_handle, _ bytes: UnsafeMutableRawBufferPointer) {
        _ = api.pointee.rc4_apply(ctx, handle, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    public func rc4Free(_ handle: mona_handle) {
        _ = api.pointee.rc4_free(ctx, handle)
    }
}
