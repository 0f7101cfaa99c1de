import Testing
@testable import MonaCodecs
import MonaValues

// Hex vectors marked §3.8 are the MonaServer 1.x measurements of /work/shared/reference/lua-api.md;
// the other byte sequences are written by hand from the AMF0/AMF3 formats.

// MARK: - helpers

/// Bytes from hex pairs separated by spaces ("11 04 01").
private func hex(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// `toAMF(...)`: AMF0 switching to AMF3.
private func toAMF(_ values: MonaValue...) -> [UInt8] {
    AMF.encode(values, mode: .amf3Switching).bytes
}

/// `toAMF0(...)`: pure AMF0.
private func toAMF0(_ values: MonaValue...) -> [UInt8] {
    AMF.encode(values, mode: .amf0).bytes
}

/// The error decoding `bytes` fails with, or nil when it decodes.
private func failure(_ bytes: [UInt8], amf3: Bool = false) -> AMFError? {
    do throws(AMFError) {
        _ = amf3 ? try AMF.decodeAMF3(bytes) : try AMF.decode(bytes)
        return nil
    } catch {
        return error
    }
}

/// True when `values` form a valid MVS value list (references only to complex values opened
/// before, nesting within the MVS limit).
private func isValidMVS(_ values: [MonaValue]) -> Bool {
    (try? MVSReader.decode(MVSWriter.encode(values))) != nil
}

private func str(_ text: String) -> MonaValue { .string(text) }
private func num(_ number: Double) -> MonaValue { .number(number) }
private func obj(_ fields: MonaField...) -> MonaValue { .object(type: "", fields: fields) }

/// A big-endian double.
private func be(_ number: Double) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: number.bitPattern >> UInt64(56 - 8 * $0)) }
}

/// An AMF0 property name or short string body: 16-bit length + bytes.
private func utf(_ text: String) -> [UInt8] {
    let count = text.utf8.count
    return [UInt8(count >> 8), UInt8(count & 0xFF)] + Array(text.utf8)
}

/// An inline AMF3 string body shorter than 64 bytes: (length << 1 | 1) + bytes.
private func utf3(_ text: String) -> [UInt8] {
    [UInt8(text.utf8.count << 1 | 1)] + Array(text.utf8)
}

private let objectEnd: [UInt8] = [0x00, 0x00, 0x09]

/// A structure with every kind of value, shared and cyclic references, and a mixed array whose
/// field points into its own dense part. MVS numbers: 0 root, 1 arr, 2 typed, 3 map, 4 map key,
/// 5 again, 6 mixed, 7 mixed's inner array.
private let rich: MonaValue = obj(
    MonaField("string", str("string")),
    MonaField("double", num(2.7)),
    MonaField("int", num(-5)),
    MonaField("big", num(1e300)),
    MonaField("edge", num(-268_435_456)),
    MonaField("yes", .boolean(true)),
    MonaField("none", .nil),
    MonaField("date", .date(1_412_082_917_000)),
    MonaField("raw", .bytes([0xFF, 0x00, 0x14])),
    MonaField("arr", .array([num(2.7), .boolean(true), .object(type: "test", fields: [MonaField("key", str("val"))])])),
    MonaField("map", .map(weakKeys: true, entries: [
        MonaMapEntry(str("map"), str("map")), MonaMapEntry(obj(), num(1)), MonaMapEntry(num(2), .date(5)),
    ])),
    MonaField("again", .array([.reference(1), .reference(2), .reference(3), str("string"), .date(0)])),
    MonaField("self", .reference(0)),
    MonaField("mixed", .mixed(
        dense: [str("elt1"), .nil, .array([num(1)])],
        fields: [MonaField("prop", str("prop")), MonaField("back", .reference(7))])),
    MonaField("unicode", str("héllo ✓")),
    MonaField("empty", str(""))
)

private let richList: [MonaValue] = [
    num(3.7), rich, .nil, str("hello"), .reference(6), .array([]), .boolean(false), num(1), str("string"),
]

// MARK: - §3.8 vectors

