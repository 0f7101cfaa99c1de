import Testing
import MonaValues

// Byte vectors below are written by hand from the MVS block of mona_plugin.h.

/// The error decoding `bytes` fails with, or nil when it decodes.
private func decodeFailure(_ bytes: [UInt8]) -> MVSError? {
    do throws(MVSError) {
        _ = try MVSReader.decode(bytes)
        return nil
    } catch {
        return error
    }
}

/// The bytes of one value.
private func encoded(_ value: MonaValue) -> [UInt8] {
    MVSWriter.encode([value])
}

/// The bytes of one varuint.
private func varuint(_ value: UInt64) -> [UInt8] {
    var writer = MVSWriter()
    writer.writeVarUInt(value)
    return writer.bytes
}

/// `unit` laid end to end `times` times.
private func repeated(_ unit: [UInt8], _ times: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(unit.count * times)
    for _ in 0..<times { bytes += unit }
    return bytes
}

private let one: [UInt8] = [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]  // 1.0 little-endian

// MARK: - exact vectors

@Test func varuintVectors() {
    #expect(varuint(0) == [0x00])
    #expect(varuint(1) == [0x01])
    #expect(varuint(127) == [0x7F])
    #expect(varuint(128) == [0x80, 0x01])
    #expect(varuint(300) == [0xAC, 0x02])
    #expect(varuint(16_383) == [0xFF, 0x7F])
    #expect(varuint(16_384) == [0x80, 0x80, 0x01])
    #expect(varuint(UInt64(UInt32.max)) == [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
    #expect(varuint(UInt64.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
}

