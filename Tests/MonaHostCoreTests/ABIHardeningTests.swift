import Foundation
import PluginABI
import Testing
@testable import MonaHostCore

/// What the header promises about bad input, through the crpc fixture (C, the header alone): structs of
/// an older layout accepted, malformed MVS refused with MONA_E_INVAL and a log line, handles of another
/// plugin refused, sink_frame alone enough to subscribe, and the flags of pushed frames honoured.
@Suite("ABI hardening: sizes, malformed values, ownership, media flags", .serialized)
struct ABIHardeningTests {
    static let app = """
    function onConnection(client)
        function client:whoami() return "alive" end
    end
    """

    @Test func aStructCopyZeroExtendsTheFieldsAnOlderLayoutLacks() {
        // A 1.0 mona_plugin table followed by garbage: the fields of later minors must read as NULL.
        let size = MemoryLayout<mona_plugin>.size + 32
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xEE, count: size)
        let table = ABIStruct.copy(raw, declaredSize: UInt32(ABIStruct.pluginSize10), minimumSize: ABIStruct.pluginSize10,
                                   into: mona_plugin())
        #expect(table != nil)
        #expect(table?.sink_released != nil, "a 1.0 field is copied")
        #expect(table?.writer_set_property == nil && table?.sink_frame == nil, "1.1 and 1.3 fields read as NULL")
        #expect(ABIStruct.copy(raw, declaredSize: UInt32(ABIStruct.pluginSize10 - 1), minimumSize: ABIStruct.pluginSize10,
                               into: mona_plugin()) == nil, "below the 1.0 layout")
        #expect(ABIStruct.clientInfoSize10 == MemoryLayout<mona_client_info>.size, "mona_client_info has not grown since 1.0")
    }

    @Test func clientInfoOfAnyLayoutFromTheFirstIsAccepted() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("opensize \(ABIStruct.clientInfoSize10 - 8) /", "opensize -1", "smaller than the 1.0 layout")
        #expect(harness.server.waitFor("rpc: client_open refused: mona_client_info of \(ABIStruct.clientInfoSize10 - 8) bytes, below its 1.0 layout (\(ABIStruct.clientInfoSize10))"))
        try session.expect("opensize 1.0 /", "opened {}", "MONA_CLIENT_INFO_SIZE_1_0 as the C macro computes it")
        try session.expect("call whoami", #"ok "alive""#)
        try session.expect("close", "closed")
        try session.expect("opensize \(MemoryLayout<mona_client_info>.size + 64) /", "opened {}", "a newer plugin's longer struct")
        try session.expect("call whoami", #"ok "alive""#)
    }

    @Test func malformedMVSIsRefusedWithALogLine() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("publish live", "published")
        try session.expect("subscribe other", "subscribed")
        let refusals = [
            ("open", "client_open refused: malformed MVS arguments"),
            ("call", "client_invoke refused: m: malformed MVS arguments"),
            ("property", "client_set_property refused: k: not one MVS value"),
            ("metadata", "pub_set_metadata refused: not one MVS value"),
            ("option", "sub_set_option refused: receiveAudio: not one MVS value"),
            ("data", "pub_data refused: malformed MVS data"),
            ("handoff", "tcp_handoff refused: malformed MVS request"),
        ]
        for (function, log) in refusals {
            try session.expect("mvs \(function)", "mvs \(function) -1", "MONA_E_INVAL")
            #expect(harness.server.waitFor("rpc: \(log)"), "\(function) logs why")
        }
        try session.expect("call whoami", #"ok "alive""#, "the client still works")
    }

    @Test func aPluginCannotUseTheHandlesOfAnother() throws {
        let otherPort = TestEnvironment.freePort()
        let harness = try LuaHarness(files: ["www/main.lua": Self.app],
                                     ini: "[thief]\nlibrary=libcrpc.so\nhost=127.0.0.1\nport=\(otherPort)\n")
        let owner = try harness.connect()
        try owner.expect("open /", "opened {}")
        try owner.expect("publish live", "published")
        try owner.expect("subscribe other", "subscribed")
        let handles = try owner.command("handles").split(separator: " ").dropFirst().map(String.init)
        #expect(handles.count == 4 && !handles.contains("0"))
        let (client, publication, subscription, connection) = (handles[0], handles[1], handles[2], handles[3])

        let thief = LuaHarness.Session(try TestSocket(tcpPort: otherPort))
        try thief.expect("open /", "opened {}")
        let attempts = [("call", client), ("param", client), ("property", client), ("read", client), ("writer", client),
                        ("publish", client), ("subscribe", client), ("video", publication), ("data", publication),
                        ("metadata", publication), ("flush", publication), ("unpublish", publication),
                        ("option", subscription), ("unsubscribe", subscription), ("send", connection),
                        ("tcpclose", connection), ("close", client)]
        for (op, handle) in attempts {
            try thief.expect("foreign \(op) \(handle)", "foreign \(op) -1", "\(op) on another plugin's handle")
        }
        #expect(harness.server.waitFor("thief: client_close refused: handle \(client) belongs to rpc"))
        #expect(harness.server.waitFor("thief: unpublish refused: handle \(publication) belongs to rpc"))
        #expect(harness.server.waitFor("thief: unsubscribe refused: handle \(subscription) belongs to rpc"))
        #expect(harness.server.waitFor("thief: tcp_close refused: handle \(connection) belongs to rpc"))
        // The owner still has all four, and may use them (nothing "stolen" was written to its connection).
        try owner.expect("call whoami", #"ok "alive""#)
        try owner.expect("foreign property \(client)", "foreign property 0")
        try owner.expect("foreign flush \(publication)", "foreign flush 0")
        try owner.expect("foreign option \(subscription)", "foreign option 0")
        try owner.expect("unsubscribe", "released")
        try owner.expectLine("unsubscribed")
    }

    @Test func workPendingAtTheStopEndsBeforeDestroy() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("work 10", "working")
        #expect(harness.server.waitFor("rpc: work done 10"))
        try session.expect("work 700", "working")
        let (status, _) = harness.server.terminate()
        #expect(status == 0)
        let output = harness.server.output
        let done = output.range(of: "rpc: work done 700")
        let destroyed = output.range(of: "rpc: destroyed with 0 works pending")
        #expect(done != nil, "work_done is delivered although the server stops")
        #expect(destroyed != nil, "destroy comes after every work_done: no work context is lost")
        if let done, let destroyed { #expect(done.lowerBound < destroyed.lowerBound) }
    }

    /// The tests' configuration, which is the server's too (both come from the same `swift build`).
    static let debugBuild: Bool = {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }()

    @Test(.enabled(if: debugBuild, "release builds compile the loop-thread assertion out"))
    func aDebugHostStopsOnALoopOnlyCallFromAnotherThread() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("work 1", "working", "a work calling the thread-safe log_level is fine")
        #expect(harness.server.waitFor("rpc: work done 1"))
        // The work may run, and stop the server, before the loop answers "working": only the assertion counts.
        try session.send("offloop")
        #expect(harness.server.waitFor("rpc: a host API function reserved to the loop thread was called from another thread",
                                       timeout: 30))
        harness.server.process.waitUntilExit()
        #expect(harness.server.process.terminationReason == .uncaughtSignal)
    }

    @Test func sinkFrameAloneIsEnoughToSubscribe() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app], crpcDefines: ["CRPC_SINK_FRAME", "CRPC_NO_AV_SINKS"])
        let publisher = try harness.connect()
        try publisher.expect("open /", "opened {}")
        try publisher.expect("publish live", "published")
        let player = try harness.connect()
        try player.expect("open /", "opened {}")
        try player.expect("subscribe live", "start live")
        try player.expectLine("subscribed")
        try publisher.send("video 0 17010a")
        try publisher.send("audio 10 af01bb")
        let key = try player.readLine()
        #expect(key.hasPrefix("frame video 0 17010a 6 "))
        let audio = try player.readLine()
        #expect(audio.hasPrefix("frame audio 10 af01bb 0 "))
    }

    @Test func theFlagsOfPushedFramesAreHonoured() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let publisher = try harness.connect()
        try publisher.expect("open /", "opened {}")
        try publisher.expect("publish live", "published")
        // Configurations the host cannot recognise itself (not AAC, not AVC), flagged CONFIG by the plugin.
        try publisher.send("audio 0 2b01 \(MONA_MEDIA_CONFIG)")
        try publisher.send("video 0 2700 \(MONA_MEDIA_CONFIG)")
        try publisher.expect("param sync", "param sync absent", "a round trip: the configurations are cached")
        let player = try harness.connect()
        try player.expect("open /", "opened {}")
        try player.expect("subscribe live", "start live")
        try player.expectLine("subscribed")
        // An inter frame by its FLV header, flagged KEY: the waiting subscriber starts on it.
        try publisher.send("video 40 2701aa \(MONA_MEDIA_KEY)")
        try player.expectLine("audio 0 2b01 5", "the flagged audio configuration first (CONFIG|RELIABLE)")
        try player.expectLine("video 0 2700 7", "the flagged video configuration before the key frame")
        try player.expectLine("video 0 2701aa 6", "the frame flagged KEY starts the subscriber (KEY|RELIABLE)")
        try publisher.send("video 80 2701bb")
        try player.expectLine("video 40 2701bb 0", "an unflagged inter frame stays one")
    }
}
