/// RTCP (RFC 3550 §6): the compound sender report this server sends for each track it plays (SR + SDES
/// CNAME), with a real NTP↔RTP mapping so players can synchronise audio and video; the packet types a
/// peer's compound packet holds (receiver reports are read only to know it is alive).
enum RTCP {
    /// Seconds between 1900 (NTP's epoch) and 1970.
    static let ntpOffset: UInt64 = 2_208_988_800

    /// A compound SR + SDES for `ssrc`: the NTP time of `wallMs` (ms since 1970) maps to `rtpTime`.
    static func senderReport(ssrc: UInt32, wallMs: Int64, rtpTime: UInt32, packets: UInt32, octets: UInt32, cname: String) -> [UInt8] {
        let seconds = UInt64(max(0, wallMs) / 1000) + ntpOffset
        let fraction = UInt64(max(0, wallMs) % 1000) * (1 << 32) / 1000
        var bytes: [UInt8] = [0x80, 200, 0, 6]
        bytes.appendBigEndian(ssrc)
        bytes.appendBigEndian(UInt32(truncatingIfNeeded: seconds))
        bytes.appendBigEndian(UInt32(truncatingIfNeeded: fraction))
        bytes.appendBigEndian(rtpTime)
        bytes.appendBigEndian(packets)
        bytes.appendBigEndian(octets)
        // SDES: one chunk, CNAME then END, padded to 32 bits.
        let name = Array(cname.utf8.prefix(255))
        var chunk: [UInt8] = []
        chunk.appendBigEndian(ssrc)
        chunk += [1, UInt8(name.count)] + name + [0]
        while chunk.count % 4 != 0 { chunk.append(0) }
        bytes += [0x81, 202]
        bytes.appendBigEndian16(chunk.count / 4)
        return bytes + chunk
    }

    /// The packet types of a compound RTCP packet, or nil when it is not RTCP (version, lengths).
    static func packetTypes(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        var types: [UInt8] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            guard bytes[offset] >> 6 == 2, (200...206).contains(bytes[offset + 1]) else { return nil }
            types.append(bytes[offset + 1])
            offset += 4 * (1 + (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])))
        }
        return offset == bytes.count && !types.isEmpty ? types : nil
    }
}
