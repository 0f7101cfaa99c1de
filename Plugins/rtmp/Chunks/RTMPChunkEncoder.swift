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

    /// The chunk streams used so far (a session uses a handful: a linear search beats hashing).
    private var streams: [(csid: UInt32, state: ChunkStream)] = []
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
        let extended = header(csid: csid, timestamp: timestamp, typeID: typeID, streamID: streamID, length: payload.count, into: &bytes)
        bytes.reserveCapacity(bytes.count + Self.bodySize(length: payload.count, csid: csid, chunkSize: chunkSize, extended: extended))
        Self.forEachBodyPiece(payload, csid: csid, chunkSize: chunkSize, extended: extended) { bytes.append(contentsOf: $0) }
    }

    /// Appends the first header of a message of `length` bytes and records it for the next headers of
    /// `csid`. Returns the extended timestamp the continuation headers of its body must repeat (nil:
    /// none, and then the body depends only on the payload, the csid and the chunk size).
    mutating func header(csid: UInt32, timestamp: UInt32, typeID: UInt8, streamID: UInt32, length: Int,
                         into bytes: inout [UInt8]) -> UInt32? {
        precondition((2...65599).contains(csid), "csid \(csid) out of range")
        precondition(length <= 0xFFFFFF, "message of \(length) bytes")
        var format = 0
        var time = timestamp
        let known = streams.firstIndex { $0.csid == csid }
        if let known, case let previous = streams[known].state, previous.streamID == streamID, timestamp >= previous.timestamp {
            time = timestamp - previous.timestamp
            if previous.typeID == typeID && previous.length == length {
                format = time == previous.delta ? 3 : 2
            } else {
                format = 1
            }
        }
        let state = ChunkStream(timestamp: timestamp, delta: time, length: length, typeID: typeID, streamID: streamID)
        if let known { streams[known].state = state } else { streams.append((csid, state)) }
        let extended = time >= 0xFFFFFF
        // At most 3 + 11 + 4 bytes, written in place, then appended at once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 18) { header in
            var count = Self.basicHeader(format: format, csid: csid, into: header)
            func put(_ byte: UInt8) {
                header[count] = byte
                count += 1
            }
            func put24(_ value: UInt32) {
                put(UInt8(truncatingIfNeeded: value >> 16))
                put(UInt8(truncatingIfNeeded: value >> 8))
                put(UInt8(truncatingIfNeeded: value))
            }
            if format < 3 { put24(min(time, 0xFFFFFF)) }
            if format < 2 {
                put24(UInt32(length))
                put(typeID)
            }
            if format == 0 { // the message stream id, little-endian
                for shift in stride(from: UInt32(0), through: 24, by: 8) { put(UInt8(truncatingIfNeeded: streamID >> shift)) }
            }
            if extended { for shift in stride(from: UInt32(24), through: 0, by: -8) { put(UInt8(truncatingIfNeeded: time >> shift)) } }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: header[0..<count]))
        }
        return extended ? time : nil
    }

    /// Size of a message body in chunks: the payload and a continuation header before each chunk after
    /// the first.
    static func bodySize(length: Int, csid: UInt32, chunkSize: Int, extended: UInt32?) -> Int {
        let continuations = length > 0 ? (length - 1) / chunkSize : 0
        let basic = csid < 64 ? 1 : csid < 320 ? 2 : 3
        return length + continuations * (basic + (extended == nil ? 0 : 4))
    }

    /// Hands the body of a message to `emit` piece by piece (payload runs of at most `chunkSize` bytes,
    /// with a fmt-3 basic header, and the extended timestamp again, between them).
    static func forEachBodyPiece(_ payload: UnsafeRawBufferPointer, csid: UInt32, chunkSize: Int, extended: UInt32?,
                                 _ emit: (UnsafeRawBufferPointer) -> Void) {
        var continuation: (UInt64, UInt64) = (0, 0) // room for 3 + 4 bytes
        let continuationCount = withUnsafeMutableBytes(of: &continuation) { raw in
            let header = raw.bindMemory(to: UInt8.self)
            var count = basicHeader(format: 3, csid: csid, into: header)
            if let extended {
                for shift in stride(from: UInt32(24), through: 0, by: -8) {
                    header[count] = UInt8(truncatingIfNeeded: extended >> shift)
                    count += 1
                }
            }
            return count
        }
        let length = payload.count
        var offset = 0
        while offset < length {
            if offset > 0 { withUnsafeBytes(of: continuation) { emit(UnsafeRawBufferPointer(rebasing: $0[0..<continuationCount])) } }
            let count = min(chunkSize, length - offset)
            emit(UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + count)]))
            offset += count
        }
    }

    /// Writes the 1-, 2- or 3-byte basic header (the 3-byte form carries csid − 64 little-endian) at the
    /// start of `header`; returns its length.
    private static func basicHeader(format: Int, csid: UInt32, into header: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let high = UInt8(format << 6)
        switch csid {
        case 2...63:
            header[0] = high | UInt8(csid)
            return 1
        case 64...319:
            header[0] = high
            header[1] = UInt8(csid - 64)
            return 2
        default:
            header[0] = high | 1
            header[1] = UInt8((csid - 64) & 0xFF)
            header[2] = UInt8((csid - 64) >> 8)
            return 3
        }
    }
}
