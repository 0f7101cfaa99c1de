import Testing
@testable import MonaCodecs
import MonaValues

private let header = #"<?xml version="1.0"?><methodResponse><params>"#
private let footer = "</params></methodResponse>"

private func xmlrpc(_ values: MonaValue...) -> String { XMLRPC.encode(values).text }

/// The response holding one param whose `<value>` content is `content`.
private func response(_ contents: String...) -> String {
    header + contents.map { "<param><value>\($0)</value></param>" }.joined() + footer
}

private func fromXMLRPC(_ text: String) throws(CodecError) -> [MonaValue] { try XMLRPC.decode(codecBytes(text)) }

private func call(_ method: String, _ params: String...) -> String {
    "<?xml version=\"1.0\"?><methodCall><methodName>\(method)</methodName><params>"
        + params.map { "<param><value>\($0)</value></param>" }.joined() + "</params></methodCall>"
}

// MARK: - writer vectors (lua-api.md §3.5, §3.8)

@Test func xmlrpcWriterEmptyResponse() throws {
    #expect(xmlrpc() == #"<?xml version="1.0"?><methodResponse><params></params></methodResponse>"#)
    #expect(try fromXMLRPC(xmlrpc()) == [])
}

@Test func xmlrpcWriterMeasuredVectors() {
    #expect(xmlrpc(.number(1), .number(2.5), .string("a"), .boolean(true), .nil) ==
        #"<?xml version="1.0"?><methodResponse><params><param><value><int>1</int></value></param><param><value><double>2.5</double></value></param><param><value><string>a</string></value></param><param><value><boolean>1</boolean></value></param><param><value></value></param></params></methodResponse>"#)
    #expect(xmlrpc(.array([.number(1), .number(2)]))
        == response(#"<array size="2"><data><value><int>1</int></value><value><int>2</int></value></data></array>"#))
    #expect(xmlrpc(.object(type: "T", fields: [MonaField("a", .number(1))]))
        == response(#"<struct type="T"><member><name>a</name><value><int>1</int></value></member></struct>"#))
    #expect(xmlrpc(.bytes(codecBytes("abc"))) == response("<base64>YWJj</base64>"))
    #expect(xmlrpc(.date(0)) == response("<dateTime.iso8601>\(codecLocalLong(0))</dateTime.iso8601>"))
    if CodecDate.localOffsetSeconds(atMilliseconds: 0) == 0 {
        #expect(xmlrpc(.date(0)) == response("<dateTime.iso8601>1970-01-01T00:00:00.000+00:00</dateTime.iso8601>"))
    }
    #expect(xmlrpc(.mixed(dense: [.string("e1")], fields: [MonaField("prop", .string("p"))])) == response(
        #"<array size="2"><data><value><struct><member><name>prop</name><value><string>p</string></value></member></struct></value><value><string>e1</string></value></data></array>"#))
    #expect(xmlrpc(.array([])) == response(#"<array size="0"><data></data></array>"#))
    #expect(xmlrpc(.object([])) == response("<struct></struct>"))
    #expect(xmlrpc(.boolean(false)) == response("<boolean>0</boolean>"))
}

@Test func xmlrpcWriterNumbers() {
    #expect(xmlrpc(.number(2_147_483_647), .number(-2_147_483_648), .number(-0.0))
        == response("<int>2147483647</int>", "<int>-2147483648</int>", "<int>0</int>"))
    #expect(xmlrpc(.number(2_147_483_648), .number(1e21), .number(1.0 / 3), .number(-12.53))
        == response("<double>2147483648</double>", "<double>1e+21</double>", "<double>0.3333333333333333</double>", "<double>-12.53</double>"))
}

