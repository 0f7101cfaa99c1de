import CMonaCrypto
import Testing
@testable import RTMPPlugin

// The client side is written here from the layouts FFmpeg and librtmp use, and the server's answer is
// checked the way FFmpeg checks it (S1 digest at the 772 layout, then the 8 one; S2 signature), with the
// positions and keys computed independently of the plugin's helpers.

let playerKey = Array("Genuine Adobe Flash Player 001".utf8)
let fmsKey = Array("Genuine Adobe Flash Media Server 001".utf8) + [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
]

/// The sum of the 4 bytes at `base`.
private func sum4(_ packet: [UInt8], _ base: Int) -> Int { packet[base..<(base + 4)].reduce(0) { $0 + Int($1) } }
/// A digest position: after the 4 bytes that choose it, within 728 bytes.
private func digestPosition(_ packet: [UInt8], _ base: Int) -> Int { sum4(packet, base) % 728 + base + 4 }
/// A DH public key position: chosen by the 4 bytes at `base`, within 632 bytes from `start`.
private func keyPosition(_ packet: [UInt8], _ base: Int, _ start: Int) -> Int { sum4(packet, base) % 632 + start }

/// The HMAC of a packet without the 32 bytes at `position`.
private func digest(_ packet: [UInt8], at position: Int, key: [UInt8]) -> [UInt8] {
    hmac(key, Array(packet[..<position]) + Array(packet[(position + 32)...]))
}

private func digestIsValid(_ packet: [UInt8], at position: Int, key: [UInt8]) -> Bool {
    Array(packet[position..<(position + 32)]) == digest(packet, at: position, key: key)
}

/// A client's C1 with a version, its digest in the `scheme` layout and, for RTMPE, its public key.
private func clientC1(_ scheme: RTMPDigestScheme, publicKey: [UInt8]? = nil) -> (c1: [UInt8], digest: [UInt8]) {
    var c1: [UInt8] = [0, 0, 0, 0, 9, 0, 124, 2] + randomBytes(1528)
    if let publicKey {
        let position = scheme == .a ? keyPosition(c1, 1532, 772) : keyPosition(c1, 768, 8)
        c1.replaceSubrange(position..<(position + 128), with: publicKey)
    }
    let position = scheme == .a ? digestPosition(c1, 8) : digestPosition(c1, 772)
    let clientDigest = digest(c1, at: position, key: playerKey)
    c1.replaceSubrange(position..<(position + 32), with: clientDigest)
    return (c1, clientDigest)
}

/// FFmpeg's check of S1 and S2 when S1's version major is ≥ 3: its `type` (0 when S1's digest is at the
/// 772 layout, 1 at the 8 layout), or nil when the digest or the signature is wrong.
private func ffmpegCheck(s1: [UInt8], s2: [UInt8], clientDigest: [UInt8]) -> Int? {
    var type = 0
    if !digestIsValid(s1, at: digestPosition(s1, 772), key: Array(fmsKey.prefix(36))) {
        type = 1
        guard digestIsValid(s1, at: digestPosition(s1, 8), key: Array(fmsKey.prefix(36))) else { return nil }
    }
    let signature = hmac(hmac(fmsKey, clientDigest), Array(s2[..<1504]))
    return signature == Array(s2[1504...]) ? type : nil
}

/// Feeds a handshake, turning its typed failure into a plain error for `#expect(throws:)`.
private func feed(_ handshake: inout RTMPHandshake, _ bytes: [UInt8], _ crypto: TestCrypto) throws -> (consumed: Int, reply: [UInt8]) {
    try handshake.feed(bytes, crypto: crypto)
}

/// An RTMPE handshake with a client written here: both sides must derive the same RC4 key streams.
private func rtmpeRoundTrip(_ scheme: RTMPDigestScheme, _ crypto: TestCrypto) throws {
    let dh = try #require(mona_crypto_dh_new(2))
    defer { mona_crypto_dh_free(dh) }
    let clientKey = dhPublicKey(dh)
    let (c1, clientDigest) = clientC1(scheme, publicKey: clientKey)
    var handshake = RTMPHandshake()
    let (_, reply) = try feed(&handshake, [6] + c1, crypto)
    #expect(reply[0] == 6 && handshake.encrypted)
    let s1 = Array(reply[1...1536]), s2 = Array(reply[1537...])
    let type = try #require(ffmpegCheck(s1: s1, s2: s2, clientDigest: clientDigest))
    // FFmpeg's ff_rtmpe_compute_secret_key: the server key's position follows `type`.
    let position = type == 1 ? keyPosition(s1, 1532, 772) : keyPosition(s1, 768, 8)
    let serverKey = Array(s1[position..<(position + 128)])
    let secret = try #require(dhSecret(dh, serverKey))
    #expect(secret.count == 128)
    let clientOut = TestCipher(key: Array(hmac(secret, serverKey).prefix(16)))
    let clientIn = TestCipher(key: Array(hmac(secret, clientKey).prefix(16)))
    var skipped = [UInt8](repeating: 0, count: 1536)
    clientOut.apply(&skipped)
    clientIn.apply(&skipped)

    // C2 arrives with the first (encrypted) chunk bytes.
    let plain = Array("connect".utf8)
    var sent = plain
    clientOut.apply(&sent)
    let read = randomBytes(1536) + sent
    let (consumed, replyC2) = try feed(&handshake, read, crypto)
    #expect(consumed == 1536 && replyC2.isEmpty && handshake.isComplete)
    var received = Array(read[consumed...])
    try #require(handshake.decryptor).apply(&received)
    #expect(received == plain, "client → server")

    var answer = Array("_result".utf8)
    try #require(handshake.encryptor).apply(&answer)
    clientIn.apply(&answer)
    #expect(answer == Array("_result".utf8), "server → client")
}

