/// H.264 parameter sets as FLV carries them (an AVCDecoderConfigurationRecord, ISO 14496-15 §5.2.4.1):
/// parsed to packetize and describe a publication, built from SDP or in-band sets to publish one.
struct AVCConfig: Equatable {
    var sps: [[UInt8]]
    var pps: [[UInt8]]
    /// Bytes of each NAL unit length in the frames (1, 2 or 4).
    var lengthSize = 4

    /// The record's parameter sets, or nil when it is malformed.
    init?(record: ArraySlice<UInt8>) {
        let bytes = Array(record)
        guard bytes.count >= 7, bytes[0] == 1 else { return nil }
        lengthSize = Int(bytes[4] & 0x03) + 1
        guard lengthSize != 3 else { return nil }
        var offset = 6
        func sets(count: Int) -> [[UInt8]]? {
            var found: [[UInt8]] = []
            for _ in 0..<count {
                guard offset + 2 <= bytes.count else { return nil }
                let size = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
                offset += 2
                guard size > 0, offset + size <= bytes.count else { return nil }
                found.append(Array(bytes[offset..<offset + size]))
                offset += size
            }
            return found
        }
        guard let sps = sets(count: Int(bytes[5] & 0x1F)), !sps.isEmpty, sps[0].count >= 4, offset < bytes.count else { return nil }
        let ppsCount = Int(bytes[offset])
        offset += 1
        guard let pps = sets(count: ppsCount) else { return nil }
        self.sps = sps
        self.pps = pps
    }

    init(sps: [[UInt8]], pps: [[UInt8]]) {
        self.sps = sps
        self.pps = pps
    }

    /// The AVCDecoderConfigurationRecord of these sets (4-byte lengths).
    var record: [UInt8] {
        let first = sps.first ?? [0x67, 0x42, 0xC0, 0x1E]
        var bytes: [UInt8] = [1, first.count > 1 ? first[1] : 0x42, first.count > 2 ? first[2] : 0, first.count > 3 ? first[3] : 0x1E,
                              0xFF, 0xE0 | UInt8(sps.count & 0x1F)]
        for set in sps { bytes += [UInt8(set.count >> 8), UInt8(set.count & 0xFF)] + set }
        bytes.append(UInt8(pps.count & 0xFF))
        for set in pps { bytes += [UInt8(set.count >> 8), UInt8(set.count & 0xFF)] + set }
        return bytes
    }

    /// profile_idc, constraint flags and level_idc of the first SPS as six hex digits (RFC 6184 §8.1).
    var profileLevelID: String {
        guard let first = sps.first, first.count >= 4 else { return "42e01f" }
        return first[1...3].map { Hex.byte($0) }.joined()
    }

    /// sprop-parameter-sets: every SPS then every PPS in base64, comma-separated.
    var spropParameterSets: String { (sps + pps).map { Base64.encode($0) }.joined(separator: ",") }
}

/// Lower-case hexadecimal text.
enum Hex {
    private static let digits = Array("0123456789abcdef")

    static func byte(_ value: UInt8) -> String { String([digits[Int(value >> 4)], digits[Int(value & 0x0F)]]) }

    static func encode(_ bytes: [UInt8]) -> String { bytes.map(byte).joined() }

    /// The bytes of hexadecimal text (either case), or nil.
    static func decode(_ text: Substring) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = nibble(characters[index]), let low = nibble(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
