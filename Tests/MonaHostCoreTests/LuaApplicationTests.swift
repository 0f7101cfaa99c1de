import Foundation
import Testing

/// Lua applications of www/, driven through the crpc fixture plugin: events, inheritance, lazy
/// load, hot reload, require, clients, RPC and writers.
@Suite("Lua applications", .serialized)
struct LuaApplicationTests {
    @Test func onConnectionRPCAndWriters() throws {
        let harness = try LuaHarness(files: ["www/main.lua": """
        function onConnection(client, a, b)
            client.args = tostring(a) .. "," .. tostring(b)
            function client:add(x, y) return x + y end
            function client:several() return 1, "two", nil, true end
            function client:fail() error("kaboom") end
            function client:failPlain() error("plain", 0) end
            function client:echoArgs() return self.args end
            function client:push() self.writer:writeInvocation("pushed", 1, "a") self.writer:writeMessage("msg", 2) end
            function client:shape() return { list = {1, 2}, typed = {__type = "T", k = "v"}, raw = {__raw = "ab"}, date = {__time = 0} } end
            function client:graph()
                local shared = {1}
                local list = {shared, shared}
                list[3] = list
                return list, {1, 2, k = "v"}, {[2.5] = true, __size = 1}, {}, {[1] = "a", [3] = "c"}
            end
            function client:properties() return client.agent, client.protocol, client.path, client.query, #client.id end
            return { timeout = 12, greeting = "hi" }
        end
        """])
        let session = try harness.connect()
        try session.expect("open / 1 two", #"opened {greeting="hi",timeout=12}"#)
        try session.expect("param timeout", "param timeout=12")
        try session.expect("param port", "param port=\(harness.port)", "rpc.* configs seed client.parameters")
        try session.expect("call echoArgs", #"ok "1,two""#)
        try session.expect("call add 2 3.5", "ok 5.5")
        try session.expect("call several", #"ok 1 "two" nil true"#)
        try session.expect("call fail", "error SCRIPT \(harness.folder)/www/main.lua:5: kaboom")
        try session.expect("call failPlain", "error SCRIPT plain")
        try session.expect("call nothing", "error NOTFOUND Method client 'nothing' not found in application ", "1.x prints the root's path, which is empty")
        try session.expect("call push", #"invoke pushed 1 "a""#)
        #expect(try session.readLine() == #"message "msg" 2"#)
        #expect(try session.readLine() == "ok ")
        try session.expect("call shape", #"ok {date=date(0),list=[1,2],raw=bytes(6162),typed=T{k="v"}}"#)
        try session.expect("call graph", #"ok [[1],ref(1),ref(0)] [1,2|k="v"] map{2.5=>true} [] ["a"|3="c"]"#,
                           "shared tables and cycles become references; mixed tables, maps, sparse keys")
        try session.expect("badcall add", "error PROTOCOL malformed MVS arguments (-1)", "a plugin's bad value stream is refused")
        try session.expect("call properties", #"ok "crpc" "TEST" "" "x=1" 64"#, "the path / is normalised to the root's \"\"")
        try session.expect("close", "closed")
        #expect(harness.server.waitFor("kaboom"), "a Lua error is logged")
    }

    @Test func rejectionsAndMissingApplications() throws {
        let harness = try LuaHarness(files: [
            "www/main.lua": "function onConnection(client, who) if who == 'bad' then error('go away') end if who == 'silent' then error() end end",
            "www/broken/main.lua": "this is not lua",
        ])
        let session = try harness.connect()
        try session.expect("open / bad", "rejected SCRIPT \(harness.folder)/www/main.lua:1: go away")
        try session.expect("open / silent", "rejected SCRIPT client rejected")
        try session.expect("open /missing", "rejected APPLICATION Application /missing doesn't exist")
        let broken = try session.command("open /broken")
        #expect(broken.hasPrefix("rejected SCRIPT \(harness.folder)/www/broken/main.lua:1:"))
        try session.expect("open / good", "opened {}")
    }

    @Test func childrenInheritEventsAndGlobalsButNotWrites() throws {
        let harness = try LuaHarness(files: [
            "www/main.lua": """
            shared = "root value"
            started = {}
            function onStart(path) started[#started + 1] = path end
            function onConnection(client)
                function client:where() return name, path, this == _G, type(super), shared, childValue end
                function client:started() return table.concat(started, ";") end
                function client:children() local n = 0 for k in pairs(children) do n = n + 1 end return n, #children end
            end
            """,
            "www/child/main.lua": """
            childValue = "child value"
            shared2 = shared
            """,
            "www/child/grand/.keep": "",
            "www/empty/.keep": "",
        ])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call started", #"ok """#, "children load lazily")
        #expect(!harness.server.output.contains("Application www/child loaded"))
        let child = try harness.connect()
        try child.expect("open /child/grand", "opened {}", "a folder without main.lua is an app")
        // The root's onConnection defined the methods: they run in the root env.
        try child.expect("call where", #"ok "" "" false "table" "root value" nil"#)
        try session.expect("call started", #"ok ";/child""#, "onStart is inherited with the child path; a folder without main.lua has no onStart")
        try session.expect("call children", "ok 1 1")
        #expect(harness.server.waitFor("Application www/child loaded"))
    }

    @Test func aChangedMainLuaReloadsAndConnectedClientsKeepWorking() throws {
        let harness = try LuaHarness(files: ["www/main.lua": """
        VERSION = 1
        function onStop(path) NOTE("stopping v", VERSION) end
        function onConnection(client) function client:hello() return "hi v" .. VERSION end end
        """])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call hello", #"ok "hi v1""#)
        try LuaHarness.write("""
        VERSION = 2
        function onStart(path) NOTE("started v", VERSION) end
        function onConnection(client) end
        """, to: "\(harness.folder)/www/main.lua")
        #expect(harness.server.waitFor("started v2", timeout: 6), "the 2-second tick reloads the root")
        #expect(harness.server.output.contains("stopping v1"))
        try session.expect("call hello", #"ok "hi v2""#, "old closures see the new globals")
    }

    @Test func requireDofileAndLoadfileSearchTheAppThenItsParents() throws {
        let harness = try LuaHarness(files: [
            "www/main.lua": "function onConnection(client) function client:root() return helper() end end",
            "www/lib.lua": "function helper() return 'from root lib' end return 'lib result'",
            "www/sub/main.lua": """
            local result = require("lib.lua")
            local again = dofile("lib.lua")
            local chunk = loadfile("local.lua")
            function onConnection(client)
                function client:sub() return result, again, chunk(), helper ~= nil, require("string") == string end
            end
            """,
            "www/sub/local.lua": "return 'local file'",
        ])
        let session = try harness.connect()
        try session.expect("open /sub", "opened {}")
        // lib.lua was found in the root folder and runs in the root env: helper is a root global.
        try session.expect("call sub", #"ok "lib result" "lib result" "local file" true true"#)
    }

    @Test func collectionsLoggingAndTheMonaObject() throws {
        let harness = try LuaHarness(files: ["www/main.lua": """
        function onConnection(client)
            function client:logs() INFO("log test ", 1, " ", true, " ", nil, " ", {}, " ", 2.5) end
            function client:split() return mona:split("a, b,,c", ",", 3) end
            function client:splitAll() return mona:split("a,,b", ",") end
            function client:digests() return #mona:md5(""), mona:md5("") == "\\212\\029\\140\\217\\143\\000\\178\\004\\233\\128\\009\\152\\236\\248\\066\\126", #mona:sha256("x") end
            function client:configs() return mona.configs["rpc.port"] == mona.configs.rpc.port, mona.configs.rpc.port, mona.rpc.library, mona.arguments.custom end
            function client:counts()
                local n, i = 0, 0
                for id, c in pairs(mona.clients) do n = n + 1 end
                for k, v in ipairs({10, 20, 30, 40}) do i = i + 1 end
                return #mona.clients, mona.clients.count, n, i, mona.clients(client.id) == client, mona.clients(client.rawId) == client
            end
            function client:addresses()
                local ip = mona:createIPAddress("192.168.1.10")
                local sa = mona:createSocketAddress("[::1]:8080")
                local bad = mona:createIPAddress(function(err) lastError = err end, "nonsense")
                return ip.value, ip.isSiteLocal, ip.isLoopback, tostring(sa), sa.port, sa.isIPv6, sa.host.isLoopback, bad, lastError
            end
            function client:paths() return mona:absolutePath("x") == mona:absolutePath("") .. "x/", #mona:listPaths(""), mona:time() > 1.7e12 end
            function client:time() return type(mona:time()) end
        end
        """], arguments: ["--custom=7"])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        _ = try session.command("call logs")
        #expect(harness.server.waitFor("log test 1 (true) (null) table_0x"))
        #expect(harness.server.output.range(of: #"www/main.lua\[2\] log test 1 \(true\) \(null\) table_0x[0-9a-f]+ 2\.5"#,
                                            options: .regularExpression) != nil)
        try session.expect("call split", #"ok "a" "b" "c""#)
        try session.expect("call splitAll", #"ok "a" "" "b""#)
        try session.expect("call digests", "ok 16 true 32")
        try session.expect("call configs", #"ok true \#(harness.port) "libcrpc.so" 7"#)
        try session.expect("call counts", "ok 1 1 1 4 true true")
        try session.expect("call addresses", #"ok "192.168.1.10" true false "[::1]:8080" 8080 true true nil "invalid IP address nonsense""#)
        try session.expect("call paths", "ok true 1 true")
    }

    @Test func aBannedAddressIsRefused() throws {
        let harness = try LuaHarness(files: ["www/main.lua": """
        function onConnection(client)
            function client:ban() mona:addToBlacklist("127.0.0.1") end
            function client:unban() mona:removeFromBlacklist("127.0.0.1") end
        end
        """])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        _ = try session.command("call ban")
        let refused = try TestSocket(tcpPort: harness.port)
        #expect(refused.waitForEOF(), "a banned address is closed on accept")
        #expect(harness.server.waitFor("Data rejected because client 127.0.0.1 is banned"))
        _ = try session.command("call unban")
        let welcome = try harness.connect()
        try welcome.expect("open /", "opened {}")
    }

    @Test func typedObjectsFilesEnvironmentCompatAndManage() throws {
        let harness = try LuaHarness(files: [
            "www/main.lua": """
            managed = 0
            function onManage() managed = managed + 1 end
            function onTypedObject(name, object) object.seen = name end
            function onConnection(client)
                function client:typed()
                    local value = mona:fromJSON('[{"__type":"Point","x":1}]')
                    return value.seen, value.x
                end
                function client:files()
                    local names = {}
                    for _, file in ipairs(mona:listPaths("")) do
                        names[#names + 1] = file.name .. ":" .. file.extension .. ":" .. tostring(file.isFolder) .. ":" .. file.size
                    end
                    table.sort(names)
                    return table.concat(names, ";")
                end
                function client:environment() return mona.environment.MONA_TEST_VARIABLE end
                function client:compat()
                    local packed = table.pack(1, nil, 3)
                    return packed.n, select("#", table.unpack({1, 2, 3})), rawlen({1, 2})
                end
                function client:dump() mona:dump("FRAME", "ab\0") end
                function client:managed() return managed end
            end
            """,
            "www/hello.txt": "hello",
            "www/sub/.keep": "",
        ], arguments: ["--dump=FRA"])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call typed", #"ok "Point" 1"#, "onTypedObject sees every typed object fromX decodes")
        let mainSize = try String(contentsOfFile: "\(harness.folder)/www/main.lua", encoding: .utf8).utf8.count
        try session.expect("call files", #"ok "hello.txt:txt:false:5;main.lua:lua:false:\#(mainSize);sub::true:0""#)
        try session.expect("call environment", #"ok "from the test""#)
        try session.expect("call compat", "ok 3 3 2")
        _ = try session.command("call dump")
        #expect(harness.server.waitFor("FRAME (3 bytes)"))
        #expect(harness.server.waitFor("61 62 00"))
        let deadline = Date().addingTimeInterval(6)
        var managed = "ok 0"
        while Date() < deadline, managed == "ok 0" {
            usleep(200_000)
            managed = try session.command("call managed")
        }
        #expect(managed != "ok 0", "onManage runs every 2 s on the root app")
    }

    @Test func dnsResolutionWaitsOffTheLoop() throws {
        let harness = try LuaHarness(files: ["www/main.lua": """
        function onConnection(client)
            function client:dns()
                local ip = mona:createIPAddressWithDNS("localhost")
                local address = mona:createSocketAddressWithDNS("localhost:8080")
                return ip.isLoopback, address.port, address.host.isLoopback
            end
            function client:literal() return mona:createIPAddressWithDNS("10.0.0.1").value end
            function client:unknown() return mona:createIPAddressWithDNS(function(err) failure = err end, "no-such-host.invalid"), failure end
            function client:failure() return failure end
            function client:lateFailure() mona:createIPAddressWithDNS("localhost") error("late kaboom", 0) end
        end
        """])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        // The call returns at once (the loop is not blocked) with a token; its results come later as the
        // response carrying that token (one token through both look-ups).
        try session.expect("call dns", "pending 1")
        #expect(try session.readLine() == "response 1 true 8080 true")
        try session.expect("call literal", #"ok "10.0.0.1""#, "a literal needs no look-up")
        try session.expect("call unknown", "pending 3")
        session.socket.setTimeout(20)
        #expect(try session.readLine() == #"response 3 nil "cannot resolve no-such-host.invalid""#,
                "a failed look-up calls the error callback, then the method answers")
        try session.expect("call failure", #"ok "cannot resolve no-such-host.invalid""#)
        try session.expect("call lateFailure", "pending 4")
        #expect(try session.readLine() == #"response -4 "late kaboom""#, "a late failure: the token negated, the message")
        #expect(!harness.server.output.contains("blocks the server"))
    }

    @Test func aPluginOfABI11GetsOKForACallThatWaits() throws {
        let harness = try LuaHarness(files: ["www/main.lua": """
        function onConnection(client)
            function client:dns() return mona:createIPAddressWithDNS("localhost").isLoopback end
            function client:lateFailure() mona:createIPAddressWithDNS("localhost") error("late kaboom", 0) end
        end
        """], crpcDefines: ["CRPC_ABI_VERSION=0x00010001u"])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call dns", "ok ", "MONA_PENDING is for plugins of ABI 1.2 and later")
        #expect(try session.readLine() == "response 1 true", "the token reads as a true response flag")
        try session.expect("call lateFailure", "ok ")
        try session.expect("call dns", "ok ", "a late failure is not told to a plugin of ABI 1.1: no line came for it")
        #expect(try session.readLine() == "response 3 true")
    }
}
