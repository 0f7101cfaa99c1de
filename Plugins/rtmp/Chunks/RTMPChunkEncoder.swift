// Encodes the server's messages into chunks (RTMP specification §5.3), the inverse of RTMPChunkDecoder.
//
// Header compression per csid: fmt 0 for the first message of a csid, a change of message stream or a
// timestamp going backwards; otherwise fmt 1 with the delta, fmt 2 when type and length repeat too, fmt 3
// when the delta repeats as well (after fmt 0 the "delta" is the absolute time written, as decoders
// re-add it). A message longer than the chunk size continues in fmt-3 chunks, each repeating the extended
// timestamp when the header used one.

/// Turns messages into the bytes of the server's chunk stream.
struct RTMPChunkEncoder {
    /// The chunk size the session announces with `changeChunkSize()` right after the handshake.
    static let preferredChunkSize = 4096

    /// What the peer knows of one chunk stream: the header of the last message sent on it.
    private struct ChunkStream {
        var timestamp: UInt32
        /// The last timestamp field written (a delta, or the absolute time for fmt 0), 32 bits.
        var delta: UInt32
        var length: Int
        var typeID: UInt8
        var streamID: UInt32
    }

    private var streams: [UInt32: ChunkStream] = [:]
    /// The largest chunk payload sent; the protocol's 128 until `changeChunkSize` announces another.
    private(set) var chunkSize = RTMPChunkDecoder.defaultChunkSize

    /// Encodes the Set Chunk Size message announcing `size` (1...0x7FFFFFFF) and uses `size` for every
    /// message encoded afterwards: send the bytes before any of those.
    mutating func changeChunkSize(to size: Int = Self.preferredChunkSize) -> [UInt8] {
        precondition((1...0x7FFF_FFFF).contains(size), "chunk size \(size) out of range")
        let bytes = encode(RTMPControl.setChunkSize(size))
        chunkSize = size
        return bytes
    }

    /// The chunks of one message (csid 2...65599, payload at most 0xFFFFFF bytes).
    mutating func encode(_ message: RTMPMessage) -> [UInt8] {
        var bytes: [UInt8] = []
        message.payload.withUnsafeBytes {
            encode(csid: message.csid, timestamp: message.timestamp, typeID: message.typeID, streamID: message.streamID,
                   payload: $0, into: &bytes)
        }
        return bytes
    }

    /// The chunks of one message appended to `bytes` (no intermediate copy of the payload).
    mutating func encode(csid: UInt32, timestamp: UInt32, typeID: UInt8, streamID: UInt32, payload: UnsafeRawBufferPointer,
                         into bytes: inout [UInt8]) {
        precondition((2...65599).contains(csid), "csid \(csid) out of range")
        precondition(payload.count <= 0xFFFFFF, "message of \(payload.count) bytes")
        let length = payload.count
        var format = 0
        var time = timestamp
        if let previous = streams[csid], previous.streamID == streamID, timestamp >= previous.timestamp {
            time = timestamp - previous.timestamp
            if previous.typeID == typeID && previous.length == length {
                format = time == previous.delta ? 3 : 2
            } else {
                format = 1
            }
        }
        streams[csid] = ChunkStream(timestamp: timestamp, delta: time, length: length, typeID: typeID, streamID: streamID)
        let extended = time >= 0xFFFFFF
        let continuations = length > 0 ? (length - 1) / chunkSize : 0
        bytes.reserveCapacity(bytes.count + 18 + length + continuations * 7)
        Self.appendBasicHeader(format: format, csid: csid, to: &bytes)
        if format < 3 { Self.append24(min(time, 0xFFFFFF), to: &bytes) }
        if format < 2 {
            Self.append24(UInt32(length), to: &bytes)
            bytes.append(typeID)
        }
        if format == 0 {
            bytes += [UInt8(streamID & 0xFF), UInt8(streamID >> 8 & 0xFF), UInt8(streamID >> 16 & 0xFF), UInt8(streamID >> 24)]
        }
        if extended { bytes += RTMPControl.bigEndian(time) }
        var offset = 0
        while true {
            let count = min(chunkSize, length - offset)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + count)]))
            offset += count
            guard offset < length else { break }
            Self.appendBasicHeader(format: 3, csid: csid, to: &bytes)
            if extended { bytes += RTMPControl.bigEndian(time) }
        }
    }

    /// The 1-, 2- or 3-byte basic header (the 3-byte form carries csid − 64 little-endian).
    private static func appendBasicHeader(format: Int, csid: UInt32, to bytes: inout [UInt8]) {
        let high = UInt8(format << 6)
        switch csid {
        case 2...63:
            bytes.append(high | UInt8(csid))
        case 64...319:
            bytes += [high, UInt8(csid - 64)]
        default:
            bytes += [high | 1, UInt8((csid - 64) & 0xFF), UInt8((csid - 64) >> 8)]
        }
    }

    private static func append24(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
