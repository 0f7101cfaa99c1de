import MonaPluginTesting
import PluginABI
@testable import RTMFPPlugin
import Testing

/// RFC 7425 §4.6.5-4.6.6: HMAC and session sequence number negotiation, the packets they change, and
/// sessions with a client that requires both (as rtmfp-cpp does by default).
@Suite("RTMFP HMAC and session sequence numbers")
struct ProtectionTests {
    let crypto = TestRTMFPCrypto()
    static let key: [UInt8] = Array(0x30..<0x40)

    /// A skic's options, as the negotiation reads them.
    static func options(_ bytes: [UInt8]) -> [RTMFPOption] { RTMFPOption.list(bytes[...]) ?? [] }

    static func option(_ type: UInt64, _ value: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendOption(type: type, value: value)
        return bytes
    }

    @Test func aClientThatNegotiatesNothingGetsMonaServersBytes() throws {
        let quiet = try #require(RTMFPProtectionNegotiation(skicOptions: []))
        #expect(quiet.responderOptions == [0x03, 0x1A, 0x00, 0x00, 0x02, 0x1E, 0x00])
        // "Send on request" both ways (librtmfp, the test client's default): nothing is sent or required.
        let onRequest = try #require(RTMFPProtectionNegotiation(skicOptions: Self.options(
            Self.option(0x1A, [0x02, 16]) + Self.option(0x1E, [0x02]))))
        #expect(onRequest.responderOptions == quiet.responderOptions)
        let protection = onRequest.protection(secret: [1], encryptKey: [2], decryptKey: [3], crypto: crypto)
        #expect(protection == .none)
    }

    @Test func aClientThatRequiresBothIsServedBoth() throws {
        let negotiation = try #require(RTMFPProtectionNegotiation(skicOptions: Self.options(
            Self.option(0x1A, [0x07, 10]) + Self.option(0x1E, [0x07]))))
        #expect(negotiation.responderOptions == [0x03, 0x1A, 0x06, 16, 0x02, 0x1E, 0x06])
        let protection = negotiation.protection(secret: [1], encryptKey: [2], decryptKey: [3], crypto: crypto)
        #expect(protection.sendHMAC == RTMFPHMAC(key: crypto.hmacSHA256(key: [1], data: [2]), length: 16))
        #expect(protection.receiveHMAC == RTMFPHMAC(key: crypto.hmacSHA256(key: [1], data: [3]), length: 10))
        #expect(protection.sendSequence == 0)
        #expect(protection.receiveSequence != nil)
    }

    @Test func anHMACLengthOutOfRangeRefusesTheKeying() {
        for length: UInt8 in [0, 3, 33, 100] {
            #expect(RTMFPProtectionNegotiation(skicOptions: Self.options(Self.option(0x1A, [0x04, length]))) == nil, "\(length)")
        }
        #expect(RTMFPProtectionNegotiation(skicOptions: Self.options(Self.option(0x1A, [0x04]))) == nil, "no length")
    }

    @Test func theReplayWindowAcceptsEachNumberOnce() {
        var window = RTMFPReplayWindow()
        #expect(window.isNew(0))
        window.accept(5)
        #expect(!window.isNew(5))
        #expect(window.isNew(4) && window.isNew(6))
        window.accept(4)
        #expect(!window.isNew(4))
        window.accept(100)
        #expect(!window.isNew(100) && !window.isNew(5) && !window.isNew(4))
        #expect(window.isNew(36), "64 below the highest: still in the window")
        #expect(!window.isNew(35), "65 below: too old")
        window.accept(99)
        window.accept(101)
        #expect(!window.isNew(99) && !window.isNew(100) && !window.isNew(101) && window.isNew(98))
    }

    func seal(sequence: UInt64?, hmac: RTMFPHMAC?, chunk: [UInt8] = [1, 2, 3]) throws -> [UInt8] {
        var writer = RTMFPPacketWriter(flags: 0x4A, timestamp: 7, echo: 9, sequence: sequence, hmac: hmac)
        let appended = writer.append(chunkType: 0x10, value: chunk)
        #expect(appended)
        let sealed = writer.seal(farSessionID: 0xABCD, key: Self.key, crypto: crypto)
        return try #require(sealed)
    }

    func open(_ datagram: [UInt8], _ protection: inout RTMFPPacketProtection) -> RTMFPPacket? {
        datagram.withUnsafeBytes { RTMFPPacket.open($0, key: Self.key, protection: &protection, crypto: crypto) }
    }

    @Test func protectedPacketsOpenOnceAndOnlyWhole() throws {
        let hmac = RTMFPHMAC(key: Array(repeating: 7, count: 32), length: 10)
        var receiving = RTMFPPacketProtection(receiveHMAC: hmac, receiveSequence: RTMFPReplayWindow())
        let datagram = try seal(sequence: 300, hmac: hmac)
        #expect((datagram.count - 4 - 10) % 16 == 0)
        #expect(packetSessionID(datagram) == 0xABCD)
        let opened = open(datagram, &receiving)
        let packet = try #require(opened)
        #expect(packet.timestamp == 7 && packet.echo == 9)
        #expect(packet.chunks.map { Array($0.value) } == [[1, 2, 3]])
        let replayed = open(datagram, &receiving)
        #expect(replayed == nil, "a replay")
        for index in [4, 20, datagram.count - 1] {
            var damaged = try seal(sequence: 301 + UInt64(index), hmac: hmac)
            damaged[index] ^= 0x01
            let opened = open(damaged, &receiving)
            #expect(opened == nil, "byte \(index) flipped")
        }
        var plain = RTMFPPacketProtection.none
        let unprotected = open(datagram, &plain)
        #expect(unprotected == nil, "no checksum where the HMAC stands")
    }

    @Test func sequenceNumbersWithoutHMACKeepTheChecksum() throws {
        var receiving = RTMFPPacketProtection(receiveSequence: RTMFPReplayWindow())
        let datagram = try seal(sequence: 1 << 40, hmac: nil)
        let first = open(datagram, &receiving)
        let second = open(datagram, &receiving)
        #expect(first != nil)
        #expect(second == nil, "a replay")
        var damaged = try seal(sequence: 2, hmac: nil)
        damaged[damaged.count - 1] ^= 0x80
        let opened = open(damaged, &receiving)
        #expect(opened == nil, "checksum")
    }

    @Test func aFullPacketStillFitsTheMTUWithBoth() throws {
        let hmac = RTMFPHMAC(key: [1], length: 32)
        let overhead = RTMFPPacketProtection(sendHMAC: hmac, sendSequence: UInt64.max).maxOverhead
        var writer = RTMFPPacketWriter(flags: 0x4A, timestamp: 1, echo: 2, sequence: UInt64.max, hmac: hmac)
        // What a session packs into one packet (chunk headers included) is what the writer has room for.
        #expect(RTMFPPacketWriter.maxEncryptedSize(trailer: overhead.trailer) - overhead.prefix - 5 == writer.room)
        let appended = writer.append(chunkType: 0x10, value: [UInt8](repeating: 0, count: writer.valueRoom))
        #expect(appended)
        let sealed = writer.seal(farSessionID: 1, key: Self.key, crypto: crypto)
        let datagram = try #require(sealed)
        #expect(datagram.count <= RTMFPPacket.maxSize)
    }

    // MARK: sessions

    static func protectedSettings(hmacLength: Int = 10) -> RTMFPTestClient.Settings {
        var settings = RTMFPTestClient.Settings(url: "rtmfp://127.0.0.1/live")
        settings.protection = true
        settings.hmacLength = hmacLength
        return settings
    }

    @Test(arguments: [4, 10, 32]) func aClientThatRequiresBothConnectsAndCalls(hmacLength: Int) throws {
        let network = RTMFPSessionTests.Network()
        defer { network.host.destroy() }
        network.host.onInvoke = { _, _, args in .results(args) }
        let client = network.client(port: 40_101, Self.protectedSettings(hmacLength: hmacLength))
        client.connect()
        network.settle()
        #expect(client.isConnected, "\(client.errors)")
        let call = client.call("echo", [.string(String(repeating: "x", count: 5000))])
        network.settle()
        #expect(client.reply(to: call) == .result([.string(String(repeating: "x", count: 5000))]))
        let protection = try #require(client.protection)
        #expect(protection.receiveLength == RTMFPHMAC.defaultLength)
        #expect(protection.received.count >= 3, "the server's packets carried sequence numbers")
        #expect(client.errors.isEmpty, "\(client.errors)")
    }

    @Test func protectedSessionsSurviveLossAndReordering() throws {
        let network = RTMFPSessionTests.Network()
        defer { network.host.destroy() }
        network.host.onInvoke = { _, _, args in .results(args) }
        let client = network.client(port: 40_102, Self.protectedSettings())
        client.connect()
        network.settle()
        #expect(client.isConnected)
        var state: UInt64 = 0x1234_5678
        network.drop = { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 60 < 3
        }
        let big = String(repeating: "y", count: 30_000)
        let transactions = (0..<5).map { client.call("echo", [.number(Double($0)), .string(big)]) }
        network.advance(ms: 30_000, step: 100)
        for (index, transaction) in transactions.enumerated() {
            #expect(client.reply(to: transaction) == .result([.number(Double(index)), .string(big)]), "call \(index)")
        }
    }

    /// The packets of one flush leave in runs (one host call each, UDP segmentation): full packets of
    /// one size, the last shorter.
    @Test func theServersPacketsLeaveInRuns() throws {
        let network = RTMFPSessionTests.Network()
        defer { network.host.destroy() }
        network.host.onInvoke = { _, _, args in .results(args) }
        let client = network.client(port: 40_104, Self.protectedSettings())
        client.connect()
        network.settle()
        let big = String(repeating: "z", count: 40_000)
        let call = client.call("echo", [.string(big)])
        network.settle()
        #expect(client.reply(to: call) == .result([.string(big)]))
        let runs = network.socket.runs
        #expect(runs.contains { $0 > 1 }, "\(runs)")
        #expect(runs.reduce(0, +) == network.socket.sent.count - 2, "every session packet (all but RHello and RIKeying) in a run")
    }

    @Test func aReplayedClientPacketIsDropped() throws {
        let network = RTMFPSessionTests.Network()
        defer { network.host.destroy() }
        network.host.onInvoke = { _, _, args in .results(args) }
        let client = network.client(port: 40_103, Self.protectedSettings())
        client.connect()
        network.settle()
        let call = client.call("echo", [.string("once")])
        let datagrams = client.tick(now: network.now)
        #expect(!datagrams.isEmpty)
        for datagram in datagrams { network.host.datagram(datagram, from: .loopback(40_103)) }
        let answered = network.socket.sent.count
        for datagram in datagrams { network.host.datagram(datagram, from: .loopback(40_103)) }
        #expect(network.socket.sent.count == answered, "a replay gets nothing, not even an acknowledgement")
        #expect(network.host.logs.contains { $0.text.contains("sequence") })
        network.settle()
        #expect(client.reply(to: call) == .result([.string("once")]))
    }
}