@Test func scalarVectors() throws {
    let cases: [(MonaValue, [UInt8])] = [
        (.nil, [0x01]),
        (.boolean(false), [0x02]),
        (.boolean(true), [0x03]),
        (.number(1.0), [0x04] + one),
        (.number(-2.5), [0x04, 0, 0, 0, 0, 0, 0, 0x04, 0xC0]),
        (.number(-0.0), [0x04, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        (.number(.infinity), [0x04, 0, 0, 0, 0, 0, 0, 0xF0, 0x7F]),
        (.string("hi"), [0x05, 0x02, 0x68, 0x69]),
        (.string(""), [0x05, 0x00]),
        (.string("é"), [0x05, 0x02, 0xC3, 0xA9]),
        (.bytes([0xDE, 0xAD]), [0x06, 0x02, 0xDE, 0xAD]),
        (.bytes([]), [0x06, 0x00]),
        (.date(1000.0), [0x07, 0, 0, 0, 0, 0, 0x40, 0x8F, 0x40]),
    ]
    for (value, bytes) in cases {
        #expect(encoded(value) == bytes)
        #expect(try MVSReader.decode(bytes) == [value])
    }
}

@Test func longStringUsesMultiByteLength() throws {
    let text = String(repeating: "a", count: 200)
    let bytes: [UInt8] = [0x05, 0xC8, 0x01] + [UInt8](repeating: 0x61, count: 200)
    #expect(encoded(.string(text)) == bytes)
    #expect(try MVSReader.decode(bytes) == [.string(text)])
}

@Test func complexVectors() throws {
    let cases: [(MonaValue, [UInt8])] = [
        (.array([]), [0x08, 0x00]),
        (.array([.nil, .boolean(true)]), [0x08, 0x02, 0x01, 0x03]),
        // OBJECT: type-name length + bytes, pair count, pairs (key length + bytes, value).
        (.object(type: "", fields: [MonaField("a", .number(1))]), [0x09, 0x00, 0x01, 0x01, 0x61, 0x04] + one),
        (.object(type: "T", fields: []), [0x09, 0x01, 0x54, 0x00]),
        (.object([]), [0x09, 0x00, 0x00]),
        (
            .object(type: "T", fields: [MonaField("ab", .boolean(true)), MonaField("c", .string("d"))]),
            [0x09, 0x01, 0x54, 0x02, 0x02, 0x61, 0x62, 0x03, 0x01, 0x63, 0x05, 0x01, 0x64]
        ),
        // MIXED: dense count, dense values, keyed count, pairs.
        (
            .mixed(dense: [.boolean(false)], fields: [MonaField("k", .nil)]),
            [0x0A, 0x01, 0x02, 0x01, 0x01, 0x6B, 0x01]
        ),
        (.mixed(dense: [], fields: []), [0x0A, 0x00, 0x00]),
        (.mixed(dense: [.nil, .nil], fields: []), [0x0A, 0x02, 0x01, 0x01, 0x00]),
        (.mixed(dense: [], fields: [MonaField("k", .boolean(true))]), [0x0A, 0x00, 0x01, 0x01, 0x6B, 0x03]),
        (
            .map(weakKeys: true, entries: [MonaMapEntry(.number(1), .string("x"))]),
            [0x0B, 0x01, 0x01, 0x04] + one + [0x05, 0x01, 0x78]
        ),
        (.map(weakKeys: false, entries: []), [0x0B, 0x00, 0x00]),
        (.array([.reference(0)]), [0x08, 0x01, 0x0C, 0x00]),
    ]
    for (value, bytes) in cases {
        #expect(encoded(value) == bytes)
        #expect(try MVSReader.decode(bytes) == [value])
    }
}

@Test func fieldOrderIsKept() throws {
    let value = MonaValue.object([MonaField("b", .nil), MonaField("a", .nil)])
    let bytes: [UInt8] = [0x09, 0x00, 0x02, 0x01, 0x62, 0x01, 0x01, 0x61, 0x01]
    #expect(encoded(value) == bytes)
    #expect(try MVSReader.decode(bytes) == [value])
    #expect(value != .object([MonaField("a", .nil), MonaField("b", .nil)]))
    #expect(value[field: "a"] == .nil)
    #expect(value[field: "c"] == nil)
}

@Test func emptyKeyIsASingleZeroLengthByte() throws {
    let value = MonaValue.object([MonaField("", .boolean(true))])
    let bytes: [UInt8] = [0x09, 0x00, 0x01, 0x00, 0x03]
    #expect(encoded(value) == bytes)
    #expect(try MVSReader.decode(bytes) == [value])
    #expect(value[field: ""] == .boolean(true))
    // Several empty keys, an empty type name, and an empty key in a MIXED.
    let twice = MonaValue.object([MonaField("", .nil), MonaField("", .boolean(false))])
    #expect(encoded(twice) == [0x09, 0x00, 0x02, 0x00, 0x01, 0x00, 0x02])
    #expect(try MVSReader.decode(encoded(twice)) == [twice])
    let mixed = MonaValue.mixed(dense: [.nil], fields: [MonaField("", .nil)])
    #expect(encoded(mixed) == [0x0A, 0x01, 0x01, 0x01, 0x00, 0x01])
    #expect(try MVSReader.decode(encoded(mixed)) == [mixed])
    // A non-canonical zero length (0x80 0x00) still reads as "", and is written back canonical.
    let spelled: [UInt8] = [0x09, 0x00, 0x01, 0x80, 0x00, 0x03]
    #expect(try MVSReader.decode(spelled) == [value])
    #expect(MVSWriter.encode(try MVSReader.decode(spelled)) == bytes)
}

@Test func pairCountsAreCounts() throws {
    // A count of 0 then a value is an empty object followed by that value, not an empty key.
    #expect(try MVSReader.decode([0x09, 0x00, 0x00, 0x03]) == [.object([]), .boolean(true)])
    #expect(try MVSReader.decode([0x0A, 0x00, 0x00, 0x03]) == [.mixed(dense: [], fields: []), .boolean(true)])
    // Multi-byte counts: 200 pairs.
    let fields = (0..<200).map { MonaField("k\($0)", .number(Double($0))) }
    let bytes = encoded(.object(fields))
    #expect(Array(bytes[0..<4]) == [0x09, 0x00, 0xC8, 0x01])
    #expect(try MVSReader.decode(bytes) == [.object(fields)])
    let mixedBytes = encoded(.mixed(dense: [], fields: fields))
    #expect(Array(mixedBytes[0..<4]) == [0x0A, 0x00, 0xC8, 0x01])
    #expect(try MVSReader.decode(mixedBytes) == [.mixed(dense: [], fields: fields)])
}

@Test func containersLargerThanTheReservationGrow() throws {
    let fields = (0..<5000).map { MonaField("", .number(Double($0))) }
    let dense = [MonaValue](repeating: .nil, count: 5000)
    let values: [MonaValue] = [
        .array(dense),
        .object(fields),
        .mixed(dense: dense, fields: fields),
        .map(weakKeys: false, entries: dense.map { MonaMapEntry($0, .boolean(true)) }),
    ]
    #expect(try MVSReader.decode(MVSWriter.encode(values)) == values)
}

@Test func nonCanonicalVarUIntsAreAccepted() throws {
    #expect(try MVSReader.decode([0x05, 0x80, 0x00]) == [.string("")])
    #expect(try MVSReader.decode([0x05, 0x81, 0x80, 0x00, 0x41]) == [.string("A")])
    // Ten bytes, the last holding bit 63 only: the largest varuint, here a reference index.
    let maxIndex: [UInt8] = [0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
    #expect(decodeFailure(maxIndex) == .badReference(Int.max, offset: 0))
}

// MARK: - references

@Test func referencesCountComplexValuesInTagOrder() throws {
    // [ {} , ref 1 ]: the array is 0, the object 1.
    let bytes: [UInt8] = [0x08, 0x02, 0x09, 0x00, 0x00, 0x0C, 0x01]
    #expect(try MVSReader.decode(bytes) == [.array([.object([]), .reference(1)])])
    // A reference may name the value still open (a cycle).
    #expect(try MVSReader.decode([0x09, 0x00, 0x01, 0x01, 0x73, 0x0C, 0x00]) == [
        .object([MonaField("s", .reference(0))])
    ])
    // Counting runs across the top-level values of one stream.
    #expect(try MVSReader.decode([0x08, 0x00, 0x0B, 0x00, 0x00, 0x0C, 0x01]) == [
        .array([]), .map(weakKeys: false, entries: []), .reference(1),
    ])
    var writer = MVSWriter()
    writer.write(.array([.object([]), .reference(1)]))
    #expect(writer.complexCount == 2)
    var reader = MVSReader(writer.bytes)
    _ = try reader.next()
    #expect(reader.complexCount == 2)
    #expect(reader.isAtEnd)
}

