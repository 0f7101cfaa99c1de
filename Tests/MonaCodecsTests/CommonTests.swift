import Testing
@testable import MonaCodecs
import MonaValues

// Helpers shared by the JSON, XML-RPC, Query and XML tests (names prefixed to stay clear of the AMF tests).

/// The UTF-8 bytes of `text`.
func codecBytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The error `body` throws, or nil when it succeeds (an error other than `CodecError` is offset -1).
func codecFailure<T>(_ body: () throws -> T) -> CodecError? {
    do {
        _ = try body()
        return nil
    } catch let error as CodecError {
        return error
    } catch {
        return CodecError(offset: -1, message: "not a CodecError: \(error)")
    }
}

/// True when MVS accepts `values` (their references name complex values opened before them).
func codecValidMVS(_ values: [MonaValue]) -> Bool {
    (try? MVSReader.decode(MVSWriter.encode(values))) == values
}

/// The long ISO form of `milliseconds` at the machine's local offset, as the writers print it.
func codecLocalLong(_ milliseconds: Double) -> String {
    CodecDate.formatLong(milliseconds, offsetSeconds: CodecDate.localOffsetSeconds(atMilliseconds: milliseconds))!
}

/// The non-cyclic object of the FunctionalTests `Serializers` test (without the cyclic self reference):
/// string, 2.7, true, date, bytes, an array holding a typed object, a map, an array repeating the
/// previous items (as references), and a mixed table.
func codecFunctionalObject() -> MonaValue {
    // Numbering: 0 the object, 1 the array, 2 the typed object, 3 the map, 4 the repeating array, 5 the mixed.
    .object([
        MonaField("string", .string("string")),
        MonaField("number", .number(2.7)),
        MonaField("boolean", .boolean(true)),
        MonaField("date", .date(1_412_082_917_000)),
        MonaField("bytes", .bytes([0xFF, 0x00, 0x14])),
        MonaField("array", .array([.number(2.7), .boolean(true), .object(type: "test", fields: [MonaField("key", .string("val"))])])),
        MonaField("map", .map(weakKeys: true, entries: [MonaMapEntry(.string("map"), .string("map"))])),
        MonaField("repeat", .array([.reference(1), .reference(2), .reference(3)])),
        MonaField("mixed", .mixed(dense: [.string("elt1")], fields: [MonaField("prop", .string("prop"))])),
    ])
}

// MARK: - %.16g

