import Testing
@testable import MonaCodecs
import MonaValues

private func query(_ values: MonaValue...) -> String { Query.encode(values).text }

private func fromQuery(_ text: String) -> [MonaValue] { Query.decode(codecBytes(text)) }

// MARK: - writer (lua-api.md §3.6, §3.8)

@Test func queryWriterFunctionalTestsVector() {
    // Fields in the LuaJIT hash order the FunctionalTests string depends on.
    let first = MonaValue.object([MonaField("key1", .string("val1")), MonaField("key2", .string("val2"))])
    let third = MonaValue.object([MonaField("key3", .string("val3")), MonaField("key5", .boolean(true)), MonaField("key4", .number(10))])
    #expect(query(first, .string("str#ing"), third) == "key1=val1&key2=val2&str%23ing&key3=val3&key5=true&key4=10")
}

@Test func queryWriterMeasuredVectors() {
    #expect(query(.number(1), .boolean(true), .nil, .number(2.5)) == "1&true&null&2.5")
    #expect(query() == "")
    #expect(query(.object([MonaField("a", .object([MonaField("b", .number(1))]))])) == "a&b=1")
    #expect(query(.array([.number(1), .number(2)])) == "1&2")
    #expect(query(.array([]), .number(1)) == "1")
    #expect(query(.object(type: "T", fields: [MonaField("x", .number(1))])) == "x=1")
    #expect(query(.mixed(dense: [.string("e1")], fields: [MonaField("prop", .string("p"))])) == "prop=p&e1")
    #expect(query(.bytes([0xFF, 0x00, 0x14]), .bytes([0xFB, 0xFF])) == "/wAU&%2B/8%3D")
    #expect(query(.number(1.0 / 3), .number(1e21)) == "0.3333333333333333&1e%2B21")
}

@Test func queryWriterDates() {
    // The short ISO form; 1.x left '+' raw, which reads back as a space.
    let expected = CodecDate.formatShort(0, offsetSeconds: CodecDate.localOffsetSeconds(atMilliseconds: 0))!
    #expect(query(.date(0)) == Query.percentEncode(expected))
    if CodecDate.localOffsetSeconds(atMilliseconds: 0) == 0 {
        #expect(query(.date(0)) == "19700101T000000%2B00:00")
    }
    #expect(query(.object([MonaField("d", .date(.nan))])) == "d=null")
}

@Test func queryWriterEncodesSoThatValuesRoundTrip() {
    // 1.x: "% A" for a newline, and '&', '=', '+' left raw.
    #expect(query(.string("a\nb")) == "a%0Ab")
    #expect(query(.object([MonaField("k&=", .string("a&b=c+d%e#f?g h")),])) == "k%26%3D=a%26b%3Dc%2Bd%25e%23f%3Fg%20h")
    #expect(query(.string("é<>{}|\\\"^`\u{7F}\u{1}")) == "%C3%A9%3C%3E%7B%7D%7C%5C%22%5E%60%7F%01")
    #expect(query(.string("/:;,.-_~!$'()*@[]")) == "/:;,.-_~!$'()*@[]")
}

@Test func queryWriterMapsReferencesAndCycles() {
    let map = Query.encode([.map(weakKeys: false, entries: [MonaMapEntry(.string("k"), .string("v"))])])
    #expect(map.text == "k=v&__size=1")
    #expect(map.warnings == ["Query doesn't support map type, a object will be written rather"])
    #expect(query(.array([.array([.number(1)]), .reference(1)])) == "1&1")
    let cyclic = Query.encode([.object([MonaField("a", .number(1)), MonaField("self", .reference(0))])])
    #expect(cyclic.text == "a=1&self=null")
    #expect(cyclic.warnings == ["Query doesn't support fully cyclic referencing"])
    #expect(query(.array([.reference(0)])) == "null")
    var deep = MonaValue.number(7)
    for _ in 0..<600 { deep = .array([deep]) }
    let output = Query.encode([deep])
    #expect(output.text == "null")
    #expect(output.warnings.count == 1)
}

// MARK: - reader

@Test func queryReaderMeasuredVector() throws {
    #expect(fromQuery("a=1&b=true&c&d=x+y%20z&e=null") == [
        .object([MonaField("a", .number(1)), MonaField("b", .boolean(true))]),
        .string("c"),
        .object([MonaField("d", .string("x y z")), MonaField("e", .nil)]),
    ])
}