@Test func xmlrpcWriterEscapes() {
    // 1.x: strings, names and the type were written raw (malformed XML for `<`, `&`).
    #expect(xmlrpc(.string("a&b<c>d\"e'")) == response("<string>a&amp;b&lt;c&gt;d\"e'</string>"))
    #expect(xmlrpc(.object(type: "T\"<", fields: [MonaField("k&", .nil)]))
        == response(#"<struct type="T&quot;&lt;"><member><name>k&amp;</name><value></value></member></struct>"#))
}

@Test func xmlrpcWriterMapsReferencesAndCycles() {
    let map = XMLRPC.encode([.map(weakKeys: false, entries: [MonaMapEntry(.number(1), .string("v"))])])
    #expect(map.text == response("<struct><member><name>1</name><value><string>v</string></value></member><member><name>__size</name><value><int>1</int></value></member></struct>"))
    #expect(map.warnings == ["XML-RPC doesn't support map type, a object will be written rather"])
    let shared = XMLRPC.encode([.array([.array([.number(1)]), .reference(1)])])
    let one = #"<value><array size="1"><data><value><int>1</int></value></data></array></value>"#
    #expect(shared.text == response(#"<array size="2"><data>"# + one + one + "</data></array>"))
    let cyclic = XMLRPC.encode([.object([MonaField("self", .reference(0))])])
    #expect(cyclic.text == response("<struct><member><name>self</name><value></value></member></struct>"))
    #expect(cyclic.warnings == ["XML-RPC doesn't support fully cyclic referencing"])
    var deep = MonaValue.nil
    for _ in 0..<600 { deep = .array([deep]) }
    #expect(XMLRPC.encode([deep]).warnings.count == 1)
}

// MARK: - reader

@Test func xmlrpcReaderMethodCall() throws {
    // 1.x: <value>abc</value> (no type element) was read as nil; the XML-RPC spec says string.
    #expect(try fromXMLRPC(call("foo", "<int>1</int>", "abc")) == [.string("foo"), .number(1), .string("abc")])
    #expect(try fromXMLRPC("<methodCall><methodName> foo </methodName></methodCall>") == [.string("foo")])
    #expect(try fromXMLRPC(call("m", "", "<nil/>", " ")) == [.string("m"), .nil, .nil, .string(" ")])
}

@Test func xmlrpcReaderFunctionalTestsVectors() throws {
    // FunctionalTests DeserializationXMLRPC.as: echo through decode then encode.
    func echo(_ content: String) throws -> String {
        XMLRPC.encode(Array(try fromXMLRPC(call("echo", content)).dropFirst())).text
    }
    #expect(try echo("<boolean>1</boolean>") == response("<boolean>1</boolean>"))
    #expect(try echo("<double>-12.53</double>") == response("<double>-12.53</double>"))
    #expect(try echo("<i4>123456789</i4>") == response("<int>123456789</int>"))
    #expect(try echo("<base64>/wAU</base64>") == response("<base64>/wAU</base64>"))
    #expect(try echo("<string>éà@#$%?!*/</string>") == response("<string>éà@#$%?!*/</string>"))
    let date = try fromXMLRPC(call("echo", "<dateTime.iso8601>2014-04-22T06:00:00.000+02:00</dateTime.iso8601>"))
    #expect(date == [.string("echo"), .date(1_398_139_200_000)])
    #expect(CodecDate.formatLong(1_398_139_200_000, offsetSeconds: 7200) == "2014-04-22T06:00:00.000+02:00")
    let array = #"<array size="3"><data><value><int>1</int></value><value><string>two</string></value><value><double>3.5</double></value></data></array>"#
    #expect(try echo(array) == response(array))
    let three = try fromXMLRPC(call("echo", "<int>1</int>", "<int>2</int>", "<int>3</int>"))
    #expect(three == [.string("echo"), .number(1), .number(2), .number(3)])
    let members = "<struct><member><name>a</name><value><int>1</int></value></member><member><name>b</name><value><string>x</string></value></member></struct>"
    #expect(try echo(members) == response(members))
}

@Test func xmlrpcReaderTypes() throws {
    let values = try fromXMLRPC(response(
        "<i4> 42 </i4>", "<int>-7</int>", "<i8>9007199254740992</i8>", "<double>1e+21</double>",
        "<boolean>0</boolean>", "<boolean></boolean>", "<boolean>false</boolean>", "<boolean>true</boolean>",
        "<string></string>", "<string/>", "<string> a&amp;b&lt;&#233;&#x1F600;&quot;&apos;&gt; </string>",
        "<string><![CDATA[<raw&>]]></string>", "<base64>\n YWJj\n</base64>", "<dateTime.iso8601>19980717T14:08:55Z</dateTime.iso8601>",
        #"<struct type="T"><member><name>k</name><value><nil/></value></member></struct>"#,
        "<array><data><value>x</value><value><array><data></data></array></value></data></array>", "<array/>"
    ))
    #expect(values == [
        .number(42), .number(-7), .number(9_007_199_254_740_992), .number(1e21),
        .boolean(false), .boolean(false), .boolean(false), .boolean(true),
        .string(""), .string(""), .string(" a&b<é😀\"'> "),
        .string("<raw&>"), .bytes(codecBytes("abc")), .date(900_684_535_000),
        .object(type: "T", fields: [MonaField("k", .nil)]),
        .array([.string("x"), .array([])]), .array([]),
    ])
}

