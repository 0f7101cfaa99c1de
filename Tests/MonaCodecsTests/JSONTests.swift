import Testing
@testable import MonaCodecs
import MonaValues

private func json(_ values: MonaValue...) -> String { JSON.encode(values).text }

private func fromJSON(_ text: String) throws(CodecError) -> [MonaValue] { try JSON.decode(codecBytes(text)) }

// MARK: - writer vectors (lua-api.md §3.4, §3.8)

@Test func jsonWriterFunctionalTestsVectors() {
    #expect(json() == "[]")
    #expect(json(.array([])) == "[[]]")
    #expect(json(.array([.array([])])) == "[[[]]]")
    #expect(json(.number(1), .string("a"), .boolean(true), .nil, .number(2.5)) == #"[1,"a",true,null,2.5]"#)
}

@Test func jsonWriterMeasuredVectors() {
    #expect(json(.object([MonaField("a", .number(1))])) == #"[{"a":1}]"#)
    #expect(json(.array([.number(1), .number(2), .number(3)])) == "[[1,2,3]]")
    #expect(json(.object(type: "T", fields: [MonaField("x", .number(1))])) == #"[{"__type":"T","x":1}]"#)
    #expect(json(.object(type: "T", fields: [])) == #"[{"__type":"T"}]"#)
    #expect(json(.bytes([0xFF, 0x00, 0x14])) == #"[{"__raw":"/wAU"}]"#)
    #expect(json(.number(1.0 / 3), .number(1e21), .number(-0.0)) == "[0.3333333333333333,1e+21,-0]")
    #expect(json(.mixed(dense: [.string("e1")], fields: [MonaField("prop", .string("p"))])) == #"[[{"prop":"p"},"e1"]]"#)
    #expect(json(.object([])) == "[{}]")
}

@Test func jsonWriterDates() {
    #expect(json(.date(0)) == "[\"\(codecLocalLong(0))\"]")
    #expect(json(.date(1_412_082_917_000)) == "[\"\(codecLocalLong(1_412_082_917_000))\"]")
    if CodecDate.localOffsetSeconds(atMilliseconds: 0) == 0 {
        #expect(json(.date(0)) == #"["1970-01-01T00:00:00.000+00:00"]"#)
    }
    let output = JSON.encode([.date(.nan)])
    #expect(output.text == "[null]")
    #expect(output.warnings.count == 1)
}

@Test func jsonWriterMapIsAnObjectWithSizeAndAWarning() {
    let output = JSON.encode([.map(weakKeys: false, entries: [MonaMapEntry(.string("map"), .string("m"))])])
    #expect(output.text == #"[{"map":"m","__size":1}]"#)
    #expect(output.warnings == ["JSON doesn't support map type, a object will be written rather"])
    let keys = JSON.encode([.map(weakKeys: true, entries: [
        MonaMapEntry(.number(1), .boolean(true)), MonaMapEntry(.boolean(false), .nil),
        MonaMapEntry(.array([.number(2)]), .string("t")),
    ])])
    #expect(keys.text == #"[{"1":true,"false":null,"[2]":"t","__size":3}]"#)
    #expect(JSON.encode([.map(weakKeys: false, entries: [])]).text == #"[{"__size":0}]"#)
}

@Test func jsonWriterRepeatsSharedTablesAndNullsCycles() {
    // s = {1}; toJSON({s, s}) → [[[1],[1]]]
    let shared: [MonaValue] = [.array([.array([.number(1)]), .reference(1)])]
    #expect(codecValidMVS(shared))
    let repeated = JSON.encode(shared)
    #expect(repeated.text == "[[[1],[1]]]")
    #expect(repeated.warnings.isEmpty)
    // t.self = t → [{"self":null}] and a warning.
    let cyclic = JSON.encode([.object([MonaField("self", .reference(0))])])
    #expect(cyclic.text == #"[{"self":null}]"#)
    #expect(cyclic.warnings == ["JSON doesn't support fully cyclic referencing"])
    // A reference across top-level values, and a repeated table holding a cycle to its parent.
    let across: [MonaValue] = [.array([.number(1)]), .reference(0)]
    #expect(JSON.encode(across).text == "[[1],[1]]")
    let inner: [MonaValue] = [.array([.array([.reference(0)]), .reference(1)])]
    #expect(codecValidMVS(inner))
    #expect(JSON.encode(inner).text == "[[[null],[null]]]")
    // A repeated table with its own self cycle is expanded once, not forever.
    let selfCycle: [MonaValue] = [.array([.array([.reference(1)]), .reference(1)])]
    #expect(JSON.encode(selfCycle).text == "[[[null],[null]]]")
}

