/// Parses a Mona Value Stream one top-level value at a time.
///
/// The reader never traps on bad input and never reserves more than the input can justify: a
/// declared length or count that cannot fit in the bytes left is `.truncated` before any storage
/// is reserved, and nesting is limited to `maxDepth` complex values. References are validated
/// (they must name a complex value already opened in this stream) but returned verbatim.
/// After an error the reader is stuck: every later `next()` throws the same error.
public struct MVSReader: Sendable {
    /// The deepest nesting of complex values accepted (a top-level ARRAY is at depth 1).
    public static let maxDepth = 512

    /// Upper bound on the capacity reserved up front for one ARRAY/OBJECT/MIXED/MAP, so that nested
    /// containers declaring huge counts cannot multiply the reservation; beyond it arrays grow.
    private static let maxReservation = 1024

    private let bytes: [UInt8]
    /// The position of the next byte to read.
    public private(set) var offset: Int
    /// How many complex values (ARRAY/OBJECT/MIXED/MAP) have been opened so far in this stream.
    public private(set) var complexCount: Int = 0
    private var failure: MVSError?

    /// Creates a reader over a whole stream.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// True when every byte has been consumed.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Decodes every value of a stream.
    public static func decode(_ bytes: [UInt8]) throws(MVSError) -> [MonaValue] {
        var reader = MVSReader(bytes)
        var values: [MonaValue] = []
        while let value = try reader.next() {
            values.append(value)
        }
        return values
    }

    /// The string that starts a stream (an RPC's method name, say) and the offset of the value after
    /// it; nil when the stream does not start with a valid string.
    public static func leadingString(of bytes: [UInt8]) -> (text: String, end: Int)? {
        guard bytes.first == MVSTag.string.rawValue else { return nil }
        var reader = MVSReader(bytes)
        reader.offset = 1
        guard let text = try? reader.readString() else { return nil }
        return (text, reader.offset)
    }

    /// Reads the next top-level value, or returns nil at the end of the stream.
    public mutating func next() throws(MVSError) -> MonaValue? {
        if let failure { throw failure }
        guard offset < bytes.count else { return nil }
        do {
            return try readValue(depth: 0)
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: - values

    /// Reads one value whose tag is at `offset`; `depth` counts the complex values enclosing it.
    private mutating func readValue(depth: Int) throws(MVSError) -> MonaValue {
        let start = offset
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        let tag = bytes[offset]
        offset += 1
        guard let known = MVSTag(rawValue: tag) else { throw .unknownTag(tag, offset: start) }
        switch known {
        case .nil:
            return .nil
        case .false:
            return .boolean(false)
        case .true:
            return .boolean(true)
        case .number:
            return .number(try readDouble())
        case .string:
            return .string(try readString())
        case .bytes:
            let range = try readRun()
            return .bytes(Array(bytes[range]))
        case .date:
            return .date(try readDouble())
        case .array:
            try open(at: start, depth: depth)
            let count = try readCount(bytesPerItem: 1)
            let items = try readValues(count, depth: depth + 1)
            return .array(items)
        case .object:
            try open(at: start, depth: depth)
            let type = try readString()
            let fields = try readFields(depth: depth + 1)
            return .object(type: type, fields: fields)
        case .mixed:
            try open(at: start, depth: depth)
            let count = try readCount(bytesPerItem: 1)
            let dense = try readValues(count, depth: depth + 1)
            let fields = try readFields(depth: depth + 1)
            return .mixed(dense: dense, fields: fields)
        case .map:
            try open(at: start, depth: depth)
            guard offset < bytes.count else { throw .truncated(offset: offset) }
            let flags = bytes[offset]
            guard flags & ~0x01 == 0 else { throw .badMapFlags(flags, offset: offset) }
            offset += 1
            let count = try readCount(bytesPerItem: 2)
            var entries: [MonaMapEntry] = []
            entries.reserveCapacity(Swift.min(count, Self.maxReservation))
            for _ in 0..<count {
                let key = try readValue(depth: depth + 1)
                let value = try readValue(depth: depth + 1)
                entries.append(MonaMapEntry(key: key, value: value))
            }
            return .map(weakKeys: flags & 0x01 != 0, entries: entries)
        case .reference:
            let index = try readVarUInt()
            guard index < UInt64(complexCount) else {
                throw .badReference(Int(clamping: index), offset: start)
            }
            return .reference(Int(index))
        }
    }

    /// Checks the depth limit for a complex value whose tag is at `start`, then numbers it.
    private mutating func open(at start: Int, depth: Int) throws(MVSError) {
        guard depth < Self.maxDepth else { throw .tooDeep(offset: start) }
        complexCount += 1
    }

    /// Reads `count` values (count already checked against the bytes left).
    private mutating func readValues(_ count: Int, depth: Int) throws(MVSError) -> [MonaValue] {
        var items: [MonaValue] = []
        items.reserveCapacity(Swift.min(count, Self.maxReservation))
        for _ in 0..<count {
            items.append(try readValue(depth: depth))
        }
        return items
    }

    /// Reads a varuint count then that many keyed pairs. A key is a varuint length + UTF-8 bytes
    /// (length 0: the empty key), so a pair takes at least 2 bytes (key length, value tag).
    private mutating func readFields(depth: Int) throws(MVSError) -> [MonaField] {
        let count = try readCount(bytesPerItem: 2)
        var fields: [MonaField] = []
        fields.reserveCapacity(Swift.min(count, Self.maxReservation))
        for _ in 0..<count {
            let key = try readString()
            let value = try readValue(depth: depth)
            fields.append(MonaField(key: key, value: value))
        }
        return fields
    }

    // MARK: - primitives

    /// Reads an unsigned LEB128 integer of at most 10 bytes that fits in 64 bits.
    private mutating func readVarUInt() throws(MVSError) -> UInt64 {
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

    /// Reads a varuint count of items needing at least `bytesPerItem` bytes each; a count that
    /// cannot fit in the bytes left is `.truncated` at the position where the items would start.
    private mutating func readCount(bytesPerItem: Int) throws(MVSError) -> Int {
        let count = try readVarUInt()
        let fitting = (bytes.count - offset) / bytesPerItem
        guard count <= UInt64(fitting) else { throw .truncated(offset: offset) }
        return Int(count)
    }

    /// Reads a varuint length and returns the range of that many bytes that follow it.
    private mutating func readRun() throws(MVSError) -> Range<Int> {
        let length = try readVarUInt()
        guard length <= UInt64(bytes.count - offset) else { throw .truncated(offset: offset) }
        let range = offset..<(offset + Int(length))
        offset = range.upperBound
        return range
    }

    /// Reads a varuint length and that many bytes of UTF-8.
    private mutating func readString() throws(MVSError) -> String {
        let range = try readRun()
        if range.isEmpty { return "" }
        let text = bytes.withUnsafeBufferPointer { all in
            String(validating: UnsafeBufferPointer(rebasing: all[range]), as: UTF8.self)
        }
        guard let text else { throw .invalidUTF8(offset: range.lowerBound) }
        return text
    }

    /// Reads an 8-byte little-endian IEEE-754 double.
    private mutating func readDouble() throws(MVSError) -> Double {
        guard bytes.count - offset >= 8 else { throw .truncated(offset: offset) }
        var bits: UInt64 = 0
        for index in 0..<8 {
            bits |= UInt64(bytes[offset + index]) << UInt64(index * 8)
        }
        offset += 8
        return Double(bitPattern: bits)
    }
}
