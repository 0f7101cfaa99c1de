import Foundation
import Testing

/// The persistent `data` table and native Lua C modules.
@Suite("data persistence and C modules", .serialized)
struct DataAndModulesTests {
    static let dataApp = """
    function onConnection(client)
        function client:set(key, value) data[key] = value end
        function client:setTable() data.t = { a = 1, b = { c = true } } end
        function client:override() data.t = 5 return type(data.t) end
        function client:remove(key) data[key] = nil end
        function client:get(key) return data[key] end
        function client:nested() return data.t.a, data.t.b.c end
        function client:deep() return data.t.b.c end
        function client:count() return #data, data.count end
        function client:child() return data.sub.inner end
        function client:burst(round)
            for k = 1, 40 do data["k" .. k] = "r" .. round .. string.rep("x", (round * 7 + k) % 97) end
        end
        function client:replace(round)
            data.t = nil
            data.t = { x = "r" .. round, y = { z = "r" .. round } }
        end
        function client:replaced() return data.t and data.t.x, data.t and data.t.y and data.t.y.z end
        function client:snapshot()
            local out = {}
            for k = 1, 40 do out[k] = data["k" .. k] end
            return table.concat(out, ",")
        end
    end
    """

    @Test func valuesSurviveAGracefulRestartWithMonaServersTypes() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.dataApp, "www/sub/main.lua": "data.inner = 'child data'"])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("open /sub", "opened {}", "the child writes data.inner into /sub")
        for line in ["call set n 10", "call set yes true", "call set word hello", "call set strtrue s:true", "call setTable"] {
            _ = try session.command(line)
        }
        try session.expect("call get n", #"ok "10""#, "numbers become strings at once")
        try session.expect("call override", #"ok "table""#, "a sub-table is not overwritten")
        try session.expect("call count", "ok 4 4", "sub-tables are not counted")
        try harness.restart()
        let again = try harness.connect()
        try again.expect("open /", "opened {}")
        try again.expect("call get n", #"ok "10""#)
        try again.expect("call get yes", "ok true")
        try again.expect("call get word", #"ok "hello""#)
        try again.expect("call nested", #"ok "1" true"#)
        try again.expect("call child", #"ok "child data""#, "a parent sees its children's data")
        _ = try again.command("call remove t")
        try harness.restart()
        let third = try harness.connect()
        try third.expect("open /", "opened {}")
        try third.expect("call get t", "ok nil", "removal is recursive on disk too")
        #expect(!FileManager.default.fileExists(atPath: "\(harness.folder)/data/t"))
    }

    @Test func aMonaServer1DataFolderLoadsAsIs() throws {
        // 1.x layout: a folder per key path, the value in a file named by its MD5; plus a corrupt file.
        let harness = try LuaHarness(files: [
            "www/main.lua": Self.dataApp,
            "data/init/b326b5062b2f0e69046810717534cb09": "true",
            "data/t/b/c/c4ca4238a0b923820dcc509a6f75849b": "1",
            "data/word/5d41402abc4b2a76b9719d911017c592": "hello",
            "data/torn/0123456789abcdef0123456789abcdef": "not the content of that md5",
        ])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call get init", "ok true")
        try session.expect("call get word", #"ok "hello""#)
        try session.expect("call deep", #"ok "1""#, "a number read from disk is a string, as 1.x")
        try session.expect("call get torn", "ok nil", "a file whose name is not its MD5 is dropped")
    }

    @Test func killNineLeavesEveryEntryOldOrNewNeverTorn() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.dataApp], ini: "[data]\nflushInterval=0\n", log: 6)
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        _ = try session.command("call burst 0")
        // Wait until round 0 is on disk: a restart-free check through the files themselves.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(harness.folder)/data")) ?? []
            if names.filter({ $0.hasPrefix("k") }).count == 40 { break }
            usleep(20_000)
        }
        // Keep writing, and kill the server in the middle of it.
        let rounds = Int.random(in: 20...60)
        for round in 1...rounds { _ = try session.command("call burst \(round)") }
        harness.kill9()
        try harness.restart()
        let after = try harness.connect()
        try after.expect("open /", "opened {}")
        let snapshot = try after.command("call snapshot")
        #expect(snapshot.hasPrefix("ok \""))
        let values = snapshot.dropFirst(4).dropLast().split(separator: ",", omittingEmptySubsequences: false)
        #expect(values.count == 40, "every key is still there: \(snapshot)")
        for (index, value) in values.enumerated() {
            let key = index + 1
            // The value must be exactly what some round wrote for this key.
            let valid = (0...rounds).contains { round in
                value == "r\(round)" + String(repeating: "x", count: (round * 7 + key) % 97)
            }
            #expect(valid, "k\(key) = \(value) is torn or foreign")
        }
    }

    @Test func killNineNeverLosesATableRemovedAndWrittenAgain() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.dataApp], ini: "[data]\nflushInterval=0\n", log: 6)
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        _ = try session.command("call replace 0")
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !FileManager.default.fileExists(atPath: "\(harness.folder)/data/t/y/z") { usleep(20_000) }
        // data.t = nil; data.t = {…} again and again, killed in the middle of it.
        for round in 1...Int.random(in: 30...80) { _ = try session.command("call replace \(round)") }
        harness.kill9()
        try harness.restart()
        let after = try harness.connect()
        try after.expect("open /", "opened {}")
        let answer = try after.command("call replaced")
        let values = answer.dropFirst(3).split(separator: " ")
        #expect(answer.hasPrefix("ok \"r") && values.count == 2 && values[0] == values[1],
                "t is wholly one round's table, never missing nor mixed: \(answer)")
    }

    @Test func cModulesLoadFromTheAppFolderAndTheExecutablesFolder() throws {
        let harness = try LuaHarness(files: [
            "www/main.lua": """
            function onConnection(client)
                function client:exe() return require("greet").hello("exe") end
            end
            """,
            "www/sub/main.lua": """
            function onConnection(client)
                function client:app() return require("appgreet").hello("app") end
            end
            """,
        ], ownExecutable: true)
        // The same C source under two module names: luaopen_<name> must match, so compile copies.
        try harness.buildLuaModule("greet", at: "greet.so")
        let source = try String(contentsOfFile: "\(TestEnvironment.repository)/Tests/Fixtures/luamodules/greet.c", encoding: .utf8)
        try source.replacingOccurrences(of: "luaopen_greet", with: "luaopen_appgreet")
            .write(toFile: "\(harness.folder)/appgreet.c", atomically: true, encoding: .utf8)
        let built = try TestEnvironment.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-I/usr/include/luajit-2.1",
                                                             "\(harness.folder)/appgreet.c", "-o", "\(harness.folder)/www/sub/appgreet.so"])
        #expect(built.status == 0, "\(built.output)")
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call exe", #"ok "hello exe from C""#, "greet.so next to the executable")
        let sub = try harness.connect()
        try sub.expect("open /sub", "opened {}")
        try sub.expect("call app", #"ok "hello app from C""#, "appgreet.so in the app's folder")
    }
}