@Test func badReferences() {
    #expect(decodeFailure([0x0C, 0x00]) == .badReference(0, offset: 0))
    #expect(decodeFailure([0x08, 0x01, 0x0C, 0x01]) == .badReference(1, offset: 2))
    #expect(decodeFailure([0x08, 0x02, 0x09, 0x00, 0x00, 0x0C, 0x02]) == .badReference(2, offset: 5))
    // Scalars are not numbered.
    #expect(decodeFailure([0x05, 0x00, 0x01, 0x0C, 0x00]) == .badReference(0, offset: 3))
}

// MARK: - round trips and streams

private let sample = MonaValue.object(type: "com.example.Thing", fields: [
    MonaField("name", .string("Mona ✓")),
    MonaField("count", .number(42)),
    MonaField("ratio", .number(-0.125)),
    MonaField("ok", .boolean(true)),
    MonaField("nothing", .nil),
    MonaField("raw", .bytes([0x00, 0xFF, 0x10])),
    MonaField("when", .date(1_700_000_000_000)),
    MonaField("list", .array([
        .number(1), .string("two"), .array([.array([]), .object([])]),
    ])),
    MonaField("mixed", .mixed(dense: [.string("a"), .nil], fields: [MonaField("x", .number(3))])),
    MonaField("map", .map(weakKeys: true, entries: [
        MonaMapEntry(.number(1), .string("one")),
        MonaMapEntry(.object([]), .array([.reference(0)])),
        MonaMapEntry(.boolean(false), .map(weakKeys: false, entries: [])),
    ])),
    MonaField("", .object(type: "E", fields: [MonaField("", .string(""))])),
    MonaField("keyedOnly", .mixed(dense: [], fields: [MonaField("", .reference(2))])),
    MonaField("self", .reference(0)),
])

@Test func nestedRoundTrip() throws {
    let bytes = encoded(sample)
    #expect(try MVSReader.decode(bytes) == [sample])
    #expect(MVSWriter.encode(try MVSReader.decode(bytes)) == bytes)
}