@Test func xmlrpcReaderFaultAndWhitespace() throws {
    let fault = """
    <?xml version="1.0"?>
    <methodResponse>
      <fault>
        <value>
          <struct>
            <member><name>faultCode</name><value><int>4</int></value></member>
            <member>
              <name>faultString</name>
              <value><string>Too many parameters.</string></value>
            </member>
          </struct>
        </value>
      </fault>
    </methodResponse>
    """
    #expect(try fromXMLRPC(fault) == [.object([MonaField("faultCode", .number(4)), MonaField("faultString", .string("Too many parameters."))])])
}

@Test func xmlrpcValuesRoundTrip() throws {
    let values: [MonaValue] = [
        .nil, .boolean(true), .number(-3), .number(0.1), .string("<&> ünïcödé \n"), .bytes([0, 255]),
        .date(1_412_082_917_123), .array([.nil, .array([])]),
        .object(type: "T", fields: [MonaField("a&", .object([MonaField("b", .string("c"))]))]),
    ]
    #expect(try XMLRPC.decode(XMLRPC.encode(values).bytes) == values)
}

@Test func xmlrpcRoundTripOfTheFunctionalTestsObject() throws {
    let back = try XMLRPC.decode(XMLRPC.encode([codecFunctionalObject()]).bytes)
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
}

// MARK: - malformed input

@Test func xmlrpcReaderRejectsEveryTruncation() {
    let bytes = codecBytes(call("m", "<int>1</int>", #"<struct type="T"><member><name>a</name><value><base64>YWJj</base64></value></member></struct>"#,
                                "<array><data><value><string>x</string></value></data></array>"))
    #expect(codecFailure { try XMLRPC.decode(bytes) } == nil)
    for length in 0..<bytes.count {
        #expect(codecFailure { try XMLRPC.decode(Array(bytes[0..<length])) } != nil, "prefix \(length)")
    }
}

@Test func xmlrpcReaderRejectsMalformedInput() {
    let bad = [
        "", "   ", "<?xml version=\"1.0\"?>", "<foo/>", "text", "<methodResponse/>x", "<methodResponse/><methodResponse/>",
        "<methodCall><params/></methodCall>", "<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>",
        response("<int>1.5</int>"), response("<int>x</int>"), response("<double>abc</double>"), response("<base64>YWJ</base64>"),
        response("<base64>Y!Jj</base64>"), response("<dateTime.iso8601>yesterday</dateTime.iso8601>"), response("<float>1</float>"),
        response("<int>1</int><int>2</int>"), response("<string><b/></string>"), response("<nil>x</nil>"),
        response("<struct><member><value>1</value></member></struct>"), response("<struct><member><name>a</name></member></struct>"),
        response("<struct>x</struct>"), response("<array><value>1</value></array>"), response("<array><data><int>1</int></data></array>"),
        header + "<param></param>" + footer, header + "<param><int>1</int></param>" + footer, header + "<value/>" + footer,
        "<methodResponse><params></param></params></methodResponse>", "<methodResponse><params>",
        response("<string>&#xD800;</string>"), response("<string>&#0;</string>"), response("<string>&#12a;</string>"),
    ]
    for text in bad {
        #expect(codecFailure { try XMLRPC.decode(codecBytes(text)) } != nil, "\(text)")
    }
    #expect(codecFailure { try XMLRPC.decode([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E]) } != nil)
}

@Test func xmlrpcReaderDepthLimit() {
    func nested(_ depth: Int) -> String {
        header + "<param>" + String(repeating: "<value><array><data>", count: depth) + "<value>x</value>"
            + String(repeating: "</data></array></value>", count: depth) + "</param>" + footer
    }
    #expect(codecFailure { try XMLRPC.decode(codecBytes(nested(CodecLimits.maxDepth))) } == nil)
    #expect(codecFailure { try XMLRPC.decode(codecBytes(nested(CodecLimits.maxDepth + 1))) } != nil)
    #expect(codecFailure { try XMLRPC.decode(codecBytes(nested(10000))) } != nil)
    let open = header + "<param>" + String(repeating: "<value><struct><member><name>a</name>", count: 10000)
    #expect(codecFailure { try XMLRPC.decode(codecBytes(open)) } != nil)
}
