import CMonaCrypto
@testable import RTMFPPlugin

/// `RTMFPCrypto` over CMonaCrypto (the OpenSSL functions the host itself serves), counting key pairs so
/// that tests can check none is leaked.
final class TestRTMFPCrypto: RTMFPCrypto {
    private var pairs: [UInt64: OpaquePointer] = [:]
    private var nextHandle: UInt64 = 1

    /// Key pairs not freed yet.
    var livePairs: Int { pairs.count }
    /// Key pairs made so far.
    var pairsMade: Int { Int(nextHandle) - 1 }

    deinit {
        for pair in pairs.values { mona_crypto_dh_free(pair) }
    }

    func aes128CBC(encrypt: Bool, key: [UInt8], bytes: UnsafeMutableRawBufferPointer) -> Bool {
        guard key.count == 16 else { return false }
        guard let base = bytes.baseAddress else { return bytes.isEmpty }
        return mona_crypto_aes128_cbc(encrypt ? 1 : 0, key, nil, base.assumingMemoryBound(to: UInt8.self), bytes.count) == 0
    }

    func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        mona_crypto_sha256(bytes, bytes.count, &digest)
        return digest
    }

    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        mona_crypto_hmac_sha256(key, key.count, data, data.count, &digest)
        return digest
    }

    func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        _ = mona_crypto_random(&bytes, count)
        return bytes
    }

    func dhNew(group: Int) -> (handle: UInt64, publicKey: [UInt8])? {
        guard let group = Int32(exactly: group), let pair = mona_crypto_dh_new(group) else { return nil }
        var key = [UInt8](repeating: 0, count: mona_crypto_dh_size(pair))
        var size = 0
        guard mona_crypto_dh_public(pair, &key, key.count, &size) == 0 else {
            mona_crypto_dh_free(pair)
            return nil
        }
        let handle = nextHandle
        nextHandle += 1
        pairs[handle] = pair
        return (handle, Array(key.prefix(size)))
    }

    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]? {
        guard let pair = pairs[handle] else { return nil }
        var secret = [UInt8](repeating: 0, count: mona_crypto_dh_size(pair))
        var size = 0
        guard mona_crypto_dh_secret(pair, peerKey, peerKey.count, &secret, secret.count, &size) == 0 else { return nil }
        return Array(secret.prefix(size))
    }

    func dhFree(_ handle: UInt64) {
        if let pair = pairs.removeValue(forKey: handle) { mona_crypto_dh_free(pair) }
    }
}