@Test func deepestAllowedNestingRoundTrips() throws {
    var value = MonaValue.nil
    for _ in 0..<512 { value = .array([value]) }
    let bytes = encoded(value)
    #expect(MVSReader.maxDepth == 512)
    #expect(bytes == repeated([0x08, 0x01], 512) + [0x01])
    #expect(try MVSReader.decode(bytes) == [value])
    var object = MonaValue.nil
    for _ in 0..<512 { object = .object([MonaField("", object)]) }
    let objectBytes = encoded(object)
    #expect(objectBytes == repeated([0x09, 0x00, 0x01, 0x00], 512) + [0x01])
    #expect(try MVSReader.decode(objectBytes) == [object])
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x00] + objectBytes) == .tooDeep(offset: 2048))
}

@Test func multipleValuesInOneStream() throws {
    let values: [MonaValue] = [.string("connect"), .number(1), sample, .nil, .array([.reference(1)])]
    let bytes = MVSWriter.encode(values)
    #expect(try MVSReader.decode(bytes) == values)
    var reader = MVSReader(bytes)
    for value in values {
        #expect(try reader.next() == value)
    }
    #expect(try reader.next() == nil)
    #expect(try reader.next() == nil)
    #expect(try MVSReader.decode([]) == [])
    #expect(try MVSReader.decode([0x01, 0x03, 0x02]) == [.nil, .boolean(true), .boolean(false)])
}

// MARK: - malformed input

@Test func truncatedAtEveryPrefix() throws {
    let bytes = encoded(sample)
    #expect(bytes.count > 100)
    for length in 1..<bytes.count {
        let error = decodeFailure(Array(bytes[0..<length]))
        guard case .truncated(let offset) = error else {
            Issue.record("prefix \(length): \(String(describing: error))")
            continue
        }
        #expect(offset <= length)
    }
}

@Test func truncatedItems() {
    #expect(decodeFailure([0x04, 0, 0, 0]) == .truncated(offset: 1))
    #expect(decodeFailure([0x07]) == .truncated(offset: 1))
    #expect(decodeFailure([0x05]) == .truncated(offset: 1))
    #expect(decodeFailure([0x05, 0x80]) == .truncated(offset: 1))
    #expect(decodeFailure([0x05, 0x03, 0x61, 0x62]) == .truncated(offset: 2))
    #expect(decodeFailure([0x08, 0x02, 0x01]) == .truncated(offset: 2))
    #expect(decodeFailure([0x09]) == .truncated(offset: 1))  // type-name length
    #expect(decodeFailure([0x09, 0x02, 0x54]) == .truncated(offset: 2))  // type-name bytes
    #expect(decodeFailure([0x09, 0x00]) == .truncated(offset: 2))  // pair count
    #expect(decodeFailure([0x09, 0x00, 0x01]) == .truncated(offset: 3))  // 1 pair, no bytes
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x05, 0x61]) == .truncated(offset: 4))  // key bytes
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x01, 0x61]) == .truncated(offset: 5))  // value
    #expect(decodeFailure([0x09, 0x00, 0x02, 0x00, 0x01, 0x00, 0x05]) == .truncated(offset: 7))  // 2nd value
    #expect(decodeFailure([0x0A]) == .truncated(offset: 1))  // dense count
    #expect(decodeFailure([0x0A, 0x00]) == .truncated(offset: 2))  // keyed count
    #expect(decodeFailure([0x0A, 0x01, 0x01]) == .truncated(offset: 3))  // keyed count after dense
    #expect(decodeFailure([0x0A, 0x00, 0x01, 0x00]) == .truncated(offset: 3))  // 1 pair, 1 byte
    #expect(decodeFailure([0x0A, 0x00, 0x01, 0x00, 0x05]) == .truncated(offset: 5))  // value
    #expect(decodeFailure([0x0B]) == .truncated(offset: 1))
    #expect(decodeFailure([0x0B, 0x00, 0x01, 0x01]) == .truncated(offset: 3))
    #expect(decodeFailure([0x0C]) == .truncated(offset: 1))
}

