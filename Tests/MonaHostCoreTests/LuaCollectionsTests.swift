import Foundation
import Testing

/// Counting and iterating what the Lua API hands out: table.pack as in Lua 5.2, and pairs, ipairs and #
/// on every collection-like object (mona.clients, publications, listeners, fromXML results, data…).
@Suite("Lua collections and iteration", .serialized)
struct LuaCollectionsTests {
    /// `shape(x)` answers "pairs/ipairs/#" counts; an iteration that does not end fails the call.
    static let app = """
    local function shape(object)
        local byPairs, byIpairs = 0, 0
        for _ in pairs(object) do byPairs = byPairs + 1 end
        for _ in ipairs(object) do byIpairs = byIpairs + 1 end
        return byPairs .. "/" .. byIpairs .. "/" .. #object
    end
    function onConnection(client, role)
        function client:onSubscribe(listener) client.listener = listener end
        function client:pack()
            local t = {}
            local packed = table.pack(3.7, t, nil, "x")
            return #packed, packed.n, packed[2] == t, #table.pack(), table.pack(nil).n, #table.pack(1, 2, 3)
        end
        function client:xml()
            local doc = mona:fromXML('<?xml version="1.0"?><a><b>1</b><c/><b>2</b>text</a>')
            local a = doc.a
            local children = {}
            for i, child in ipairs(a) do children[i] = type(child) == "table" and child.__name or child end
            return shape(doc), shape(a), table.concat(children, ","), a.b.__value, a.c.__name, a.missing, a[9], doc.xml.version
        end
        function client:clients() return shape(mona.clients), shape(client), shape(client.parameters) end
        function client:media()
            local publication = mona.publications.live
            local listener = client.listener
            return shape(mona.publications), shape(publication), shape(publication.listeners), shape(listener),
                shape(listener.parameters), listener.parameters.x
        end
        function client:empty() return shape(mona.servers), shape(mona.groups), shape(children) end
        function client:data()
            data.x = "1"
            data.list = { "a", "b", "c" }
            return shape(data), shape(data.list), data.list[2]
        end
    end
    """

    @Test func tablePackSizesItsArrayPartAsLua52() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call pack", "ok 4 4 true 0 1 3", "#table.pack(3.7, t, nil, \"x\") is 4, as in Lua 5.2")
    }

    @Test func fromXMLElementsIterateAndCount() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call xml", #"ok "2/1/1" "5/4/4" "b,c,b,text" "1" "c" nil nil "1.0""#,
                           "ipairs and # over a parsed element end at its last child; names find the first child")
    }

    @Test func clientsPublicationsListenersAndDataIterateAndCount() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let publisher = try harness.connect()
        try publisher.expect("open /", "opened {}")
        try publisher.expect("publish live", "published")
        let player = try harness.connect()
        try player.expect("open /", "opened {}")
        try player.expect("subscribe live x=1", "start live")
        try player.expectLine("subscribed")
        let clients = try player.command("call clients")
        #expect(clients.hasPrefix(#"ok "2/0/2" "8/0/0" "#),
                "mona.clients: two clients by id, no index, # counts them; a client is a table of its 8 fields: \(clients)")
        let parameters = clients.split(separator: " ").last.map(String.init) ?? ""
        let parts = parameters.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: "/")
        #expect(parts.count == 3 && parts[0] == parts[2] && parts[1] == "0", "client.parameters: pairs and # agree: \(clients)")
        try player.expect("call media", #"ok "1/0/1" "0/0/0" "1/0/1" "0/0/0" "1/0/1" 1"#,
                          "publications, a publication, its listeners, a listener and its parameters")
        try player.expect("call empty", #"ok "0/0/0" "0/0/0" "0/0/0""#, "mona.servers, mona.groups, children")
        try player.expect("call data", #"ok "2/0/1" "3/3/3" "b""#, "data counts its primitives; a data array iterates")
    }
}
