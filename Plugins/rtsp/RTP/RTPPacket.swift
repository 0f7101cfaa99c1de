/// An RTP packet (RFC 3550 §5.1) without CSRCs or extension: the fixed header this server writes,
/// and what it reads of a sender's packets.
struct RTPPacket {
    var marker: Bool
    var payloadType: UInt8
    var sequence: UInt16
    var timestamp: UInt32
    var ssrc: UInt32

    /// Appends the 12-byte header to `bytes`, after `$`, the channel and the packet's length (RFC 2326
    /// §10.12) when `channel` is given: words stored at once, no temporary array.
    func appendHeader(to bytes: inout [UInt8], channel: UInt8? = nil, payloadSize: Int = 0) {
        var words = (UInt32(0x80 << 24 | (marker ? 0x80 << 16 : 0) | UInt32(payloadType & 0x7F) << 16 | UInt32(sequence)).bigEndian,
                     timestamp.bigEndian, ssrc.bigEndian)
        if let channel {
            var frame = (UInt32(0x24 << 24) | UInt32(channel) << 16 | UInt32(truncatingIfNeeded: (payloadSize + 12) & 0xFFFF)).bigEndian
            withUnsafeBytes(of: &frame) { bytes.append(contentsOf: $0) }
        }
        withUnsafeBytes(of: &words) { bytes.append(contentsOf: $0) }
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
