/// ISO BMFF boxes written into one buffer: a box's size is filled in when its content is written.
struct MP4Writer {
    private(set) var bytes: [UInt8] = []

    /// A box of `type` (four ASCII characters) around what `content` writes.
    mutating func box(_ type: StaticString, _ content: (inout MP4Writer) -> Void) {
        let start = bytes.count
        u32(0)
        fourCC(type)
        content(&self)
        let size = UInt32(bytes.count - start)
        bytes[start] = UInt8(truncatingIfNeeded: size >> 24)
        bytes[start + 1] = UInt8(truncatingIfNeeded: size >> 16)
        bytes[start + 2] = UInt8(truncatingIfNeeded: size >> 8)
        bytes[start + 3] = UInt8(truncatingIfNeeded: size)
    }

    /// A full box: version and flags first.
    mutating func fullBox(_ type: StaticString, version: UInt8 = 0, flags: UInt32 = 0, _ content: (inout MP4Writer) -> Void) {
        box(type) { writer in
            writer.u32(UInt32(version) << 24 | flags & 0xFF_FFFF)
            content(&writer)
        }
    }

    mutating func fourCC(_ type: StaticString) {
        type.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func u64(_ value: UInt64) {
        u32(UInt32(truncatingIfNeeded: value >> 32))
        u32(UInt32(truncatingIfNeeded: value))
    }

    mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    mutating func append<Bytes: Collection>(_ data: Bytes) where Bytes.Element == UInt8 { bytes.append(contentsOf: data) }

    /// Where the next byte goes.
    var count: Int { bytes.count }

    /// Overwrites 4 bytes at `offset` (a field known only later, e.g. trun's data offset).
    mutating func patch(_ value: UInt32, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: value)
    }
}
