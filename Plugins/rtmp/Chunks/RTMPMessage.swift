// RTMP messages as the chunk layer delivers and takes them, the failure both sans-IO layers report, and
// builders for the protocol control messages (RTMP specification §5.4 and §6.2, User Control §7.1.7).

/// A complete message of the chunk stream, with its absolute timestamp.
struct RTMPMessage: Equatable, Sendable {
    /// The chunk stream it travelled on (2...65599); answers go back on the same one.
    var csid: UInt32
    /// Milliseconds, absolute (reconstructed from the deltas), wrapping at 2³².
    var timestamp: UInt32
    var typeID: UInt8
    /// The message stream (0: the NetConnection).
    var streamID: UInt32
    var payload: [UInt8]

    init(csid: UInt32, timestamp: UInt32 = 0, typeID: UInt8, streamID: UInt32 = 0, payload: [UInt8]) {
        self.csid = csid
        self.timestamp = timestamp
        self.typeID = typeID
        self.streamID = streamID
        self.payload = payload
    }
}

/// Why the peer broke RTMP (handshake or chunk stream): a reason for the log; the session closes.
struct RTMPFailure: Error, Equatable, Sendable {
    let reason: String
}

/// Message type ids of the chunk layer and of the protocol control messages.
enum RTMPMessageType {
    static let setChunkSize: UInt8 = 1
    static let abort: UInt8 = 2
    static let acknowledgement: UInt8 = 3
    static let userControl: UInt8 = 4
    static let windowAckSize: UInt8 = 5
    static let setPeerBandwidth: UInt8 = 6
}

/// User Control event types (type 4 messages).
enum RTMPUserControlEvent {
    static let streamBegin: UInt16 = 0
    static let streamEOF: UInt16 = 1
    static let setBufferLength: UInt16 = 3
    static let pingRequest: UInt16 = 6
    static let pingResponse: UInt16 = 7
}

/// Builders of the protocol control messages the server sends: csid 2, message stream 0, time 0.
enum RTMPControl {
    /// The chunk stream of protocol control messages.
    static let csid: UInt32 = 2

    /// Set Chunk Size (1): the largest chunk payload the sender will use from now on (high bit clear).
    static func setChunkSize(_ size: Int) -> RTMPMessage {
        message(RTMPMessageType.setChunkSize, bigEndian(UInt32(size) & 0x7FFF_FFFF))
    }

    /// Acknowledgement (3): the cumulative number of bytes received so far, modulo 2³².
    static func acknowledgement(_ sequence: UInt32) -> RTMPMessage {
        message(RTMPMessageType.acknowledgement, bigEndian(sequence))
    }

    /// Window Acknowledgement Size (5): how many bytes the peer may receive between two acknowledgements.
    static func windowAckSize(_ size: UInt32) -> RTMPMessage {
        message(RTMPMessageType.windowAckSize, bigEndian(size))
    }

    /// Set Peer Bandwidth (6): the window, and the limit type (0 hard, 1 soft, 2 dynamic).
    static func setPeerBandwidth(_ size: UInt32, limitType: UInt8 = 0) -> RTMPMessage {
        message(RTMPMessageType.setPeerBandwidth, bigEndian(size) + [limitType])
    }

    /// User Control (4): a 2-byte event type and its 4-byte value (a stream id or a timestamp).
    static func userControl(_ event: UInt16, _ value: UInt32) -> RTMPMessage {
        message(RTMPMessageType.userControl, [UInt8(event >> 8), UInt8(event & 0xFF)] + bigEndian(value))
    }

    /// Stream Begin (event 0) for a message stream.
    static func streamBegin(_ streamID: UInt32) -> RTMPMessage { userControl(RTMPUserControlEvent.streamBegin, streamID) }
    /// Stream EOF (event 1) for a message stream.
    static func streamEOF(_ streamID: UInt32) -> RTMPMessage { userControl(RTMPUserControlEvent.streamEOF, streamID) }
    /// Ping Request (event 6) carrying the server's time.
    static func pingRequest(_ time: UInt32) -> RTMPMessage { userControl(RTMPUserControlEvent.pingRequest, time) }
    /// Ping Response (event 7) echoing the time of the peer's request.
    static func pingResponse(_ time: UInt32) -> RTMPMessage { userControl(RTMPUserControlEvent.pingResponse, time) }

    private static func message(_ type: UInt8, _ payload: [UInt8]) -> RTMPMessage {
        RTMPMessage(csid: csid, typeID: type, payload: payload)
    }

    /// The 4 bytes of `value`, most significant first.
    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// The big-endian 32-bit value at the start of `bytes` (at least 4 bytes).
    static func uint32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        let start = bytes.startIndex
        return UInt32(bytes[start]) << 24 | UInt32(bytes[start + 1]) << 16 | UInt32(bytes[start + 2]) << 8 | UInt32(bytes[start + 3])
    }
}