@Test func toAMFVectors() {
    #expect(toAMF() == [])
    #expect(toAMF(num(1)) == hex("11 04 01"))
    #expect(toAMF(num(-1)) == hex("11 04 FF FF FF FF"))
    #expect(toAMF(num(268_435_456)) == hex("00 41 B0 00 00 00 00 00 00"))
    #expect(toAMF(num(2.5)) == hex("00 40 04 00 00 00 00 00 00"))
    #expect(toAMF(str("hi")) == hex("11 06 05 68 69"))
    #expect(toAMF(.boolean(true), .boolean(false), .nil) == hex("01 01 01 00 05"))
    #expect(toAMF(.array([])) == hex("11 09 01 01"))
    #expect(toAMF(.array([num(1), num(2)])) == hex("11 09 05 01 04 01 04 02"))
    #expect(toAMF(obj(MonaField("a", num(1)))) == hex("11 0A 0B 01 03 61 04 01 01"))
    #expect(toAMF(.object(type: "T", fields: [MonaField("a", num(1))])) == hex("11 0A 0B 03 54 03 61 04 01 01"))
    #expect(toAMF(.mixed(dense: [str("e1")], fields: [MonaField("prop", str("p"))]))
        == hex("11 09 03 09 70 72 6F 70 06 03 70 01 06 05 65 31"))
    #expect(toAMF(.bytes(Array("ab".utf8))) == hex("11 0C 05 61 62"))
    #expect(toAMF(.date(0)) == hex("11 08 01 00 00 00 00 00 00 00 00"))
    #expect(toAMF(.map(weakKeys: false, entries: [MonaMapEntry(str("k"), str("v"))])) == hex("11 11 03 00 06 03 6B 06 03 76"))
    #expect(toAMF(.array([.array([num(1)]), .reference(1)])) == hex("11 09 05 01 09 03 01 04 01 09 02"))
    #expect(toAMF(obj(MonaField("self", .reference(0)))) == hex("11 0A 0B 01 09 73 65 6C 66 0A 00 01"))
    #expect(toAMF(str("hi"), str("hi")) == hex("11 06 05 68 69 11 06 00"))
}

@Test func toAMF0Vectors() {
    #expect(toAMF0(obj(MonaField("self", .reference(0)))) == hex("03 00 04 73 65 6C 66 07 00 00 00 00 09"))
    #expect(toAMF0(num(1)) == hex("00 3F F0 00 00 00 00 00 00"))
    #expect(toAMF0(str("hi")) == hex("02 00 02 68 69"))
    #expect(toAMF0(.array([])) == hex("0A 00 00 00 00"))
    #expect(toAMF0(.array([num(1), num(2)]))
        == hex("0A 00 00 00 02 00 3F F0 00 00 00 00 00 00 00 40 00 00 00 00 00 00 00"))
    #expect(toAMF0(obj(MonaField("a", num(1)))) == hex("03 00 01 61 00 3F F0 00 00 00 00 00 00 00 00 09"))
    #expect(toAMF0(.object(type: "T", fields: [MonaField("a", num(1))]))
        == hex("10 00 01 54 00 01 61 00 3F F0 00 00 00 00 00 00 00 00 09"))
    #expect(toAMF0(.date(0)) == hex("0B 00 00 00 00 00 00 00 00 00 00"))
    let raw = AMF.encode([.bytes(Array("ab".utf8))], mode: .amf0)
    #expect(raw.bytes == hex("11 0C 05 61 62"))
    #expect(raw.warnings == ["AMF0 has no byte array type: written as AMF3"])
}

@Test func toAMF0MixedIsAnECMAArray() {
    // Deliberate change from 1.x (which switched to AMF3 `11 09 03 …`): an AMF0 ECMA array with the
    // dense part under "1"..."n" first, count = all entries, and no warning.
    let out = AMF.encode([.mixed(dense: [str("e1")], fields: [MonaField("prop", str("p"))])], mode: .amf0)
    #expect(out.bytes == hex("08 00 00 00 02 00 01 31 02 00 02 65 31 00 04 70 72 6F 70 02 00 01 70 00 00 09"))
    #expect(out.warnings.isEmpty)
}

@Test func toAMF0MapSwitchesToAMF3WithWarning() {
    let out = AMF.encode([.map(weakKeys: true, entries: [MonaMapEntry(str("k"), str("v"))]), .reference(0)], mode: .amf0)
    // The later top-level reference points into the AMF3 table through an AVM+ switch.
    #expect(out.bytes == hex("11 11 03 01 06 03 6B 06 03 76 11 11 00"))
    #expect(out.warnings == ["AMF0 has no map type: written as AMF3"])
}

// MARK: - encoder details