@Test func hugeDeclaredLengths() throws {
    // 2^32 - 1 bytes declared, 2 present.
    #expect(decodeFailure([0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61, 0x62]) == .truncated(offset: 6))
    #expect(decodeFailure([0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) == .truncated(offset: 6))
    let maxCount: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
    #expect(decodeFailure([0x05] + maxCount) == .truncated(offset: 11))
    #expect(decodeFailure([0x08] + maxCount + [0x01]) == .truncated(offset: 11))
    #expect(decodeFailure([0x0A] + maxCount) == .truncated(offset: 11))
    #expect(decodeFailure([0x0B, 0x00] + maxCount) == .truncated(offset: 12))
    #expect(decodeFailure([0x09] + maxCount) == .truncated(offset: 11))  // type-name length
    #expect(decodeFailure([0x09, 0x00] + maxCount + [0x00, 0x01]) == .truncated(offset: 12))  // pairs
    #expect(decodeFailure([0x0A, 0x00] + maxCount + [0x00, 0x01]) == .truncated(offset: 12))  // pairs
    #expect(decodeFailure([0x0A, 0x01, 0x01] + maxCount) == .truncated(offset: 13))
    // 2^32 - 1 pairs declared, one present.
    #expect(decodeFailure([0x09, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x01]) == .truncated(offset: 7))
    // Counts just over what the bytes left can hold (one byte per value, two per pair or entry).
    #expect(decodeFailure([0x08, 0x03, 0x01, 0x01]) == .truncated(offset: 2))
    #expect(decodeFailure([0x0B, 0x00, 0x02, 0x01, 0x01, 0x01]) == .truncated(offset: 3))
    #expect(decodeFailure([0x09, 0x00, 0x02, 0x00, 0x01, 0x00]) == .truncated(offset: 3))
    #expect(decodeFailure([0x0A, 0x00, 0x03, 0x00, 0x01, 0x00, 0x01, 0x00]) == .truncated(offset: 3))
    // ... and exactly what they can hold.
    #expect(try MVSReader.decode([0x09, 0x00, 0x02, 0x00, 0x01, 0x00, 0x01]) == [
        .object([MonaField("", .nil), MonaField("", .nil)])
    ])
    // Nested containers each declaring a huge count stop at the first.
    let nested = repeated([0x08, 0xFF, 0xFF, 0x03], 100)
    #expect(decodeFailure(nested) == .truncated(offset: 4))
    let nestedObjects = repeated([0x09, 0x00, 0xFF, 0xFF, 0x03, 0x00], 100)
    #expect(decodeFailure(nestedObjects) == .truncated(offset: 5))
    let nestedMixed = repeated([0x0A, 0x00, 0xFF, 0xFF, 0x03, 0x00], 100)
    #expect(decodeFailure(nestedMixed) == .truncated(offset: 5))
}

@Test func unknownTags() {
    #expect(decodeFailure([0x0D]) == .unknownTag(0x0D, offset: 0))
    #expect(decodeFailure([0xFF]) == .unknownTag(0xFF, offset: 0))
    #expect(decodeFailure([0x01, 0x08, 0x01, 0x42]) == .unknownTag(0x42, offset: 3))
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x01, 0x61, 0x80]) == .unknownTag(0x80, offset: 5))
}

@Test func tagZeroIsRejectedAsAnUnknownTag() {
    #expect(MVSTag(rawValue: 0x00) == nil)
    #expect(MVSTag.allCases.map(\.rawValue) == Array(0x01...0x0C))
    #expect(decodeFailure([0x00]) == .unknownTag(0x00, offset: 0))
    #expect(decodeFailure([0x01, 0x00]) == .unknownTag(0x00, offset: 1))
    #expect(decodeFailure([0x08, 0x01, 0x00]) == .unknownTag(0x00, offset: 2))
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x01, 0x61, 0x00]) == .unknownTag(0x00, offset: 5))
    #expect(decodeFailure([0x0A, 0x01, 0x00, 0x00]) == .unknownTag(0x00, offset: 2))
    #expect(decodeFailure([0x0A, 0x00, 0x01, 0x00, 0x00]) == .unknownTag(0x00, offset: 4))
    #expect(decodeFailure([0x0B, 0x00, 0x01, 0x00, 0x01]) == .unknownTag(0x00, offset: 3))
    #expect(decodeFailure([0x0B, 0x00, 0x01, 0x01, 0x00]) == .unknownTag(0x00, offset: 4))
    // A trailing old-style END after a complete object is a value of its own, and invalid.
    #expect(decodeFailure([0x09, 0x00, 0x00, 0x00]) == .unknownTag(0x00, offset: 3))
    #expect(decodeFailure([0x0A, 0x00, 0x00, 0x00]) == .unknownTag(0x00, offset: 3))
    // The old END-terminated {a: nil} reads 0x01 as a pair count and 'a' (97) as a key length.
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x61, 0x01, 0x00]) == .truncated(offset: 4))
}

