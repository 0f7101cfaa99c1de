import MonaValues

/// One decoded value before MVS numbering: a scalar, a complex value (a node id), or a reference
/// to a complex value (a node id).
enum AMFSlot {
    case value(MonaValue)
    case node(Int)
    case reference(Int)
}

/// One complex value read from the stream; its children are slots. Node ids follow stream order.
struct AMFNode {
    /// What the node becomes.
    enum Kind {
        case array
        case object(type: String)
        case mixed
        case map(weakKeys: Bool)
    }

    var kind: Kind
    /// Where its marker is, for errors.
    var offset: Int
    /// The elements of an array, or the dense part of a mixed array.
    var items: [AMFSlot] = []
    /// The fields of an object or a mixed array, in order.
    var fields: [(key: String, slot: AMFSlot)] = []
    /// The entries of a map, in order.
    var entries: [(key: AMFSlot, value: AMFSlot)] = []
}

/// What an AMF3 object table entry stands for.
enum AMF3Entry {
    /// A complex value (array, object, vector, dictionary, or an externalizable wrapper's content).
    case node(Int)
    /// A date, byte array or XML text: a reference to it yields a copy.
    case value(MonaValue)
    /// An externalizable object whose content is still being read: references to it are refused.
    case pending
}

/// One entry of the AMF3 traits table.
struct AMF3Traits {
    var className: String
    var sealed: [String]
    var dynamic: Bool
    var externalizable: Bool
}

/// The decoder behind `AMF.decode` and `AMF.decodeAMF3`.
///
/// Decoding happens in two steps. Reading builds nodes (one per complex value, in stream order)
/// whose children are slots, with references as node ids; every declared length or count is
/// checked against the bytes left before anything is reserved, and nesting is limited to
/// `AMF.maxDepth`. `finish` then builds the `MonaValue`s in MVS order (a mixed array's dense part
/// before its fields, whereas AMF3 stores the associative part first) and numbers the complex
/// values; a reference that would precede its target in MVS order gets the target itself, and the
/// target's own place gets the reference, so the result is always a valid MVS value list.
struct AMFReader {
    /// Upper bound on the capacity reserved up front for one container.
    static let maxReservation = 1024

    let bytes: [UInt8]
    /// The position of the next byte to read.
    var offset = 0
    /// Every complex value read, by node id.
    var nodes: [AMFNode] = []
    /// The AMF0 reference table: node ids of AMF0 objects, typed objects, ECMA and strict arrays.
    var amf0References: [Int] = []
    /// The AMF3 string table.
    var strings: [String] = []
    /// The AMF3 object table.
    var objects: [AMF3Entry] = []
    /// The AMF3 traits table.
    var traits: [AMF3Traits] = []

    /// Creates a reader over a whole stream.
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// True when every byte has been consumed.
    var isAtEnd: Bool { offset >= bytes.count }

    /// How many bytes are left.
    var remaining: Int { bytes.count - offset }

    /// Builds the values of `roots` (the top-level slots read) in MVS numbering.
    func finish(_ roots: [AMFSlot]) throws(AMFError) -> [MonaValue] {
        var builder = AMFTreeBuilder(nodes: nodes)
        var values: [MonaValue] = []
        values.reserveCapacity(roots.count)
        for root in roots {
            values.append(try builder.build(root, depth: 0))
        }
        return values
    }

    /// Creates the node of a complex value whose marker is at `start`, `depth` values deep.
    mutating func openNode(_ kind: AMFNode.Kind, at start: Int, depth: Int) throws(AMFError) -> Int {
        guard depth < AMF.maxDepth else { throw .tooDeep(offset: start) }
        nodes.append(AMFNode(kind: kind, offset: start))
        return nodes.count - 1
    }

    /// Checks that `count` items of at least `size` bytes each fit in the bytes left.
    func checkFits(_ count: Int, size: Int) throws(AMFError) {
        guard count <= remaining / size else { throw .truncated(offset: offset) }
    }

    // MARK: - AMF0

