// A sans-IO decoder of the chunk stream a client sends after the handshake (RTMP specification §5.3).
//
// It consumes every byte it is given: a chunk may be split anywhere and several chunks may arrive in one
// read. Set Chunk Size (1) and Abort (2) act on the chunk layer here, and Window Acknowledgement Size (5)
// sets the acknowledgement window here; all three are still returned to the caller (for its log), as are
// all other messages. Interop details (pitfall 4): the message stream id of a fmt-0 header is
// little-endian, the 3-byte basic header carries the csid little-endian, an extended timestamp is repeated
// on every fmt-3 chunk of that csid (continuation or new message), and a fmt-3 header that starts a
// message adds the previous timestamp field again (after fmt 0 that field is the absolute time, as the
// specification says and FFmpeg and librtmp do).
//
// Memory stays bounded: a chunk header is at most 18 bytes, a message at most `maxMessageSize`, and the
// declared lengths of all messages being assembled together at most `maxPendingBytes`.

/// Reassembles the client's chunks into `RTMPMessage`s and counts the bytes to acknowledge.
struct RTMPChunkDecoder {
    /// The chunk size of a direction until its sender announces another one.
    static let defaultChunkSize = 128
    /// The acknowledgement window until the client sends a Window Acknowledgement Size (the value servers
    /// commonly announce; a client that announces none expects no acknowledgement anyway).
    static let defaultWindowAckSize: UInt32 = 2_500_000
    /// The message header length of each chunk format.
    private static let messageHeaderLengths = [11, 7, 3, 0]

    /// The largest message accepted. The default is the 24-bit length field's own bound (16 MiB).
    let maxMessageSize: Int
    /// The most payload bytes held at once for messages being assembled on all chunk streams.
    let maxPendingBytes: Int

    /// The header of the last message of one chunk stream, which later headers of the csid complete.
    private struct ChunkStream {
        var timestamp: UInt32 = 0
        /// The last timestamp field (a delta, or the absolute time after fmt 0), re-added by a fmt-3
        /// header that starts a message.
        var delta: UInt32 = 0
        var length = 0
        var typeID: UInt8 = 0
        var streamID: UInt32 = 0
        /// The last fmt 0/1/2 header had the 0xFFFFFF marker: each fmt-3 chunk carries 4 more bytes.
        var extended = false
    }

    /// Where the decoder is in the byte stream.
    private enum State {
        /// Collecting a chunk header in `header`.
        case header
        /// Copying the payload of a chunk: bytes left in that chunk.
        case payload(csid: UInt32, remaining: Int)
    }

    private var state = State.header
    /// Set once the client broke the protocol: every later call throws it.
    private var failure: RTMPFailure?
    private var header: [UInt8] = []
    private var streams = RTMPChunkStreamTable<ChunkStream>()
    /// The payloads of the messages being assembled, by csid (present from the first chunk to the last).
    private var partials = RTMPChunkStreamTable<[UInt8]>()
    /// The sum of the declared lengths of the messages in `partials`.
    private var pendingBytes = 0
    /// The largest chunk payload the client sends, as it last announced.
    private(set) var chunkSize = Self.defaultChunkSize
    /// All bytes received so far (including those given to `init`), for acknowledgements.
    private(set) var bytesReceived: UInt64
    /// The client's Window Acknowledgement Size: acknowledge each time this many bytes have arrived.
    private(set) var windowAckSize = Self.defaultWindowAckSize
    /// `bytesReceived` when the last acknowledgement was due.
    private var acknowledged: UInt64 = 0

    /// `bytesReceived` starts the byte count (the session passes the handshake's bytes).
    init(maxMessageSize: Int = 16 << 20, maxPendingBytes: Int = 32 << 20, bytesReceived: UInt64 = 0) {
        self.maxMessageSize = maxMessageSize
        self.maxPendingBytes = maxPendingBytes
        self.bytesReceived = bytesReceived
    }

