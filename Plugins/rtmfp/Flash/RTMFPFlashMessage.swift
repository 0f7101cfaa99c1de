/// One message of a Flash flow (RFC 7425 §5.1): `type | timestamp (32 bits) | payload`, the RTMP
/// message types without RTMP's chunking (the flow fragments). Types 0x0F and 0x11 (AMF3 data and
/// command) carry one extra 0x00 byte before their payload, which `payload` leaves out.
struct RTMFPFlashMessage: Equatable {
    var type: UInt8
    var time: UInt32
    var payload: ArraySlice<UInt8>

    /// RTMP message types carried by flows.
    enum Kind {
        static let userControl: UInt8 = 0x04
        static let audio: UInt8 = 0x08
        static let video: UInt8 = 0x09
        static let dataAMF3: UInt8 = 0x0F
        static let commandAMF3: UInt8 = 0x11
        static let dataAMF0: UInt8 = 0x12
        static let commandAMF0: UInt8 = 0x14
    }

    /// The user control event that tells a client its keepalive periods (server, then peer, in ms).
    static let keepaliveEvent: UInt16 = 0x29

    /// Parses a reassembled flow message; nil when it is shorter than its header.
    init?(_ bytes: ArraySlice<UInt8>) {
        var reader = RTMFPReader(bytes)
        guard let type = reader.u8(), let time = reader.u32() else { return nil }
        if type == Kind.dataAMF3 || type == Kind.commandAMF3 {
            guard reader.u8() != nil else { return nil }
        }
        self.type = type
        self.time = time
        payload = reader.rest()
    }

    init(type: UInt8, time: UInt32, payload: ArraySlice<UInt8>) {
        self.type = type
        self.time = time
        self.payload = payload
    }

    /// The wire form of a message.
    static func encode<C: Collection>(type: UInt8, time: UInt32, payload: C) -> [UInt8] where C.Element == UInt8 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(6 + payload.count)
        bytes.append(type)
        bytes.appendU32(time)
        if type == Kind.dataAMF3 || type == Kind.commandAMF3 { bytes.append(0) }
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// A user control message: event, then 32-bit values.
    static func userControl(_ event: UInt16, _ values: [UInt32]) -> [UInt8] {
        var payload: [UInt8] = []
        payload.appendU16(event)
        for value in values { payload.appendU32(value) }
        return encode(type: Kind.userControl, time: 0, payload: payload)
    }
}

/// What a flow's user metadata (its "signature", RFC 7425 §5.1.3) says it carries: the NetConnection,
/// one NetStream, or a NetGroup. Flash writes 'T' 'C', a flags byte (0x04: a stream id follows; the
/// two low bits: receive intent), then the stream id as a VLU; NetGroup flows start with 'G' 'C'.
enum RTMFPFlowSignature: Equatable {
    case netConnection
    case netStream(UInt32)
    case group
    case unknown

    /// Flags with a stream id (0x04), original-order receive intent.
    static let streamIDPresent: UInt8 = 0x04

    init(metadata: ArraySlice<UInt8>) {
        var reader = RTMFPReader(metadata)
        guard let first = reader.u8(), let second = reader.u8() else {
            self = .unknown
            return
        }
        switch (first, second) {
        case (UInt8(ascii: "T"), UInt8(ascii: "C")):
            guard let flags = reader.u8(), flags & Self.streamIDPresent != 0, let id = reader.vlu(), id <= UInt64(UInt32.max) else {
                self = .unknown
                return
            }
            self = id == 0 ? .netConnection : .netStream(UInt32(id))
        case (UInt8(ascii: "G"), UInt8(ascii: "C")):
            self = .group
        default:
            self = .unknown
        }
    }

    /// The metadata the server writes on its own flows for a NetConnection (0) or NetStream id.
    static func metadata(stream id: UInt32) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "T"), UInt8(ascii: "C"), streamIDPresent]
        bytes.appendVLU(UInt64(id))
        return bytes
    }
}
