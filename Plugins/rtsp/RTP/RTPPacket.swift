/// An RTP packet (RFC 3550 §5.1) without CSRCs or extension: the fixed header this server writes,
/// and what it reads of a sender's packets.
struct RTPPacket {
    var marker: Bool
    var payloadType: UInt8
    var sequence: UInt16
    var timestamp: UInt32
    var ssrc: UInt32

    /// Appends the 12-byte header to `bytes`, byte by byte (no temporary array).
    func appendHeader(to bytes: inout [UInt8]) {
        bytes.append(0x80)
        bytes.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        bytes.append(UInt8(sequence >> 8))
        bytes.append(UInt8(sequence & 0xFF))
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: timestamp >> UInt32(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: ssrc >> UInt32(shift))) }
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