@Test func amf3IntegerBoundaries() {
    #expect(toAMF(num(127)) == hex("11 04 7F"))
    #expect(toAMF(num(128)) == hex("11 04 81 00"))
    #expect(toAMF(num(16_383)) == hex("11 04 FF 7F"))
    #expect(toAMF(num(16_384)) == hex("11 04 81 80 00"))
    #expect(toAMF(num(2_097_151)) == hex("11 04 FF FF 7F"))
    #expect(toAMF(num(2_097_152)) == hex("11 04 80 C0 80 00"))
    #expect(toAMF(num(268_435_455)) == hex("11 04 BF FF FF FF"))
    #expect(toAMF(num(-268_435_456)) == hex("11 04 C0 80 80 00"))
    #expect(toAMF(num(-268_435_457)) == [0x00] + be(-268_435_457))
    #expect(toAMF(num(-0.0)) == [0x00] + be(-0.0))
    #expect(toAMF(num(.nan)).count == 9)
    // Inside AMF3, non-integers are AMF3 doubles.
    #expect(toAMF(.array([num(1.5)])) == hex("11 09 03 01 05") + be(1.5))
}

@Test func amf3StringTableCoversKeysClassNamesAndValues() {
    // "a" as a key then as a value; "T" as a class name then as a value; "" never referenced.
    #expect(toAMF(obj(MonaField("a", str("a")), MonaField("b", str(""))), str("a"), str(""))
        == hex("11 0A 0B 01 03 61 06 00 03 62 06 01 01 11 06 00 11 06 01"))
    #expect(toAMF(.object(type: "T", fields: []), str("T")) == hex("11 0A 0B 03 54 01 11 06 00"))
    // Canonically equivalent strings with different bytes are not merged.
    #expect(toAMF(str("\u{E9}"), str("e\u{301}")) == hex("11 06 05 C3 A9 11 06 07 65 CC 81"))
}

@Test func amf3ObjectTableCountsDatesAndByteArrays() {
    // Table: 0 outer array, 1 date, 2 bytes, 3 inner array; the reference to the inner array is 3.
    let value = MonaValue.array([.date(0), .bytes([1]), .array([]), .reference(1)])
    #expect(toAMF(value) == hex("11 09 09 01 08 01") + be(0) + hex("0C 03 01 09 01 01 09 06"))
    // In AMF0 the reference table counts objects and arrays only.
    #expect(toAMF0(value) == hex("0A 00 00 00 04 0B") + be(0) + hex("00 00 11 0C 03 01 0A 00 00 00 00 07 00 01"))
}

@Test func amf0LongStringAndWarnings() {
    let long = String(repeating: "x", count: 70_000)
    #expect(toAMF0(str(long)) == [0x0C, 0x00, 0x01, 0x11, 0x70] + Array(long.utf8))
    let exact = String(repeating: "y", count: 65_535)
    #expect(toAMF0(str(exact)) == [0x02, 0xFF, 0xFF] + Array(exact.utf8))
    let skipped = AMF.encode([obj(
        MonaField("", .array([.array([])])), MonaField("k", .array([])), MonaField("r", .reference(3)),
        MonaField("s", .reference(2)),
    )], mode: .amf0)
    // The skipped field still takes MVS numbers 1 and 2: "k" is 3, and the reference to 2 gets
    // the value in full.
    #expect(skipped.bytes == hex("03 00 01 6B 0A 00 00 00 00 00 01 72 07 00 01 00 01 73 0A 00 00 00 00 00 00 09"))
    #expect(skipped.warnings == ["field with an empty key skipped (AMF cannot carry it)"])
    let bad = AMF.encode([.reference(3), .array([.reference(5)])], mode: .amf3Switching)
    #expect(bad.bytes == hex("11 01 11 09 03 01 01"))
    #expect(bad.warnings == ["reference to a complex value that does not exist: written as null"])
    // A reference before its target (not valid MVS) gets the value, and the target the reference.
    let early = AMF.encode([.reference(0), .array([])], mode: .amf3Switching)
    #expect(early.bytes == hex("11 09 01 01 11 09 00"))
    #expect(early.warnings.isEmpty)
    #expect(toAMF0(.reference(0), .array([])) == hex("0A 00 00 00 00 07 00 00"))
    let fromMap = AMF.encode([.map(weakKeys: false, entries: [MonaMapEntry(str("k"), .reference(1))]), .array([])], mode: .amf0)
    #expect(fromMap.bytes == hex("11 11 03 00 06 03 6B 09 01 01 11 09 02"))
}

