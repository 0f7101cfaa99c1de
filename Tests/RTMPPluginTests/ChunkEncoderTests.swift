import Testing
@testable import RTMPPlugin

/// Decodes encoder output, whole and byte by byte, and expects `messages` back both ways.
private func expectRoundTrip(_ stream: [UInt8], _ messages: [RTMPMessage], _ comment: Comment? = nil) {
    for split in [false, true] {
        let (decoded, failure) = decode(stream, split: split)
        #expect(failure == nil, comment)
        #expect(decoded == messages, comment)
    }
}

@Suite struct ChunkEncoderTests {
    @Test func roundTripAroundTheChunkSize() {
        var encoder = RTMPChunkEncoder()
        var stream = encoder.changeChunkSize()
        #expect(encoder.chunkSize == 4096)
        var messages = [RTMPControl.setChunkSize(4096)]
        for (index, size) in [0, 1, 127, 128, 129, 4095, 4096, 4097, 8191, 8192, 8193, 20000].enumerated() {
            let message = RTMPMessage(csid: 6, timestamp: UInt32(index * 40), typeID: 9, streamID: 1, payload: bytes(size, seed: index))
            stream += encoder.encode(message)
            messages.append(message)
        }
        expectRoundTrip(stream, messages)
    }

    @Test func splitsWithFormat3Chunks() {
        var encoder = RTMPChunkEncoder()
        _ = encoder.changeChunkSize(to: 100)
        let payload = bytes(250)
        let encoded = encoder.encode(RTMPMessage(csid: 3, timestamp: 7, typeID: 8, streamID: 1, payload: payload))
        #expect(encoded == cat(chunkHeader(0, time: 7, length: 250, type: 8, stream: 1), Array(payload[0..<100]), [0xC3],
                               Array(payload[100..<200]), [0xC3], Array(payload[200...])))
    }

    @Test func headerCompression() {
        var encoder = RTMPChunkEncoder()
        let sequence: [(RTMPMessage, format: UInt8)] = [
            (message(3, 0, 9, 1, bytes(10)), 0),            // first on the csid
            (message(3, 40, 9, 1, bytes(10)), 2),           // same type and length, delta 40 ≠ 0
            (message(3, 80, 9, 1, bytes(10)), 3),           // same delta
            (message(3, 100, 8, 1, bytes(5)), 1),           // another type and length
            (message(3, 100, 8, 2, bytes(5)), 0),           // another stream
            (message(3, 90, 8, 2, bytes(5)), 0),            // time going backwards
            (message(3, 90, 8, 2, bytes(5)), 2),            // delta 0 after fmt 0 at 90
            (message(3, 90, 8, 2, bytes(5)), 3),
            (message(4, 90, 8, 2, bytes(5)), 0),            // another csid has its own history
        ]
        var stream: [UInt8] = []
        for (message, format) in sequence {
            let encoded = encoder.encode(message)
            #expect(encoded[0] >> 6 == format, "\(message.timestamp) on stream \(message.streamID)")
            #expect(encoded.count == [12, 8, 4, 1][Int(format)] + message.payload.count)
            stream += encoded
        }
        expectRoundTrip(stream, sequence.map(\.0))
    }

    @Test func fmt3AfterFmt0RepeatsTheAbsoluteTime() {
        var encoder = RTMPChunkEncoder()
        #expect(encoder.encode(message(3, 40, 9, 1, [1]))[0] >> 6 == 0)
        #expect(encoder.encode(message(3, 80, 9, 1, [2])) == [0xC3, 2], "decoders re-add the fmt-0 time as the delta")
    }

    @Test func extendedTimestamps() {
        var encoder = RTMPChunkEncoder()
        let announce = encoder.changeChunkSize()
        let payload = bytes(10000)
        let first = message(5, 0x0100_0000, 9, 1, payload)
        let encoded = encoder.encode(first)
        #expect(Array(encoded[1..<4]) == [0xFF, 0xFF, 0xFF] && Array(encoded[12..<16]) == be32(0x0100_0000))
        #expect(encoded.count == 16 + 10000 + 2 * 5, "each continuation repeats the 4 bytes")
        #expect(Array(encoded[(16 + 4096)..<(16 + 4096 + 5)]) == [0xC5] + be32(0x0100_0000))
        let later = [message(5, 0x0200_0000, 9, 1, [1]), message(5, 0x0300_0000, 9, 1, [2]), message(5, 0x0300_0010, 9, 1, [3])]
        let encodedLater = later.map { encoder.encode($0) }
        #expect(encodedLater[0] == cat([0x45, 0xFF, 0xFF, 0xFF, 0, 0, 1, 9], be32(0x0100_0000), [1]), "an extended delta in fmt 1")
        #expect(encodedLater[1] == cat([0xC5], be32(0x0100_0000), [2]), "an extended delta repeated in fmt 3")
        #expect(encodedLater[2] == [0x85, 0, 0, 0x10, 3], "back to a short delta")
        expectRoundTrip(cat(announce, encoded, Array(encodedLater.joined())), [RTMPControl.setChunkSize(4096), first] + later)
    }

    @Test func longChunkStreamIDs() {
        var encoder = RTMPChunkEncoder()
        let messages = [64, 319, 320, 65599].map { message($0, 0, 20, 0, bytes(300)) }
        let encoded = messages.map { encoder.encode($0) }
        #expect(encoded.map { Array($0.prefix(3)) } == [[0x00, 0x00, 0], [0x00, 0xFF, 0], [0x01, 0x00, 0x01], [0x01, 0xFF, 0xFF]])
        #expect(Array(encoded[3][(3 + 11 + 128)..<(3 + 11 + 128 + 3)]) == [0xC1, 0xFF, 0xFF], "continuations keep the long form")
        expectRoundTrip(Array(encoded.joined()), messages)
    }

    /// A header then a body written apart (the shared path: the body encoded once for many players)
    /// give the bytes of `encode`, for every header format, chunk size, csid form and extended time.
    @Test func headerThenBodyEqualsEncode() {
        for (csid, chunkSize) in [(UInt32(6), 4096), (7, 128), (100, 1000), (400, 333)] {
            var whole = RTMPChunkEncoder(), split = RTMPChunkEncoder()
            _ = whole.changeChunkSize(to: chunkSize)
            _ = split.changeChunkSize(to: chunkSize)
            for (index, (time, size)) in [(0, 5000), (40, 5000), (80, 5000), (100, 12000), (0x0200_0000, 9000), (0x0200_0040, 1)].enumerated() {
                let payload = bytes(size, seed: index)
                let expected = whole.encode(message(csid, UInt32(time), 9, 1, payload))
                var out: [UInt8] = []
                let extended = split.header(csid: csid, timestamp: UInt32(time), typeID: 9, streamID: 1, length: size, into: &out)
                let headerSize = out.count
                payload.withUnsafeBytes { payload in
                    RTMPChunkEncoder.forEachBodyPiece(payload, csid: csid, chunkSize: chunkSize, extended: extended) { out.append(contentsOf: $0) }
                }
                #expect(out == expected, "csid \(csid), chunk size \(chunkSize), message \(index)")
                #expect(out.count - headerSize == RTMPChunkEncoder.bodySize(length: size, csid: csid, chunkSize: chunkSize, extended: extended))
                #expect((extended != nil) == (index == 4), "only the jump past 0xFFFFFF needs an extended timestamp")
            }
        }
    }

    @Test func controlMessages() {
        var encoder = RTMPChunkEncoder()
        #expect(encoder.changeChunkSize() == [0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0x00])
        #expect(RTMPControl.acknowledgement(0x0102_0304) == message(2, 0, 3, 0, [1, 2, 3, 4]))
        #expect(RTMPControl.windowAckSize(2_500_000) == message(2, 0, 5, 0, be32(2_500_000)))
        #expect(RTMPControl.setPeerBandwidth(2_500_000) == message(2, 0, 6, 0, be32(2_500_000) + [0]))
        #expect(RTMPControl.streamBegin(1) == message(2, 0, 4, 0, [0, 0, 0, 0, 0, 1]))
        #expect(RTMPControl.streamEOF(1) == message(2, 0, 4, 0, [0, 1, 0, 0, 0, 1]))
        #expect(RTMPControl.pingRequest(0x0A0B_0C0D) == message(2, 0, 4, 0, [0, 6, 0x0A, 0x0B, 0x0C, 0x0D]))
        #expect(RTMPControl.pingResponse(5) == message(2, 0, 4, 0, [0, 7, 0, 0, 0, 5]))
        #expect(encoder.encode(RTMPControl.windowAckSize(2_500_000)) == cat([0x42, 0, 0, 0, 0, 0, 4, 5], be32(2_500_000)),
                "fmt 1 after the Set Chunk Size on csid 2")
    }
}
