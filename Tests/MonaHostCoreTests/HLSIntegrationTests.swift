import Foundation
import Testing

/// HLS in the real server: ffmpeg publishes over RTMP; ffprobe and ffmpeg read
/// `http://…/live/<name>.m3u8` (fMP4 segments made in memory, from the publication's start); Lua's
/// onSubscribe refuses a viewer; `[HLS] enabled = false`; the packager freed after the end.
@Suite("HLS with ffmpeg and ffprobe", .serialized)
struct HLSIntegrationTests {
    /// The /live application: who publishes and who subscribes in the log, `GET /live/lastTime?name=<name>`
    /// (the time of the last frame of a running publication, -1: none: read without asking for HLS) and
    /// `GET /live/mark?text=<text>` (a log line: what was logged before it is in the output once it is).
    static let app = """
    function onConnection(client)
        function client:onPublish(publication) NOTE("publishing ", publication.name) end
        function client:onSubscribe(listener) NOTE(client.protocol, " viewer of ", listener.publication.name) end
        function client:lastTime(values)
            local publication = mona.publications[values.name]
            return publication and publication.running and publication.lastTime or -1
        end
        function client:mark(values) NOTE("mark ", values.text) return true end
    end
    """

    /// The server of HTTPFLVIntegrationTests with this /live application and `[HLS]` set by `hls` (ini lines).
    static func server(hls: String) throws -> (server: ServerProcess, rtmp: UInt16, http: UInt16, folder: String) {
        try HTTPFLVIntegrationTests.server(live: app, extra: "[HLS]\n\(hls)\n")
    }

