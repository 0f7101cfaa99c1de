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
}
