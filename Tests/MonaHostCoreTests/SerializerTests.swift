import Foundation
import Testing

/// mona:toX / mona:fromX from Lua: the test vectors of lua-api.md §3.8 through the real bridge
/// (Lua tables → values → bytes), with our documented deviations.
@Suite("Lua serializers", .serialized)
struct SerializerTests {
    static let app = #"""
    local function hex(s) return (s:gsub(".", function(c) return string.format("%02X ", c:byte()) end)):sub(1, -2) end
    function onConnection(client)
        function client:json()
            return mona:toJSON(), mona:toJSON({}), mona:toJSON({{}}), mona:toJSON(1, "a", true, nil, 2.5),
                mona:toJSON({a = 1}), mona:toJSON({1, 2, 3}), mona:toJSON({__type = "T", x = 1}),
                mona:toJSON({__raw = "\255\0\20"}), mona:toJSON({prop = "p", "e1"}), mona:toJSON('a"b')
        end
        function client:fromJSON()
            local a, b, c, d = mona:fromJSON('[1,"a",true,null]')
            return select("#", mona:fromJSON('[1,"a",true,null]')), a, b, c, d, mona:fromJSON("[]") == nil, mona:fromJSON('["a\\"b"]')
        end
        function client:amf()
            local s = {1}
            local t = {} t.self = t
            return hex(mona:toAMF(1)), hex(mona:toAMF(-1)), hex(mona:toAMF(268435456)), hex(mona:toAMF(2.5)),
                hex(mona:toAMF("hi", "hi")), hex(mona:toAMF(true, false, nil)), hex(mona:toAMF({})), hex(mona:toAMF({1, 2})),
                hex(mona:toAMF({a = 1})), hex(mona:toAMF({__type = "T", a = 1})), hex(mona:toAMF({prop = "p", "e1"})),
                hex(mona:toAMF({__raw = "ab"})), hex(mona:toAMF({__time = 0})), hex(mona:toAMF({k = "v", __size = 1})),
                hex(mona:toAMF({s, s})), hex(mona:toAMF(t)), mona:toAMF() == ""
        end
        function client:amf0()
            local t = {} t.self = t
            return hex(mona:toAMF0(1)), hex(mona:toAMF0("hi")), hex(mona:toAMF0({})), hex(mona:toAMF0({a = 1})),
                hex(mona:toAMF0({__type = "T", a = 1})), hex(mona:toAMF0({__time = 0})), hex(mona:toAMF0(t))
        end
        function client:amfRoundTrip()
            local object = { s = "str", n = 2.7, b = true, d = { __time = 1412082917000 }, raw = { __raw = "\255\0\20" },
                list = { 2.7, true, { __type = "test", key = "val" } } }
            object.self = object
            local a, o, n, h = mona:fromAMF(mona:toAMF(3.7, object, nil, "hello"))
            return a, h, n == nil, o.s, o.n, o.b, o.d.__time, o.d.year, o.d.month, o.raw.__raw == "\255\0\20",
                o.list[3].__type, o.list[3].key, o.self == o
        end
        function client:xmlrpc()
            return mona:toXMLRPC(), mona:toXMLRPC(1, 2.5, "a", true, nil), mona:toXMLRPC({__type = "T", a = 1})
        end
        function client:fromXMLRPC()
            return mona:fromXMLRPC('<?xml version="1.0"?><methodCall><methodName>foo</methodName><params><param><value><int>1</int></value></param></params></methodCall>')
        end
        function client:query()
            return mona:toQuery(1, true, nil, 2.5), mona:toQuery(), mona:toQuery({a = {b = 1}}), mona:toQuery("a\nb")
        end
        function client:fromQuery()
            local t, c, u = mona:fromQuery("a=1&b=true&c&d=x+y%20z&e=null")
            return t.a, t.b, c, u.d
        end
        function client:xml()
            local text = '<?xml version="1.0" ?><document ><article ><p >This is the first paragraph.</p><h2 class="opt" >Title with opt style</h2></article><article ><p >Some<b >important</b>text.</p></article></document>'
            local doc = mona:fromXML(text)
            local same = mona:toXML(doc) == text
            doc.document.__value = doc.document.__value
            return doc.xml.version, doc.document == doc[1], doc.document == doc.__value,
                doc.document.article.p.__value, same, mona:toXML(doc) == text
        end
        function client:badXML()
            local message
            local result = mona:fromXML(function(err) message = err end, "<a><b></a>")
            return result == nil, message ~= nil
        end
        function client:unsupported() return pcall(mona.toJSON, mona, print) end
    end
    """#

    @Test func jsonVectors() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call json", #"ok "[]" "[[]]" "[[[]]]" "[1,"a",true,null,2.5]" "[{"a":1}]" "[[1,2,3]]" "[{"__type":"T","x":1}]" "[{"__raw":"/wAU"}]" "[[{"prop":"p"},"e1"]]" "["a\"b"]""#,
                           "strings are escaped (1.x wrote a\"b raw)")
        try session.expect("call fromJSON", #"ok 4 1 "a" true nil true "a"b""#)
    }

    @Test func amfVectors() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call amf", #"ok "11 04 01" "11 04 FF FF FF FF" "00 41 B0 00 00 00 00 00 00" "00 40 04 00 00 00 00 00 00" "11 06 05 68 69 11 06 00" "01 01 01 00 05" "11 09 01 01" "11 09 05 01 04 01 04 02" "11 0A 0B 01 03 61 04 01 01" "11 0A 0B 03 54 03 61 04 01 01" "11 09 03 09 70 72 6F 70 06 03 70 01 06 05 65 31" "11 0C 05 61 62" "11 08 01 00 00 00 00 00 00 00 00" "11 11 03 00 06 03 6B 06 03 76" "11 09 05 01 09 03 01 04 01 09 02" "11 0A 0B 01 09 73 65 6C 66 0A 00 01" true"#)
        try session.expect("call amf0", #"ok "00 3F F0 00 00 00 00 00 00" "02 00 02 68 69" "0A 00 00 00 00" "03 00 01 61 00 3F F0 00 00 00 00 00 00 00 00 09" "10 00 01 54 00 01 61 00 3F F0 00 00 00 00 00 00 00 00 09" "0B 00 00 00 00 00 00 00 00 00 00" "03 00 04 73 65 6C 66 07 00 00 00 00 09""#)
        let roundTrip = try session.command("call amfRoundTrip")
        // 1412082917000 is 2014-09-30T13:15:17Z: the month is 9 in any time zone but a few hours around it.
        #expect(roundTrip.hasPrefix(#"ok 3.7 "hello" true "str" 2.7 true 1412082917000 2014 "#), "\(roundTrip)")
        #expect(roundTrip.hasSuffix(#" true "test" "val" true"#), "\(roundTrip)")
    }

    @Test func xmlrpcQueryAndXMLVectors() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call xmlrpc", #"ok "<?xml version="1.0"?><methodResponse><params></params></methodResponse>" "<?xml version="1.0"?><methodResponse><params><param><value><int>1</int></value></param><param><value><double>2.5</double></value></param><param><value><string>a</string></value></param><param><value><boolean>1</boolean></value></param><param><value></value></param></params></methodResponse>" "<?xml version="1.0"?><methodResponse><params><param><value><struct type="T"><member><name>a</name><value><int>1</int></value></member></struct></value></param></params></methodResponse>""#)
        try session.expect("call fromXMLRPC", #"ok "foo" 1"#)
        try session.expect("call query", #"ok "1&true&null&2.5" "" "a&b=1" "a%0Ab""#, "a newline is %0A (1.x wrote % A)")
        try session.expect("call fromQuery", #"ok 1 true "c" "x y z""#)
        try session.expect("call xml", #"ok "1.0" true true "This is the first paragraph." true true"#)
        try session.expect("call badXML", "ok true true")
        try session.expect("call unsupported", #"ok false "toJSON: a function cannot be serialized""#)
    }
}