@Test func mixedFieldPointingIntoItsDensePart() throws {
    // AMF3 writes fields first: the array is written at the field, the dense slot references it.
    let value = MonaValue.mixed(dense: [.array([num(1)])], fields: [MonaField("a", .reference(1))])
    let amf3 = AMF.encode([value], mode: .amf3Switching)
    #expect(amf3.bytes == hex("11 09 03 03 61 09 03 01 04 01 01 09 02"))
    #expect(amf3.warnings.isEmpty)
    #expect(try AMF.decode(amf3.bytes) == [value])
    let amf0 = toAMF0(value)
    #expect(amf0 == hex("08 00 00 00 02 00 01 31 0A 00 00 00 01 00") + be(1) + hex("00 01 61 07 00 01 00 00 09"))
    #expect(try AMF.decode(amf0) == [value])
}

@Test func mixedNumbersDenseBeforeFields() throws {
    // MVS numbers the dense array 1 and the field's array 2, though AMF3 writes the field first.
    let values: [MonaValue] = [
        .mixed(dense: [.array([num(1)])], fields: [MonaField("f", .array([num(2)]))]), .reference(1), .reference(2),
    ]
    let bytes = toAMF(values[0], values[1], values[2])
    #expect(bytes == hex("11 09 03 03 66 09 03 01 04 02 01 09 03 01 04 01 11 09 04 11 09 02"))
    #expect(try AMF.decode(bytes) == values)
    #expect(try AMF.decode(AMF.encode(values, mode: .amf0).bytes) == values)
}

@Test func amf3MapReferencingItsAMF0Owner() throws {
    // AMF3 cannot point into the AMF0 table: the owner is written again, in AMF3, inside the map.
    let value = obj(MonaField("m", .map(weakKeys: false, entries: [MonaMapEntry(str("k"), .reference(0))])))
    let out = AMF.encode([value], mode: .amf0)
    #expect(out.bytes == hex("03 00 01 6D 11 11 03 00 06 03 6B 0A 0B 01 03 6D 11 00 01 00 00 09"))
    #expect(out.warnings.contains("AMF3 cannot reference a value written in AMF0: written again in full"))
    let decoded = try AMF.decode(out.bytes)
    #expect(decoded == [obj(MonaField("m", .map(weakKeys: false, entries: [
        MonaMapEntry(str("k"), obj(MonaField("m", .reference(1)))),
    ])))])
    #expect(isValidMVS(decoded))
}

// MARK: - round trips

@Test func richRoundTripBothModes() throws {
    #expect(isValidMVS(richList))
    for mode in [AMFMode.amf3Switching, .amf0] {
        let out = AMF.encode(richList, mode: mode)
        #expect(try AMF.decode(out.bytes) == richList, "mode \(mode)")
        // Decoding then encoding again gives the same bytes.
        #expect(AMF.encode(try AMF.decode(out.bytes), mode: mode).bytes == out.bytes, "mode \(mode)")
    }
    #expect(AMF.encode(richList, mode: .amf3Switching).warnings.isEmpty)
    #expect(AMF.encode(richList, mode: .amf0).warnings
        == ["AMF0 has no byte array type: written as AMF3", "AMF0 has no map type: written as AMF3"])
}

@Test func pureAMF3RoundTrip() throws {
    // The AMF3 part of a switching stream without the 0x11 markers is a pure AMF3 stream.
    let values: [MonaValue] = [str("a"), rich, str("a"), .reference(3)]
    var writer = AMFWriter(values: values, mode: .amf3Switching)
    for value in values { writer.writeAMF3(value) }
    #expect(try AMF.decodeAMF3(writer.bytes) == values)
}

// MARK: - decoding hand-written samples

