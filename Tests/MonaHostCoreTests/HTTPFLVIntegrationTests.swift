import Foundation
import Testing

/// HTTP-FLV in the real server: ffmpeg publishes over RTMP, ffprobe and ffmpeg read
/// `http://…/live/<name>.flv`; Lua's onSubscribe refuses a viewer; a viewer that stops reading costs
/// bounded memory.
@Suite("HTTP-FLV with ffmpeg and ffprobe", .serialized)
struct HTTPFLVIntegrationTests {
    static let app = """
    function onConnection(client)
        function client:onPublish(publication) NOTE("publishing ", publication.name) end
        function client:onSubscribe(listener)
            if listener.publication.name == "secret" then error("members only", 0) end
            NOTE(client.protocol, " viewer of ", listener.publication.name)
        end
        function client:onUnsubscribe(listener) NOTE(client.protocol, " viewer left ", listener.publication.name) end
    end
    """

    /// The server with RTMP and HTTP on free loopback ports, `live` as www/live/main.lua (and `extra` ini lines).
    static func server(live: String = app, extra: String = "") throws -> (server: ServerProcess, rtmp: UInt16, http: UInt16, folder: String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try LuaHarness.write("function onConnection(client) end", to: "\(folder)/www/main.lua")
        try LuaHarness.write(live, to: "\(folder)/www/live/main.lua")
        let rtmp = TestEnvironment.freePort(), http = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTSP.port=0\n[RTMP]\nhost=127.0.0.1\nport=\(rtmp)\n[HTTP]\nhost=127.0.0.1\nport=\(http)\n\(extra)"
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, rtmp, http, folder)
    }

    /// ffprobe's answer for entries of the video stream (csv, one line each) of a file or URL.
    static func probe(_ input: String, _ arguments: [String]) throws -> [String] {
        let run = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/ffprobe", "-v", "error"] + arguments + ["-of", "csv=p=0", input])
        return run.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    @Test func ffprobeAndFFmpegPlayALivePublicationOverHTTP() throws {
        let (server, rtmp, http, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/cam", seconds: 6)
        #expect(server.waitFor("publishing cam"), "\(server.output)")
        let url = "http://127.0.0.1:\(http)/live/cam.flv"
        #expect(try RTMPIntegrationTests.codecs(url) == ["aac", "h264"])
        #expect(server.waitFor("HTTP viewer of cam"))
        // A viewer copying until the publication ends (mid-GOP: the stream just stops), then the file.
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", url, "-c", "copy", "-f", "flv",
                                                        "\(folder)/copy.flv"])
        let published = publisher.wait(timeout: 20)
        #expect(published.status == 0, "\(published.output)")
        let copied = copy.wait(timeout: 10)
        #expect(copied.status == 0, "the response ends with the publication: \(copied.output)")
        #expect(try RTMPIntegrationTests.codecs("\(folder)/copy.flv") == ["aac", "h264"])
        let frames = try Self.probe("\(folder)/copy.flv", ["-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames"])
        let decoded = Int(frames.first ?? "") ?? 0
        #expect(decoded >= 50, "more than 2 s of 25 fps video decoded: \(frames)")
        let keys = try Self.probe("\(folder)/copy.flv", ["-select_streams", "v", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame"])
        #expect(keys.first == "1", "a viewer starts on a key frame: \(keys)")
        for stream in ["v", "a"] {
            let times = try Self.probe("\(folder)/copy.flv", ["-select_streams", stream, "-show_entries", "packet=dts"]).compactMap(Int.init)
            #expect(times.count > 20)
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(stream) timestamps increase")
        }
        #expect(server.waitFor("HTTP viewer left cam"))
    }

    @Test func anUnknownStreamIs404AndOnSubscribeMayRefuse() throws {
        let (server, rtmp, http, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let socket = try TestSocket(tcpPort: http)
        try socket.send("GET /live/nobody.flv HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(try socket.readLine().hasPrefix("HTTP/1.1 404"))
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/secret", seconds: 3)
        defer { _ = publisher.wait(timeout: 10) }
        #expect(server.waitFor("publishing secret"))
        let refused = try TestSocket(tcpPort: http)
        try refused.send("GET /live/secret.flv HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(try refused.readLine().hasPrefix("HTTP/1.1 403"))
    }

    @Test func aViewerThatDoesNotReadCostsBoundedMemoryAndSlowsNobody() throws {
        // HLS off: its packager would keep a window of this stream (by design), which is not what is measured.
        let (server, rtmp, http, folder) = try Self.server(extra: "[HLS]\nenabled=false\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // Noise does not compress: ~60 Mbit/s, ~45 MB in 6 s, mostly key frames (one every 5 frames).
        let publisher = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                                                             "nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128",
                                                             "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10",
                                                             "-g", "5", "-f", "flv", "rtmp://127.0.0.1:\(rtmp)/live/fast"])
        #expect(server.waitFor("publishing fast"))
        let stalled = try TestSocket(tcpPort: http)
        try stalled.send("GET /live/fast.flv HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(server.waitFor("HTTP viewer of fast"))
        let before = server.residentKiB()
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", "http://127.0.0.1:\(http)/live/fast.flv",
                                                        "-c", "copy", "-f", "flv", "\(folder)/copy.flv"])
        #expect(publisher.wait(timeout: 25).status == 0)
        #expect(copy.wait(timeout: 10).status == 0)
        #expect(try RTMPIntegrationTests.codecs("\(folder)/copy.flv") == ["h264"])
        let grown = server.residentKiB() - before
        #expect(grown < 8 * 1024, "~45 MB were published to a viewer that reads nothing; the server grew \(grown) KiB")
    }
}
