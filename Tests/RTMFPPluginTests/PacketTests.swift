import Testing
@testable import RTMFPPlugin

/// A seeded generator (SplitMix64), so that the packet tests' random inputs are the same every run.
struct PacketTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

/// Opens a datagram held in an array.
func openPacket(_ datagram: [UInt8], key: [UInt8], crypto: TestRTMFPCrypto) -> RTMFPPacket? {
    datagram.withUnsafeBytes { RTMFPPacket.open($0, key: key, crypto: crypto) }
}

/// The session id of a datagram held in an array.
func packetSessionID(_ datagram: [UInt8]) -> UInt32? {
    datagram.withUnsafeBytes { RTMFPPacket.sessionID(of: $0) }
}

@Suite("RTMFP packets: scrambling, checksum, padding, encryption")
struct PacketTests {
    let crypto = TestRTMFPCrypto()
    /// Fixed keys: a damaged packet fails its checksum the same way every run.
    static let key: [UInt8] = Array(0x30..<0x40)
    static let otherKey: [UInt8] = Array(0x40..<0x50)

    /// RFC 1071 §1, by the letter: add the 16-bit big-endian words (an odd last byte padded with a zero
    /// byte) in 32 bits, fold the carries, complement.
    static func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
        let padded = bytes.count % 2 == 0 ? bytes : bytes + [0]
        var sum: UInt32 = 0
        for index in stride(from: 0, to: padded.count, by: 2) {
            sum += UInt32(padded[index]) << 8 + UInt32(padded[index + 1])
        }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func chunks(_ packet: RTMFPPacket) -> [(type: UInt8, value: [UInt8])] {
        packet.chunks.map { ($0.type, Array($0.value)) }
    }

    @Test func theChecksumIsRFC1071s() {
        // RFC 1071 §3's example: the words 0001 f203 f4f5 f6f7 sum to ddf2 once folded.
        let example: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        #expect(RTMFPChecksum.compute(example[...]) == ~UInt16(0xDDF2))
        #expect(Self.referenceChecksum(example) == 0x220D)
        var random = PacketTestRandom(seed: 1)
        for size in [0, 1, 2, 3, 15, 16, 17, 1182, 1183, 4000] {
            let bytes = random.bytes(size)
            #expect(RTMFPChecksum.compute(bytes[...]) == Self.referenceChecksum(bytes), "size \(size)")
        }
        // All ones: the sum stays 0xFFFF whatever the count of words, a slice keeps its own indices.
        let ones = [UInt8](repeating: 0xFF, count: 40)
        #expect(RTMFPChecksum.compute(ones[3...]) == Self.referenceChecksum(Array(ones[3...])))
    }

    @Test func aPacketRoundTripsWithItsHeaderAndChunks() throws {
        let key = Self.key
        let cases: [(flags: UInt8, timestamp: UInt16?, echo: UInt16?)] = [
            (0x4A, 0x1234, nil), (0x4E, 0xFFFF, 0x0001), (0x0B, 7, nil), (0x02, nil, nil), (0x01, nil, 0xBEEF),
        ]
        for (index, header) in cases.enumerated() {
            var writer = RTMFPPacketWriter(flags: header.flags, timestamp: header.timestamp, echo: header.echo)
            #expect(writer.isEmpty)
            let dataAdded = writer.append(chunkType: 0x10, value: [1, 2, 3])
            let emptyAdded = writer.append(chunkType: 0x51, value: [UInt8]())
            let encodedAdded = writer.append(encodedChunks: [0x41, 0x00, 0x02, 0xAA, 0xBB])
            #expect(dataAdded && emptyAdded && encodedAdded)
            #expect(!writer.isEmpty)
            let sessionID = UInt32(0x0102_0304) &* UInt32(index + 1)
            let datagramSealed = writer.seal(farSessionID: sessionID, key: key, crypto: crypto)
            let datagram = try #require(datagramSealed)
            #expect(packetSessionID(datagram) == sessionID)
            let packet = try #require(openPacket(datagram, key: key, crypto: crypto))
            var expectedFlags = header.flags
            if header.timestamp != nil { expectedFlags |= 0x08 }
            if header.echo != nil { expectedFlags |= 0x04 }
            #expect(packet.flags == expectedFlags)
            #expect(packet.mode == header.flags & 0x03)
            #expect(packet.timestamp == header.timestamp)
            #expect(packet.echo == header.echo)
            let chunks = Self.chunks(packet)
            #expect(chunks.map(\.type) == [0x10, 0x51, 0x41])
            #expect(chunks.map(\.value) == [[1, 2, 3], [], [0xAA, 0xBB]])
            #expect(openPacket(datagram, key: Self.otherKey, crypto: crypto) == nil, "another key")
        }
    }

