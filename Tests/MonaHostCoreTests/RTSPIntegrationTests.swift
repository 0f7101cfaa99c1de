import Foundation
import Testing

/// The RTSP plugin in the real server with real clients: ffmpeg publishes over RTMP and ffprobe decodes
/// it over RTSP (TCP interleaved and UDP); ffmpeg records over RTSP (`-f rtsp`, TCP and UDP) and
/// ffprobe decodes that over RTMP and RTSP; GStreamer's rtspsrc decodes; Lua authenticates and refuses.
@Suite("RTSP plugin with ffmpeg, ffprobe and GStreamer", .serialized)
struct RTSPIntegrationTests {
    static let app = """
    function onConnection(client)
        NOTE("connected over ", client.protocol)
        if client.protocol == "RTSP" and (client.properties.user or "") ~= "" and client.properties.password ~= "pw" then
            error("bad password", 0)
        end
        function client:onPublish(publication)
            if publication.name == "forbidden" then error("publishing forbidden here", 0) end
            NOTE("publishing ", publication.name)
            if publication.name == "long" then
                local seen = {}
                local function first(kind) if not seen[kind] then seen[kind] = true NOTE("first ", kind, " of long") end end
                function publication:onAudio() first("audio") end
                function publication:onVideo() first("video") end
            end
        end
        function client:onSubscribe(listener)
            if listener.publication.name == "private" and client.properties.user ~= "bob" then error("not for you", 0) end
        end
    end
    """