@Suite struct HandshakeTests {
    @Test func simpleHandshakeEchoesC1() throws {
        let crypto = TestCrypto()
        let c1: [UInt8] = [0, 0, 0, 5, 0, 0, 0, 0] + randomBytes(1528)
        var handshake = RTMPHandshake(time: 0x0102_0304)
        let (consumed, reply) = try feed(&handshake, [3] + c1, crypto)
        #expect(consumed == 1537)
        #expect(reply.count == 1 + 2 * 1536)
        #expect(reply[0] == 3)
        #expect(Array(reply[1..<9]) == [1, 2, 3, 4, 0, 0, 0, 0], "time, then a zero version")
        #expect(Array(reply[1537...]) == c1, "S2 echoes C1")
        #expect(handshake.scheme == nil && !handshake.encrypted && !handshake.isComplete)
        let (consumedC2, replyC2) = try feed(&handshake, randomBytes(1536), crypto)
        #expect(consumedC2 == 1536 && replyC2.isEmpty && handshake.isComplete)
        #expect(handshake.decryptor == nil && handshake.encryptor == nil)
    }

    @Test(arguments: [RTMPDigestScheme.a, .b])
    func digestHandshakeSatisfiesFFmpeg(_ scheme: RTMPDigestScheme) throws {
        let crypto = TestCrypto()
        let (c1, clientDigest) = clientC1(scheme)
        var handshake = RTMPHandshake(time: 77)
        let (consumed, reply) = try feed(&handshake, [3] + c1, crypto)
        #expect(consumed == 1537 && reply.count == 3073 && reply[0] == 3)
        let s1 = Array(reply[1...1536]), s2 = Array(reply[1537...])
        #expect(Array(s1[0..<8]) == [0, 0, 0, 77, 3, 5, 1, 1], "time and a version FFmpeg verifies (major ≥ 3)")
        #expect(handshake.scheme == scheme)
        #expect(ffmpegCheck(s1: s1, s2: s2, clientDigest: clientDigest) == (scheme == .a ? 1 : 0), "S1 in the client's layout")
        #expect(!handshake.encrypted)
        _ = try feed(&handshake, randomBytes(1536), crypto)
        #expect(handshake.isComplete)
    }

    @Test(arguments: [RTMPDigestScheme.a, .b])
    func rtmpeKeysMatchTheClient(_ scheme: RTMPDigestScheme) throws {
        let crypto = TestCrypto()
        try rtmpeRoundTrip(scheme, crypto)
        #expect(crypto.pairsDrawn == 1 + crypto.chanceRedraws && crypto.livePairs == 0, "the key pair is freed once the secret is known")
    }

    @Test func rtmpeRedrawsAKeyPairForAShortSecret() throws {
        let crypto = TestCrypto()
        crypto.shortSecrets = 2
        try rtmpeRoundTrip(.b, crypto)
        #expect(crypto.pairsDrawn == 3 + crypto.chanceRedraws && crypto.livePairs == 0)
    }

    @Test func rtmpeRefusesAnInvalidPublicKey() {
        var handshake = RTMPHandshake()
        let c1 = clientC1(.b, publicKey: [UInt8](repeating: 0, count: 128)).c1
        #expect(throws: RTMPFailure(reason: "invalid Diffie-Hellman public key in C1")) { _ = try feed(&handshake, [6] + c1, TestCrypto()) }
    }

    @Test func rtmpeNeedsADigest() {
        var handshake = RTMPHandshake()
        #expect(throws: RTMPFailure.self) { _ = try feed(&handshake, [6] + randomBytes(1536), TestCrypto()) }
    }

    @Test(arguments: [0, 5, 8, 9, 0x61] as [UInt8])
    func badVersionFailsAtOnce(_ c0: UInt8) {
        var handshake = RTMPHandshake()
        #expect(throws: RTMPFailure.self) { _ = try feed(&handshake, [c0], TestCrypto()) }
        #expect(throws: RTMPFailure.self, "and keeps failing") { _ = try feed(&handshake, randomBytes(10), TestCrypto()) }
    }

    @Test func byteByByte() throws {
        let crypto = TestCrypto()
        let (c1, clientDigest) = clientC1(.b)
        var handshake = RTMPHandshake()
        var reply: [UInt8] = []
        for (index, byte) in ([3] + c1 + randomBytes(1536)).enumerated() {
            let (consumed, part) = try feed(&handshake, [byte], crypto)
            #expect(consumed == 1)
            #expect(part.isEmpty == (index != 1536), "the answer comes with the last byte of C1")
            reply += part
            #expect(handshake.isComplete == (index == 3072))
        }
        #expect(ffmpegCheck(s1: Array(reply[1...1536]), s2: Array(reply[1537...]), clientDigest: clientDigest) == 0)
    }

    @Test func bytesAfterC2AreLeft() throws {
        let crypto = TestCrypto()
        var handshake = RTMPHandshake()
        let (consumed, reply) = try feed(&handshake, [3] + clientC1(.a).c1 + randomBytes(1536) + [0x03, 0, 0], crypto)
        #expect(consumed == RTMPHandshake.clientBytes && reply.count == 3073 && handshake.isComplete)
        #expect(try feed(&handshake, [1, 2], crypto).consumed == 0, "nothing more is taken once complete")
    }
}