@Test func overlongVarUInts() {
    // Eleven bytes.
    let eleven: [UInt8] = [0x05] + [UInt8](repeating: 0x80, count: 10) + [0x00]
    #expect(decodeFailure(eleven) == .varuintOverflow(offset: 1))
    // Ten bytes whose last carries more than bit 63.
    let tooBig: [UInt8] = [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x02]
    #expect(decodeFailure(tooBig) == .varuintOverflow(offset: 1))
    let reference: [UInt8] = [0x08, 0x01, 0x0C] + [UInt8](repeating: 0x80, count: 11)
    #expect(decodeFailure(reference) == .varuintOverflow(offset: 3))
}

@Test func invalidUTF8() {
    #expect(decodeFailure([0x05, 0x01, 0xFF]) == .invalidUTF8(offset: 2))
    #expect(decodeFailure([0x05, 0x02, 0xC3, 0x28]) == .invalidUTF8(offset: 2))
    #expect(decodeFailure([0x05, 0x02, 0xC0, 0x80]) == .invalidUTF8(offset: 2))  // overlong NUL
    #expect(decodeFailure([0x05, 0x03, 0xED, 0xA0, 0x80]) == .invalidUTF8(offset: 2))  // surrogate
    #expect(decodeFailure([0x05, 0x01, 0xC3]) == .invalidUTF8(offset: 2))  // cut sequence
    #expect(decodeFailure([0x09, 0x01, 0x80, 0x00]) == .invalidUTF8(offset: 2))  // type name
    #expect(decodeFailure([0x09, 0x00, 0x01, 0x01, 0xFE, 0x01]) == .invalidUTF8(offset: 4))  // key
    #expect(decodeFailure([0x0A, 0x00, 0x01, 0x01, 0xFF, 0x01]) == .invalidUTF8(offset: 4))  // key
    // BYTES are not text.
    #expect(decodeFailure([0x06, 0x01, 0xFF]) == nil)
}

@Test func nestingTooDeep() {
    let arrays = repeated([0x08, 0x01], 10_000) + [0x01]
    #expect(decodeFailure(arrays) == .tooDeep(offset: 1024))
    let objects = repeated([0x09, 0x00, 0x01, 0x01, 0x61], 10_000)
    #expect(decodeFailure(objects) == .tooDeep(offset: 2560))
    let keyedMixed = repeated([0x0A, 0x00, 0x01, 0x00], 10_000)
    #expect(decodeFailure(keyedMixed) == .tooDeep(offset: 2048))
    let maps = repeated([0x0B, 0x00, 0x01], 10_000)
    #expect(decodeFailure(maps) == .tooDeep(offset: 1536))
    // One past the limit.
    let justOver = repeated([0x0A, 0x01], 513)
    #expect(decodeFailure(justOver) == .tooDeep(offset: 1024))
}

@Test func badMapFlags() {
    #expect(decodeFailure([0x0B, 0x02, 0x00]) == .badMapFlags(0x02, offset: 1))
    #expect(decodeFailure([0x0B, 0x81, 0x00]) == .badMapFlags(0x81, offset: 1))
}

@Test func readerStopsAtTheFirstError() throws {
    var reader = MVSReader([0x01, 0x0D, 0x01])
    #expect(try reader.next() == .nil)
    #expect(throws: MVSError.unknownTag(0x0D, offset: 1)) { try reader.next() }
    #expect(throws: MVSError.unknownTag(0x0D, offset: 1)) { try reader.next() }
}