    @Test func theScrambledIDIsTheIDXorTheNextTwoWords() throws {
        var writer = RTMFPPacketWriter(flags: 0x0B, timestamp: 1, echo: nil)
        let added = writer.append(chunkType: 0x30, value: [UInt8](repeating: 7, count: 30))
        #expect(added)
        let datagramSealed = writer.seal(farSessionID: 0xCAFE_F00D, key: RTMFPPacket.defaultKey, crypto: crypto)
        let datagram = try #require(datagramSealed)
        func word(_ offset: Int) -> UInt32 {
            datagram[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        #expect(word(0) ^ word(4) ^ word(8) == 0xCAFE_F00D)
        #expect(RTMFPPacket.defaultKey == Array("Adobe Systems 02".utf8))
    }

    @Test func theEncryptedPartIsPaddedWith0xFFToSixteenBytes() throws {
        let key = Self.key
        for size in 0...40 {
            var writer = RTMFPPacketWriter(flags: 0x4A, timestamp: 9, echo: nil)
            let added = writer.append(chunkType: 0x10, value: [UInt8](repeating: 0x5A, count: size))
            #expect(added)
            let datagramSealed = writer.seal(farSessionID: 5, key: key, crypto: crypto)
            let datagram = try #require(datagramSealed)
            #expect((datagram.count - 4) % 16 == 0 && datagram.count >= 20)
            var plaintext = Array(datagram[4...])
            let decrypted = plaintext.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: false, key: key, bytes: $0) }
            #expect(decrypted)
            let used = 2 + 1 + 2 + 3 + size
            #expect(plaintext.count - used < 16, "at most 15 bytes of padding, size \(size)")
            #expect(plaintext[used...].allSatisfy { $0 == 0xFF }, "size \(size)")
            #expect(Self.chunks(try #require(openPacket(datagram, key: key, crypto: crypto))).map(\.value.count) == [size])
        }
    }

    @Test func aFullPacketTakesTheMTU() throws {
        var writer = RTMFPPacketWriter(flags: 0x4E, timestamp: 1, echo: 2)
        #expect(writer.room == 1188 - 11)
        #expect(writer.valueRoom == 1188 - 11 - 3)
        let tooLarge = writer.append(chunkType: 0x10, value: [UInt8](repeating: 1, count: writer.valueRoom + 1))
        let tooLargeEncoded = writer.append(encodedChunks: [UInt8](repeating: 1, count: writer.room + 1))
        #expect(!tooLarge && !tooLargeEncoded && writer.isEmpty, "a refused chunk adds nothing")
        let padding = writer.append(chunkType: 0xFF, value: [1])
        #expect(!padding, "a padding type is no chunk")
        let first = writer.append(chunkType: 0x10, value: [UInt8](repeating: 1, count: 1000))
        let filling = writer.append(chunkType: 0x10, value: [UInt8](repeating: 2, count: writer.valueRoom))
        #expect(first && filling && writer.room == 0 && writer.valueRoom == 0)
        let empty = writer.append(chunkType: 0x01, value: [UInt8]())
        #expect(!empty, "even an empty chunk needs its 3-byte header")
        let datagramSealed = writer.seal(farSessionID: 77, key: RTMFPPacket.defaultKey, crypto: crypto)
        let datagram = try #require(datagramSealed)
        let resealed = writer.seal(farSessionID: 77, key: RTMFPPacket.defaultKey, crypto: crypto)
        #expect(resealed == nil, "a writer seals once")
        #expect(datagram.count == 1188 && datagram.count <= RTMFPPacket.maxSize)
        let packet = try #require(openPacket(datagram, key: RTMFPPacket.defaultKey, crypto: crypto))
        #expect(Self.chunks(packet).map(\.value.count) == [1000, 1188 - 11 - 6 - 1000])
    }

    @Test func aBadKeyFailsToSeal() {
        var writer = RTMFPPacketWriter(flags: 0x4A, timestamp: 1, echo: nil)
        let added = writer.append(chunkType: 0x01, value: [UInt8]())
        #expect(added)
        let sealed = writer.seal(farSessionID: 1, key: [1, 2, 3], crypto: crypto)
        #expect(sealed == nil)
    }