    /// A server with RTMP and RTSP on free ports of 127.0.0.1.
    static func server() throws -> (server: ServerProcess, rtmp: UInt16, rtsp: UInt16, folder: String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try LuaHarness.write("function onConnection(client) end", to: "\(folder)/www/main.lua")
        try LuaHarness.write(app, to: "\(folder)/www/live/main.lua")
        let rtmp = TestEnvironment.freePort(), rtsp = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nHTTP.port=0\n[RTMP]\nhost=127.0.0.1\nport=\(rtmp)\n[RTSP]\nhost=127.0.0.1\nport=\(rtsp)\n"
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, rtmp, rtsp, folder)
    }

    /// What ffprobe decoded in the first `seconds` of a URL: codec names (sorted), video and audio frame
    /// counts, whether the first video frame is a key frame, and its output.
    struct Probe {
        var codecs: [String] = []
        var video = 0
        var audio = 0
        var startsOnKeyFrame = false
        var output = ""
    }

    static func probe(_ url: String, transport: String? = nil, seconds: Int = 3) throws -> Probe {
        let options = transport.map { ["-rtsp_transport", $0] } ?? []
        let run = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/ffprobe", "-v", "error"] + options
                                            + ["-read_intervals", "%+\(seconds)", "-show_entries", "stream=codec_name:frame=media_type,key_frame",
                                               "-of", "compact", url])
        var probe = Probe(output: run.output)
        var sawVideo = false
        for line in run.output.split(separator: "\n") {
            if line.hasPrefix("stream|codec_name=") { probe.codecs.append(String(line.dropFirst(18))) }
            if line.hasPrefix("frame|media_type=audio") { probe.audio += 1 }
            if line.hasPrefix("frame|media_type=video") {
                if !sawVideo { probe.startsOnKeyFrame = line.contains("|key_frame=1") }
                sawVideo = true
                probe.video += 1
            }
        }
        probe.codecs.sort()
        return probe
    }

    /// ffmpeg sending a generated H.264/AAC stream for `seconds`, in real time, to `url` in `format`.
    /// (`hevc`: libx265; `bFrames`: libx264 with B-frames, else without.)
    static func publisher(_ url: String, seconds: Int, format: [String], hevc: Bool = false, bFrames: Bool = false) throws -> ChildProcess {
        let video = hevc ? ["libx265", "-preset", "ultrafast", "-tune", "zerolatency", "-x265-params", "keyint=25:log-level=error"]
            : ["libx264", "-g", "25"] + (bFrames ? ["-preset", "veryfast", "-bf", "2"] : ["-preset", "ultrafast", "-tune", "zerolatency"])
        return try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re",
                                                    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                                                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                                                    "-t", "\(seconds)", "-c:v"] + video + ["-c:a", "aac"] + format + [url])
    }

    /// Checks a probe of ~3 s of 25 fps video (at least 40 frames: a player waits up to 1 s for a key frame)
    /// and 44.1 kHz AAC that started on a key frame.
    static func expectDecoded(_ probe: Probe, _ what: String, video: String = "h264") {
        #expect(probe.codecs == ["aac", video], "\(what): \(probe.output.suffix(600))")
        #expect(probe.video >= 40, "\(what): \(probe.video) video frames")
        #expect(probe.audio >= 100, "\(what): \(probe.audio) audio frames")
        #expect(probe.startsOnKeyFrame, "\(what)")
    }

    @Test func anRTMPPublicationPlaysOverRTSPWithTCPAndUDP() throws {
        let (server, rtmp, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try Self.publisher("rtmp://127.0.0.1:\(rtmp)/live/test", seconds: 12, format: ["-f", "flv"])
        #expect(server.waitFor("publishing test"))
        let url = "rtsp://127.0.0.1:\(rtsp)/live/test"
        // (A player that joins starts on the next key frame: up to 1 s of the 3 s goes by first.)
        Self.expectDecoded(try Self.probe(url, transport: "tcp"), "TCP interleaved")
        Self.expectDecoded(try Self.probe(url, transport: "udp"), "UDP")
        // A copy over RTSP ends cleanly when the publisher leaves (RTCP BYE), its file decodable.
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
                                                        "-c", "copy", "-f", "matroska", "\(folder)/copy.mkv"])
        #expect(publisher.wait(timeout: 25).status == 0)
        let copied = copy.wait(timeout: 15)
        #expect(copied.status == 0, "\(copied.output)")
        let file = try Self.probe("\(folder)/copy.mkv")
        Self.expectDecoded(file, "copy")
        // The publication is gone: DESCRIBE answers 404, ffprobe fails.
        let gone = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/ffprobe", "-v", "error", url])
        #expect(gone.status != 0 && gone.output.contains("404"), "\(gone.output)")
        #expect(server.waitFor("connected over RTSP"))
    }

    @Test func ffmpegRecordsOverRTSPWithTCPAndUDP() throws {
        let (server, rtmp, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        for transport in ["tcp", "udp"] {
            let name = "recorded\(transport)"
            // Over TCP with B-frames: RTP carries presentation times only, the publication needs decode times.
            let publisher = try Self.publisher("rtsp://127.0.0.1:\(rtsp)/live/\(name)", seconds: 14,
                                               format: ["-f", "rtsp", "-rtsp_transport", transport], bFrames: transport == "tcp")
            #expect(server.waitFor("publishing \(name)"))
            Self.expectDecoded(try Self.probe("rtmp://127.0.0.1:\(rtmp)/live/\(name)"), "\(transport) recording over RTMP")
            if transport == "tcp" {
                let packets = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/ffprobe", "-v", "error", "-read_intervals", "%+2",
                                                                           "-select_streams", "v", "-show_entries", "packet=pts,dts", "-of", "csv=p=0",
                                                                           "rtmp://127.0.0.1:\(rtmp)/live/\(name)"])
                let times = packets.output.split(separator: "\n").map { $0.split(separator: ",").compactMap { Int($0) } }.filter { $0.count == 2 }
                #expect(times.count > 20, "\(packets.output)")
                #expect(zip(times, times.dropFirst()).allSatisfy { $0[1] < $1[1] }, "decode times go forward: \(times)")
                #expect(times.contains { $0[0] > $0[1] } && times.allSatisfy { $0[0] >= $0[1] }, "B-frames: \(times)")
            }
            Self.expectDecoded(try Self.probe("rtsp://127.0.0.1:\(rtsp)/live/\(name)", transport: "tcp"), "\(transport) recording over RTSP")
            let published = publisher.wait(timeout: 20)
            #expect(published.status == 0, "\(published.output)")
        }
    }

    @Test func luaAuthenticatesAndRefuses() throws {
        let (server, rtmp, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // onPublish refuses: ffmpeg's RECORD fails with the message.
        let refused = try Self.publisher("rtsp://127.0.0.1:\(rtsp)/live/forbidden", seconds: 5, format: ["-f", "rtsp", "-rtsp_transport", "tcp"])
            .wait(timeout: 15)
        #expect(refused.status != 0 && refused.output.contains("publishing forbidden here"), "\(refused.output)")
        let publisher = try Self.publisher("rtmp://127.0.0.1:\(rtmp)/live/private", seconds: 10, format: ["-f", "flv"])
        #expect(server.waitFor("publishing private"))
        // onSubscribe refuses an anonymous player (401: credentials are asked for); Basic credentials in the URL
        // then reach onConnection: wrong ones are refused (403), good ones play.
        let anonymous = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/ffprobe", "-v", "error", "rtsp://127.0.0.1:\(rtsp)/live/private"])
        #expect(anonymous.status != 0 && anonymous.output.contains("401 not for you"), "\(anonymous.output)")
        let wrong = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/ffprobe", "-v", "error",
                                                                 "rtsp://bob:nope@127.0.0.1:\(rtsp)/live/private"])
        #expect(wrong.status != 0 && wrong.output.contains("403"), "\(wrong.output)")
        Self.expectDecoded(try Self.probe("rtsp://bob:pw@127.0.0.1:\(rtsp)/live/private", transport: "tcp"), "authenticated")
        #expect(publisher.wait(timeout: 20).status == 0)
    }

    @Test func gstreamerDecodesOverTCPAndUDP() throws {
        let player = "\(TestEnvironment.repository)/Tests/Fixtures/players/gst_rtsp_play.py"
        let bindings = try TestEnvironment.run("/usr/bin/python3", ["-c", "import gi; gi.require_version('Gst', '1.0')"])
        try #require(bindings.status == 0, "scripts/setup.sh installs GStreamer's Python bindings: \(bindings.output)")
        let (server, rtmp, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // Long enough for both runs on a loaded machine (each waits for a key frame, then decodes 2 s).
        let publisher = try Self.publisher("rtmp://127.0.0.1:\(rtmp)/live/gst", seconds: 20, format: ["-f", "flv"])
        #expect(server.waitFor("publishing gst"))
        for transport in ["tcp", "udp"] {
            // rtspsrc, then H.264 and AAC depayloaded and decoded: the player ends (status 0) once each
            // branch decoded 50 frames; one that decodes nothing ends at its own time-out (status 1).
            let run = try TestEnvironment.run("/usr/bin/timeout", [
                "-s", "KILL", "25", "/usr/bin/python3", player, "rtsp://127.0.0.1:\(rtsp)/live/gst", transport, "50", "8",
            ])
            #expect(run.status == 0, "\(transport): \(run.output)")
        }
        #expect(publisher.wait(timeout: 30).status == 0)
    }

    @Test func h265RecordedOverRTSPPlaysOverRTSP() throws {
        let (server, _, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let url = "rtsp://127.0.0.1:\(rtsp)/live/hevc"
        let publisher = try Self.publisher(url, seconds: 10, format: ["-f", "rtsp", "-rtsp_transport", "udp"], hevc: true)
        #expect(server.waitFor("publishing hevc"))
        Self.expectDecoded(try Self.probe(url, transport: "tcp"), "H.265 over TCP", video: "hevc")
        Self.expectDecoded(try Self.probe(url, transport: "udp"), "H.265 over UDP", video: "hevc")
        let published = publisher.wait(timeout: 20)
        #expect(published.status == 0, "\(published.output)")
    }

    /// The status line, headers and body of one answer read from a socket.
    static func answer(_ socket: TestSocket) throws -> (status: String, headers: [String], body: String) {
        let status = try socket.readLine().trimmingCharacters(in: .whitespacesAndNewlines)
        var headers: [String] = []
        while true {
            let line = try socket.readLine().trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { break }
            headers.append(line)
        }
        let length = headers.first { $0.lowercased().hasPrefix("content-length:") }.flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
        return (status, headers, String(decoding: try socket.receive(count: length ?? 0), as: UTF8.self))
    }

    @Test func badInputIsAnsweredOverARealSocket() throws {
        let (server, _, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // Framed but wrong: answered, and the connection goes on.
        let socket = try TestSocket(tcpPort: rtsp)
        try socket.send("DESCRIBE rtsp://127.0.0.1/live/nobody RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        #expect(try Self.answer(socket).status == "RTSP/1.0 404 Not Found")
        try socket.send("PLAY rtsp://127.0.0.1/live/nobody RTSP/1.0\r\nCSeq: 2\r\n\r\n")
        #expect(try Self.answer(socket).status.hasPrefix("RTSP/1.0 455"))
        try socket.send([0x24, 9, 0, 2, 1, 2]) // a `$` frame on a channel nobody set up
        let sdp = "this is not an SDP"
        try socket.send("ANNOUNCE rtsp://127.0.0.1/live/in RTSP/1.0\r\nCSeq: 3\r\nContent-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)")
        #expect(try Self.answer(socket).status.hasPrefix("RTSP/1.0 400"))
        try socket.send("OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n\r\n")
        let options = try Self.answer(socket)
        #expect(options.status == "RTSP/1.0 200 OK" && options.headers.contains("CSeq: 4"))
        // Garbage: 400, then the server closes; an oversized `$` frame: closed.
        try socket.send("\u{1}\u{2}\u{3} garbage\r\n\r\n")
        #expect(try Self.answer(socket).status.hasPrefix("RTSP/1.0 400"))
        #expect(socket.waitForEOF())
        let oversized = try TestSocket(tcpPort: rtsp)
        try oversized.send([0x24, 0, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 100))
        #expect(oversized.waitForEOF())
        #expect(server.waitFor("an interleaved frame of 65535 bytes"))
    }

    @Test func aTCPPlayerThatDoesNotReadCostsBoundedMemoryAndSlowsNobody() throws {
        let (server, rtmp, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // Noise does not compress: ~60 Mbit/s, ~45 MB in 6 s, a key frame every 5 frames.
        let publisher = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                                                             "nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128",
                                                             "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10",
                                                             "-g", "5", "-f", "flv", "rtmp://127.0.0.1:\(rtmp)/live/fast"])
        #expect(server.waitFor("publishing fast"))
        // A player over TCP that plays and never reads what it is sent.
        let url = "rtsp://127.0.0.1:\(rtsp)/live/fast"
        let stalled = try TestSocket(tcpPort: rtsp)
        try stalled.send("DESCRIBE \(url) RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n")
        #expect(try Self.answer(stalled).status == "RTSP/1.0 200 OK")
        try stalled.send("SETUP \(url)/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
        let setup = try Self.answer(stalled)
        let session = try #require(setup.headers.first { $0.hasPrefix("Session: ") }?.dropFirst(9).split(separator: ";").first)
        try stalled.send("PLAY \(url) RTSP/1.0\r\nCSeq: 3\r\nSession: \(session)\r\n\r\n")
        #expect(try Self.answer(stalled).status == "RTSP/1.0 200 OK")
        let before = server.residentKiB()
        // Meanwhile a normal player gets the stream.
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
                                                        "-c", "copy", "-f", "matroska", "\(folder)/copy.mkv"])
        #expect(publisher.wait(timeout: 25).status == 0)
        #expect(copy.wait(timeout: 15).status == 0)
        let copied = try Self.probe("\(folder)/copy.mkv")
        #expect(copied.codecs == ["h264"] && copied.video > 20, "\(copied.output.suffix(300))")
        let grown = server.residentKiB() - before
        #expect(grown < 8 * 1024, "~45 MB were played to a player that reads nothing; the server grew \(grown) KiB")
    }

    @Test func describeAnswersAtOnceFromTheCachedConfigurations() throws {
        let (server, rtmp, rtsp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // A key frame every 10 s (x264's default GOP of 250 frames): DESCRIBE must not wait for the next one.
        let publisher = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re",
                                                             "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                                                             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "6",
                                                             "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-c:a", "aac",
                                                             "-f", "flv", "rtmp://127.0.0.1:\(rtmp)/live/long"])
        #expect(server.waitFor("first audio of long") && server.waitFor("first video of long"))
        // Its configurations went by (the first frames): DESCRIBE answers with both tracks within 2 s, not
        // after the next key frame (10 s) nor after RTSP.describeTimeout (5 s).
        let socket = try TestSocket(tcpPort: rtsp, timeout: 2)
        try socket.send("DESCRIBE rtsp://127.0.0.1:\(rtsp)/live/long RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        let described = try Self.answer(socket)
        #expect(described.status == "RTSP/1.0 200 OK")
        #expect(described.body.contains("m=video 0 RTP/AVP 96") && described.body.contains("m=audio 0 RTP/AVP 97"), "\(described.body)")
        #expect(publisher.wait(timeout: 20).status == 0)
    }
}