@Test func decodeRTMPConnect() throws {
    let body: [UInt8] = [0x02] + utf("connect") + [0x00] + be(1) + [0x03]
        + utf("app") + [0x02] + utf("live")
        + utf("flashVer") + [0x02] + utf("FMLE/3.0 (compatible; FMSc/1.0)")
        + utf("tcUrl") + [0x02] + utf("rtmp://localhost:1935/live")
        + utf("objectEncoding") + [0x00] + be(3)
        + objectEnd + [0x05] + [0x01, 0x01]
    let command = obj(
        MonaField("app", str("live")), MonaField("flashVer", str("FMLE/3.0 (compatible; FMSc/1.0)")),
        MonaField("tcUrl", str("rtmp://localhost:1935/live")), MonaField("objectEncoding", num(3)))
    let decoded = try AMF.decode(body)
    #expect(decoded == [str("connect"), num(1), command, .nil, .boolean(true)])
    #expect(decoded[2][field: "objectEncoding"] == num(3))
    #expect(toAMF0(str("connect"), num(1), command, .nil, .boolean(true)) == body)
}

@Test func decodeOnMetaDataECMAArray() throws {
    let body: [UInt8] = [0x02] + utf("@setDataFrame") + [0x02] + utf("onMetaData")
        + [0x08, 0x00, 0x00, 0x00, 0x03]
        + utf("duration") + [0x00] + be(10.5)
        + utf("videocodecid") + [0x00] + be(7)
        + utf("encoder") + [0x02] + utf("Lavf58")
        + objectEnd
    let metadata = MonaValue.mixed(dense: [], fields: [
        MonaField("duration", num(10.5)), MonaField("videocodecid", num(7)), MonaField("encoder", str("Lavf58")),
    ])
    #expect(try AMF.decode(body) == [str("@setDataFrame"), str("onMetaData"), metadata])
    #expect(toAMF0(str("@setDataFrame"), str("onMetaData"), metadata) == body)
}

@Test func decodeECMAArrayDenseKeys() throws {
    let head: [UInt8] = [0x08, 0x00, 0x00, 0x00, 0x00]
    // "2", "a", "1": the numeric keys are exactly 1...2, in any order.
    let shuffled = head + utf("2") + [0x01, 0x00] + utf("a") + [0x05] + utf("1") + [0x01, 0x01] + objectEnd
    #expect(try AMF.decode(shuffled) == [.mixed(dense: [.boolean(true), .boolean(false)], fields: [MonaField("a", .nil)])])
    // "1", "3": not a sequence, so every entry stays a field; "01" and "0" are not dense keys.
    let gap = head + utf("1") + [0x05] + utf("3") + [0x05] + objectEnd
    #expect(try AMF.decode(gap) == [.mixed(dense: [], fields: [MonaField("1", .nil), MonaField("3", .nil)])])
    let twice = head + utf("1") + [0x05] + utf("1") + [0x06] + objectEnd
    #expect(try AMF.decode(twice) == [.mixed(dense: [], fields: [MonaField("1", .nil), MonaField("1", .nil)])])
    let zero = head + utf("01") + [0x05] + utf("0") + [0x05] + objectEnd
    #expect(try AMF.decode(zero) == [.mixed(dense: [], fields: [MonaField("01", .nil), MonaField("0", .nil)])])
    // A dense item pointing at a field's object (stream order) is given the object in MVS order.
    let back = head + utf("a") + [0x03] + objectEnd + utf("1") + hex("07 00 01") + objectEnd
    let decoded = try AMF.decode(back)
    #expect(decoded == [.mixed(dense: [obj()], fields: [MonaField("a", .reference(1))])])
    #expect(isValidMVS(decoded))
}

@Test func decodeAMF0Details() throws {
    // Undefined, XML document, long string, typed object, date with a time zone, AVM+ inside an object.
    let bytes: [UInt8] = [0x06, 0x0F, 0, 0, 0, 4] + Array("<a/>".utf8) + [0x0C, 0, 0, 0, 2] + Array("hi".utf8)
        + [0x10] + utf("T") + utf("x") + [0x01, 0x01] + objectEnd
        + [0x0B] + be(1000) + [0xFF, 0x88]
        + [0x03] + utf("a") + hex("11 04 05") + utf("b") + hex("11 06 03 62") + objectEnd
    #expect(try AMF.decode(bytes) == [
        .nil, str("<a/>"), str("hi"), .object(type: "T", fields: [MonaField("x", .boolean(true))]), .date(1000),
        obj(MonaField("a", num(5)), MonaField("b", str("b"))),
    ])
    // A cycle through AMF0 references, and a reference to an earlier top-level array.
    #expect(try AMF.decode(hex("03 00 04 73 65 6C 66 07 00 00 00 00 09")) == [obj(MonaField("self", .reference(0)))])
    #expect(try AMF.decode(hex("0A 00 00 00 00 0A 00 00 00 01 07 00 00")) == [.array([]), .array([.reference(0)])])
    // Invalid UTF-8 is repaired rather than rejected.
    #expect(try AMF.decode(hex("02 00 02 C3 28")) == [str("\u{FFFD}(")])
    #expect(try AMF.decode([]) == [])
}