    /// Reads one AMF0 value (an AVM+ marker reads one AMF3 value).
    mutating func readAMF0(depth: Int) throws(AMFError) -> AMFSlot {
        let start = offset
        let marker = try readU8()
        switch marker {
        case AMF0Marker.number:
            return .value(.number(try readDouble()))
        case AMF0Marker.boolean:
            return .value(.boolean(try readU8() != 0))
        case AMF0Marker.string:
            return .value(.string(try readUTF8(Int(try readU16()))))
        case AMF0Marker.longString, AMF0Marker.xmlDocument:
            return .value(.string(try readUTF8(Int(try readU32()))))
        case AMF0Marker.null, AMF0Marker.undefined:
            return .value(.nil)
        case AMF0Marker.date:
            let milliseconds = try readDouble()
            _ = try readU16()  // time zone: ignored, the milliseconds are UTC
            return .value(.date(milliseconds))
        case AMF0Marker.object, AMF0Marker.typedObject:
            var type = ""
            if marker == AMF0Marker.typedObject {
                type = try readUTF8(Int(try readU16()))
            }
            let id = try openNode(.object(type: type), at: start, depth: depth)
            amf0References.append(id)
            let fields = try readAMF0Fields(depth: depth + 1)
            nodes[id].fields = fields
            return .node(id)
        case AMF0Marker.ecmaArray:
            let id = try openNode(.mixed, at: start, depth: depth)
            amf0References.append(id)
            _ = try readU32()  // the entry count is advisory: the object end closes the array
            let fields = try readAMF0Fields(depth: depth + 1)
            let (dense, named) = Self.splitDense(fields)
            nodes[id].items = dense
            nodes[id].fields = named
            return .node(id)
        case AMF0Marker.strictArray:
            let id = try openNode(.array, at: start, depth: depth)
            amf0References.append(id)
            let count = Int(try readU32())
            try checkFits(count, size: 1)
            var items: [AMFSlot] = []
            items.reserveCapacity(Swift.min(count, Self.maxReservation))
            for _ in 0..<count {
                items.append(try readAMF0(depth: depth + 1))
            }
            nodes[id].items = items
            return .node(id)
        case AMF0Marker.reference:
            let index = Int(try readU16())
            guard index < amf0References.count else {
                throw .badObjectReference(index, offset: start)
            }
            return .reference(amf0References[index])
        case AMF0Marker.avmPlus:
            return try readAMF3(depth: depth)
        case AMF0Marker.objectEnd:
            throw .unexpectedObjectEnd(offset: start)
        default:
            throw .unknownMarker(marker, offset: start)
        }
    }

    /// Reads AMF0 properties (16-bit key length, key, value) up to the object end 00 00 09.
    mutating func readAMF0Fields(depth: Int) throws(AMFError) -> [(key: String, slot: AMFSlot)] {
        var fields: [(key: String, slot: AMFSlot)] = []
        while true {
            let length = Int(try readU16())
            if length == 0 {
                guard offset < bytes.count else { throw .truncated(offset: offset) }
                if bytes[offset] == AMF0Marker.objectEnd {
                    offset += 1
                    return fields
                }
            }
            let key = try readUTF8(length)
            fields.append((key, try readAMF0(depth: depth)))
        }
    }

    /// Splits ECMA array entries into a dense part and fields: when the keys that are canonical
    /// positive integers ("1", "2", … without sign or leading zero) are exactly 1...n, those
    /// entries become the dense part in index order; otherwise every entry stays a field.
    static func splitDense(
        _ fields: [(key: String, slot: AMFSlot)]
    ) -> ([AMFSlot], [(key: String, slot: AMFSlot)]) {
        let numbered = fields.count(where: { denseIndex($0.key) != nil })
        guard numbered > 0 else { return ([], fields) }
        var dense = [AMFSlot?](repeating: nil, count: numbered)
        var rest: [(key: String, slot: AMFSlot)] = []
        for field in fields {
            guard let index = denseIndex(field.key) else {
                rest.append(field)
                continue
            }
            guard index <= numbered, dense[index - 1] == nil else { return ([], fields) }
            dense[index - 1] = field.slot
        }
        return (dense.compactMap { $0 }, rest)
    }

