import Testing

/// ABI 1.3 through the crpc fixture (C, the header alone) built with CRPC_SINK_FRAME: a pushed frame
/// reaches every subscriber with one serial (a new one per push, 0 for a configuration sent to one late
/// subscriber); shared buffers go out through tcp_send_parts by reference (large ones by sendfile from
/// the host's in-memory file), in order with the other sends, and bad parts are refused without
/// anything sent.
@Suite("ABI 1.3: frame serials and shared sends", .serialized)
struct SharedSendTests {
    static let app = "function onConnection(client) end"

    /// The serial at the end of a "frame …" line.
    private static func serial(_ line: String) -> String { String(line.split(separator: " ").last ?? "") }

    @Test func aPushedFrameHasOneSerialForAllItsSubscribers() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app], crpcDefines: ["CRPC_SINK_FRAME"])
        let publisher = try harness.connect()
        try publisher.expect("open /", "opened {}")
        try publisher.expect("publish live", "published")
        try publisher.send("audio 100 af001210")
        try publisher.send("video 100 170001")
        try publisher.expect("param sync", "param sync absent", "a round trip: the configurations are cached")
        var players: [LuaHarness.Session] = []
        for _ in 0..<2 {
            let player = try harness.connect()
            try player.expect("open /", "opened {}")
            try player.expect("subscribe live", "start live")
            try player.expectLine("subscribed")
            players.append(player)
        }
        try publisher.send("video 140 17010a")
        try publisher.send("audio 150 af01bb")
        try publisher.send("flush")
        var serials: [[String]] = []
        for player in players {
            // The cached configurations are this subscriber's own (serial 0); pushed frames are shared.
            let audioConfig = try player.readLine()
            #expect(audioConfig == "frame audio 0 af001210 5 0")
            let videoConfig = try player.readLine()
            #expect(videoConfig == "frame video 0 170001 7 0")
            let key = try player.readLine()
            #expect(key.hasPrefix("frame video 0 17010a 6 "))
            let audio = try player.readLine()
            #expect(audio.hasPrefix("frame audio 10 af01bb 0 "))
            try player.expectLine("flush")
            serials.append([Self.serial(key), Self.serial(audio)])
        }
        #expect(serials[0] == serials[1], "every subscriber of a push sees its serial")
        #expect(!serials[0].contains("0"), "pushed frames have a serial")
        #expect(serials[0][0] != serials[0][1], "every push draws a new serial")
        // A slow subscriber answers MONA_E_AGAIN through sink_frame too: its video waits for a key frame.
        try players[1].send("slow on")
        try players[1].expect("param sync", "param sync absent")
        try publisher.send("video 180 27010b")
        try publisher.expect("param sync", "param sync absent")
        try players[1].send("slow off")
        try players[1].expect("param sync", "param sync absent")
        try publisher.send("video 220 27010c")
        try publisher.send("video 260 17010d")
        let fast = try [players[0].readLine(), players[0].readLine(), players[0].readLine()]
        #expect(fast.map { $0.split(separator: " ").prefix(4).joined(separator: " ") }
            == ["frame video 40 27010b", "frame video 80 27010c", "frame video 120 17010d"])
        let config = try players[1].readLine()
        #expect(config == "frame video 120 170001 7 0", "the skipping subscriber restarts with the configuration")
        let restart = try players[1].readLine()
        #expect(restart.hasPrefix("frame video 120 17010d 6 "))
        #expect(Self.serial(restart) == Self.serial(fast[2]))
    }

    @Test func sharedBuffersAreSentByReferenceAndBadPartsAreRefused() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        try session.expect("share hello world", "shared")
        try session.expect("sendparts 0 5", "part:hello")
        try session.expect("sendparts 6 5", "part:world", "a range inside the buffer")
        try session.expect("sendparts 6 0", "part:", "an empty range")
        try session.expect("sendparts 6 6", "sendparts -1", "past the end: MONA_E_INVAL, nothing sent")
        try session.expect("sendparts 12 0", "sendparts -1", "an offset past the end")
        try session.expect("sendparts 18446744073709551615 2", "sendparts -1", "an offset of 2^64 - 1")
        try session.expect("sendparts 1 18446744073709551615", "sendparts -1", "a size of 2^64 - 1")
        try session.expect("unshare", "unshared")
        try session.expect("sendparts 0 1", "sendparts -1", "a released buffer is unknown")
        try session.expect("share again", "shared", "the connection is still fine")
        try session.expect("sendparts 0 5", "part:again")
    }

    /// What `sendparts offset size` of a `sharebig` buffer writes.
    private static func part(_ offset: Int, _ size: Int) -> [UInt8] {
        Array("part:".utf8) + (offset..<offset + size).map { UInt8($0 % 251) } + [10]
    }

    /// Large ranges of a large shared buffer (file-backed: sendfile) queued behind a full socket, a
    /// borrowed send and small ranges between them: the reader gets every byte in order, then the end
    /// of the stream, whether the plugin closes (after the queue drains) or half-closes.
    @Test(arguments: ["hangup", "halfclose"])
    func largeSharedRangesGoOutInOrderBehindAFullSocket(_ close: String) throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let session = try harness.connect()
        let size = 3 << 20 // more than a loopback socket takes at once
        try session.expect("sharebig \(size)", "shared")
        // The reader reads nothing until every command is in: the first send fills the socket.
        try session.send("sendparts 0 \(size)")
        try session.send("param a")
        try session.send("sendparts 1000 300000")
        try session.send("sendparts 5 10")
        try session.send("sendparts 7 \(size - 7)")
        try session.send(close)
        var expected = Self.part(0, size)
        expected += Array("param a absent\n".utf8)
        expected += Self.part(1000, 300_000) + Self.part(5, 10) + Self.part(7, size - 7)
        session.socket.setTimeout(10)
        let received = try session.socket.receive(count: expected.count)
        let firstDifference = received.indices.first { $0 >= expected.count || received[$0] != expected[$0] }
        #expect(firstDifference == nil, "every byte in order (first difference at \(firstDifference ?? -1))")
        #expect(session.socket.waitForEOF(), "then the end of the stream")
    }
}
