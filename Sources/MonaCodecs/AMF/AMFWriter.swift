import MonaValues

/// The state of one `AMF.encode` call: the output, the AMF3 string table, the AMF0 and AMF3
/// object tables, and the bookkeeping that maps MVS reference numbers to them.
///
/// Every complex value (ARRAY/OBJECT/MIXED/MAP) has an MVS number: its rank in the preorder of the
/// whole value list (a MIXED numbers its dense part before its fields). `cursor` follows that
/// numbering while writing; AMF3 writes a mixed array's fields before its dense part, so the cursor
/// jumps there and back. A complex value written once records its AMF0 or AMF3 table index, and any
/// later occurrence of the same MVS number becomes a reference in the format being written.
/// When a reference cannot be expressed (AMF3 cannot point into the AMF0 table; a reference to a
/// value not written yet), the referenced value is written in full at that place instead.
/// Writing recurses once per nesting level of the values.
struct AMFWriter {
    /// The stream written so far.
    var bytes: [UInt8] = []
    /// Notes about what could not be written faithfully, each listed once.
    var warnings: [String] = []
    /// The flavour written.
    let mode: AMFMode

    /// Every complex value of the input, by MVS number.
    let complexValues: [MonaValue]
    /// For each MVS number, how many complex values its subtree holds (itself included).
    let subtreeSizes: [Int]
    /// The MVS number of the next complex value to write.
    var cursor = 0

    /// For each MVS number, its index in the AMF3 object table, or -1 when not written in AMF3.
    var amf3Index: [Int]
    /// For each MVS number, its index in the AMF0 reference table, or -1 when not written in AMF0.
    var amf0Index: [Int]
    /// How many entries the AMF3 object table holds (complex values, dates and byte arrays).
    var amf3ObjectCount = 0
    /// How many entries the AMF0 reference table holds (objects and arrays).
    var amf0ObjectCount = 0
    /// The AMF3 string table, keyed by exact UTF-8 bytes (Swift `String` equality would merge
    /// canonically equivalent but different byte sequences).
    var strings: [[UInt8]: Int] = [:]

    /// Prepares to write `values` (numbers their complex values in MVS order).
    init(values: [MonaValue], mode: AMFMode) {
        self.mode = mode
        var registry = ComplexRegistry()
        for value in values {
            registry.add(value)
        }
        complexValues = registry.values
        subtreeSizes = registry.sizes
        amf3Index = Array(repeating: -1, count: registry.values.count)
        amf0Index = Array(repeating: -1, count: registry.values.count)
    }

    /// Writes one top-level value in the writer's mode.
    mutating func writeTopLevel(_ value: MonaValue) {
        switch mode {
        case .amf0:
            writeAMF0(value)
        case .amf3Switching:
            switch value {
            case .nil:
                bytes.append(AMF0Marker.null)
            case .boolean(let flag):
                bytes.append(AMF0Marker.boolean)
                bytes.append(flag ? 1 : 0)
            case .number(let number) where Self.amf3Integer(number) == nil:
                bytes.append(AMF0Marker.number)
                writeDouble(number)
            default:
                bytes.append(AMF0Marker.avmPlus)
                writeAMF3(value)
            }
        }
    }

    // MARK: - MVS numbering

    /// Takes the MVS number of the complex value about to be written.
    mutating func open() -> Int {
        let index = cursor
        cursor += 1
        return index
    }

    /// Moves the cursor past the subtree of the complex value numbered `index`.
    mutating func close(_ index: Int) {
        cursor = index + subtreeSizes[index]
    }

    /// Moves the cursor past `value` when it is not written (a skipped field).
    mutating func skip(_ value: MonaValue) {
        if value.isComplex {
            close(cursor)
        }
    }

    /// True when `index` names a complex value of the input.
    func isValidReference(_ index: Int) -> Bool {
        index >= 0 && index < complexValues.count
    }