@Test func jsonWriterResolvesReferencesInStreamOrderForMixed() {
    // Numbering follows MVS (dense part before fields) although JSON writes the fields first.
    let fieldToDense: [MonaValue] = [.mixed(dense: [.array([.number(1)])], fields: [MonaField("f", .reference(1))])]
    #expect(codecValidMVS(fieldToDense))
    #expect(JSON.encode(fieldToDense).text == #"[[{"f":[1]},[1]]]"#)
    // A dense element referencing a field's table is a forward reference: invalid.
    let forward: [MonaValue] = [.mixed(dense: [.reference(1)], fields: [MonaField("f", .array([.number(2)]))])]
    let output = JSON.encode(forward)
    #expect(output.text == #"[[{"f":[2]},null]]"#)
    #expect(output.warnings.count == 1)
    #expect(JSON.encode([.reference(0)]).text == "[null]")
    #expect(JSON.encode([.reference(-3)]).text == "[null]")
}

@Test func jsonWriterBoundsDepthAndExpansion() {
    var deep = MonaValue.number(1)
    for _ in 0..<600 { deep = .array([deep]) }
    let output = JSON.encode([deep])
    #expect(output.text.hasPrefix(String(repeating: "[", count: 513) + "null]"))
    #expect(output.warnings.count == 1)
    // Each level holds the previous one twice: 2^40 nodes if expanded in full.
    var levels: [MonaValue] = [.array([.number(1)])]
    for level in 1...40 { levels.append(.array([.reference(level), .reference(level)])) }
    let bomb = JSON.encode([.array(levels)])
    #expect(bomb.bytes.count < 64 << 20)
    #expect(bomb.warnings.contains { $0.contains("repeated values") })
}

@Test func jsonWriterNonFiniteNumbersAreNull() {
    // 1.x: nan/inf were written as is (invalid JSON).
    #expect(json(.number(.nan), .number(.infinity), .number(-.infinity)) == "[null,null,null]")
}

@Test func jsonWriterEscapesStrings() {
    // 1.x: toJSON('a"b') → ["a"b"] (no escaping).
    #expect(json(.string("a\"b")) == #"["a\"b"]"#)
    #expect(json(.string("\\/\n\r\t\u{8}\u{C}\u{1}\u{1F}é😀")) == #"["\\/\n\r\t\b\f\u0001\u001Fé😀"]"#)
    #expect(json(.object([MonaField("k\"", .string("v"))])) == #"[{"k\"":"v"}]"#)
    #expect(JSON.quoted("x\u{0}") == #""x\u0000""#)
}

// MARK: - reader

@Test func jsonReaderVectors() throws {
    #expect(try fromJSON(#"[1,"a",true,null]"#) == [.number(1), .string("a"), .boolean(true), .nil])
    #expect(try fromJSON("[]") == [])
    #expect(try fromJSON("") == [])
    #expect(try fromJSON(" \n\t ") == [])
    #expect(try fromJSON("[[]]") == [.array([])])
    #expect(try fromJSON("[[1,null,3]]") == [.array([.number(1), .nil, .number(3)])])
    #expect(try fromJSON(" [ TRUE , False , NULL , nUlL ] ") == [.boolean(true), .boolean(false), .nil, .nil])
    #expect(try fromJSON("[-0.5e2, 1E+2, 0, -0, 1e400]") == [.number(-50), .number(100), .number(0), .number(-0.0), .number(.infinity)])
    #expect(try fromJSON("\u{FEFF}[1]") == [.number(1)])
    #expect(try fromJSON(#"[{"a":[{"b":{}}]}]"#) == [.object([MonaField("a", .array([.object([MonaField("b", .object([]))])]))])])
}

@Test func jsonReaderTopLevelObjectAndScalar() throws {
    // 1.x: fromJSON('{"a":1}') returned the string "a"; it is one object now.
    #expect(try fromJSON(#"{"a":1}"#) == [.object([MonaField("a", .number(1))])])
    // 1.x: a top-level scalar gave nothing; it is one value now.
    #expect(try fromJSON(#""x""#) == [.string("x")])
    #expect(try fromJSON("12") == [.number(12)])
}

