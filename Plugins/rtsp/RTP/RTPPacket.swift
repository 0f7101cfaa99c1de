/// An RTP packet (RFC 3550 §5.1) without CSRCs or extension: the fixed header this server writes,
/// and what it reads of a sender's packets.
struct RTPPacket {
    var marker: Bool
    var payloadType: UInt8
    var sequence: UInt16
    var timestamp: UInt32
    var ssrc: UInt32

    /// The 12-byte header followed by `payload`.
    func encode(payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80, (marker ? 0x80 : 0) | (payloadType & 0x7F), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        bytes.reserveCapacity(12 + payload.count)
        bytes.appendBigEndian(timestamp)
        bytes.appendBigEndian(ssrc)
        bytes += payload
        return bytes
    }

    /// The header and payload of a received packet (CSRCs, extension and padding skipped), or nil when
    /// it is not RTP version 2 or its lengths do not add up.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> (header: RTPPacket, payload: UnsafeRawBufferPointer)? {
        guard bytes.count >= 12, bytes[0] >> 6 == 2 else { return nil }
        var start = 12 + 4 * Int(bytes[0] & 0x0F)
        if bytes[0] & 0x10 != 0 {
            guard bytes.count >= start + 4 else { return nil }
            start += 4 + 4 * (Int(bytes[start + 2]) << 8 | Int(bytes[start + 3]))
        }
        var end = bytes.count
        if bytes[0] & 0x20 != 0 { end -= Int(bytes[bytes.count - 1]) }
        guard start <= end else { return nil }
        let header = RTPPacket(marker: bytes[1] & 0x80 != 0, payloadType: bytes[1] & 0x7F,
                               sequence: UInt16(bytes[2]) << 8 | UInt16(bytes[3]), timestamp: bytes.bigEndian32(at: 4),
                               ssrc: bytes.bigEndian32(at: 8))
        return (header, UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }

    mutating func appendBigEndian16(_ value: Int) {
        append(contentsOf: [UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}

extension UnsafeRawBufferPointer {
    func bigEndian32(at index: Int) -> UInt32 {
        UInt32(self[index]) << 24 | UInt32(self[index + 1]) << 16 | UInt32(self[index + 2]) << 8 | UInt32(self[index + 3])
    }
}