    /// Writes the complex value numbered `index` in full at the current place, in AMF3 or AMF0,
    /// numbering its subtree from `index` again, then puts the cursor back.
    mutating func rewrite(_ index: Int, asAMF3: Bool) {
        let saved = cursor
        cursor = index
        if asAMF3 {
            writeAMF3(complexValues[index])
        } else {
            writeAMF0(complexValues[index])
        }
        cursor = saved
    }

    /// Records a warning unless it is already listed.
    mutating func warn(_ text: String) {
        if !warnings.contains(text) {
            warnings.append(text)
        }
    }

    // MARK: - primitives

    /// The AMF3 integer for `number` when it is integral, in the U29 range, and not -0.
    static func amf3Integer(_ number: Double) -> Int32? {
        // Range first (NaN fails it), then a truncating conversion: no libm needed.
        guard number >= AMF3Limits.minInteger, number <= AMF3Limits.maxInteger else { return nil }
        let integer = Int32(number)
        guard Double(integer) == number, !(number == 0 && number.sign == .minus) else { return nil }
        return integer
    }

    /// Appends a big-endian 16-bit integer.
    mutating func writeU16(_ value: Int) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a big-endian 32-bit integer.
    mutating func writeU32(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a big-endian IEEE-754 double.
    mutating func writeDouble(_ value: Double) {
        let bits = value.bitPattern
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
        }
    }

    /// Appends an AMF3 U29 (1 to 4 bytes); only the low 29 bits of `value` are kept.
    mutating func writeU29(_ value: Int) {
        let bits = UInt32(truncatingIfNeeded: value) & 0x1FFF_FFFF
        if bits < 0x80 {
            bytes.append(UInt8(bits))
        } else if bits < 0x4000 {
            bytes.append(UInt8(bits >> 7) | 0x80)
            bytes.append(UInt8(bits & 0x7F))
        } else if bits < 0x20_0000 {
            bytes.append(UInt8(bits >> 14) | 0x80)
            bytes.append(UInt8((bits >> 7) & 0x7F) | 0x80)
            bytes.append(UInt8(bits & 0x7F))
        } else {
            bytes.append(UInt8(bits >> 22) | 0x80)
            bytes.append(UInt8((bits >> 15) & 0x7F) | 0x80)
            bytes.append(UInt8((bits >> 8) & 0x7F) | 0x80)
            bytes.append(UInt8(bits & 0xFF))
        }
    }
}

/// Collects the complex values of a value list in MVS order, with the size of each subtree.
private struct ComplexRegistry {
    var values: [MonaValue] = []
    var sizes: [Int] = []

    /// Numbers `value` and the complex values inside it (dense part before fields, key before value).
    mutating func add(_ value: MonaValue) {
        guard value.isComplex else { return }
        let index = values.count
        values.append(value)
        sizes.append(0)
        switch value {
        case .array(let items):
            for item in items { add(item) }
        case .object(_, let fields):
            for field in fields { add(field.value) }
        case .mixed(let dense, let fields):
            for item in dense { add(item) }
            for field in fields { add(field.value) }
        case .map(_, let entries):
            for entry in entries {
                add(entry.key)
                add(entry.value)
            }
        default:
            break
        }
        sizes[index] = values.count - index
    }
}

/// The texts of `AMFOutput.warnings`.
enum AMFWarning {
    static let bytes = "AMF0 has no byte array type: written as AMF3"
    static let map = "AMF0 has no map type: written as AMF3"
    static let badReference = "reference to a complex value that does not exist: written as null"
    static let referenceOverflow = "AMF0 reference number over 65535: written as null"
    static let emptyKey = "field with an empty key skipped (AMF cannot carry it)"
    static let longKey = "field key longer than 65535 bytes skipped (AMF0 cannot carry it)"
    static let longTypeName = "type name longer than 65535 bytes: AMF0 object written untyped"
    static let longString = "string longer than 4 GiB: written empty"
    static let amf0Copy = "AMF3 cannot reference a value written in AMF0: written again in full"
    static let tooLong = "string, byte array or container too long for AMF3 (over 2^28-1): written empty or null"
}