@Test func jsonReaderSpecialObjects() throws {
    #expect(try fromJSON(#"[{"__raw":"YWJj"}]"#) == [.bytes(codecBytes("abc"))])
    #expect(try fromJSON(#"[{"__raw":""}]"#) == [.bytes([])])
    #expect(try fromJSON(#"[{"__time":1412082917000}]"#) == [.date(1_412_082_917_000)])
    #expect(try fromJSON(#"[{"__type":"foo","k":2}]"#) == [.object(type: "foo", fields: [MonaField("k", .number(2))])])
    #expect(try fromJSON(#"[{"k":2,"__type":"foo"}]"#) == [.object(type: "foo", fields: [MonaField("k", .number(2))])])
    // 1.x: any first property ending with "type" made a typed object ({"type":"foo"} → __type="foo").
    #expect(try fromJSON(#"[{"type":"foo","k":2}]"#) == [.object([MonaField("type", .string("foo")), MonaField("k", .number(2))])])
    #expect(try fromJSON(#"[{"__type":1}]"#) == [.object([MonaField("__type", .number(1))])])
    // 1.x: {"draw":"YWJj","x":1} became the bytes "abc", dropping x.
    #expect(try fromJSON(#"[{"draw":"YWJj","x":1}]"#) == [.object([MonaField("draw", .string("YWJj")), MonaField("x", .number(1))])])
    #expect(try fromJSON(#"[{"__raw":"YWJj","x":1}]"#) == [.object([MonaField("__raw", .string("YWJj")), MonaField("x", .number(1))])])
    #expect(try fromJSON(#"[{"__raw":"YWJ"}]"#) == [.object([MonaField("__raw", .string("YWJ"))])])
    #expect(try fromJSON(#"[{"__time":"0"}]"#) == [.object([MonaField("__time", .string("0"))])])
    // 1.x: date-like strings became dates. Only complete timestamps with their zone do now: what the
    // writer emits and what JavaScript's Date.toJSON() sends.
    #expect(try fromJSON(#"["2014-01-01","12 Jan 2014 10:00","1970-01-01T00:00:00.000+00:00"]"#)
        == [.string("2014-01-01"), .string("12 Jan 2014 10:00"), .date(0)])
    #expect(try fromJSON(#"["2014-09-30T13:15:17.000Z","2014-09-30T13:15:17Z","2014-09-30T15:15:17.5+02:00","2014-09-30T08:15:17-0500"]"#)
        == [.date(1_412_082_917_000), .date(1_412_082_917_000), .date(1_412_082_917_500), .date(1_412_082_917_000)])
    for text in ["2014-09-30T13:15:17", "2014-09-30 13:15:17Z", "2014-09-30T13:15Z", "2014-09-30T13:15:17.Z",
                 "2014-09-30T13:15:17.0000000001Z", "2014-13-30T13:15:17Z", "2014-09-30T13:15:17+2", "x2014-09-30T13:15:17Z",
                 "2014-09-30T13:15:17Zz", "2014-09-30T13:15:17+02:00 "] {
        #expect(try fromJSON("[\"\(text)\"]") == [.string(text)], "\(text)")
    }
}

@Test func jsonReaderUnescapes() throws {
    // 1.x: escapes were kept (["a\"b"] → a\"b).
    #expect(try fromJSON(#"["a\"b"]"#) == [.string("a\"b")])
    #expect(try fromJSON(#"["\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00"]"#) == [.string("\\/\u{8}\u{C}\n\r\tAé€😀")])
    // A lone surrogate becomes U+FFFD.
    #expect(try fromJSON(#"["\ud800x","\udc00","\ud800\u0041"]"#) == [.string("\u{FFFD}x"), .string("\u{FFFD}"), .string("\u{FFFD}A")])
    #expect(try fromJSON(#"{"k\u0022":"v"}"#) == [.object([MonaField("k\"", .string("v"))])])
}

@Test func jsonEscapingRoundTrips() throws {
    var all = ""
    for scalar in 0..<0x300 { all.unicodeScalars.append(Unicode.Scalar(UInt32(scalar))!) }
    let strings: [MonaValue] = [.string(all), .string("\u{10FFFF}😀\"\\"), .string("")]
    #expect(try JSON.decode(JSON.encode(strings).bytes) == strings)
}

