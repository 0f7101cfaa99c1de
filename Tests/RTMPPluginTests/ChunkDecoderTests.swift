import Testing
@testable import RTMPPlugin

// Chunks are built by hand from the RTMP specification §5.3; every case is also fed byte by byte.

func be24(_ value: UInt32) -> [UInt8] { [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24)] + be24(value) }

/// A basic header: 1 byte for csid 2...63, 2 bytes up to 319, 3 bytes (csid − 64 little-endian) beyond.
func basicHeader(_ format: UInt8, _ csid: UInt32) -> [UInt8] {
    switch csid {
    case 2...63: [format << 6 | UInt8(csid)]
    case 64...319: [format << 6, UInt8(csid - 64)]
    default: [format << 6 | 1, UInt8((csid - 64) & 0xFF), UInt8((csid - 64) >> 8)]
    }
}

/// A chunk header of `format` (time: absolute for fmt 0, a delta otherwise; from 0xFFFFFF on it goes in
/// the extended field after the marker).
func chunkHeader(_ format: UInt8, csid: UInt32 = 3, time: UInt32 = 0, length: Int = 0, type: UInt8 = 0, stream: UInt32 = 0) -> [UInt8] {
    var bytes = basicHeader(format, csid)
    if format < 3 { bytes += be24(min(time, 0xFFFFFF)) }
    if format < 2 { bytes += be24(UInt32(length)) + [type] }
    if format == 0 { bytes += [UInt8(stream & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 24)] }
    if format < 3 && time >= 0xFFFFFF { bytes += be32(time) }
    return bytes
}

/// A fmt-3 header, with the extended timestamp a csid in extended mode repeats.
func continuation(_ csid: UInt32 = 3, extended: UInt32? = nil) -> [UInt8] {
    basicHeader(3, csid) + (extended.map(be32) ?? [])
}

/// `count` recognisable bytes.
func bytes(_ count: Int, seed: Int = 0) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + seed) } }

func message(_ csid: UInt32, _ timestamp: UInt32, _ type: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> RTMPMessage {
    RTMPMessage(csid: csid, timestamp: timestamp, typeID: type, streamID: stream, payload: payload)
}

/// What a decoder makes of `input`: its messages, or the reason of its failure.
func decode(_ input: [UInt8], split: Bool, maxMessageSize: Int = 1 << 20) -> ([RTMPMessage], String?) {
    var decoder = RTMPChunkDecoder(maxMessageSize: maxMessageSize)
    var messages: [RTMPMessage] = []
    for piece in split ? input.map({ [$0] }) : [input] {
        do throws(RTMPFailure) {
            messages += try decoder.feed(piece)
        } catch {
            return (messages, error.reason)
        }
    }
    return (messages, nil)
}

/// One case: the bytes a client sends, the messages expected, and a fragment of the failure reason (nil: none).
struct ChunkCase: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    var messages: [RTMPMessage] = []
    var failure: String?
    var maxMessageSize = 1 << 20
    var testDescription: String { name }
}

