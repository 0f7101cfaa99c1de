import CMonaCrypto
@testable import RTMPPlugin

// The handshake's crypto over CMonaCrypto (the OpenSSL functions the host itself uses).

/// An RC4 key stream over `mona_rc4`.
final class TestCipher: RTMPCipher {
    private var state = mona_rc4()

    init(key: [UInt8]) {
        _ = mona_crypto_rc4_init(&state, key, key.count)
    }

    func apply(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        mona_crypto_rc4_apply(&state, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
}

/// HMAC-SHA256 into 32 bytes.
func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    mona_crypto_hmac_sha256(key, key.count, data, data.count, &out)
    return out
}

/// Random bytes.
func randomBytes(_ count: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    _ = mona_crypto_random(&out, count)
    return out
}

/// A group-2 key pair's public key (128 bytes, left-padded).
func dhPublicKey(_ dh: OpaquePointer) -> [UInt8] {
    var key = [UInt8](repeating: 0, count: 128)
    var size = 0
    _ = mona_crypto_dh_public(dh, &key, key.count, &size)
    return Array(key.prefix(size))
}

/// The shared secret with a peer key, without leading zeros; nil if the key is refused.
func dhSecret(_ dh: OpaquePointer, _ peer: [UInt8]) -> [UInt8]? {
    var secret = [UInt8](repeating: 0, count: 256)
    var size = 0
    guard mona_crypto_dh_secret(dh, peer, peer.count, &secret, secret.count, &size) == 0 else { return nil }
    return Array(secret.prefix(size))
}

/// `RTMPCrypto` over CMonaCrypto; counts key pairs, and can shorten secrets as leading zeros would.
final class TestCrypto: RTMPCrypto {
    private var pairs: [UInt64: OpaquePointer] = [:]
    private var nextHandle: UInt64 = 1
    /// How many of the next secrets lose their first byte.
    var shortSecrets = 0
    /// Key pairs whose secret came out short by chance (a leading zero byte, 1 in 256): the handshake
    /// redraws after each, so a test's count of pairs drawn adds these.
    private(set) var chanceRedraws = 0

    var livePairs: Int { pairs.count }
    var pairsDrawn: Int { Int(nextHandle) - 1 }

    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] { hmac(key, data) }

    func randomBytes(_ count: Int) -> [UInt8] { RTMPPluginTests.randomBytes(count) }

    func dhNew() -> (handle: UInt64, publicKey: [UInt8])? {
        guard let dh = mona_crypto_dh_new(2) else { return nil }
        let handle = nextHandle
        nextHandle += 1
        pairs[handle] = dh
        return (handle, dhPublicKey(dh))
    }

    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]? {
        guard let secret = pairs[handle].flatMap({ RTMPPluginTests.dhSecret($0, peerKey) }) else { return nil }
        guard shortSecrets > 0 else {
            if secret.count < 128 { chanceRedraws += 1 }
            return secret
        }
        shortSecrets -= 1
        return Array(secret.dropFirst())
    }

    func dhFree(_ handle: UInt64) {
        if let dh = pairs.removeValue(forKey: handle) { mona_crypto_dh_free(dh) }
    }

    func rc4(key: [UInt8]) -> (any RTMPCipher)? { TestCipher(key: key) }
}
