import Testing

/// The test client's byte and packet layers (RFC 7016 §2.1-2.2, RFC 7425 §4.4), against hand-written
/// layouts and vectors computed apart (Python's hmac/hashlib and the `cryptography` package's AES).
@Suite struct ClientPacketTests {
    typealias Client = RTMFPTestClient

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    @Test func vluMatchesTheRFCLayout() {
        #expect(Client.Wire.vlu(0) == [0x00])
        #expect(Client.Wire.vlu(0x7F) == [0x7F])
        #expect(Client.Wire.vlu(0x80) == [0x81, 0x00])
        #expect(Client.Wire.vlu(300) == [0x82, 0x2C])
        #expect(Client.Wire.vlu(0x4000) == [0x81, 0x80, 0x00])
        #expect(Client.Wire.vlu(UInt64.max).count == 10)
        for value: UInt64 in [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 0xFFFF_FFFF, UInt64.max] {
            var reader = Client.Reader(Client.Wire.vlu(value) + [0xEE])
            #expect(reader.vlu() == value)
            #expect(reader.u8() == 0xEE)
        }
    }

    @Test func truncatedOrOverlongReadsAnswerNilAndStay() {
        var truncated = Client.Reader([0x81, 0x82])
        #expect(truncated.vlu() == nil)
        #expect(truncated.position == 0)
        var overlong = Client.Reader([UInt8](repeating: 0x81, count: 10) + [0x00])
        #expect(overlong.vlu() == nil)
        var overflow = Client.Reader([0x82] + [UInt8](repeating: 0xFF, count: 8) + [0x7F]) // 65 bits
        #expect(overflow.vlu() == nil)
        var short = Client.Reader([0x01, 0x02, 0x03])
        #expect(short.u32() == nil)
        #expect(short.u16() == 0x0102)
        #expect(short.vluPrefixed() == nil) // length 3, one byte left
        #expect(short.position == 2)
    }

    @Test func optionsAndOptionLists() {
        let option = Client.Option(type: 0x0A, value: Array("ab".utf8))
        #expect(option.encoded == [0x03, 0x0A, 0x61, 0x62])
        #expect(Client.Option.list([0x03, 0x0A, 0x61, 0x62, 0x00, 0x01, 0x0E]) == [option, Client.Option(type: 0x0E, value: [])])
        #expect(Client.Option.list([0x05, 0x0A, 0x61]) == nil)
        var marked = Client.Reader([0x01, 0x0E, 0x00, 0x99])
        #expect(Client.Option.markedList(&marked) == [Client.Option(type: 0x0E, value: [])])
        #expect(marked.rest() == [0x99])
        var unterminated = Client.Reader([0x01, 0x0E])
        #expect(Client.Option.markedList(&unterminated) == nil)
    }

    @Test func checksumVectors() {
        // RFC 1071 §3's example: the words sum to 0xDDF2, whose complement is 0x220D.
        #expect(Client.Packet.checksum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7][...]) == 0x220D)
        // Carries fold back: 0x0B12 + 0x3430 + 0x0002 + 0xFFFF = 0x13F43 -> 0x3F44 -> 0xC0BB.
        #expect(Client.Packet.checksum([0x0B, 0x12, 0x34, 0x30, 0x00, 0x02, 0xFF, 0xFF][...]) == 0xC0BB)
        // An odd last byte is added as it is: 0x0102 + 0x03 -> ~0x0105.
        #expect(Client.Packet.checksum([0x01, 0x02, 0x03][...]) == 0xFEFA)
        #expect(Client.Packet.checksum([][...]) == 0xFFFF)
    }

    @Test func startupPacketMatchesAnIndependentVector() throws {
        let url = "rtmfp://localhost/app"
        let tag = [UInt8](0xA0..<0xB0)
        let chunk = Client.Handshake.iHello(endpointDiscriminator: Client.Handshake.endpointDiscriminator(url: url), tag: tag)
        let packet = Client.Packet(mode: Client.PacketFlag.startupMode, timestamp: 0x0102, chunks: [chunk])
        #expect(packet.flags == 0x0B)
        let datagram = try #require(packet.encode(sessionID: 0, key: Client.Crypto.defaultKey))
        #expect(datagram == Self.hex("edb8a64bbbf2af37564a097cafef2a99bf9afbcadd4f12cba3630ba4a8394a23b87ffd2e5b105904cd2510e45cdd7045c88af823"))
        #expect(Client.Packet.sessionID(of: datagram) == 0)
        #expect(Client.Packet.decode(datagram, key: Client.Crypto.defaultKey) == packet)
    }

