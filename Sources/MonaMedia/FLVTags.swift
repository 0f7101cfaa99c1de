/// The bytes of an FLV stream around the tag bodies the media model carries (the bodies already are
/// FLV audio, video and script tag bodies): the file header, each tag's 11-byte header and the
/// previous-tag-size that follows it. A value type without state: the caller writes the body between.
public enum FLVTags {
    /// Tag types.
    public static let audio: UInt8 = 8
    public static let video: UInt8 = 9
    public static let script: UInt8 = 18

    /// "FLV", version 1, audio and video present, header size 9, then the first previous-tag-size (0).
    public static let fileHeader: [UInt8] = [0x46, 0x4C, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]

    /// Largest body a tag can carry (24-bit size).
    public static let maxBody = 0xFF_FFFF

    /// Appends the header of a tag of `type` whose body is `size` bytes, at `time` ms (stream id 0).
    public static func appendHeader(_ type: UInt8, size: Int, time: UInt32, to out: inout [UInt8]) {
        out.append(type)
        out.append(UInt8(truncatingIfNeeded: size >> 16))
        out.append(UInt8(truncatingIfNeeded: size >> 8))
        out.append(UInt8(truncatingIfNeeded: size))
        out.append(UInt8(truncatingIfNeeded: time >> 16))
        out.append(UInt8(truncatingIfNeeded: time >> 8))
        out.append(UInt8(truncatingIfNeeded: time))
        out.append(UInt8(truncatingIfNeeded: time >> 24)) // the extended byte: the high 8 bits
        out.append(contentsOf: [0, 0, 0])
    }

    /// Appends the previous-tag-size that ends a tag whose body is `size` bytes.
    public static func appendTrailer(size: Int, to out: inout [UInt8]) {
        let total = UInt32(truncatingIfNeeded: size + 11)
        out.append(UInt8(truncatingIfNeeded: total >> 24))
        out.append(UInt8(truncatingIfNeeded: total >> 16))
        out.append(UInt8(truncatingIfNeeded: total >> 8))
        out.append(UInt8(truncatingIfNeeded: total))
    }

    /// A whole tag: header, body, trailer.
    public static func append(_ type: UInt8, time: UInt32, body: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        appendHeader(type, size: body.count, time: time, to: &out)
        out.append(contentsOf: body)
        appendTrailer(size: body.count, to: &out)
    }
}