@Test func decodeAMF3SealedTraitsAndTraitReferences() throws {
    // Two "Point" objects with sealed x, y (traits 0x23: 2 sealed, not dynamic); the second
    // reuses the traits (0x01: traits reference 0).
    let point = hex("0A 23") + utf3("Point") + utf3("x") + utf3("y") + hex("04 01 04 02")
    let bytes = hex("09 05 01") + point + hex("0A 01 04 03 04 04")
    func typed(_ x: Double, _ y: Double) -> MonaValue {
        .object(type: "Point", fields: [MonaField("x", num(x)), MonaField("y", num(y))])
    }
    #expect(try AMF.decodeAMF3(bytes) == [.array([typed(1, 2), typed(3, 4)])])
    #expect(try AMF.decode([0x11] + bytes) == [.array([typed(1, 2), typed(3, 4)])])
    // Sealed and dynamic (0x1B: 1 sealed, dynamic), anonymous class.
    let both = hex("0A 1B 01") + utf3("a") + hex("04 05") + utf3("b") + hex("06 00 01")
    #expect(try AMF.decodeAMF3(both) == [obj(MonaField("a", num(5)), MonaField("b", str("a")))])
}

@Test func decodeAMF3StringReferences() throws {
    #expect(try AMF.decodeAMF3(hex("06 07 61 62 63 06 00 06 00 06 01 06 00")) == [str("abc"), str("abc"), str("abc"), str(""), str("abc")])
    #expect(try AMF.decodeAMF3(hex("0A 0B 01 07 61 62 63 06 00 01")) == [obj(MonaField("abc", str("abc")))])
    #expect(try AMF.decode(hex("11 06 05 68 69 11 06 00")) == [str("hi"), str("hi")])
}

@Test func decodeAMF3Scalars() throws {
    #expect(try AMF.decodeAMF3(hex("00 01 02 03 04 FF FF FF FF 04 C0 80 80 00 04 BF FF FF FF") + [0x05] + be(0.5)) == [
        .nil, .nil, .boolean(false), .boolean(true), num(-1), num(-268_435_456), num(268_435_455), num(0.5),
    ])
    // XML and XML document become strings; references to dates, byte arrays and XML yield copies.
    let bytes = hex("09 0D 01 0B 09") + Array("<a/>".utf8) + hex("08 01") + be(7) + hex("0C 03 41 08 04 0C 06 0B 02 07 03 62")
    #expect(try AMF.decodeAMF3(bytes) == [.array([
        str("<a/>"), .date(7), .bytes([0x41]), .date(7), .bytes([0x41]), str("<a/>"),
    ]), str("b")])
}

@Test func decodeAMF3ArraysAndVectors() throws {
    #expect(try AMF.decodeAMF3(hex("09 03 03 61 04 01 01 06 03 62")) == [.mixed(dense: [str("b")], fields: [MonaField("a", num(1))])])
    #expect(try AMF.decodeAMF3(hex("0D 05 00 00 00 00 01 FF FF FF FF")) == [.array([num(1), num(-1)])])
    #expect(try AMF.decodeAMF3(hex("0E 03 01 FF FF FF FF")) == [.array([num(4_294_967_295)])])
    #expect(try AMF.decodeAMF3(hex("0F 03 00") + be(1.5)) == [.array([num(1.5)])])
    #expect(try AMF.decodeAMF3(hex("10 05 00 01 06 03 61 04 01 10 00")) == [.array([str("a"), num(1)]), .reference(0)])
    // A dense item referencing an associative value (stream order) gets the value in MVS order.
    let decoded = try AMF.decodeAMF3(hex("09 03 03 61 0A 0B 01 01 01 0A 02"))
    #expect(decoded == [.mixed(dense: [obj()], fields: [MonaField("a", .reference(1))])])
    #expect(isValidMVS(decoded))
}