@Test func queryReaderFunctionalTestsRoundTrip() throws {
    #expect(fromQuery("key1=val1&key2=val2&str%23ing&key3=val3&key5=true&key4=10") == [
        .object([MonaField("key1", .string("val1")), MonaField("key2", .string("val2"))]),
        .string("str#ing"),
        .object([MonaField("key3", .string("val3")), MonaField("key5", .boolean(true)), MonaField("key4", .number(10))]),
    ])
}

@Test func queryReaderTyping() throws {
    #expect(fromQuery("1&true&null&2.5") == [.number(1), .boolean(true), .nil, .number(2.5)])
    #expect(fromQuery("TRUE&False&NULL&Null") == [.boolean(true), .boolean(false), .string("NULL"), .string("Null")])
    #expect(fromQuery("-1e3&.5&1.&%2B3&0x10&nan&inf&1e&") == [
        .number(-1000), .number(0.5), .number(1), .number(3), .string("0x10"), .string("nan"), .string("inf"), .string("1e"),
    ])
    // 1.x: date-like values became dates.
    #expect(fromQuery("d=2014-01-01&t=19700101T000000%2B00:00") == [
        .object([MonaField("d", .string("2014-01-01")), MonaField("t", .string("19700101T000000+00:00"))]),
    ])
    #expect(fromQuery("") == [])
    #expect(fromQuery("&&a=&=b&") == [.object([MonaField("a", .string("")), MonaField("", .string("b"))])])
    #expect(fromQuery("a=b=c") == [.object([MonaField("a", .string("b=c"))])])
    #expect(fromQuery("%C3%A9=%F0%9F%98%80") == [.object([MonaField("é", .string("😀"))])])
}

@Test func queryValuesRoundTrip() throws {
    let text = "a&b=c+d%e#f?g h\n\u{1}é😀<>\"'\\/"
    let values: [MonaValue] = [
        .object([MonaField(text, .string(text)), MonaField("n", .number(-2.5)), MonaField("t", .boolean(false)), MonaField("z", .nil)]),
        .string(text), .number(1e21), .bytes([0xFB, 0xFF, 0xFE]),
    ]
    let back = Query.decode(Query.encode(values).bytes)
    #expect(back == [values[0], values[1], values[2], .string("+//+")])
}

@Test func queryPercentHelpers() {
    #expect(Query.percentEncode("a b/c?d=e&f+g%") == "a%20b/c%3Fd%3De%26f%2Bg%25")
    #expect(Query.decodeBytes(codecBytes("a%20b+c")[...], plusAsSpace: false) == "a b+c")
    #expect(Query.decodeBytes(codecBytes("a%20b+c")[...], plusAsSpace: true) == "a b c")
    #expect(Query.decodeBytes(codecBytes("%C3%a9")[...], plusAsSpace: true) == "é")
    #expect(Query.decodeBytes([][...], plusAsSpace: true) == "")
    var all = ""
    for scalar in 1..<0x250 { all.unicodeScalars.append(Unicode.Scalar(UInt32(scalar))!) }
    #expect(Query.decodeBytes(codecBytes(Query.percentEncode(all))[...], plusAsSpace: true) == all)
}

// MARK: - malformed input

/// 1.x kept what it could not decode, as browsers do: a bad escape costs nothing else.
@Test func queryReaderKeepsBadEscapes() {
    // The 1.x FunctionalTests `Query` test: GET …/onMessage?longquery://test;:/one%*$^/fin=value~
    #expect(fromQuery("longquery://test;:/one%*$^/fin=value~")
        == [.object([MonaField("longquery://test;:/one%*$^/fin", .string("value~"))])])
    #expect(fromQuery("%&a=%4&%G0&b=%41%zz") == [
        .string("%"), .object([MonaField("a", .string("%4"))]), .string("%G0"), .object([MonaField("b", .string("A%zz"))]),
    ])
    // Bytes that are not UTF-8 become U+FFFD.
    #expect(fromQuery("a=%FF&%e9%C3%a9") == [.object([MonaField("a", .string("\u{FFFD}"))]), .string("\u{FFFD}é")])
    #expect(Query.decode([0x61, 0x3D, 0xC3]) == [.object([MonaField("a", .string("\u{FFFD}"))])])
}

@Test func queryReaderPrefixesKeepWhatTheyHold() {
    let bytes = codecBytes("key1=val%2B1&k%20y=true&str%23ing&n=-2.5e3")
    for length in 0...bytes.count {
        // A prefix that cuts a %XX escape keeps the cut escape as text.
        let values = Query.decode(Array(bytes[0..<length]))
        #expect(length < 5 || values.first.map { if case .object(_, let fields) = $0 { return fields.first?.key == "key1" } else { return false } } == true,
                "prefix \(length): \(values)")
    }
}
