/// The parameter sets of an H.264 or H.265 publication (from its FLV configuration record): what an
/// SDP announces and what goes in band before each key frame.
struct VideoConfig: Equatable {
    let hevc: Bool
    /// H.264: SPS then PPS; H.265: VPS, SPS, PPS (by NAL type).
    let sets: [[UInt8]]
    let lengthSize: Int
    /// H.264 only: the record's SPS and PPS for profile-level-id and sprop-parameter-sets.
    let avc: AVCConfig?

    /// The configuration in an FLV configuration record, or nil when it is malformed.
    init?(codec: UInt8, record: UnsafeRawBufferPointer) {
        if codec == FLVMedia.avc {
            guard let avc = AVCConfig(record: Array(record)[...]) else { return nil }
            self.avc = avc
            hevc = false
            sets = avc.sps + avc.pps
            lengthSize = avc.lengthSize
            return
        }
        // HEVCDecoderConfigurationRecord (ISO 14496-15 §8.3.3.1): 22 bytes, then arrays of NAL units.
        let bytes = Array(record)
        guard bytes.count >= 23 else { return nil }
        lengthSize = Int(bytes[21] & 0x03) + 1
        var offset = 23
        var found: [[UInt8]] = []
        for _ in 0..<Int(bytes[22]) {
            guard offset + 3 <= bytes.count else { return nil }
            let count = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            offset += 3
            for _ in 0..<count {
                guard offset + 2 <= bytes.count else { return nil }
                let size = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
                offset += 2
                guard size >= 2, offset + size <= bytes.count else { return nil }
                found.append(Array(bytes[offset..<offset + size]))
                offset += size
            }
        }
        guard lengthSize != 3, !found.isEmpty else { return nil }
        hevc = true
        avc = nil
        sets = found
    }

    /// The NAL type of a unit of this codec.
    func type(_ unit: [UInt8]) -> UInt8 { hevc ? (unit[0] >> 1) & 0x3F : unit[0] & 0x1F }

    /// True for a parameter set (H.264 SPS 7, PPS 8; H.265 VPS 32, SPS 33, PPS 34).
    func isParameterSet(_ unit: [UInt8]) -> Bool { hevc ? (32...34).contains(type(unit)) : [7, 8].contains(type(unit)) }

    /// The fmtp parameters of the SDP (RFC 6184 §8.1, RFC 7798 §7.1).
    var fmtp: String {
        if let avc { return "packetization-mode=1;profile-level-id=\(avc.profileLevelID);sprop-parameter-sets=\(avc.spropParameterSets)" }
        let named = [(32, "sprop-vps"), (33, "sprop-sps"), (34, "sprop-pps")].compactMap { type, name -> String? in
            let units = sets.filter { self.type($0) == type }
            return units.isEmpty ? nil : "\(name)=" + units.map { Base64.encode($0) }.joined(separator: ",")
        }
        return named.joined(separator: ";")
    }
}