@Test func decodeAMF3Dictionary() throws {
    let bytes = hex("11 05 01 04 01 06 03 61 0A 0B 01 01 06 03 62")
    #expect(try AMF.decodeAMF3(bytes) == [.map(weakKeys: true, entries: [
        MonaMapEntry(num(1), str("a")), MonaMapEntry(obj(), str("b")),
    ])])
    #expect(try AMF.decode(hex("11 11 03 00 06 03 6B 06 03 76")) == [.map(weakKeys: false, entries: [MonaMapEntry(str("k"), str("v"))])])
}

@Test func decodeAMF3Externalizable() throws {
    let collection = hex("0A 07 43") + Array("flex.messaging.io.ArrayCollection".utf8)
    // [ArrayCollection([1, 2]), reference to the collection]: the collection is its array.
    let bytes = hex("09 05 01") + collection + hex("09 05 01 04 01 04 02 0A 02")
    #expect(try AMF.decodeAMF3(bytes) == [.array([.array([num(1), num(2)]), .reference(1)])])
    // A second collection through the traits reference (0x01), holding a non-complex value.
    #expect(try AMF.decodeAMF3(collection + hex("09 01 01 0A 01 06 03 61")) == [.array([]), str("a")])
    let proxy = hex("0A 07 3B") + Array("flex.messaging.io.ObjectProxy".utf8)
    #expect(try AMF.decodeAMF3(proxy + hex("0A 0B 01 03 61 04 01 01")) == [obj(MonaField("a", num(1)))])
    #expect(failure(hex("0A 07 07 44 53 4B 00"), amf3: true) == .unsupportedExternalizable("DSK", offset: 0))
    // A collection containing a reference to itself while it is being read.
    #expect(failure(collection + hex("09 03 01 0A 00"), amf3: true) == .badObjectReference(0, offset: 39))
}

// MARK: - malformed input

@Test func everyPrefixOfOneValueIsTruncated() {
    for mode in [AMFMode.amf3Switching, .amf0] {
        let bytes = AMF.encode([rich], mode: mode).bytes
        for length in 1..<bytes.count {
            let error = failure(Array(bytes[0..<length]))
            guard case .truncated = error else {
                Issue.record("mode \(mode), prefix \(length): \(String(describing: error))")
                return
            }
        }
    }
}

@Test func prefixesOfAListFailOrGiveLeadingValues() throws {
    let bytes = AMF.encode(richList, mode: .amf3Switching).bytes
    var complete = 0
    for length in 0...bytes.count {
        if let values = try? AMF.decode(Array(bytes[0..<length])) {
            #expect(Array(richList.prefix(values.count)) == values)
            complete += 1
        }
    }
    #expect(complete == richList.count + 1)
}

@Test func unknownMarkers() {
    for marker: UInt8 in [0x04, 0x0D, 0x0E, 0x12, 0xFF] {
        #expect(failure([marker]) == .unknownMarker(marker, offset: 0))
    }
    #expect(failure(hex("05 11 12")) == .unknownMarker(0x12, offset: 2))
    #expect(failure(hex("FF"), amf3: true) == .unknownMarker(0xFF, offset: 0))
    #expect(failure(hex("09")) == .unexpectedObjectEnd(offset: 0))
    #expect(failure(hex("0A 00 00 00 01 09")) == .unexpectedObjectEnd(offset: 5))
}

@Test func hugeLengthsAreTruncatedWithoutAllocating() {
    // The offset is where the declared content would start: the count is refused before reading.
    let cases: [(String, Int)] = [
        ("02 FF FF 61", 3), ("0C FF FF FF FF 61", 5), ("0F FF FF FF FF", 5), ("0A FF FF FF FF 05", 5),
        ("11 06 FF FF FF FF 61", 6), ("11 0C FF FF FF FF", 6), ("11 09 FF FF FF FF 01 01", 7),
        ("11 11 FF FF FF FF 00 01", 7), ("11 0D FF FF FF FF 00 00", 7), ("11 0F FF FF FF FF 00", 7),
        ("11 10 FF FF FF FF 00 01 01", 8), ("11 0A FF FF FF F3 01 01", 7), ("11 0B FF FF FF FF", 6),
        ("00 01 02", 1), ("0B 00 00 00 00 00 00 00 00 00", 9), ("11 04 FF FF FF", 5), ("08 00 00", 1),
        ("11 0A 0B 01 03 61", 6), ("03 00 01 61", 4), ("03 00 00", 3),
    ]
    for (bytes, offset) in cases {
        #expect(failure(hex(bytes)) == .truncated(offset: offset), "\(bytes)")
    }
}

