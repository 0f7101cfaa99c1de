/// Builds a Mona Value Stream: values appended end to end into `bytes`.
///
/// Values are written verbatim: a `.reference(n)` is emitted as is, without checking that `n`
/// names a complex value already written (`complexCount` tells how many have been).
/// Writing recurses once per nesting level of the value.
public struct MVSWriter: Sendable {
    /// The stream written so far.
    public private(set) var bytes: [UInt8]
    /// How many complex values (ARRAY/OBJECT/MIXED/MAP) have been opened: the index the next one
    /// takes for a `.reference`.
    public private(set) var complexCount: Int = 0

    /// Creates an empty writer.
    public init() {
        bytes = []
    }

    /// Creates an empty writer whose buffer has room for `capacity` bytes.
    public init(reservingCapacity capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Encodes `values` as one stream.
    public static func encode(_ values: [MonaValue]) -> [UInt8] {
        var writer = MVSWriter()
        for value in values { writer.write(value) }
        return writer.bytes
    }

    /// Encodes one value as a stream of one value.
    public static func encode(_ value: MonaValue) -> [UInt8] {
        var writer = MVSWriter()
        writer.write(value)
        return writer.bytes
    }

    /// Appends one value (recursively). A negative `.reference` index is a programming error.
    public mutating func write(_ value: MonaValue) {
        switch value {
        case .nil:
            writeTag(.nil)
        case .boolean(let flag):
            writeTag(flag ? .true : .false)
        case .number(let number):
            writeTag(.number)
            writeDouble(number)
        case .string(let text):
            writeTag(.string)
            writeString(text)
        case .bytes(let raw):
            writeTag(.bytes)
            writeVarUInt(UInt64(raw.count))
            bytes.append(contentsOf: raw)
        case .date(let milliseconds):
            writeTag(.date)
            writeDouble(milliseconds)
        case .array(let items):
            writeTag(.array)
            complexCount += 1
            writeVarUInt(UInt64(items.count))
            for item in items { write(item) }
        case .object(let type, let fields):
            writeTag(.object)
            complexCount += 1
            writeString(type)
            writeFields(fields)
        case .mixed(let dense, let fields):
            writeTag(.mixed)
            complexCount += 1
            writeVarUInt(UInt64(dense.count))
            for item in dense { write(item) }
            writeFields(fields)
        case .map(let weakKeys, let entries):
            writeTag(.map)
            complexCount += 1
            bytes.append(weakKeys ? 0x01 : 0x00)
            writeVarUInt(UInt64(entries.count))
            for entry in entries {
                write(entry.key)
                write(entry.value)
            }
        case .reference(let index):
            precondition(index >= 0, "MVS reference index must not be negative")
            writeTag(.reference)
            writeVarUInt(UInt64(index))
        }
    }

    /// Appends one tag byte.
    public mutating func writeTag(_ tag: MVSTag) {
        bytes.append(tag.rawValue)
    }

    /// Appends an unsigned LEB128 integer (7 bits per byte, least significant group first).
    public mutating func writeVarUInt(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: rest))
    }

    /// Appends an IEEE-754 binary64 in little-endian byte order (8 bytes).
    public mutating func writeDouble(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a varuint byte length then the UTF-8 bytes of `text` (no tag).
    public mutating func writeString(_ text: String) {
        let utf8 = text.utf8
        writeVarUInt(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends a varuint byte length then `utf8` (no tag): a string or a key from bytes the caller
    /// has checked to be UTF-8.
    public mutating func writeString(utf8: UnsafeRawBufferPointer) {
        writeVarUInt(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends bytes as they are (the body of a BYTES value after its length, for instance).
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// Counts a complex value (ARRAY/OBJECT/MIXED/MAP) written with the primitives, so that
    /// `complexCount` stays the index the next one takes.
    public mutating func countComplex() {
        complexCount += 1
    }

    /// Appends a one-byte placeholder for a count not known yet; returns where it is, for `patchCount`.
    public mutating func reserveCount() -> Int {
        bytes.append(0)
        return bytes.count - 1
    }

    /// Writes `count` as the varuint at the placeholder `reserveCount` gave (moving what follows
    /// when it needs more than one byte).
    public mutating func patchCount(_ count: Int, at position: Int) {
        if count < 0x80 {
            bytes[position] = UInt8(count)
            return
        }
        var encoded = MVSWriter()
        encoded.writeVarUInt(UInt64(count))
        bytes.replaceSubrange(position..<(position + 1), with: encoded.bytes)
    }

    /// Appends a varuint count then the keyed pairs (key: varuint length + UTF-8; an empty key
    /// is the single length byte 0x00; then the value).
    private mutating func writeFields(_ fields: [MonaField]) {
        writeVarUInt(UInt64(fields.count))
        for field in fields {
            writeString(field.key)
            write(field.value)
        }
    }
}
