// MonaValues: the Mona Value Stream (MVS), the neutral value format of the plugin ABI.
//
// The format is specified in Sources/PluginABI/include/mona_plugin.h, block
// "values: the Mona Value Stream (MVS)". This module is its reference implementation:
// `MonaValue` is the in-memory model, `MVSWriter` produces streams, `MVSReader` parses them.
// Pure Swift, no Foundation.

/// The one-byte tags that start every value in an MVS stream.
///
/// 0x00 is not a tag: it is never written, and a reader rejects it like any unknown tag.
public enum MVSTag: UInt8, Sendable, CaseIterable {
    /// The nil value.
    case `nil` = 0x01
    /// Boolean false.
    case `false` = 0x02
    /// Boolean true.
    case `true` = 0x03
    /// An 8-byte little-endian IEEE-754 double.
    case number = 0x04
    /// A varuint length, then that many UTF-8 bytes.
    case string = 0x05
    /// A varuint length, then that many raw bytes.
    case bytes = 0x06
    /// An 8-byte little-endian double: milliseconds since 1970-01-01 UTC.
    case date = 0x07
    /// A varuint count, then that many values.
    case array = 0x08
    /// A type name (varuint length + bytes), a varuint count, then that many keyed pairs
    /// (key: varuint length + UTF-8 bytes, possibly empty; then a value).
    case object = 0x09
    /// A varuint count, that many values, then a varuint count and that many keyed pairs.
    case mixed = 0x0A
    /// A flags byte (bit 0: weak keys), a varuint count, then that many (key, value) pairs.
    case map = 0x0B
    /// A varuint index of a complex value (ARRAY/OBJECT/MIXED/MAP) opened earlier in the stream.
    case reference = 0x0C
}

/// One value of a Mona Value Stream.
///
/// Complex values (`array`, `object`, `mixed`, `map`) are numbered from 0 in the order their tags
/// appear in a stream; `reference(n)` stands for the n-th of them (shared tables and cycles).
/// References are kept verbatim: neither the reader nor the writer resolves them.
public indirect enum MonaValue: Equatable, Sendable {
    /// NIL (tag 0x01).
    case `nil`
    /// FALSE / TRUE (tags 0x02 / 0x03).
    case boolean(Bool)
    /// NUMBER (tag 0x04): a double.
    case number(Double)
    /// STRING (tag 0x05): UTF-8 text.
    case string(String)
    /// BYTES (tag 0x06): raw bytes (Lua: a table with __raw).
    case bytes([UInt8])
    /// DATE (tag 0x07): milliseconds since 1970-01-01 UTC (Lua: a table with __time).
    case date(Double)
    /// ARRAY (tag 0x08): a sequence (Lua: indexes 1..count).
    case array([MonaValue])
    /// OBJECT (tag 0x09): a type name (empty for a plain object) and keyed fields in order.
    case object(type: String, fields: [MonaField])
    /// MIXED (tag 0x0A): a dense part (Lua indexes 1..count) and keyed fields in order.
    case mixed(dense: [MonaValue], fields: [MonaField])
    /// MAP (tag 0x0B): entries whose keys may be any value (Lua: a table with __size).
    case map(weakKeys: Bool, entries: [MonaMapEntry])
    /// REFERENCE (tag 0x0C): the index-th complex value opened so far in the stream, from 0.
    case reference(Int)

    /// A plain object (empty type name) with the given fields.
    public static func object(_ fields: [MonaField]) -> MonaValue {
        .object(type: "", fields: fields)
    }

    /// True for the values that open a complex value (and so take a reference index) when written.
    public var isComplex: Bool {
        switch self {
        case .array, .object, .mixed, .map: return true
        default: return false
        }
    }

    /// The value of the first field named `key` of an OBJECT or MIXED, or nil.
    public subscript(field key: String) -> MonaValue? {
        switch self {
        case .object(_, let fields), .mixed(_, let fields):
            for field in fields where field.key == key { return field.value }
            return nil
        default:
            return nil
        }
    }
}

/// One keyed pair of an OBJECT or a MIXED, kept in stream order.
public struct MonaField: Equatable, Sendable {
    /// The key (UTF-8 text; may be empty).
    public var key: String
    /// The value.
    public var value: MonaValue

    /// Creates a field.
    public init(key: String, value: MonaValue) {
        self.key = key
        self.value = value
    }

    /// Creates a field without argument labels.
    public init(_ key: String, _ value: MonaValue) {
        self.key = key
        self.value = value
    }
}

/// One (key, value) entry of a MAP, kept in stream order.
public struct MonaMapEntry: Equatable, Sendable {
    /// The key: any value.
    public var key: MonaValue
    /// The value.
    public var value: MonaValue

    /// Creates an entry.
    public init(key: MonaValue, value: MonaValue) {
        self.key = key
        self.value = value
    }

    /// Creates an entry without argument labels.
    public init(_ key: MonaValue, _ value: MonaValue) {
        self.key = key
        self.value = value
    }
}

/// Why an MVS stream could not be read. Every offset is a byte position in the stream.
public enum MVSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The stream ends inside the item (varuint, double, byte run, tag, or a container's content
    /// whose declared count cannot fit in the bytes left) that starts at `offset`.
    case truncated(offset: Int)
    /// A tag that MVS does not define (0x00 included), at `offset`.
    case unknownTag(UInt8, offset: Int)
    /// A varuint starting at `offset` is longer than 10 bytes or exceeds 64 bits.
    case varuintOverflow(offset: Int)
    /// A string (or key, or type name) whose bytes start at `offset` is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A REFERENCE tag at `offset` names a complex value not opened yet (index clamped to Int).
    case badReference(Int, offset: Int)
    /// The complex value whose tag is at `offset` would nest deeper than `MVSReader.maxDepth`.
    case tooDeep(offset: Int)
    /// The MAP flags byte at `offset` has bits other than bit 0 (weak keys) set.
    case badMapFlags(UInt8, offset: Int)

    /// A one-line human description.
    public var description: String {
        switch self {
        case .truncated(let offset):
            return "MVS: truncated stream at offset \(offset)"
        case .unknownTag(let tag, let offset):
            return "MVS: unknown tag \(tag) at offset \(offset)"
        case .varuintOverflow(let offset):
            return "MVS: varuint overflow at offset \(offset)"
        case .invalidUTF8(let offset):
            return "MVS: invalid UTF-8 at offset \(offset)"
        case .badReference(let index, let offset):
            return "MVS: reference to unopened complex value \(index) at offset \(offset)"
        case .tooDeep(let offset):
            return "MVS: nesting deeper than \(MVSReader.maxDepth) at offset \(offset)"
        case .badMapFlags(let flags, let offset):
            return "MVS: unknown MAP flags \(flags) at offset \(offset)"
        }
    }
}
