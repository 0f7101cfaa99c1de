/// What an FLV audio or video tag body holds, for muxers that repackage it: a codec configuration or
/// a coded frame (its payload range, key flag and composition offset). H.264 (codec 7), H.265 (legacy
/// codec 12 and Enhanced RTMP 'hvc1') and AAC; anything else is `.other`.
enum FLVMedia: Equatable {
    /// AVCDecoderConfigurationRecord or HEVCDecoderConfigurationRecord.
    case videoConfig(codec: VideoCodec, record: ArraySlice<UInt8>)
    /// Length-prefixed NAL units.
    case videoFrame(codec: VideoCodec, key: Bool, compositionOffset: Int32, data: ArraySlice<UInt8>)
    /// AudioSpecificConfig.
    case aacConfig(ArraySlice<UInt8>)
    /// One raw AAC frame.
    case aacFrame(ArraySlice<UInt8>)
    case other

    enum VideoCodec: Equatable {
        case h264, h265
    }

    /// Reads a video tag body.
    static func video(_ body: ArraySlice<UInt8>) -> FLVMedia {
        guard let first = body.first else { return .other }
        let at = body.startIndex
        if first & 0x80 != 0 { // Enhanced RTMP: packet type in the low bits, then a FourCC
            guard body.count >= 5 else { return .other }
            let fourCC = Array(body[(at + 1)..<(at + 5)])
            let codec: VideoCodec
            switch fourCC {
            case Array("hvc1".utf8): codec = .h265
            case Array("avc1".utf8): codec = .h264
            default: return .other
            }
            let key = (first >> 4) & 0x07 == 1
            switch first & 0x0F {
            case 0: return .videoConfig(codec: codec, record: body[(at + 5)...])
            case 1:
                guard body.count >= 8 else { return .other }
                return .videoFrame(codec: codec, key: key, compositionOffset: Self.int24(body, at + 5), data: body[(at + 8)...])
            case 3: return .videoFrame(codec: codec, key: key, compositionOffset: 0, data: body[(at + 5)...])
            default: return .other
            }
        }
        let codec: VideoCodec
        switch first & 0x0F {
        case 7: codec = .h264
        case 12: codec = .h265
        default: return .other
        }
        guard body.count >= 5 else { return .other }
        switch body[at + 1] {
        case 0: return .videoConfig(codec: codec, record: body[(at + 5)...])
        case 1: return .videoFrame(codec: codec, key: first >> 4 == 1, compositionOffset: Self.int24(body, at + 2), data: body[(at + 5)...])
        default: return .other
        }
    }

    /// Reads an audio tag body.
    static func audio(_ body: ArraySlice<UInt8>) -> FLVMedia {
        guard body.count >= 2, body[body.startIndex] >> 4 == 10 else { return .other }
        let payload = body[(body.startIndex + 2)...]
        return body[body.startIndex + 1] == 0 ? .aacConfig(payload) : .aacFrame(payload)
    }

    /// A signed 24-bit big-endian integer.
    static func int24(_ bytes: ArraySlice<UInt8>, _ at: Int) -> Int32 {
        let value = Int32(bytes[at]) << 16 | Int32(bytes[at + 1]) << 8 | Int32(bytes[at + 2])
        return value & 0x80_0000 != 0 ? value - 0x100_0000 : value
    }
}

/// An AAC AudioSpecificConfig's sampling rate and channels (ISO 14496-3 §1.6.2.1).
struct AACConfig: Equatable {
    let sampleRate: Int
    let channels: Int

    static let rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// Nil for a configuration that cannot be read, or longer than an MP4 descriptor of one length byte
    /// carries (real ones are 2 to 5 bytes).
    init?(_ config: ArraySlice<UInt8>) {
        guard config.count >= 2, config.count <= 64 else { return nil }
        let bytes = Array(config.prefix(5))
        var bits = BitReader(bytes)
        var objectType = bits.read(5)
        if objectType == 31 { objectType = 32 + bits.read(6) }
        let index = bits.read(4)
        if index == 15 {
            guard bytes.count >= 5 else { return nil }
            sampleRate = bits.read(24)
        } else {
            guard index < Self.rates.count else { return nil }
            sampleRate = Self.rates[index]
        }
        channels = max(bits.read(4), 1)
        guard sampleRate > 0, objectType > 0 else { return nil }
    }
}

/// Bits read most significant first; past the end reads zeros.
struct BitReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func read(_ count: Int) -> Int {
        var value = 0
        for _ in 0..<count {
            let byte = position / 8 < bytes.count ? Int(bytes[position / 8]) : 0
            value = value << 1 | (byte >> (7 - position % 8)) & 1
            position += 1
        }
        return value
    }
}
