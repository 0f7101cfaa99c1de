/// The picture size an H.264 sequence parameter set states (ISO 14496-10 §7.3.2.1.1), read from an
/// AVCDecoderConfigurationRecord: MP4 sample entries carry it, and some decoders (browsers' MSE)
/// ignore a video track whose entry says 0×0.
enum H264SPS {
    /// Width and height of the first SPS of `record`, nil when there is none or it cannot be read.
    static func size(record: [UInt8]) -> (width: Int, height: Int)? {
        guard record.count > 8, record[5] & 0x1F > 0 else { return nil }
        let length = Int(record[6]) << 8 | Int(record[7])
        guard length > 4, record.count >= 8 + length else { return nil }
        // The RBSP: emulation prevention bytes (0x000003) removed, the NAL header skipped.
        var rbsp: [UInt8] = []
        var zeros = 0
        for byte in record[9..<(8 + length)] {
            if zeros >= 2, byte == 3 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            rbsp.append(byte)
        }
        var bits = BitReader(rbsp)
        let profile = bits.read(8)
        _ = bits.read(16) // constraints, level
        _ = bits.unsigned() // seq_parameter_set_id
        var chroma = 1
        if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(profile) {
            chroma = bits.unsigned()
            if chroma == 3 { _ = bits.read(1) }
            _ = bits.unsigned(); _ = bits.unsigned(); _ = bits.read(1) // bit depths, qpprime
            if bits.read(1) == 1 { // scaling matrices
                for index in 0..<(chroma == 3 ? 12 : 8) where bits.read(1) == 1 {
                    var last = 8, next = 8
                    for _ in 0..<(index < 6 ? 16 : 64) where next != 0 {
                        next = (last + bits.signed() + 256) % 256
                        last = next == 0 ? last : next
                    }
                }
            }
        }
        _ = bits.unsigned() // log2_max_frame_num
        switch bits.unsigned() { // pic_order_cnt_type
        case 0: _ = bits.unsigned()
        case 1:
            _ = bits.read(1); _ = bits.signed(); _ = bits.signed()
            for _ in 0..<min(bits.unsigned(), 255) { _ = bits.signed() }
        default: break
        }
        _ = bits.unsigned(); _ = bits.read(1) // max_num_ref_frames, gaps
        let widthInMacroblocks = bits.unsigned() + 1
        let heightInMapUnits = bits.unsigned() + 1
        let frameMacroblocksOnly = bits.read(1)
        if frameMacroblocksOnly == 0 { _ = bits.read(1) }
        _ = bits.read(1) // direct_8x8_inference
        var crop = (left: 0, right: 0, top: 0, bottom: 0)
        if bits.read(1) == 1 { crop = (bits.unsigned(), bits.unsigned(), bits.unsigned(), bits.unsigned()) }
        let unitX = chroma == 1 || chroma == 2 ? 2 : 1
        let unitY = (chroma == 1 ? 2 : 1) * (2 - frameMacroblocksOnly)
        let width = widthInMacroblocks * 16 - (crop.left + crop.right) * unitX
        let height = (2 - frameMacroblocksOnly) * heightInMapUnits * 16 - (crop.top + crop.bottom) * unitY
        guard width > 0, height > 0, width <= 16384, height <= 16384 else { return nil }
        return (width, height)
    }
}

extension BitReader {
    /// ue(v): an unsigned exp-Golomb code.
    mutating func unsigned() -> Int {
        var zeros = 0
        while read(1) == 0, zeros < 31 { zeros += 1 }
        return (1 << zeros) - 1 + read(zeros)
    }

    /// se(v): a signed exp-Golomb code.
    mutating func signed() -> Int {
        let code = unsigned()
        return code & 1 == 1 ? (code + 1) / 2 : -(code / 2)
    }
}