    /// Polls `GET /live/lastTime` until the publication `name` has run `ms` milliseconds; false after `timeout` seconds.
    static func waitForStream(_ http: UInt16, _ name: String, ms: Int, timeout: TimeInterval = 15) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let body = try get(http, "/live/lastTime?name=\(name)").body
            if let time = Int(body.trimmingCharacters(in: CharacterSet(charactersIn: "[]\n "))), time >= ms { return true }
            Thread.sleep(forTimeInterval: 0.1) // a poll's pace, not a synchronisation
        }
        return false
    }

    /// An HTTP GET on a new connection: the status line and the body (read to the connection's end).
    static func get(_ port: UInt16, _ path: String) throws -> (status: String, body: String) {
        let socket = try TestSocket(tcpPort: port, timeout: 10)
        try socket.send("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        var bytes: [UInt8] = []
        while let chunk = socket.receiveSome(), !chunk.isEmpty { bytes += chunk }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        return (parts.first?.components(separatedBy: "\r\n").first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func ffprobeAndFFmpegPlayALivePublicationOverHLS() throws {
        let (server, rtmp, http, folder) = try HTTPFLVIntegrationTests.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/cam", seconds: 9)
        #expect(server.waitFor("publishing cam"), "\(server.output)")
        let url = "http://127.0.0.1:\(http)/live/cam.m3u8"
        // Packaged from the publication's start: answered once a first segment is cut (2 s by default).
        let first = try Self.get(http, "/live/cam.m3u8")
        #expect(first.status == "HTTP/1.1 200 OK", "\(first)")
        #expect(first.body.hasPrefix("#EXTM3U\n#EXT-X-VERSION:7\n"), "\(first.body)")
        #expect(first.body.contains("#EXT-X-PROGRAM-DATE-TIME:"))
        #expect(first.body.contains("#EXT-X-MAP:URI=\"cam.init.mp4\""))
        #expect(server.waitFor("HTTP viewer of cam"), "the viewer's onSubscribe ran")
        // The MPEG-TS variant, for players without fMP4.
        let ts = try Self.get(http, "/live/cam.ts.m3u8")
        #expect(ts.body.contains("cam.0.ts\n"), "\(ts.body)")
        #expect(Set(try RTMPIntegrationTests.codecs("http://127.0.0.1:\(http)/live/cam.ts.m3u8")) == ["aac", "h264"])
        #expect(Set(try RTMPIntegrationTests.codecs(url)) == ["aac", "h264"], "(listed once per program and once per stream)")
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", url, "-c", "copy", "-f", "mp4",
                                                        "\(folder)/copy.mp4"])
        let published = publisher.wait(timeout: 25)
        #expect(published.status == 0, "\(published.output)")
        let copied = copy.wait(timeout: 20)
        #expect(copied.status == 0, "the playlist ends with the publication: \(copied.output)")
        let last = try Self.get(http, "/live/cam.m3u8")
        #expect(last.body.hasSuffix("#EXT-X-ENDLIST\n"), "\(last.body)")
        #expect(try RTMPIntegrationTests.codecs("\(folder)/copy.mp4") == ["aac", "h264"])
        let frames = try HTTPFLVIntegrationTests.probe("\(folder)/copy.mp4", ["-select_streams", "v", "-count_frames",
                                                                              "-show_entries", "stream=nb_read_frames"])
        #expect((Int(frames.first ?? "") ?? 0) >= 75, "at least 3 s of 25 fps video decoded: \(frames)")
        let times = try HTTPFLVIntegrationTests.probe("\(folder)/copy.mp4", ["-select_streams", "v", "-show_entries", "packet=dts"])
            .compactMap(Int.init)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "decode times increase")
    }

    @Test func unknownStreamsAndSegmentsAre404AndOnSubscribeMayRefuse() throws {
        let (server, rtmp, http, folder) = try HTTPFLVIntegrationTests.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        #expect(try Self.get(http, "/live/nobody.m3u8").status.hasPrefix("HTTP/1.1 404"))
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/secret", seconds: 3)
        defer { _ = publisher.wait(timeout: 10) }
        #expect(server.waitFor("publishing secret"))
        #expect(try Self.get(http, "/live/secret.m3u8").status.hasPrefix("HTTP/1.1 403"))
        let other = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/open", seconds: 3)
        defer { _ = other.wait(timeout: 10) }
        #expect(server.waitFor("publishing open"))
        #expect(try Self.get(http, "/live/open.m3u8").status == "HTTP/1.1 200 OK")
        #expect(try Self.get(http, "/live/open.99999.m4s").status.hasPrefix("HTTP/1.1 404"), "a segment out of the window")
        #expect(try Self.get(http, "/live/open.init.mp4").status == "HTTP/1.1 200 OK")
    }

    @Test func theFirstViewerFindsAWindowMadeFromThePublicationsStartAndItIsFreedAfterTheEnd() throws {
        let (server, rtmp, http, folder) = try Self.server(hls: "segmentDuration=1\nwindow=3")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/cam", seconds: 8)
        #expect(server.waitFor("HLS viewer of cam"), "the packager subscribed when the publication started: \(server.output)")
        // Nobody asks for HLS while the stream runs 3 s: key frames every second, so 2 segments at least are cut.
        #expect(try Self.waitForStream(http, "cam", ms: 3000))
        // A packager started by this request would answer on its first cut, with one segment.
        let first = try Self.get(http, "/live/cam.m3u8")
        #expect(first.status == "HTTP/1.1 200 OK", "\(first)")
        #expect(first.body.components(separatedBy: "#EXTINF:").count - 1 >= 2,
                "the first request finds the window made before any viewer: \(first.body)")
        let frames = try HTTPFLVIntegrationTests.probe("http://127.0.0.1:\(http)/live/cam.m3u8",
                                                       ["-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames"])
        #expect((Int(frames.first ?? "") ?? 0) >= 25, "ffprobe decodes the playlist's video: \(frames)")
        let published = publisher.wait(timeout: 25)
        #expect(published.status == 0, "\(published.output)")
        // The end: the playlist ends, then, the window's duration (3 s) later, the packager is freed.
        #expect(server.waitFor("HLS packager of cam freed (0 left)"), "\(server.output)")
        #expect(try Self.get(http, "/live/cam.m3u8").status.hasPrefix("HTTP/1.1 404"), "nothing is left of the stream")
    }

    @Test func withHLSOffNothingIsPackaged() throws {
        let (server, rtmp, http, folder) = try Self.server(hls: "enabled=false")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/cam", seconds: 3)
        defer { _ = publisher.wait(timeout: 10) }
        #expect(server.waitFor("publishing cam"))
        #expect(try Self.waitForStream(http, "cam", ms: 1000))
        #expect(try Self.get(http, "/live/cam.m3u8").status.hasPrefix("HTTP/1.1 404"), "HLS is off: a missing file")
        #expect(try Self.get(http, "/live/mark?text=done").body == "[true]")
        #expect(server.waitFor("mark done"))
        #expect(!server.output.contains("HLS viewer of cam"), "no packager subscribed: \(server.output)")
    }

    /// A low-latency HLS player (Python, Debian's `m3u8` parser reading the playlists) on one keep-alive
    /// connection: from a part that starts a segment, a blocking reload for the hinted part, then that
    /// part, twelve times. Each reload lists the part it asked for, within a fraction of a second of the
    /// wall clock its frames arrived at; the parts behind the init segment decode in ffprobe.
    static let llPlayer = #"""
    import datetime, http.client, json, re, sys, time, m3u8
    port, out = int(sys.argv[1]), sys.argv[2]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    def get(path):
        conn.request("GET", "/live/" + path)
        response = conn.getresponse()
        return response.status, response.read()
    def fail(message):
        print("FAIL", message)
        sys.exit(1)
    status, body = get("cam.m3u8")
    playlist = m3u8.loads(body.decode())
    control = playlist.server_control
    if status != 200 or control is None or not control.can_block_reload or playlist.part_inf is None:
        fail("no low-latency playlist: %d %s" % (status, body))
    target = playlist.part_inf.part_target
    if control.part_hold_back < 2 * target:
        fail("PART-HOLD-BACK %s under twice PART-TARGET %s" % (control.part_hold_back, target))
    status, init = get("cam.init.mp4")
    media, late, parts = bytearray(init), [], 0
    uri = playlist.preload_hint.uri
    for _ in range(40):
        msn, index = map(int, re.fullmatch(r"cam\.(\d+)\.p(\d+)\.m4s", uri).groups())
        status, body = get("cam.m3u8?_HLS_msn=%d&_HLS_part=%d" % (msn, index))
        if status != 200:
            fail("blocking reload %s: %d" % (uri, status))
        text = body.decode()
        playlist = m3u8.loads(text)
        listed = {part.uri: part for segment in playlist.segments for part in segment.parts}
        if uri not in listed:
            fail("%s not listed by the reload that asked for it: %s" % (uri, text))
        # When the newest part's frames ended: its segment's date plus the durations of its parts.
        end = start = None
        for line in text.split("\n"):
            if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                start = datetime.datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00")).timestamp()
                end = start
            elif line.startswith("#EXT-X-PART:"):
                end += float(re.search(r"DURATION=([0-9.]+)", line).group(1))
        if parts == 0 and (index != 0 or listed[uri].independent != "YES"):
            uri = playlist.preload_hint.uri  # start where a player can: a segment's first part
            continue
        late.append(time.time() - end)
        status, part = get(uri)
        if status != 200 or part[4:8] != b"moof":
            fail("part %s: %d" % (uri, status))
        media += part
        parts += 1
        if parts == 12:
            break
        uri = playlist.preload_hint.uri
    open(out, "wb").write(media)
    print(json.dumps({"parts": parts, "late": max(late), "target": target}))
    """#

    @Test func aLowLatencyPlayerFollowsPartsAsTheyAreCut() throws {
        let (server, rtmp, http, folder) = try Self.server(hls: "segmentDuration=1\npartDuration=0.25")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/cam", seconds: 12)
        defer { _ = publisher.wait(timeout: 25) }
        #expect(try Self.waitForStream(http, "cam", ms: 1500))
        try TestEnvironment.write(Self.llPlayer, to: "\(folder)/player.py")
        let run = try TestEnvironment.run("/usr/bin/timeout", ["30", "/usr/bin/python3", "\(folder)/player.py", "\(http)", "\(folder)/parts.mp4"])
        #expect(run.status == 0, "\(run.output)")
        let report = try #require(run.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
                                  as? [String: Any], "\(run.output)")
        #expect(report["parts"] as? Int == 12 && report["target"] as? Double == 0.25, "\(report)")
        let late = try #require(report["late"] as? Double)
        #expect(late < 1.0, "every part listed within a second of its frames (on a loaded test machine): \(late) s")
        #expect(try RTMPIntegrationTests.codecs("\(folder)/parts.mp4") == ["aac", "h264"])
        let frames = try HTTPFLVIntegrationTests.probe("\(folder)/parts.mp4", ["-select_streams", "v", "-count_frames",
                                                                               "-show_entries", "stream=nb_read_frames"])
        #expect((Int(frames.first ?? "") ?? 0) >= 60, "twelve parts of about 0.24 s at 25 fps decode: \(frames)")
    }
}
