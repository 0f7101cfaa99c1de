// WebSocket frames (RFC 6455 §5): opcodes, close codes and the server's frame encoder.

/// Frame opcodes (RFC 6455 §5.2).
enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong: never fragmented, at most 125 bytes of payload.
    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// Close status codes (RFC 6455 §7.4.1) the server sends, and which received ones are acceptable.
enum WebSocketCloseCode {
    static let normal: UInt16 = 1000
    static let goingAway: UInt16 = 1001
    static let protocolError: UInt16 = 1002
    static let unsupportedData: UInt16 = 1003
    static let invalidData: UInt16 = 1007
    static let policyViolation: UInt16 = 1008
    static let tooBig: UInt16 = 1009
    static let internalError: UInt16 = 1011

    /// A code a peer may put in a close frame: the defined ones (1000–1003, 1007–1014) and the ranges for
    /// libraries and applications (3000–4999). 1004–1006 and 1015 are reserved never to be sent.
    static func isValid(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}

/// Encodes server frames: always final, never masked (RFC 6455 §5.1).
enum WebSocketFrame {
    /// One frame with `payload`, with the shortest length form (7, 16 or 64 bits).
    static func encode(_ opcode: WebSocketOpcode, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + 10)
        frame.append(0x80 | opcode.rawValue)
        switch payload.count {
        case 0...125:
            frame.append(UInt8(payload.count))
        case 126...0xFFFF:
            frame.append(126)
            frame.append(UInt8(payload.count >> 8))
            frame.append(UInt8(payload.count & 0xFF))
        default:
            frame.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xFF)) }
        }
        frame += payload
        return frame
    }

    /// A close frame: the code, then a reason cut to fit the 125-byte control payload on a character boundary.
    static func close(_ code: UInt16, reason: String = "") -> [UInt8] {
        var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var text = Array(reason.utf8.prefix(123))
        while !UTF8Validator.isValid(text) { text.removeLast() }
        payload += text
        return encode(.close, payload)
    }
}