@Test func numberFormatMatchesPrintfG16() {
    let vectors: [(Double, String)] = [
        (0, "0"), (-0.0, "-0"), (1, "1"), (-1, "-1"), (2.5, "2.5"), (2.7, "2.7"), (1.0 / 3, "0.3333333333333333"),
        (1e21, "1e+21"), (1e16, "1e+16"), (1e15, "1000000000000000"), (9_999_999_999_999_998, "9999999999999998"),
        (123_456_789_012_345_680, "1.234567890123457e+17"), (0.1, "0.1"), (0.1 + 0.2, "0.3"), (1e-7, "1e-07"),
        (-12.53, "-12.53"), (.leastNonzeroMagnitude, "4.940656458412465e-324"), (1.7976931348623157e308, "1.797693134862316e+308"),
        (268_435_456, "268435456"), (-2_147_483_648, "-2147483648"), (1412082917000, "1412082917000"),
        (.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf"),
    ]
    for (value, expected) in vectors {
        #expect(CodecNumber.format(value) == expected, "\(value)")
    }
}

@Test func int32RangeForXMLRPC() {
    #expect(CodecNumber.int32(2_147_483_647) == Int32.max)
    #expect(CodecNumber.int32(-2_147_483_648) == Int32.min)
    #expect(CodecNumber.int32(2_147_483_648) == nil)
    #expect(CodecNumber.int32(-2_147_483_649) == nil)
    #expect(CodecNumber.int32(1.5) == nil)
    #expect(CodecNumber.int32(.nan) == nil)
    #expect(CodecNumber.int32(.infinity) == nil)
    #expect(CodecNumber.int32(-0.0) == 0)
}

// MARK: - base64

@Test func base64RFC4648Vectors() {
    let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
    for (plain, encoded) in vectors {
        #expect(CodecBase64.encode(codecBytes(plain)) == encoded)
        #expect(CodecBase64.decode(encoded) == codecBytes(plain))
    }
    #expect(CodecBase64.encode([0xFF, 0x00, 0x14]) == "/wAU")
    #expect(CodecBase64.encode([0xFB, 0xFF]) == "+/8=")
    let all = (0...255).map { UInt8($0) }
    #expect(CodecBase64.decode(CodecBase64.encode(all)) == all)
}

@Test func base64DecodingIsStrict() {
    for bad in ["Zg", "Zg=", "Z===", "====", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm9 v", "Zm9vY", "Zm9v\n", "Zm=v"] {
        #expect(CodecBase64.decode(bad) == nil, "\(bad)")
    }
    #expect(CodecBase64.decode(codecBytes(" Zm9v\r\nYmFy ")[...], ignoringWhitespace: true) == codecBytes("foobar"))
    #expect(CodecBase64.decode(codecBytes("Zm9v!")[...], ignoringWhitespace: true) == nil)
}

// MARK: - dates

@Test func dateFormatsAtExplicitOffsets() {
    #expect(CodecDate.formatLong(0, offsetSeconds: 0) == "1970-01-01T00:00:00.000+00:00")
    #expect(CodecDate.formatLong(1_412_082_917_000, offsetSeconds: 0) == "2014-09-30T13:15:17.000+00:00")
    #expect(CodecDate.formatLong(1_398_139_200_000, offsetSeconds: 7200) == "2014-04-22T06:00:00.000+02:00")
    #expect(CodecDate.formatLong(1_398_139_200_123.9, offsetSeconds: -12600) == "2014-04-22T00:30:00.123-03:30")
    #expect(CodecDate.formatLong(-1, offsetSeconds: 0) == "1969-12-31T23:59:59.999+00:00")
    #expect(CodecDate.formatLong(951_782_400_000, offsetSeconds: 0) == "2000-02-29T00:00:00.000+00:00")
    #expect(CodecDate.formatLong(-62_135_596_800_000, offsetSeconds: 0) == "0001-01-01T00:00:00.000+00:00")
    #expect(CodecDate.formatLong(253_402_300_799_999, offsetSeconds: 0) == "9999-12-31T23:59:59.999+00:00")
    #expect(CodecDate.formatShort(0, offsetSeconds: 0) == "19700101T000000+00:00")
    #expect(CodecDate.formatShort(1_412_082_917_000, offsetSeconds: 19800) == "20140930T184517+05:30")
    #expect(CodecDate.formatLong(.nan, offsetSeconds: 0) == nil)
    #expect(CodecDate.formatLong(.infinity) == nil)
    #expect(CodecDate.formatShort(9e15) == nil)
}

@Test func dateUsesTheLocalOffset() {
    let offset = CodecDate.localOffsetSeconds(atMilliseconds: 0)
    #expect(offset % 60 == 0)
    #expect(CodecDate.formatLong(0) == CodecDate.formatLong(0, offsetSeconds: offset))
    if offset == 0 {  // TZ=UTC: the exact 1.x strings
        #expect(CodecDate.formatLong(0) == "1970-01-01T00:00:00.000+00:00")
        #expect(CodecDate.formatShort(0) == "19700101T000000+00:00")
    }
}

@Test func dateParsing() {
    let vectors: [(String, Double)] = [
        ("1970-01-01T00:00:00.000+00:00", 0),
        ("2014-09-30T13:15:17.000+00:00", 1_412_082_917_000),
        ("2014-04-22T06:00:00.000+02:00", 1_398_139_200_000),
        ("2014-04-22T06:00:00+02:00", 1_398_139_200_000),
        ("2014-04-22T04:00:00Z", 1_398_139_200_000),
        ("2014-04-22T04:00:00.5Z", 1_398_139_200_500),
        ("2014-04-22T04:00:00.123456Z", 1_398_139_200_123),
        ("20140422T040000Z", 1_398_139_200_000),
        ("20140422T04:00:00+0000", 1_398_139_200_000),
        ("20140422T060000+02:00", 1_398_139_200_000),
        ("2014-04-22 01:00:00-03", 1_398_139_200_000),
        ("1969-12-31T23:59:59.999+00:00", -1),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
    ]
    for (text, expected) in vectors {
        #expect(CodecDate.parse(text) == expected, "\(text)")
    }
    for bad in ["", "abc", "2014", "2014-13-01", "2014-02-30", "1900-02-29", "2014-01-01T25:00:00Z", "2014-01-01T10:60:00Z",
                "2014-01-01T10:00:00+25:00", "2014-01-01T10:00:00Zx", "2014-01-01T10:00:00.Z", "2014-0101", "2014-01-01X10:00"] {
        #expect(CodecDate.parse(bad) == nil, "\(bad)")
    }
    // Without an offset: local time.
    let local = CodecDate.parse("2014-04-22T06:00:00")!
    #expect(local == 1_398_146_400_000 - Double(CodecDate.localOffsetSeconds(atMilliseconds: local)) * 1000)
}

@Test func dateRoundTripsThroughTheLongForm() {
    var milliseconds = -62_135_596_800_000.0
    while milliseconds < 253_000_000_000_000 {  // stays within 4-digit years at +14:00
        for offset in [0, 3600, -18000, 19800, 50400] {
            let text = CodecDate.formatLong(milliseconds, offsetSeconds: offset)!
            #expect(CodecDate.parse(text) == milliseconds, "\(text)")
        }
        let short = CodecDate.formatShort(milliseconds, offsetSeconds: 0)!
        #expect(CodecDate.parse(short) == (milliseconds / 1000).rounded(.down) * 1000, "\(short)")
        milliseconds += 987_654_321_987
    }
    #expect(CodecDate.parse(codecLocalLong(1_412_082_917_000)) == 1_412_082_917_000)
}

// MARK: - shared helpers

@Test func functionalObjectIsValidMVS() {
    #expect(codecValidMVS([codecFunctionalObject()]))
}

@Test func codecErrorDescribesItself() {
    let error = CodecError(offset: 3, message: "JSON: bad")
    #expect(error.description == "JSON: bad (at byte 3)")
    #expect(CodecOutput(bytes: codecBytes("[]")).text == "[]")
}

// MARK: - mutated inputs never crash

/// A small deterministic generator (64-bit LCG).
struct CodecRandom {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}

@Test func mutatedInputsNeverCrashAnyReader() {
    let seeds: [[UInt8]] = [
        JSON.encode([codecFunctionalObject(), .string("a\"\\\u{1}é")]).bytes,
        XMLRPC.encode([codecFunctionalObject(), .date(0)]).bytes,
        Query.encode([codecFunctionalObject(), .string("x&y=z%")]).bytes,
        codecBytes(#"<?xml version="1.0" ?><a x="&amp;"><b>t&#233;</b><![CDATA[c]]><!-- d --></a>"#),
    ]
    let alphabet = codecBytes("[]{}<>/\"'\\:,=&%+#?!-.0123456789eEuxabtrfn \n\u{7F}") + [0xC3, 0xFF, 0x80]
    var random = CodecRandom(state: 42)
    var decoded = 0
    for _ in 0..<1500 {
        for seed in seeds {
            var bytes = seed
            for _ in 0...random.next(4) {
                let index = random.next(bytes.count + 1)
                switch random.next(3) {
                case 0 where index < bytes.count: bytes[index] = alphabet[random.next(alphabet.count)]
                case 1: bytes.insert(alphabet[random.next(alphabet.count)], at: index)
                default: if index < bytes.count { bytes.remove(at: index) }
                }
            }
            if (try? JSON.decode(bytes)) != nil { decoded += 1 }
            if (try? XMLRPC.decode(bytes)) != nil { decoded += 1 }
            _ = Query.decode(bytes) // never fails: it must not crash either
            if (try? XMLDOM.parse(bytes)) != nil { decoded += 1 }
        }
    }
    #expect(decoded > 0)
}