@Test func badReferences() {
    #expect(failure(hex("11 06 02")) == .badStringReference(1, offset: 2))
    #expect(failure(hex("11 06 05 68 69 11 06 02")) == .badStringReference(1, offset: 7))
    #expect(failure(hex("11 09 00")) == .badObjectReference(0, offset: 1))
    #expect(failure(hex("11 09 01 01 11 08 02")) == .badObjectReference(1, offset: 5))
    #expect(failure(hex("11 0A 05")) == .badTraitsReference(1, offset: 1))
    #expect(failure(hex("11 0A 01")) == .badTraitsReference(0, offset: 1))
    #expect(failure(hex("07 00 00")) == .badObjectReference(0, offset: 0))
    #expect(failure(hex("0A 00 00 00 00 07 00 01")) == .badObjectReference(1, offset: 5))
}

@Test func depthLimit() {
    func nested(_ open: [UInt8], _ times: Int, _ leaf: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<times { bytes += open }
        return bytes + leaf
    }
    let arrays0 = hex("0A 00 00 00 01")
    #expect(failure(nested(arrays0, 512, [0x05])) == nil)
    #expect(failure(nested(arrays0, 513, [0x05])) == .tooDeep(offset: 512 * 5))
    #expect(failure(nested(arrays0, 10_000, [0x05])) == .tooDeep(offset: 512 * 5))
    #expect(failure(nested(hex("03 00 01 61"), 10_000, [0x05])) == .tooDeep(offset: 512 * 4))
    #expect(failure([0x11] + nested(hex("09 03 01"), 10_000, [0x01])) == .tooDeep(offset: 1 + 512 * 3))
    #expect(failure([0x11] + nested(hex("0A 0B 01 03 61"), 10_000, [0x01])) == .tooDeep(offset: 1 + 512 * 5))
    let collection = hex("0A 07 43") + Array("flex.messaging.io.ArrayCollection".utf8)
    guard case .tooDeep = failure(nested(collection, 10_000, [0x01]), amf3: true) else {
        Issue.record("nested collections not refused")
        return
    }
}

@Test func referencesMovedInMVSOrderStayWithinTheDepthLimit() {
    // A mixed array whose field holds a 300-deep chain C and whose dense item is a 299-deep chain
    // ending with a reference to C: in MVS order C is built at the end of the dense chain, 600 deep.
    func chain(_ depth: Int, _ leaf: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<depth { bytes += hex("09 03 01") }
        return bytes + leaf
    }
    let deep = hex("09 03 03 61") + chain(300, [0x01]) + [0x01] + chain(299, hex("09 02"))
    guard case .tooDeep = failure(deep, amf3: true) else {
        Issue.record("moved chain not refused: \(String(describing: failure(deep, amf3: true)))")
        return
    }
    let shallow = hex("09 03 03 61") + chain(100, [0x01]) + [0x01] + chain(99, hex("09 02"))
    #expect(failure(shallow, amf3: true) == nil)
}

@Test func mutatedStreamsNeverCrashAndDecodeToValidMVS() {
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    func random(_ bound: Int) -> Int {
        seed ^= seed << 13
        seed ^= seed >> 7
        seed ^= seed << 17
        return Int(seed % UInt64(bound))
    }
    let sources = [AMF.encode(richList, mode: .amf3Switching).bytes, AMF.encode(richList, mode: .amf0).bytes]
    var decoded = 0
    for round in 0..<6_000 {
        var bytes = sources[round % 2]
        for _ in 0...random(3) {
            let position = random(bytes.count)
            switch random(4) {
            case 0: bytes[position] = UInt8(random(256))
            case 1: bytes[position] = [0x00, 0x01, 0x7F, 0x80, 0xFF][random(5)]
            case 2: bytes.remove(at: position)
            default: bytes.insert(UInt8(random(256)), at: position)
            }
        }
        for amf3 in [false, true] {
            let values: [MonaValue]
            do throws(AMFError) {
                values = amf3 ? try AMF.decodeAMF3(bytes) : try AMF.decode(bytes)
            } catch {
                continue
            }
            decoded += 1
            if !isValidMVS(values) {
                Issue.record("invalid MVS from \(bytes)")
                return
            }
            _ = AMF.encode(values, mode: .amf0)
        }
    }
    #expect(decoded > 0)
}
