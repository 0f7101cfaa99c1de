import CMonaCrypto

// The test client's cryptography (RFC 7425 §4): AES-128-CBC with a zero IV, HMAC-SHA256, SHA-256,
// Diffie-Hellman in MODP groups 2, 5 and 14, over the host's OpenSSL functions (CMonaCrypto).

extension RTMFPTestClient {
    /// The primitives of the Flash cryptography profile.
    enum Crypto {
        /// The key of every packet on session ID 0 (RFC 7425 §4.5.2): "Adobe Systems 02".
        static let defaultKey: [UInt8] = Array("Adobe Systems 02".utf8)

        /// SHA-256.
        static func sha256(_ bytes: [UInt8]) -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            mona_crypto_sha256(bytes, bytes.count, &digest)
            return digest
        }

        /// HMAC-SHA256 of `data` under `key`.
        static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            mona_crypto_hmac_sha256(key, key.count, data, data.count, &digest)
            return digest
        }

        /// Secure random bytes.
        static func random(_ count: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            _ = mona_crypto_random(&bytes, count)
            return bytes
        }

        /// AES-128-CBC with a zero IV and no padding; nil unless the key has 16 bytes and the data is
        /// a non-empty multiple of 16 bytes.
        static func aes(encrypt: Bool, key: [UInt8], _ data: [UInt8]) -> [UInt8]? {
            guard key.count == 16, !data.isEmpty, data.count % 16 == 0 else { return nil }
            var buffer = data
            let status = buffer.withUnsafeMutableBufferPointer { pointer in
                mona_crypto_aes128_cbc(encrypt ? 1 : 0, key, nil, pointer.baseAddress, pointer.count)
            }
            return status == 0 ? buffer : nil
        }

        /// The session keys of an initiator (RFC 7425 §4.6): it encrypts with the first 16 bytes of
        /// HMAC-SHA256(secret, HMAC-SHA256(skrc, skic)) and decrypts with the first 16 bytes of
        /// HMAC-SHA256(secret, HMAC-SHA256(skic, skrc)), the HMAC key written first.
        static func initiatorKeys(secret: [UInt8], skic: [UInt8], skrc: [UInt8]) -> (encrypt: [UInt8], decrypt: [UInt8]) {
            let hashes = initiatorKeyHashes(secret: secret, skic: skic, skrc: skrc)
            return (Array(hashes.encrypt.prefix(16)), Array(hashes.decrypt.prefix(16)))
        }

        /// The whole 32-byte HMAC-SHA256 results whose first 16 bytes are the keys (the HMAC keys
        /// of §4.6.5 come from them).
        static func initiatorKeyHashes(secret: [UInt8], skic: [UInt8], skrc: [UInt8]) -> (encrypt: [UInt8], decrypt: [UInt8]) {
            (hmacSHA256(key: secret, data: hmacSHA256(key: skrc, data: skic)), hmacSHA256(key: secret, data: hmacSHA256(key: skic, data: skrc)))
        }
    }

    /// A Diffie-Hellman key pair in MODP group 2 (1024 bits), 5 (1536 bits) or 14 (2048 bits).
    final class KeyPair {
        /// The group number.
        let group: Int
        /// The public key, big-endian, left-padded to the size of the prime.
        let publicKey: [UInt8]
        private let handle: OpaquePointer

        /// A fresh key pair; nil for a group CMonaCrypto does not know.
        init?(group: Int) {
            guard let handle = mona_crypto_dh_new(Int32(group)) else { return nil }
            var key = [UInt8](repeating: 0, count: mona_crypto_dh_size(handle))
            var size = 0
            guard mona_crypto_dh_public(handle, &key, key.count, &size) == 0 else {
                mona_crypto_dh_free(handle)
                return nil
            }
            self.group = group
            self.handle = handle
            publicKey = Array(key.prefix(size))
        }

        deinit {
            mona_crypto_dh_free(handle)
        }

        /// The shared secret with `peerKey`, big-endian without leading zeros; nil for a bad key.
        func sharedSecret(with peerKey: [UInt8]) -> [UInt8]? {
            var secret = [UInt8](repeating: 0, count: mona_crypto_dh_size(handle))
            var size = 0
            guard mona_crypto_dh_secret(handle, peerKey, peerKey.count, &secret, secret.count, &size) == 0 else {
                return nil
            }
            return Array(secret.prefix(size))
        }
    }
}
