/// Reads the primitives of a Mona Value Stream (varuints, counts, byte runs, UTF-8 text, doubles)
/// from borrowed bytes, with MVSReader's checks and errors: the one place that parses them, shared by
/// `MVSReader` and by readers that go straight from a stream to something else (the host's Lua
/// bridge, the plugin kit's JSON writer) without building values.
public struct MVSCursor {
    /// The stream.
    public let bytes: UnsafeRawBufferPointer
    /// The position of the next byte to read.
    public var offset: Int

    /// A cursor at `offset` of `bytes` (borrowed: valid while they are).
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// True when every byte has been consumed.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// One byte (a tag, MAP flags).
    public mutating func byte() throws(MVSError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// An unsigned LEB128 integer of at most 10 bytes that fits in 64 bits.
    public mutating func varUInt() throws(MVSError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .truncated(offset: start) }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 {
                // The 10th byte holds bit 63 only, and must be the last.
                guard byte <= 0x01 else { throw .varuintOverflow(offset: start) }
                return result | (UInt64(byte) << 63)
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A varuint count of items needing at least `bytesPerItem` bytes each; a count that cannot fit
    /// in the bytes left is `.truncated` at the position where the items would start.
    public mutating func count(bytesPerItem: Int) throws(MVSError) -> Int {
        let count = try varUInt()
        guard count <= UInt64((bytes.count - offset) / bytesPerItem) else { throw .truncated(offset: offset) }
        return Int(count)
    }

    /// A varuint length and the run of that many bytes that follow it.
    public mutating func run() throws(MVSError) -> UnsafeRawBufferPointer {
        let length = try varUInt()
        guard length <= UInt64(bytes.count - offset) else { throw .truncated(offset: offset) }
        let range = offset..<(offset + Int(length))
        offset = range.upperBound
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// A varuint length and that many bytes of valid UTF-8, as a view of the stream.
    public mutating func text() throws(MVSError) -> UnsafeRawBufferPointer {
        let run = try run()
        if run.contains(where: { $0 >= 0x80 }), String(validating: run.bindMemory(to: UInt8.self), as: UTF8.self) == nil {
            throw .invalidUTF8(offset: offset - run.count)
        }
        return run
    }

    /// A varuint length and that many bytes of valid UTF-8, as a String.
    public mutating func string() throws(MVSError) -> String {
        let run = try run()
        if run.isEmpty { return "" }
        guard let text = String(validating: run.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw .invalidUTF8(offset: offset - run.count)
        }
        return text
    }

    /// An 8-byte little-endian IEEE-754 double.
    public mutating func double() throws(MVSError) -> Double {
        guard bytes.count - offset >= 8 else { throw .truncated(offset: offset) }
        var bits: UInt64 = 0
        withUnsafeMutableBytes(of: &bits) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 8)])) }
        offset += 8
        return Double(bitPattern: UInt64(littleEndian: bits))
    }
}
