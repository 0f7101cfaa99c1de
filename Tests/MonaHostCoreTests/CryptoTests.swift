import CMonaCrypto
import MonaHostCore
import PluginABI
import Testing

/// An owner for the crypto service's objects.
private final class CryptoOwner {}

@Suite("OpenSSL primitives offered to plugins")
struct CryptoTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    @Test func digests() {
        let abc = Array("abc".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        mona_crypto_sha256(abc, abc.count, &out)
        #expect(Self.hex(out) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var sha1 = [UInt8](repeating: 0, count: 20)
        mona_crypto_sha1(abc, abc.count, &sha1)
        #expect(Self.hex(sha1) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var md5 = [UInt8](repeating: 0, count: 16)
        mona_crypto_md5(abc, abc.count, &md5)
        #expect(Self.hex(md5) == "900150983cd24fb0d6963f7d28e17f72")
    }

    @Test func hmacSHA256MatchesRFC4231() {
        let key = Array("Jefe".utf8)
        let data = Array("what do ya want for nothing?".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        mona_crypto_hmac_sha256(key, key.count, data, data.count, &out)
        #expect(Self.hex(out) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func aes128CBCMatchesSP800_38A() {
        let key = Self.bytes("2b7e151628aed2a6abf7158809cf4f3c")
        let iv = Self.bytes("000102030405060708090a0b0c0d0e0f")
        var data = Self.bytes("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
        #expect(mona_crypto_aes128_cbc(1, key, iv, &data, data.count) == 0)
        #expect(Self.hex(data) == "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
        #expect(mona_crypto_aes128_cbc(0, key, iv, &data, data.count) == 0)
        #expect(Self.hex(data) == "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
        var odd = [UInt8](repeating: 0, count: 15)
        #expect(mona_crypto_aes128_cbc(1, key, nil, &odd, odd.count) == -1)
    }

    /// The keyed contexts are cached per thread: the same key again (IV reset), another key taking a
    /// slot over, both directions interleaved, an empty and a long HMAC key, and other threads, all
    /// give the vectors' answers.
    @Test func cachedKeyedContextsGiveTheSameAnswersEveryTime() async {
        let key = Self.bytes("2b7e151628aed2a6abf7158809cf4f3c")
        let iv = Self.bytes("000102030405060708090a0b0c0d0e0f")
        let plain = Self.bytes("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
        let cipher = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
        let jefe = Array("Jefe".utf8)
        let message = Array("what do ya want for nothing?".utf8)
        let mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        @Sendable func round(_ salt: UInt8) -> Bool {
            var ok = true
            for n in 0..<3000 {
                var data = plain
                ok = ok && mona_crypto_aes128_cbc(1, key, iv, &data, data.count) == 0 && Self.hex(data) == cipher
                ok = ok && mona_crypto_aes128_cbc(0, key, iv, &data, data.count) == 0 && data == plain
                var other = plain // many other keys take slots over
                let otherKey = (0..<16).map { UInt8(truncatingIfNeeded: n &* 31 &+ $0 &+ Int(salt)) }
                ok = ok && mona_crypto_aes128_cbc(1, otherKey, nil, &other, other.count) == 0 && other != plain
                var out = [UInt8](repeating: 0, count: 32)
                mona_crypto_hmac_sha256(jefe, jefe.count, message, message.count, &out)
                ok = ok && Self.hex(out) == mac
                let otherMACKey = (0..<(1 + n % 80)).map { UInt8(truncatingIfNeeded: $0 &+ n) }
                mona_crypto_hmac_sha256(otherMACKey, otherMACKey.count, message, message.count, &out)
            }
            var empty = [UInt8](repeating: 0, count: 32)
            mona_crypto_hmac_sha256(nil, 0, nil, 0, &empty)
            return ok && Self.hex(empty) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        }
        #expect(round(0))
        let others = await withTaskGroup(of: Bool.self) { group in
            for salt in 1...3 { group.addTask { round(UInt8(salt)) } }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(others)
    }

    @Test func rc4MatchesTheKnownVectorAcrossCalls() {
        var state = mona_rc4()
        let key = Array("Key".utf8)
        #expect(mona_crypto_rc4_init(&state, key, key.count) == 0)
        var first = Array("Plain".utf8)
        var second = Array("text".utf8)
        mona_crypto_rc4_apply(&state, &first, first.count)
        mona_crypto_rc4_apply(&state, &second, second.count)
        #expect(Self.hex(first + second) == "bbf316e8d940af0ad3")
        #expect(mona_crypto_rc4_init(&state, key, 0) == -1)
    }

    @Test func diffieHellmanGroup2Agrees() throws {
        let alice = try #require(mona_crypto_dh_new(2))
        let bob = try #require(mona_crypto_dh_new(2))
        defer {
            mona_crypto_dh_free(alice)
            mona_crypto_dh_free(bob)
        }
        #expect(mona_crypto_dh_size(alice) == 128)
        var alicePublic = [UInt8](repeating: 0, count: 128)
        var bobPublic = [UInt8](repeating: 0, count: 128)
        var size = 0
        #expect(mona_crypto_dh_public(alice, &alicePublic, 128, &size) == 0 && size == 128)
        #expect(mona_crypto_dh_public(bob, &bobPublic, 128, &size) == 0 && size == 128)
        #expect(alicePublic != bobPublic)
        var secretA = [UInt8](repeating: 0, count: 128)
        var secretB = [UInt8](repeating: 0, count: 128)
        var sizeA = 0
        var sizeB = 0
        #expect(mona_crypto_dh_secret(alice, bobPublic, 128, &secretA, 128, &sizeA) == 0)
        #expect(mona_crypto_dh_secret(bob, alicePublic, 128, &secretB, 128, &sizeB) == 0)
        #expect(sizeA == sizeB && sizeA > 100 && secretA[0] != 0)
        #expect(secretA.prefix(sizeA) == secretB.prefix(sizeB))
        let one: [UInt8] = [1]
        #expect(mona_crypto_dh_secret(alice, one, 1, &secretA, 128, &sizeA) == -1)
        let tooLong = [UInt8](repeating: 0xFF, count: 129)
        #expect(mona_crypto_dh_secret(alice, tooLong, 129, &secretA, 128, &sizeA) == -1)
        #expect(mona_crypto_dh_new(3) == nil)
    }

    @Test(arguments: [(Int32(5), 192), (Int32(14), 256)])
    func diffieHellmanGroups5And14Agree(group: Int32, size: Int) throws {
        let alice = try #require(mona_crypto_dh_new(group))
        let bob = try #require(mona_crypto_dh_new(group))
        defer {
            mona_crypto_dh_free(alice)
            mona_crypto_dh_free(bob)
        }
        #expect(mona_crypto_dh_size(alice) == size)
        var alicePublic = [UInt8](repeating: 0, count: size)
        var bobPublic = [UInt8](repeating: 0, count: size)
        var publicSize = 0
        #expect(mona_crypto_dh_public(alice, &alicePublic, size - 1, &publicSize) == -1)
        #expect(mona_crypto_dh_public(alice, &alicePublic, size, &publicSize) == 0 && publicSize == size)
        #expect(mona_crypto_dh_public(bob, &bobPublic, size, &publicSize) == 0 && publicSize == size)
        var secretA = [UInt8](repeating: 0, count: size)
        var secretB = [UInt8](repeating: 0, count: size)
        var sizeA = 0
        var sizeB = 0
        #expect(mona_crypto_dh_secret(alice, bobPublic, size, &secretA, size, &sizeA) == 0)
        #expect(mona_crypto_dh_secret(bob, alicePublic, size, &secretB, size, &sizeB) == 0)
        #expect(sizeA == sizeB && sizeA > size - 8 && secretA[0] != 0)
        #expect(secretA.prefix(sizeA) == secretB.prefix(sizeB))
        let tooLong = [UInt8](repeating: 0x01, count: size + 1)
        #expect(mona_crypto_dh_secret(alice, tooLong, tooLong.count, &secretA, size, &sizeA) == -1)
        let top = [UInt8](repeating: 0xFF, count: size) // above p - 1
        #expect(mona_crypto_dh_secret(alice, top, size, &secretA, size, &sizeA) == -1)
    }

    @Test func theHostsDHNewServesGroups2_5And14() {
        let crypto = CryptoService(makeHandle: { UInt64.random(in: 1...UInt64.max) })
        let owner = CryptoOwner()
        var handle: UInt64 = 0
        var key = [UInt8](repeating: 0, count: 256)
        var size = 0
        for (group, expected) in [(Int32(2), 128), (5, 192), (14, 256)] {
            #expect(crypto.newDH(owner: owner, group: group, handle: &handle, publicKey: &key, capacity: expected - 1,
                                 publicSize: &size) == MONA_E_INVAL)
            #expect(crypto.newDH(owner: owner, group: group, handle: &handle, publicKey: &key, capacity: 256,
                                 publicSize: &size) == MONA_OK)
            #expect(size == expected && crypto.dh(handle, owner: owner) != nil)
            #expect(crypto.free(handle, owner: owner))
        }
        for group: Int32 in [0, 1, 3, 15, 16] {
            #expect(crypto.newDH(owner: owner, group: group, handle: &handle, publicKey: &key, capacity: 256,
                                 publicSize: &size) == MONA_E_UNSUPPORTED)
        }
        #expect(crypto.newDH(owner: owner, group: 2, handle: nil, publicKey: &key, capacity: 256, publicSize: &size) == MONA_E_INVAL)
        #expect(crypto.newDH(owner: owner, group: 2, handle: &handle, publicKey: nil, capacity: 256, publicSize: &size) == MONA_E_INVAL)
    }

    @Test func randomBytesDiffer() {
        var a = [UInt8](repeating: 0, count: 32)
        var b = [UInt8](repeating: 0, count: 32)
        #expect(mona_crypto_random(&a, 32) == 0 && mona_crypto_random(&b, 32) == 0)
        #expect(a != b)
    }
}