    @Test func sessionPacketMatchesAnIndependentVector() throws {
        let key = [UInt8](0..<16)
        let packet = Client.Packet(mode: Client.PacketFlag.initiatorMode, timestamp: 0x0A0B, timestampEcho: 0x0C0D,
                                   chunks: [Client.Chunk(Client.ChunkType.ping, [1, 2, 3])])
        #expect(packet.body == [0x0D, 0x0A, 0x0B, 0x0C, 0x0D, 0x01, 0x00, 0x03, 0x01, 0x02, 0x03])
        let datagram = try #require(packet.encode(sessionID: 0x1234_5678, key: key))
        #expect(datagram == Self.hex("a90a1acb1cd6a315a7e8efa6cfa34c7661e9001a"))
        #expect(Client.Packet.sessionID(of: datagram) == 0x1234_5678)
        let decoded = try #require(Client.Packet.decode(datagram, key: key))
        #expect(decoded == packet)
        #expect(decoded.mode == Client.PacketFlag.initiatorMode)
        // The plaintext: checksum, body, 0xFF padding to 16 bytes.
        let plain = try #require(Client.Crypto.aes(encrypt: false, key: key, Array(datagram[4...])))
        #expect(Array(plain[2..<13]) == packet.body)
        #expect(Array(plain[13...]) == [0xFF, 0xFF, 0xFF])
        #expect(UInt16(plain[0]) << 8 | UInt16(plain[1]) == Client.Packet.checksum(plain[2...]))
    }

    @Test func badDatagramsAreRefused() throws {
        let key = [UInt8](0..<16)
        let datagram = try #require(Client.Packet(mode: 1, timestamp: 1, chunks: []).encode(sessionID: 7, key: key))
        #expect(Client.Packet.decode(Array(datagram.dropLast()), key: key) == nil) // not 4 + 16n
        #expect(Client.Packet.decode(Array(datagram.prefix(12)), key: key) == nil)
        #expect(Client.Packet.decode(datagram, key: [UInt8](repeating: 9, count: 16)) == nil) // wrong key: checksum
        #expect(Client.Packet.sessionID(of: [1, 2, 3]) == nil)
        // A plaintext whose checksum is wrong.
        var plain: [UInt8] = [0x12, 0x34, 0x09, 0x00, 0x01] + [UInt8](repeating: 0xFF, count: 11)
        plain[0] = 0
        let cipher = try #require(Client.Crypto.aes(encrypt: true, key: key, plain))
        #expect(Client.Packet.decode([0, 0, 0, 0] + cipher, key: key) == nil)
        // A truncated header (TS flag, one byte of timestamp) is refused; a chunk overrunning the
        // packet ends the chunk list.
        #expect(Client.Packet.parse(body: [0x08, 0x01]) == nil)
        #expect(Client.Packet.parse(body: [0x01, 0x01, 0x00, 0x01, 0xAA, 0x10, 0x00, 0x09])?.chunks == [Client.Chunk(0x01, [0xAA])])
        #expect(Client.Packet.parse(body: [0x01, 0xFF, 0x01, 0x00, 0x00])?.chunks == [])
    }

    @Test func aFullPacketStaysWithinTheMaximumDatagram() throws {
        // 1192 - 4 is not a multiple of 16: the largest datagram is 4 + 74 * 16 = 1188 bytes.
        #expect(Client.Packet.chunkCapacity() == 1177)
        let value = [UInt8](repeating: 0x42, count: 1177 - 3) // the chunk header takes 3 bytes
        let packet = Client.Packet(mode: 1, timestamp: 1, timestampEcho: 2, chunks: [Client.Chunk(0x01, value)])
        let datagram = try #require(packet.encode(sessionID: 1, key: [UInt8](0..<16)))
        #expect(datagram.count == 1188)
        let over = Client.Packet(mode: 1, timestamp: 1, timestampEcho: 2, chunks: [Client.Chunk(0x01, value + [0])])
        #expect((over.encode(sessionID: 1, key: [UInt8](0..<16))?.count ?? 0) > Client.Packet.maximumSize)
    }

    @Test func sessionKeysMatchAnIndependentVector() {
        let secret = [UInt8](1...32)
        let skic: [UInt8] = [0x03, 0x1A, 0x02, 0x10] + [UInt8](0x40..<0x48)
        let skrc: [UInt8] = [0x02, 0x1E, 0x00] + [UInt8](0x80..<0x8A)
        let keys = Client.Crypto.initiatorKeys(secret: secret, skic: skic, skrc: skrc)
        #expect(keys.encrypt == Self.hex("5ab7aca8b239f0318ead4f4dc4206645"))
        #expect(keys.decrypt == Self.hex("8a39f8ee45a8cbb7b5b863e8e565493e"))
    }
}