    /// The positive integer a key spells in canonical decimal (at most 9 digits), or nil.
    static func denseIndex(_ key: String) -> Int? {
        let utf8 = key.utf8
        guard let first = utf8.first, first >= 0x31, first <= 0x39, utf8.count <= 9 else { return nil }
        var value = 0
        for byte in utf8 {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    // MARK: - primitives

    /// Reads one byte.
    mutating func readU8() throws(AMFError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        let byte = bytes[offset]
        offset += 1
        return byte
    }

    /// Reads a big-endian 16-bit unsigned integer.
    mutating func readU16() throws(AMFError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(offset: offset) }
        let value = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        offset += 2
        return value
    }

    /// Reads a big-endian 32-bit unsigned integer.
    mutating func readU32() throws(AMFError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(offset: offset) }
        var value: UInt32 = 0
        for index in 0..<4 {
            value = value << 8 | UInt32(bytes[offset + index])
        }
        offset += 4
        return value
    }

    /// Reads a big-endian IEEE-754 double.
    mutating func readDouble() throws(AMFError) -> Double {
        guard remaining >= 8 else { throw .truncated(offset: offset) }
        var bits: UInt64 = 0
        for index in 0..<8 {
            bits = bits << 8 | UInt64(bytes[offset + index])
        }
        offset += 8
        return Double(bitPattern: bits)
    }

    /// Reads `length` bytes of text. Invalid UTF-8 is repaired (U+FFFD), since AMF peers send
    /// whatever bytes they have and one bad string should not reject a whole message.
    mutating func readUTF8(_ length: Int) throws(AMFError) -> String {
        guard length <= remaining else { throw .truncated(offset: offset) }
        if length == 0 { return "" }
        let text = String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        offset += length
        return text
    }

    /// Reads `length` raw bytes.
    mutating func readBytes(_ length: Int) throws(AMFError) -> [UInt8] {
        guard length <= remaining else { throw .truncated(offset: offset) }
        let run = Array(bytes[offset..<(offset + length)])
        offset += length
        return run
    }
}

/// Builds `MonaValue`s from the nodes of a reader, numbering complex values in MVS order.
struct AMFTreeBuilder {
    let nodes: [AMFNode]
    /// For each node id, its MVS number once built, or -1.
    var numbers: [Int]
    /// The MVS number of the next complex value built.
    var next = 0

    init(nodes: [AMFNode]) {
        self.nodes = nodes
        numbers = Array(repeating: -1, count: nodes.count)
    }

    /// Builds one slot `depth` complex values deep. A node already built (or being built) becomes
    /// a reference to it; the first occurrence in MVS order, reference or not, gets the value.
    mutating func build(_ slot: AMFSlot, depth: Int) throws(AMFError) -> MonaValue {
        let id: Int
        switch slot {
        case .value(let value):
            return value
        case .node(let node), .reference(let node):
            id = node
        }
        if numbers[id] >= 0 { return .reference(numbers[id]) }
        let node = nodes[id]
        guard depth < AMF.maxDepth else { throw .tooDeep(offset: node.offset) }
        numbers[id] = next
        next += 1
        switch node.kind {
        case .array:
            return .array(try buildItems(node.items, depth: depth + 1))
        case .object(let type):
            return .object(type: type, fields: try buildFields(node.fields, depth: depth + 1))
        case .mixed:
            let dense = try buildItems(node.items, depth: depth + 1)
            return .mixed(dense: dense, fields: try buildFields(node.fields, depth: depth + 1))
        case .map(let weakKeys):
            var entries: [MonaMapEntry] = []
            entries.reserveCapacity(node.entries.count)
            for entry in node.entries {
                let key = try build(entry.key, depth: depth + 1)
                entries.append(MonaMapEntry(key: key, value: try build(entry.value, depth: depth + 1)))
            }
            return .map(weakKeys: weakKeys, entries: entries)
        }
    }

    /// Builds a list of slots.
    mutating func buildItems(_ items: [AMFSlot], depth: Int) throws(AMFError) -> [MonaValue] {
        var values: [MonaValue] = []
        values.reserveCapacity(items.count)
        for item in items {
            values.append(try build(item, depth: depth))
        }
        return values
    }

    /// Builds keyed slots.
    mutating func buildFields(
        _ fields: [(key: String, slot: AMFSlot)], depth: Int
    ) throws(AMFError) -> [MonaField] {
        var built: [MonaField] = []
        built.reserveCapacity(fields.count)
        for field in fields {
            built.append(MonaField(key: field.key, value: try build(field.slot, depth: depth)))
        }
        return built
    }
}