    /// Consumes all of `bytes`; returns the messages they complete, in order, or the first violation.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(RTMPFailure) -> [RTMPMessage] {
        if let failure { throw failure }
        bytesReceived += UInt64(bytes.count)
        var messages: [RTMPMessage] = []
        var index = 0
        do throws(RTMPFailure) {
            while index < bytes.count {
                switch state {
                case .header:
                    header.append(bytes[index])
                    index += 1
                    if let length = try headerLength(), header.count == length { try startChunk(into: &messages) }
                case .payload(let csid, let remaining):
                    let count = min(remaining, bytes.count - index)
                    partials[csid]!.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]))
                    index += count
                    if count == remaining {
                        try endChunk(csid, into: &messages)
                    } else {
                        state = .payload(csid: csid, remaining: remaining - count)
                    }
                }
            }
        } catch {
            failure = error
            partials.removeAll()
            streams.removeAll()
            throw error
        }
        return messages
    }

    /// Consumes all of `bytes` (see the buffer form).
    mutating func feed(_ bytes: [UInt8]) throws(RTMPFailure) -> [RTMPMessage] {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(RTMPFailure) in try feed(buffer) }
        }.get()
    }

    /// The Acknowledgement sequence number (cumulative byte count, modulo 2³²) to send now, when at least a
    /// window of bytes arrived since the last one; nil otherwise. A returned value counts as sent.
    mutating func acknowledgementDue() -> UInt32? {
        guard bytesReceived - acknowledged >= UInt64(windowAckSize) else { return nil }
        acknowledged = bytesReceived
        return UInt32(truncatingIfNeeded: bytesReceived)
    }

    // MARK: chunk headers

    /// The length of the basic header (1, 2 or 3 bytes) from its first byte.
    private var basicHeaderLength: Int {
        switch header[0] & 0x3F {
        case 0: 2
        case 1: 3
        default: 1
        }
    }

    /// The csid of the basic header (complete).
    private var chunkStreamID: UInt32 {
        switch header[0] & 0x3F {
        case 0: UInt32(header[1]) + 64
        case 1: UInt32(header[1]) + UInt32(header[2]) << 8 + 64
        case let id: UInt32(id)
        }
    }

    /// The length of the header being collected once its bytes so far tell it, nil until then; refuses a
    /// fmt 1/2/3 header on a chunk stream that never had a message.
    private func headerLength() throws(RTMPFailure) -> Int? {
        let basic = basicHeaderLength
        guard header.count >= basic else { return nil }
        let format = Int(header[0] >> 6)
        let length = basic + Self.messageHeaderLengths[format]
        if format > 0 {
            guard let stream = streams[chunkStreamID] else {
                throw RTMPFailure(reason: "a fmt-\(format) chunk on chunk stream \(chunkStreamID), which has no previous header")
            }
            if format == 3 { return length + (stream.extended ? 4 : 0) }
        }
        guard header.count >= length else { return nil }
        return length + (uint24(at: basic) == 0xFFFFFF ? 4 : 0)
    }

    /// A complete chunk header: starts a message or continues one, and enters the chunk's payload.
    private mutating func startChunk(into messages: inout [RTMPMessage]) throws(RTMPFailure) {
        let csid = chunkStreamID, basic = basicHeaderLength, format = Int(header[0] >> 6)
        var stream = streams[csid] ?? ChunkStream()
        let continuing = partials[csid] != nil
        if format < 3 {
            guard !continuing else {
                throw RTMPFailure(reason: "a fmt-\(format) header on chunk stream \(csid) inside a message (\(partials[csid]!.count) of \(stream.length) bytes)")
            }
            let field = uint24(at: basic)
            stream.extended = field == 0xFFFFFF
            let time = stream.extended ? uint32(at: basic + Self.messageHeaderLengths[format]) : field
            if format < 2 {
                stream.length = Int(uint24(at: basic + 3))
                stream.typeID = header[basic + 6]
            }
            if format == 0 {
                stream.streamID = UInt32(header[basic + 7]) | UInt32(header[basic + 8]) << 8
                    | UInt32(header[basic + 9]) << 16 | UInt32(header[basic + 10]) << 24
                stream.timestamp = time
            } else {
                stream.timestamp &+= time
            }
            stream.delta = time
        } else if !continuing {
            if stream.extended { stream.delta = uint32(at: basic) }
            stream.timestamp &+= stream.delta
        }
        streams[csid] = stream
        header.removeAll(keepingCapacity: true)
        state = .header
        if !continuing {
            guard stream.length <= maxMessageSize else {
                throw RTMPFailure(reason: "a message of \(stream.length) bytes on chunk stream \(csid), more than the \(maxMessageSize) allowed")
            }
            guard pendingBytes + stream.length <= maxPendingBytes else {
                throw RTMPFailure(reason: "more than \(maxPendingBytes) bytes of unfinished messages")
            }
            pendingBytes += stream.length
            partials[csid] = []
            partials[csid]!.reserveCapacity(stream.length)
        }
        let remaining = min(stream.length - partials[csid]!.count, chunkSize)
        if remaining == 0 {
            try endChunk(csid, into: &messages)
        } else {
            state = .payload(csid: csid, remaining: remaining)
        }
    }

    /// The end of a chunk's payload: when its message is complete, acts on it and hands it out.
    private mutating func endChunk(_ csid: UInt32, into messages: inout [RTMPMessage]) throws(RTMPFailure) {
        state = .header
        let stream = streams[csid]!
        guard partials[csid]!.count == stream.length else { return }
        let payload = partials.removeValue(forKey: csid)!
        pendingBytes -= stream.length
        let message = RTMPMessage(csid: csid, timestamp: stream.timestamp, typeID: stream.typeID,
                                  streamID: stream.streamID, payload: payload)
        try control(message)
        messages.append(message)
    }

    /// Applies the control messages that concern the chunk layer and the acknowledgement window.
    private mutating func control(_ message: RTMPMessage) throws(RTMPFailure) {
        let type = message.typeID
        guard type == RTMPMessageType.setChunkSize || type == RTMPMessageType.abort || type == RTMPMessageType.windowAckSize else { return }
        guard message.payload.count >= 4 else {
            throw RTMPFailure(reason: "a control message of type \(type) with \(message.payload.count) bytes instead of 4")
        }
        let value = RTMPControl.uint32(message.payload[...])
        switch type {
        case RTMPMessageType.setChunkSize:
            guard value != 0, value & 0x8000_0000 == 0 else { throw RTMPFailure(reason: "Set Chunk Size to \(value)") }
            chunkSize = Int(value)
        case RTMPMessageType.abort:
            if partials.removeValue(forKey: value) != nil { pendingBytes -= streams[value]!.length }
        default:
            if value > 0 { windowAckSize = value }
        }
    }

    // MARK: fields

    private func uint24(at index: Int) -> UInt32 {
        UInt32(header[index]) << 16 | UInt32(header[index + 1]) << 8 | UInt32(header[index + 2])
    }

    private func uint32(at index: Int) -> UInt32 {
        RTMPControl.uint32(header[index...])
    }
}
