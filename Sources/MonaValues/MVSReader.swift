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
        return bytes.withUnsafeBytes { raw in
            var cursor = MVSCursor(raw, offset: 1)
            guard let text = try? cursor.string() else { return nil }
            return (text, cursor.offset)
        }
    }

    /// Reads the next top-level value, or returns nil at the end of the stream.
    public mutating func next() throws(MVSError) -> MonaValue? {
        if let failure { throw failure }
        guard offset < bytes.count else { return nil }
        let stream = bytes
        let result: Result<MonaValue, MVSError> = stream.withUnsafeBytes { raw in
            var cursor = MVSCursor(raw, offset: offset)
            do throws(MVSError) {
                let value = try readValue(&cursor, depth: 0)
                offset = cursor.offset
                return .success(value)
            } catch {
                offset = cursor.offset
                return .failure(error)
            }
        }
        switch result {
        case .success(let value):
            return value
        case .failure(let error):
            failure = error
            throw error
        }
    }

    // MARK: - values

    /// Reads one value whose tag is at the cursor; `depth` counts the complex values enclosing it.
    private mutating func readValue(_ cursor: inout MVSCursor, depth: Int) throws(MVSError) -> MonaValue {
        let start = cursor.offset
        let tag = try cursor.byte()
        guard let known = MVSTag(rawValue: tag) else { throw .unknownTag(tag, offset: start) }
        switch known {
        case .nil:
            return .nil
        case .false:
            return .boolean(false)
        case .true:
            return .boolean(true)
        case .number:
            return .number(try cursor.double())
        case .string:
            return .string(try cursor.string())
        case .bytes:
            return .bytes(Array(try cursor.run()))
        case .date:
            return .date(try cursor.double())
        case .array:
            try open(at: start, depth: depth)
            let count = try cursor.count(bytesPerItem: 1)
            return .array(try readValues(&cursor, count, depth: depth + 1))
        case .object:
            try open(at: start, depth: depth)
            let type = try cursor.string()
            return .object(type: type, fields: try readFields(&cursor, depth: depth + 1))
        case .mixed:
            try open(at: start, depth: depth)
            let count = try cursor.count(bytesPerItem: 1)
            let dense = try readValues(&cursor, count, depth: depth + 1)
            return .mixed(dense: dense, fields: try readFields(&cursor, depth: depth + 1))
        case .map:
            try open(at: start, depth: depth)
            let flagsAt = cursor.offset
            let flags = try cursor.byte()
            guard flags & ~0x01 == 0 else { throw .badMapFlags(flags, offset: flagsAt) }
            let count = try cursor.count(bytesPerItem: 2)
            var entries: [MonaMapEntry] = []
            entries.reserveCapacity(Swift.min(count, Self.maxReservation))
            for _ in 0..<count {
                let key = try readValue(&cursor, depth: depth + 1)
                let value = try readValue(&cursor, depth: depth + 1)
                entries.append(MonaMapEntry(key: key, value: value))
            }
            return .map(weakKeys: flags & 0x01 != 0, entries: entries)
        case .reference:
            let index = try cursor.varUInt()
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
    private mutating func readValues(_ cursor: inout MVSCursor, _ count: Int, depth: Int) throws(MVSError) -> [MonaValue] {
        var items: [MonaValue] = []
        items.reserveCapacity(Swift.min(count, Self.maxReservation))
        for _ in 0..<count {
            items.append(try readValue(&cursor, depth: depth))
        }
        return items
    }

    /// Reads a varuint count then that many keyed pairs. A key is a varuint length + UTF-8 bytes
    /// (length 0: the empty key), so a pair takes at least 2 bytes (key length, value tag).
    private mutating func readFields(_ cursor: inout MVSCursor, depth: Int) throws(MVSError) -> [MonaField] {
        let count = try cursor.count(bytesPerItem: 2)
        var fields: [MonaField] = []
        fields.reserveCapacity(Swift.min(count, Self.maxReservation))
        for _ in 0..<count {
            let key = try cursor.string()
            let value = try readValue(&cursor, depth: depth)
            fields.append(MonaField(key: key, value: value))
        }
        return fields
    }
}
