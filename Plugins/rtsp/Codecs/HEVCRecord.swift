/// Builds the HEVCDecoderConfigurationRecord (ISO 14496-15 §8.3.3.1) of a recorded H.265 stream from
/// its VPS, SPS and PPS: the profile, tier and level copied from the SPS, 4:2:0 8-bit and 4-byte NAL
/// lengths declared (what decoders read from the parameter sets themselves anyway).
enum HEVCRecord {
    /// The record, or nil without a VPS, an SPS and a PPS (or with an SPS too short for its profile).
    static func build(_ sets: [[UInt8]]) -> [UInt8]? {
        let byType = { (type: UInt8) in sets.filter { $0.count >= 2 && ($0[0] >> 1) & 0x3F == type } }
        let vps = byType(32), sps = byType(33), pps = byType(34)
        guard !vps.isEmpty, let first = sps.first, !pps.isEmpty else { return nil }
        // After the 2-byte NAL header: 4 bits VPS id, 3 bits max sub-layers, 1 bit nesting, then the
        // 12 bytes of general profile_tier_level.
        let rbsp = withoutEmulationPrevention(Array(first.dropFirst(2)))
        guard rbsp.count >= 13 else { return nil }
        var record: [UInt8] = [1] + rbsp[1..<13]
        record += [0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0x00, 0x00, 0x0F, 3]
        for (type, units) in [(UInt8(32), vps), (33, sps), (34, pps)] {
            record += [0x80 | type, UInt8(units.count >> 8), UInt8(units.count & 0xFF)]
            for unit in units { record += [UInt8(unit.count >> 8), UInt8(unit.count & 0xFF)] + unit }
        }
        return record
    }

    /// The bytes of a NAL unit payload without its emulation prevention bytes (00 00 03 → 00 00).
    static func withoutEmulationPrevention(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var zeros = 0
        for byte in bytes {
            if zeros >= 2, byte == 3 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            out.append(byte)
        }
        return out
    }
}