    @Test func shortAndMisalignedDatagramsAreRefused() {
        var random = PacketTestRandom(seed: 2)
        for size in 0..<RTMFPPacket.minimumSize {
            let datagram = random.bytes(size)
            #expect(packetSessionID(datagram) == nil)
            #expect(openPacket(datagram, key: RTMFPPacket.defaultKey, crypto: crypto) == nil)
        }
        for size in [12, 19, 21, 35, 37, 1191] {
            // A session id is read (the session's protection decides the size), but nothing opens.
            let datagram = random.bytes(size)
            #expect(packetSessionID(datagram) != nil, "size \(size)")
            #expect(openPacket(datagram, key: RTMFPPacket.defaultKey, crypto: crypto) == nil, "size \(size)")
        }
        #expect(packetSessionID(random.bytes(20)) != nil)
    }

    /// Encrypts `plaintext[2...]` with a correct checksum in front, as a sender would, without the writer.
    func handMade(_ body: [UInt8], key: [UInt8]) -> [UInt8] {
        var plaintext: [UInt8] = [0, 0] + body
        plaintext += [UInt8](repeating: 0xFF, count: (16 - plaintext.count % 16) % 16)
        let checksum = Self.referenceChecksum(Array(plaintext[2...]))
        plaintext[0] = UInt8(checksum >> 8)
        plaintext[1] = UInt8(checksum & 0xFF)
        _ = plaintext.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: true, key: key, bytes: $0) }
        return [0, 0, 0, 0] + plaintext
    }

    @Test func handMadePacketsOpenAndTruncatedChunksAreRefused() throws {
        let key = Self.key
        // flags 0x09 (TS), timestamp, one chunk then padding: opens.
        let good = try #require(openPacket(handMade([0x09, 0x00, 0x10, 0x01, 0x00, 0x02, 0xAB, 0xCD], key: key), key: key, crypto: crypto))
        #expect(good.timestamp == 0x10 && Self.chunks(good).map(\.value) == [[0xAB, 0xCD]])
        // A 0x00 type ends the chunks like 0xFF.
        let zeroPadded = try #require(openPacket(handMade([0x01, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41], key: key), key: key, crypto: crypto))
        #expect(Self.chunks(zeroPadded).map(\.type) == [0x41])
        // A chunk longer than the packet.
        #expect(openPacket(handMade([0x01, 0x10, 0x00, 0x40, 0x01], key: key), key: key, crypto: crypto) == nil)
        // A chunk header cut by the end of the packet (a 16-byte packet whose last bytes start a chunk).
        #expect(openPacket(handMade([0x01] + [0x41, 0x00, 0x00] + [0x41, 0x00, 0x00] + [0x41, 0x00, 0x00] + [0x41, 0x00, 0x00] + [0x10], key: key),
                           key: key, crypto: crypto) == nil)
        // A bit flipped anywhere in the encrypted part breaks the checksum.
        let datagram = handMade([0x01, 0x41, 0x00, 0x01, 0x07], key: key)
        #expect(openPacket(datagram, key: key, crypto: crypto) != nil)
        for index in 4..<datagram.count {
            var damaged = datagram
            damaged[index] ^= 0x10
            #expect(openPacket(damaged, key: key, crypto: crypto) == nil, "byte \(index)")
        }
    }

    @Test func garbageIsRefusedUnlessItsChecksumHolds() {
        var random = PacketTestRandom(seed: 3)
        var opened = 0
        for _ in 0..<2000 {
            let datagram = random.bytes(4 + 16 * Int.random(in: 1...74, using: &random))
            var plaintext = Array(datagram[4...])
            _ = plaintext.withUnsafeMutableBytes { crypto.aes128CBC(encrypt: false, key: RTMFPPacket.defaultKey, bytes: $0) }
            let checksumHolds = UInt16(plaintext[0]) << 8 | UInt16(plaintext[1]) == Self.referenceChecksum(Array(plaintext[2...]))
            let packet = openPacket(datagram, key: RTMFPPacket.defaultKey, crypto: crypto)
            if !checksumHolds { #expect(packet == nil) }
            if packet != nil { opened += 1 }
        }
        #expect(opened < 5)
    }

    @Test func timestampsCountFourMillisecondUnitsAndWrap() {
        #expect(RTMFPPacket.timestamp(milliseconds: 0) == 0)
        #expect(RTMFPPacket.timestamp(milliseconds: 4003) == 1000)
        #expect(RTMFPPacket.timestamp(milliseconds: 4 * 65536 + 8) == 2)
    }
}