/// Joins byte arrays (long `+` chains defeat the type checker).
func cat(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

private let long = bytes(300)
private let long0 = Array(long[0..<128]), long1 = Array(long[128..<256]), long2 = Array(long[256...])
private let other = bytes(200, seed: 3)
private let other0 = Array(other[0..<128]), other1 = Array(other[128...])
private let two = bytes(2)

let chunkCases: [ChunkCase] = [
    ChunkCase(name: "fmt 0 in one chunk", bytes: cat(chunkHeader(0, time: 1000, length: 5, type: 20), bytes(5)),
              messages: [message(3, 1000, 20, 0, bytes(5))]),
    ChunkCase(name: "the stream id is little-endian", bytes: [0x04, 0, 0, 0, 0, 0, 1, 9, 0x04, 0x03, 0x02, 0x01, 7],
              messages: [message(4, 0, 9, 0x0102_0304, [7])]),
    ChunkCase(name: "a message in 128-byte chunks",
              bytes: cat(chunkHeader(0, length: 300, type: 8, stream: 1), long0, continuation(), long1, continuation(), long2),
              messages: [message(3, 0, 8, 1, long)]),
    ChunkCase(name: "fmt 1 adds its delta, with a new length and type",
              bytes: cat(chunkHeader(0, csid: 5, time: 1000, length: 3, type: 9, stream: 1), bytes(3),
                         chunkHeader(1, csid: 5, time: 40, length: 2, type: 8), two),
              messages: [message(5, 1000, 9, 1, bytes(3)), message(5, 1040, 8, 1, two)]),
    ChunkCase(name: "fmt 2 keeps length and type",
              bytes: cat(chunkHeader(0, time: 500, length: 2, type: 8, stream: 1), two, chunkHeader(2, time: 33), two),
              messages: [message(3, 500, 8, 1, two), message(3, 533, 8, 1, two)]),
    ChunkCase(name: "fmt 3 starting a message re-adds the delta",
              bytes: cat(chunkHeader(0, time: 100, length: 2, type: 8, stream: 1), two, chunkHeader(2, time: 20), two,
                         continuation(), two, continuation(), two),
              messages: [100, 120, 140, 160].map { message(3, $0, 8, 1, two) }),
    ChunkCase(name: "fmt 3 after fmt 0 re-adds the fmt-0 time",
              bytes: cat(chunkHeader(0, time: 40, length: 2, type: 8), two, continuation(), two),
              messages: [message(3, 40, 8, 0, two), message(3, 80, 8, 0, two)]),
    ChunkCase(name: "an extended timestamp in fmt 0",
              bytes: cat([0x03, 0xFF, 0xFF, 0xFF, 0, 0, 2, 8, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00], two),
              messages: [message(3, 0x0100_0000, 8, 0, two)]),
    ChunkCase(name: "an extended timestamp repeated on continuation chunks",
              bytes: cat(chunkHeader(0, time: 0x1234_5678, length: 300, type: 9, stream: 1), long0,
                         continuation(extended: 0x1234_5678), long1, continuation(extended: 0x1234_5678), long2),
              messages: [message(3, 0x1234_5678, 9, 1, long)]),
    ChunkCase(name: "an extended delta in fmt 1, then in fmt-3 messages",
              bytes: cat(chunkHeader(0, length: 1, type: 9), [1], chunkHeader(1, time: 0x0100_0000, length: 1, type: 9), [2],
                         continuation(extended: 0x0100_0000), [3]),
              messages: [message(3, 0, 9, 0, [1]), message(3, 0x0100_0000, 9, 0, [2]), message(3, 0x0200_0000, 9, 0, [3])]),
    ChunkCase(name: "2-byte csids",
              bytes: cat([0x00, 0x00], Array(chunkHeader(0, time: 1, length: 1, type: 9).dropFirst()), [1],
                         [0x00, 0xFF], Array(chunkHeader(0, time: 2, length: 1, type: 9).dropFirst()), [2]),
              messages: [message(64, 1, 9, 0, [1]), message(319, 2, 9, 0, [2])]),
    ChunkCase(name: "3-byte csids, little-endian",
              bytes: cat([0x01, 0x34, 0x12], Array(chunkHeader(0, length: 1, type: 9).dropFirst()), [1],
                         chunkHeader(0, csid: 65599, length: 300, type: 9), long0, continuation(65599), long1, continuation(65599), long2),
              messages: [message(0x1234 + 64, 0, 9, 0, [1]), message(65599, 0, 9, 0, long)]),
    ChunkCase(name: "a chunk size change mid-stream",
              bytes: cat(chunkHeader(0, csid: 2, length: 4, type: 1), be32(256),
                         chunkHeader(0, length: 300, type: 8), Array(long[0..<256]), continuation(), long2),
              messages: [message(2, 0, 1, 0, be32(256)), message(3, 0, 8, 0, long)]),
    ChunkCase(name: "abort discards the partial message of the csid it names",
              bytes: cat(chunkHeader(0, csid: 4, length: 300, type: 9, stream: 1), long0,
                         chunkHeader(0, csid: 2, length: 4, type: 2), be32(4),
                         chunkHeader(0, csid: 4, time: 10, length: 2, type: 9, stream: 1), two),
              messages: [message(2, 0, 2, 0, be32(4)), message(4, 10, 9, 1, two)]),
    ChunkCase(name: "interleaved chunks of two csids",
              bytes: cat(chunkHeader(0, csid: 4, length: 300, type: 9, stream: 1), long0,
                         chunkHeader(0, csid: 6, time: 5, length: 200, type: 8, stream: 1), other0,
                         continuation(4), long1, continuation(6), other1, continuation(4), long2),
              messages: [message(6, 5, 8, 1, other), message(4, 0, 9, 1, long)]),
    ChunkCase(name: "an empty message", bytes: cat(chunkHeader(0, length: 0, type: 20), chunkHeader(0, length: 1, type: 20), [1]),
              messages: [message(3, 0, 20, 0, []), message(3, 0, 20, 0, [1])]),
    ChunkCase(name: "a window acknowledgement size is handed out too", bytes: cat(chunkHeader(0, csid: 2, length: 4, type: 5), be32(1000)),
              messages: [message(2, 0, 5, 0, be32(1000))]),
    ChunkCase(name: "fmt 1 on a csid without a header", bytes: cat(chunkHeader(1, csid: 7, time: 1, length: 1, type: 9), [1]),
              failure: "no previous header"),
    ChunkCase(name: "fmt 2 on a csid without a header", bytes: cat(chunkHeader(2, csid: 7, time: 1), [1]), failure: "no previous header"),
    ChunkCase(name: "fmt 3 on a csid without a header", bytes: cat(continuation(7), [1]), failure: "no previous header"),
    ChunkCase(name: "a message over the maximum", bytes: chunkHeader(0, length: 1001, type: 9), failure: "more than the 1000 allowed",
              maxMessageSize: 1000),
    ChunkCase(name: "chunk size 0", bytes: cat(chunkHeader(0, csid: 2, length: 4, type: 1), be32(0)), failure: "Set Chunk Size to 0"),
    ChunkCase(name: "a chunk size with the high bit", bytes: cat(chunkHeader(0, csid: 2, length: 4, type: 1), be32(0x8000_0000)),
              failure: "Set Chunk Size to 2147483648"),
    ChunkCase(name: "a 3-byte set chunk size", bytes: cat(chunkHeader(0, csid: 2, length: 3, type: 1), [0, 1, 0]),
              failure: "3 bytes instead of 4"),
    ChunkCase(name: "a new header inside a message",
              bytes: cat(chunkHeader(0, length: 300, type: 9), long0, chunkHeader(0, length: 2, type: 9), two),
              failure: "inside a message"),
]

@Suite struct ChunkDecoderTests {
    @Test(arguments: chunkCases)
    func specificationCase(_ item: ChunkCase) {
        for split in [false, true] {
            let (messages, failure) = decode(item.bytes, split: split, maxMessageSize: item.maxMessageSize)
            #expect(messages == item.messages, "\(item.name), split: \(split)")
            if let expected = item.failure {
                #expect(failure?.contains(expected) == true, "\(item.name), split: \(split): \(failure ?? "no failure")")
            } else {
                #expect(failure == nil, "\(item.name), split: \(split)")
            }
        }
    }

    @Test func chunkSizeAndWindowAreApplied() throws {
        var decoder = RTMPChunkDecoder()
        #expect(decoder.chunkSize == 128 && decoder.windowAckSize == 2_500_000)
        _ = try decoder.feed(cat(chunkHeader(0, csid: 2, length: 4, type: 1), be32(4096), chunkHeader(0, csid: 2, length: 4, type: 5), be32(1000)))
        #expect(decoder.chunkSize == 4096 && decoder.windowAckSize == 1000)
    }

    @Test func acknowledgementsCountCumulatively() throws {
        var decoder = RTMPChunkDecoder(bytesReceived: 3073)
        #expect(decoder.acknowledgementDue() == nil)
        let window = cat(chunkHeader(0, csid: 2, length: 4, type: 5), be32(1000))
        _ = try decoder.feed(window)
        #expect(decoder.bytesReceived == 3073 + 16)
        #expect(decoder.acknowledgementDue() == 3089, "the handshake counts, and the count is cumulative")
        #expect(decoder.acknowledgementDue() == nil, "once per window")
        let audio = cat(chunkHeader(0, length: 500, type: 8, stream: 1), bytes(128), continuation(), bytes(128), continuation(),
                        bytes(128), continuation(), bytes(116))
        _ = try decoder.feed(audio)
        #expect(decoder.acknowledgementDue() == nil, "515 bytes since the last one")
        _ = try decoder.feed(audio)
        let sequence = decoder.acknowledgementDue()
        #expect(sequence == UInt32(3089 + 2 * 515))
    }

    @Test func unfinishedMessagesAreBounded() {
        var decoder = RTMPChunkDecoder(maxPendingBytes: 1000)
        let input = cat(chunkHeader(0, csid: 4, length: 600, type: 9), bytes(128), chunkHeader(0, csid: 5, length: 600, type: 9))
        #expect(throws: RTMPFailure(reason: "more than 1000 bytes of unfinished messages")) { _ = try decoder.feed(input) }
        #expect(throws: RTMPFailure.self, "and it keeps failing") { _ = try decoder.feed([0x03]) }
    }
}
