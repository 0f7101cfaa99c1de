import Foundation
import Testing

/// The Lua watchdog: a script that never returns is interrupted after `lua.timeout` ms (its client is
/// disconnected, the others are served), and SIGTERM stops a server whose script loops.
@Suite("Lua watchdog", .serialized)
struct LuaWatchdogTests {
    static let app = """
    function onConnection(client)
        function client:loop() NOTE("looping") while true do end end
        function client:stubborn() while true do pcall(function() while true do end end) end end
        function client:loaded() return loadstring("local n = 0 while true do n = n + 1 end")() end
        function client:add(a, b) return a + b end
    end
    """

    @Test func aLoopingRPCIsInterruptedItsClientDisconnectedAndOthersServed() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app], ini: "[lua]\ntimeout=300")
        let other = try harness.connect()
        try other.expect("open /", "opened {}")
        for method in ["loop", "stubborn", "loaded"] {
            let looping = try harness.connect()
            try looping.expect("open /", "opened {}")
            let started = Date()
            let answer = try looping.command("call \(method)")
            let source = method == "loaded" ? #"[string "local n = 0 while true do n = n + 1 end"]:1:"# : "\(harness.folder)/www/main.lua:"
            #expect(answer.hasPrefix("error SCRIPT \(source)"), "\(method): \(answer)")
            #expect(answer.hasSuffix("script interrupted: it ran longer than lua.timeout (300 ms)"), "\(method): \(answer)")
            #expect(Date().timeIntervalSince(started) < 3, "\(method) interrupted soon after 300 ms")
            try looping.expectLine("writer close 0", "the client that looped is disconnected")
            #expect(looping.socket.waitForEOF())
            try other.expect("call add 1 2", "ok 3", "the server goes on serving the others")
        }
        #expect(harness.server.waitFor("Lua watchdog: client:stubborn of client"), "logged with the method")
        #expect(harness.server.output.contains("ran longer than lua.timeout (300 ms): interrupted, the client is disconnected"))
    }

    @Test func aWebSocketClientThatMadeAScriptLoopIsClosed() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try LuaHarness.write(Self.app, to: "\(folder)/www/main.lua")
        let port = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTMP.port=0\nRTSP.port=0\n[HTTP]\nhost=127.0.0.1\nport=\(port)\n[lua]\ntimeout=200\n"
        let server = try ServerProcess(directory: folder, ini: ini)
        defer { _ = server.terminate() }
        try server.waitUntilStarted()
        let looping = try WebSocketTestClient(port: port)
        #expect(looping.status == 101)
        try looping.sendText(#"["loop"]"#)
        let failure = try looping.readText()
        #expect(failure.hasPrefix(#"["__error","loop","#) && failure.contains("lua.timeout (200 ms)"), "\(failure)")
        #expect(try looping.readClose() != nil, "then a close frame")
        let other = try WebSocketTestClient(port: port)
        try other.sendText(#"["add",2,3]"#)
        #expect(try other.readText() == "[5]")
    }

    @Test func sigtermStopsAServerWhoseScriptLoops() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app], ini: "[lua]\ntimeout=0")
        let looping = try harness.connect()
        try looping.expect("open /", "opened {}")
        try looping.send("call loop")
        #expect(harness.server.waitFor("looping"), "the script loops")
        let stop = harness.server.terminate(timeout: 8)
        #expect(stop.status == 0, "SIGTERM during a loop ends the server normally: \(harness.server.output)")
        #expect(stop.seconds < 4, "within a bounded time (\(stop.seconds) s)")
        #expect(harness.server.output.contains("script interrupted: the server is stopping"))
    }
}