@Test func jsonRoundTripOfTheFunctionalTestsObject() throws {
    let output = JSON.encode([codecFunctionalObject()])
    let back = try JSON.decode(output.bytes)
    // Dates come back as dates (their ISO string is a timestamp with its zone), the map as an object
    // with __size, the mixed as [{fields}, elements], references in full.
    let typed = MonaValue.object(type: "test", fields: [MonaField("key", .string("val"))])
    let map = MonaValue.object([MonaField("map", .string("map")), MonaField("__size", .number(1))])
    let expected = MonaValue.object([
        MonaField("string", .string("string")), MonaField("number", .number(2.7)), MonaField("boolean", .boolean(true)),
        MonaField("date", .date(1_412_082_917_000)), MonaField("bytes", .bytes([0xFF, 0x00, 0x14])),
        MonaField("array", .array([.number(2.7), .boolean(true), typed])), MonaField("map", map),
        MonaField("repeat", .array([.array([.number(2.7), .boolean(true), typed]), typed, map])),
        MonaField("mixed", .array([.object([MonaField("prop", .string("prop"))]), .string("elt1")])),
    ])
    #expect(back == [expected])
    #expect(output.warnings == ["JSON doesn't support map type, a object will be written rather"])
}

@Test func jsonValuesRoundTrip() throws {
    let values: [MonaValue] = [
        .nil, .boolean(false), .number(-1.5e-300), .number(123456789), .string("x"), .bytes([1, 2, 3]),
        .array([.nil, .array([])]), .object(type: "T", fields: [MonaField("a", .object([MonaField("b", .nil)]))]),
    ]
    #expect(try JSON.decode(JSON.encode(values).bytes) == values)
}

// MARK: - malformed input

@Test func jsonReaderRejectsEveryTruncation() {
    let text = #"[1,"a\"b\u00e9",{"b":[true,null,{}]},-2.5e3,{"__raw":"YWJj"}]"#
    let bytes = codecBytes(text)
    #expect(codecFailure { try JSON.decode(bytes) } == nil)
    for length in 1..<bytes.count {
        #expect(codecFailure { try JSON.decode(Array(bytes[0..<length])) } != nil, "prefix \(length)")
    }
}

@Test func jsonReaderRejectsMalformedInput() {
    let bad = [
        "[1,]", "[1 2]", "[,1]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]",
        "[nan]", "[Infinity]", "[tru]", "[nulls]", "[\"\\x\"]", "[\"\\u12G4\"]", "[\"\\u12\"]", "[\"\\ud800\\u12\"]",
        "[\"abc", "[1] x", "[1][2]", "]", "}", "[}", "{]", "[\"\\", "[\u{1}]", "'a'",
    ]
    for text in bad {
        #expect(codecFailure { try JSON.decode(codecBytes(text)) } != nil, "\(text)")
    }
    #expect(codecFailure { try JSON.decode([0x5B, 0x22, 0xFF, 0x22, 0x5D]) }?.offset == 1)  // invalid UTF-8
    #expect(codecFailure { try JSON.decode(codecBytes("[1,]")) }?.offset == 3)
}

@Test func jsonReaderDepthLimit() throws {
    let limit = CodecLimits.maxDepth
    let atLimit = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
    #expect(codecFailure { try JSON.decode(codecBytes(atLimit)) } == nil)
    let over = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
    #expect(codecFailure { try JSON.decode(codecBytes(over)) } != nil)
    #expect(codecFailure { try JSON.decode(codecBytes(String(repeating: "[", count: 10000))) } != nil)
    #expect(codecFailure { try JSON.decode(codecBytes(String(repeating: "{\"a\":", count: 10000))) } != nil)
    let balanced = String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000)
    #expect(codecFailure { try JSON.decode(codecBytes(balanced)) } != nil)
}

@Test func jsonLargeContainersDecodeInLinearTime() throws {
    // Appending into containers must not copy them (quadratic time would take minutes here).
    let count = 200_000
    let array = "[[" + Array(repeating: "1", count: count).joined(separator: ",") + "]]"
    #expect(try fromJSON(array) == [.array(Array(repeating: .number(1), count: count))])
    let object = "{" + (0..<count).map { "\"k\($0)\":null" }.joined(separator: ",") + "}"
    let fields = try fromJSON(object)
    #expect(fields.count == 1)
    if case .object(_, let decoded) = fields.first { #expect(decoded.count == count) } else { Issue.record("not an object") }
    let text = String(repeating: "é\\n", count: count)
    #expect(try fromJSON("[\"\(text)\"]") == [.string(String(repeating: "é\n", count: count))])
}
