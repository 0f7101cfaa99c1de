import MonaPluginKit
@testable import MonaPluginTesting
import PluginABI
import Testing
@testable import RTMFPPlugin

/// The plugin's crypto over the host API (the kit's wrappers and the fake host's table, which serves the
/// real host's OpenSSL functions), checked against the tests' CMonaCrypto one.
@Suite("RTMFP crypto over the host API")
struct PacketHostCryptoTests {
    /// Runs `body` with the plugin's crypto over a fake host's table.
    static func withHostCrypto(_ body: (RTMFPHostCrypto, FakeHost) throws -> Void) rethrows {
        let fake = FakeHost(section: "RTMFP", entry: monaPluginEntryRTMFP)
        try body(RTMFPHostCrypto(host: MonaHost(UnsafePointer(fake.api))), fake)
    }

    @Test(arguments: [(2, 128), (5, 192), (14, 256)])
    func diffieHellmanAgreesInEachGroup(group: Int, size: Int) throws {
        let reference = TestRTMFPCrypto()
        try Self.withHostCrypto { crypto, fake in
            let ours = try #require(crypto.dhNew(group: group))
            #expect(ours.publicKey.count == size)
            let theirs = try #require(reference.dhNew(group: group))
            #expect(theirs.publicKey.count == size)
            let secret = try #require(crypto.dhSecret(ours.handle, peerKey: theirs.publicKey))
            #expect(secret == reference.dhSecret(theirs.handle, peerKey: ours.publicKey))
            #expect(secret.first != 0, "the secret has no leading zero")
            #expect(crypto.dhSecret(ours.handle, peerKey: [1]) == nil, "1 is out of range")
            #expect(crypto.dhSecret(ours.handle, peerKey: [UInt8](repeating: 0xFF, count: size + 1)) == nil)
            crypto.dhFree(ours.handle)
            reference.dhFree(theirs.handle)
            #expect(crypto.dhSecret(ours.handle, peerKey: theirs.publicKey) == nil, "freed")
            #expect(fake.count("dh_new") == 1)
        }
    }

    @Test func otherGroupsAreRefused() {
        Self.withHostCrypto { crypto, _ in
            for group in [0, 1, 3, 15, 16, -2, Int(Int32.max) + 2] { #expect(crypto.dhNew(group: group) == nil, "group \(group)") }
        }
    }

    @Test func theHostsDHNewChecksGroupAndCapacity() {
        Self.withHostCrypto { _, fake in
            var handle: mona_handle = 0
            var key = [UInt8](repeating: 0, count: 256)
            var size = 0
            let api = fake.api.pointee
            #expect(api.dh_new(api.ctx, 14, &handle, &key, 255, &size) == MONA_E_INVAL)
            #expect(api.dh_new(api.ctx, 5, &handle, &key, 191, &size) == MONA_E_INVAL)
            #expect(api.dh_new(api.ctx, 7, &handle, &key, 256, &size) == MONA_E_UNSUPPORTED)
            #expect(api.dh_new(api.ctx, 5, &handle, &key, 192, &size) == MONA_OK && size == 192)
            #expect(api.dh_free(api.ctx, handle) == MONA_OK)
        }
    }

    @Test func digestsAndAESMatchTheReference() throws {
        let reference = TestRTMFPCrypto()
        try Self.withHostCrypto { crypto, _ in
            let abc = Array("abc".utf8)
            #expect(crypto.sha256(abc) == reference.sha256(abc))
            #expect(crypto.sha256(abc).prefix(4) == [0xBA, 0x78, 0x16, 0xBF])
            #expect(crypto.hmacSHA256(key: abc, data: [1, 2]) == reference.hmacSHA256(key: abc, data: [1, 2]))
            #expect(crypto.randomBytes(48).count == 48)
            let key = Array(UInt8(1)...16)
            let plain = Array(UInt8(0)..<48)
            var ours = plain
            var theirs = plain
            let encrypted = ours.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: true, key: key, bytes: $0) }
            let encryptedByReference = theirs.withUnsafeMutableBytes { reference.aes128CBC(encrypt: true, key: key, bytes: $0) }
            #expect(encrypted && encryptedByReference)
            #expect(ours == theirs && ours != plain)
            let decrypted = ours.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: false, key: key, bytes: $0) }
            #expect(decrypted)
            #expect(ours == plain)
            var odd = [UInt8](repeating: 0, count: 15)
            let oddSize = odd.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: true, key: key, bytes: $0) }
            let shortKey = ours.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: true, key: [1, 2, 3], bytes: $0) }
            #expect(!oddSize && !shortKey)
            // A packet sealed over the host opens with the reference, and back.
            var writer = RTMFPPacketWriter(flags: 0x4A, timestamp: 3, echo: nil)
            let added = writer.append(chunkType: 0x01, value: [9, 9])
            #expect(added)
            let datagramSealed = writer.seal(farSessionID: 42, key: key, crypto: crypto)
            let datagram = try #require(datagramSealed)
            let packet = try #require(openPacket(datagram, key: key, crypto: reference))
            #expect(packet.chunks.map { Array($0.value) } == [[9, 9]])
            #expect(datagram.withUnsafeBytes { RTMFPPacket.open($0, key: key, crypto: crypto) } != nil)
        }
    }
}
