/// RFC 7016's variable-length unsigned integer (VLU, "7BitValue" in MonaServer): 7 bits per byte, most
/// significant group first, the high bit set on every byte but the last.
enum RTMFPVLU {
    /// Longest VLU accepted (10 bytes hold 64 bits; RTMFP values never need more than 9).
    static let maxBytes = 10

    /// How many bytes `value` takes.
    static func size(_ value: UInt64) -> Int {
        var count = 1
        var rest = value >> 7
        while rest != 0 {
            count += 1
            rest >>= 7
        }
        return count
    }

    /// Appends `value` to `bytes`.
    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        let count = size(value)
        for index in stride(from: count - 1, through: 0, by: -1) {
            let group = UInt8((value >> (7 * UInt64(index))) & 0x7F)
            bytes.append(index == 0 ? group : group | 0x80)
        }
    }
}

/// Reads big-endian integers, VLUs and byte runs from a borrowed slice of bytes. Every read answers
/// nil past the end (or for a VLU longer than `RTMFPVLU.maxBytes`), leaving the position unchanged, so a
/// truncated chunk is an error the caller handles, never a trap.
struct RTMFPReader {
    let bytes: ArraySlice<UInt8>
    /// Index (in `bytes`' own indices) of the next byte to read.
    private(set) var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    /// Bytes left to read.
    var remaining: Int { bytes.endIndex - position }
    /// True when everything was read.
    var atEnd: Bool { position >= bytes.endIndex }

    mutating func u8() -> UInt8? {
        guard position < bytes.endIndex else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next byte without consuming it.
    func peek() -> UInt8? { position < bytes.endIndex ? bytes[position] : nil }

    mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { position += 4 }
        return (UInt32(bytes[position]) << 24) | (UInt32(bytes[position + 1]) << 16)
            | (UInt32(bytes[position + 2]) << 8) | UInt32(bytes[position + 3])
    }

    mutating func vlu() -> UInt64? {
        var value: UInt64 = 0
        var index = position
        for _ in 0..<RTMFPVLU.maxBytes {
            guard index < bytes.endIndex else { return nil }
            let byte = bytes[index]
            index += 1
            value = (value << 7) | UInt64(byte & 0x7F)
            if byte & 0x80 == 0 {
                position = index
                return value
            }
        }
        return nil
    }

    /// A VLU that must fit an Int (lengths, counts): nil otherwise.
    mutating func length() -> Int? {
        let start = position
        guard let value = vlu(), value <= UInt64(Int32.max) else {
            position = start
            return nil
        }
        return Int(value)
    }

    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return bytes[position..<position + count]
    }

    /// Everything left.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { position = bytes.endIndex }
        return bytes[position...]
    }

    mutating func skip(_ count: Int) -> Bool { bytes(count) != nil }
}

/// Big-endian appends onto a byte array (the writing side of `RTMFPReader`).
extension Array where Element == UInt8 {
    mutating func appendU16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendU32(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }

    mutating func appendVLU(_ value: UInt64) { RTMFPVLU.append(value, to: &self) }

    /// A VLU length followed by the bytes.
    mutating func appendVLUPrefixed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        appendVLU(UInt64(bytes.count))
        append(contentsOf: bytes)
    }
}
