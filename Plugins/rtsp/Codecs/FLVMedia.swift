/// The FLV tag bodies the host's media model carries (video: AVC/HEVC, audio: AAC), read to packetize
/// a publication and written to publish a recorded one.
enum FLVMedia {
    static let avc: UInt8 = 7
    static let hevc: UInt8 = 12
    static let aac: UInt8 = 10

    /// A video tag body: codec, key frame, whether it is the configuration, composition offset (ms)
    /// and the payload (the configuration record, or length-prefixed NAL units). Nil for what is not
    /// AVC/HEVC (classic codec ids 7 and 12, or enhanced RTMP's avc1/hvc1 FourCCs).
    static func video(_ body: UnsafeRawBufferPointer) -> (codec: UInt8, key: Bool, config: Bool, offset: Int32, payload: UnsafeRawBufferPointer)? {
        guard body.count >= 2 else { return nil }
        let first = body[0]
        let key = (first >> 4) & 0x07 == 1
        if first & 0x80 != 0 { // enhanced RTMP: packet type in the low nibble, then a FourCC
            guard body.count >= 5 else { return nil }
            let fourCC = Array(body[1..<5])
            let codec: UInt8
            switch fourCC {
            case Array("avc1".utf8): codec = avc
            case Array("hvc1".utf8): codec = hevc
            default: return nil
            }
            switch first & 0x0F {
            case 0: return (codec, key, true, 0, UnsafeRawBufferPointer(rebasing: body[5...]))
            case 1:
                guard body.count >= 8 else { return nil }
                return (codec, key, false, signed24(body, at: 5), UnsafeRawBufferPointer(rebasing: body[8...]))
            case 3: return (codec, key, false, 0, UnsafeRawBufferPointer(rebasing: body[5...]))
            default: return nil
            }
        }
        let codec = first & 0x0F
        guard codec == avc || codec == hevc, body.count >= 5 else { return nil }
        switch body[1] {
        case 0: return (codec, key, true, 0, UnsafeRawBufferPointer(rebasing: body[5...]))
        case 1: return (codec, key, false, signed24(body, at: 2), UnsafeRawBufferPointer(rebasing: body[5...]))
        default: return nil
        }
    }

    /// An AAC tag body: whether it is the AudioSpecificConfig, and the payload. Nil for other codecs.
    static func audio(_ body: UnsafeRawBufferPointer) -> (config: Bool, payload: UnsafeRawBufferPointer)? {
        guard body.count >= 2, body[0] >> 4 == aac else { return nil }
        return (body[1] == 0, UnsafeRawBufferPointer(rebasing: body[2...]))
    }

    private static func signed24(_ body: UnsafeRawBufferPointer, at index: Int) -> Int32 {
        let raw = Int32(body[index]) << 16 | Int32(body[index + 1]) << 8 | Int32(body[index + 2])
        return raw & 0x80_0000 != 0 ? raw - 0x100_0000 : raw
    }

    /// The NAL units of a frame payload whose lengths take `lengthSize` bytes (a truncated unit ends the list).
    static func nalUnits(_ payload: UnsafeRawBufferPointer, lengthSize: Int) -> [UnsafeRawBufferPointer] {
        var units: [UnsafeRawBufferPointer] = []
        var offset = 0
        while offset + lengthSize <= payload.count {
            var size = 0
            for index in 0..<lengthSize { size = size << 8 | Int(payload[offset + index]) }
            offset += lengthSize
            guard size > 0, offset + size <= payload.count else { break }
            units.append(UnsafeRawBufferPointer(rebasing: payload[offset..<offset + size]))
            offset += size
        }
        return units
    }

    // MARK: writing (a recorded stream published)

    /// A video tag body: AVC (classic) or HEVC (codec id 12, as FFmpeg's FLV muxer writes it).
    static func videoTag(codec: UInt8, key: Bool, config: Bool, offset: Int32 = 0, payload: [UInt8]) -> [UInt8] {
        let offset = UInt32(bitPattern: offset) & 0xFF_FFFF
        return [(key ? 0x10 : 0x20) | codec, config ? 0 : 1, UInt8(offset >> 16), UInt8((offset >> 8) & 0xFF), UInt8(offset & 0xFF)] + payload
    }

    /// An AAC tag body (0xAF: AAC, 44 kHz, 16-bit, stereo, as FLV always flags AAC).
    static func audioTag(config: Bool, payload: [UInt8]) -> [UInt8] { [0xAF, config ? 0 : 1] + payload }
}
