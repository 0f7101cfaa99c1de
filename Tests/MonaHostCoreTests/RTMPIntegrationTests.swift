import Foundation
import MonaCodecs
import MonaValues
import Testing
@testable import RTMPPlugin

/// The RTMP plugin in the real server: ffmpeg publishes, ffprobe/ffmpeg/rtmpdump play (rtmp:// and
/// rtmpe://), Lua refuses or relays, a minimal client calls Lua methods and sends malformed input.
@Suite("RTMP plugin with ffmpeg, ffprobe and rtmpdump", .serialized)
struct RTMPIntegrationTests {
    static let app = """
    function onConnection(client, first)
        NOTE("connected over ", client.protocol)
        if first == "reject" then error("not welcome", 0) end
        function client:add(a, b) return a + b end
        function client:resolve(name) return mona:createIPAddressWithDNS(name).isLoopback, "resolved" end
        function client:resolveThenFail(name) mona:createIPAddressWithDNS(name) error("no way", 0) end
        function client:push() client.writer:writeInvocation("hello", "there", { n = 1 }) return "pushed" end
        function client:meta(name)
            local publication = mona:publish(name)
            publication:writeProperties({ width = 640, title = "lua" })
            local width = publication.properties.width
            publication:clearProperties()
            local cleared = publication.properties == nil
            publication:close()
            return width, cleared
        end
        function client:onPublish(publication)
            if publication.name == "forbidden" then error("publishing forbidden here", 0) end
            if publication.name == "source" then
                -- A publication of the server, fed from Lua with what this client publishes.
                local copy = mona:publish("copy")
                function publication:onAudio(time, packet) copy:pushAudio(time, packet) end
                function publication:onVideo(time, packet) copy:pushVideo(time, packet) end
                function publication:onFlush() copy:flush() end
                client.copy = copy
            end
            NOTE("publishing ", publication.name)
        end
        function client:onUnpublish(publication)
            if client.copy then client.copy:close() client.copy = nil end
        end
        return { greeting = "hi" }
    end
    """

    static func server() throws -> (ServerProcess, UInt16, String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try LuaHarness.write("function onConnection(client) end", to: "\(folder)/www/main.lua")
        try LuaHarness.write(app, to: "\(folder)/www/live/main.lua")
        let port = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nHTTP.port=0\nRTSP.port=0\n[RTMP]\nhost=127.0.0.1\nport=\(port)\n"
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, port, folder)
    }

    /// ffmpeg publishing a generated H.264/AAC stream for `seconds`, in real time.
    static func publisher(_ url: String, seconds: Int) throws -> ChildProcess {
        try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re",
                                             "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                                             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                                             "-t", "\(seconds)", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                                             "-g", "25", "-c:a", "aac", "-f", "flv", url])
    }

    /// The codec names ffprobe finds in a file or a URL, sorted.
    static func codecs(_ input: String) throws -> [String] {
        let run = try TestEnvironment.run("/usr/bin/timeout", ["15", "/usr/bin/ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                                                               "-of", "csv=p=0", input])
        return run.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.sorted()
    }

    @Test func ffmpegPublishesAndEveryPlayerGetsBothStreams() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let url = "rtmp://127.0.0.1:\(port)/live/test"
        let publisher = try Self.publisher(url, seconds: 8)
        #expect(server.waitFor("publishing test"), "\(server.output)")
        // Late joiners, while the stream runs: ffprobe live, rtmpdump over rtmp:// and rtmpe://, ffmpeg copying.
        #expect(try Self.codecs(url) == ["aac", "h264"])
        let plain = try ChildProcess("/usr/bin/rtmpdump", ["-q", "-r", url, "-o", "\(folder)/plain.flv", "-B", "1"])
        let encrypted = try ChildProcess("/usr/bin/rtmpdump", ["-q", "-r", "rtmpe://127.0.0.1:\(port)/live/test", "-o", "\(folder)/encrypted.flv", "-B", "1"])
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", url, "-c", "copy", "-f", "flv", "\(folder)/copy.flv"])
        let published = publisher.wait(timeout: 20)
        #expect(published.status == 0, "\(published.output)")
        // Every player ends when the publisher leaves (UnpublishNotify); rtmpdump says 2, "incomplete" live stream.
        #expect([0, 2].contains(plain.wait(timeout: 10).status))
        #expect([0, 2].contains(encrypted.wait(timeout: 10).status))
        #expect(copy.wait(timeout: 10).status == 0)
        for file in ["plain", "encrypted", "copy"] {
            #expect(try Self.codecs("\(folder)/\(file).flv") == ["aac", "h264"], "\(file)")
            // A late joiner starts on a key frame.
            let first = try TestEnvironment.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v", "-read_intervals", "%+#1",
                                                                    "-show_entries", "frame=key_frame", "-of", "csv=p=0", "\(folder)/\(file).flv"])
            #expect(first.output.split(separator: "\n").first == "1", "\(file): \(first.output)")
        }
        #expect(server.waitFor("connected over RTMPE"))
    }

    @Test func refusalsReachFFmpegAndLuaPublicationsArePlayable() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // onPublish raising an error: ffmpeg fails with the message (a publish that went on would end with 0).
        let refused = try Self.publisher("rtmp://127.0.0.1:\(port)/live/forbidden", seconds: 5).wait(timeout: 15)
        #expect(refused.status != 0)
        #expect(refused.output.contains("publishing forbidden here"), "\(refused.output)")
        // A Lua publication (mona:publish) relaying another one is playable; a second publisher of a name is refused.
        let source = try Self.publisher("rtmp://127.0.0.1:\(port)/live/source", seconds: 6)
        #expect(server.waitFor("publishing source"))
        #expect(try Self.codecs("rtmp://127.0.0.1:\(port)/live/copy") == ["aac", "h264"])
        let second = try Self.publisher("rtmp://127.0.0.1:\(port)/live/source", seconds: 5).wait(timeout: 15)
        #expect(second.status != 0 && second.output.contains("source is already publishing"), "\(second.output)")
        #expect(source.wait(timeout: 15).status == 0)
    }

    @Test func aPlayerThatDoesNotReadCostsBoundedMemoryAndSlowsNobody() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let url = "rtmp://127.0.0.1:\(port)/live/fast"
        // Noise does not compress: ~60 Mbit/s, ~45 MB in 6 s, mostly key frames (one every 5 frames).
        let publisher = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                                                             "nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128",
                                                             "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10",
                                                             "-g", "5", "-f", "flv", url])
        #expect(server.waitFor("publishing fast"))
        // A player that plays and never reads what it is sent.
        let stalled = try RTMPTestClient(port: port)
        #expect(try stalled.connect(app: "live", port: port).first == .string("_result"))
        try stalled.command([.string("createStream"), .number(2), .nil])
        _ = try stalled.readCommand()
        try stalled.command([.string("play"), .number(0), .nil, .string("fast")], stream: 1)
        let before = server.residentKiB()
        // Meanwhile a normal player gets the stream.
        let copy = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", url, "-c", "copy",
                                                        "-f", "flv", "\(folder)/copy.flv"])
        #expect(publisher.wait(timeout: 25).status == 0)
        #expect(copy.wait(timeout: 10).status == 0)
        #expect(try Self.codecs("\(folder)/copy.flv") == ["h264"])
        let grown = server.residentKiB() - before
        #expect(grown < 8 * 1024, "~45 MB were published to a player that reads nothing; the server grew \(grown) KiB")
        #expect(server.waitFor("publishing fast"))
    }

    @Test func aClientCallsLuaMethods() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let client = try RTMPTestClient(port: port)
        let connected = try client.connect(app: "live", port: port)
        #expect(connected.first == .string("_result"))
        guard case .object(_, let info)? = connected.last else { throw TestFailure("no info object: \(connected)") }
        #expect(info.first { $0.key == "code" }?.value == .string("NetConnection.Connect.Success"))
        #expect(info.first { $0.key == "objectEncoding" }?.value == .number(0), "no objectEncoding asked: AMF0")
        try client.command([.string("add"), .number(2), .nil, .number(2), .number(3)])
        #expect(try client.readCommand() == [.string("_result"), .number(2), .nil, .number(5)])
        try client.command([.string("missing"), .number(3), .nil])
        let failed = try client.readCommand()
        #expect(failed.first == .string("_error"))
        if case .object(_, let fields)? = failed.last {
            #expect(fields.first { $0.key == "level" }?.value == .string("error"))
            #expect(fields.first { $0.key == "description" }?.value == .string("Method client 'missing' not found in application /live"))
        }
        // A method that waits for a DNS look-up answers later with its own call's transaction, whatever
        // is answered meanwhile (which comes first depends on the look-up).
        try client.command([.string("resolve"), .number(8), .nil, .string("localhost")])
        try client.command([.string("add"), .number(9), .nil, .number(1), .number(1)])
        let answers = [try client.readCommand(), try client.readCommand()]
        #expect(answers.contains([.string("_result"), .number(9), .nil, .number(2)]), "\(answers)")
        #expect(answers.contains([.string("_result"), .number(8), .nil, .boolean(true), .string("resolved")]), "\(answers)")
        try client.command([.string("resolveThenFail"), .number(10), .nil, .string("localhost")])
        let lateFailure = try client.readCommand()
        #expect(Array(lateFailure.prefix(2)) == [.string("_error"), .number(10)], "a waiting call that fails: its _error")
        if case .object(_, let fields)? = lateFailure.last {
            #expect(fields.first { $0.key == "description" }?.value == .string("no way"))
        }
        // createStream, then publish on it: Publish.Start.
        try client.command([.string("createStream"), .number(4), .nil])
        #expect(try client.readCommand() == [.string("_result"), .number(4), .nil, .number(1)])
        try client.command([.string("publish"), .number(5), .nil, .string("mine"), .string("live")], stream: 1)
        let status = try client.readCommand()
        #expect(status.first == .string("onStatus"))
        if case .object(_, let fields)? = status.last { #expect(fields.first { $0.key == "code" }?.value == .string("NetStream.Publish.Start")) }
        // Lua pushes reach the client; publication properties from Lua.
        try client.command([.string("push"), .number(6), .nil])
        #expect(try client.readCommand() == [.string("hello"), .number(0), .nil, .string("there"),
                                             .object(type: "", fields: [MonaField("n", .number(1))])])
        #expect(try client.readCommand() == [.string("_result"), .number(6), .nil, .string("pushed")])
        try client.command([.string("meta"), .number(7), .nil, .string("props")])
        #expect(try client.readCommand() == [.string("_result"), .number(7), .nil, .number(640), .boolean(true)])
        // onConnection's table is in the connect answer; AMF3 when the client asks for it.
        let amf3 = try RTMPTestClient(port: port)
        let answer = try amf3.connect(app: "live", port: port, objectEncoding: 3)
        if case .object(_, let fields)? = answer.last {
            #expect(fields.first { $0.key == "greeting" }?.value == .string("hi"))
            #expect(fields.first { $0.key == "objectEncoding" }?.value == .number(3))
        }
        try amf3.command([.string("add"), .number(2), .nil, .number(20), .number(22)])
        #expect(try amf3.readCommand() == [.string("_result"), .number(2), .nil, .number(42)])
        // Streams per connection are bounded.
        for transaction in 10..<74 {
            try amf3.command([.string("createStream"), .number(Double(transaction)), .nil])
            #expect(try amf3.readCommand().first == .string("_result"))
        }
        try amf3.command([.string("createStream"), .number(74), .nil])
        #expect(try amf3.readCommand().first == .string("_error"), "the 65th stream is refused")
        // An error in onConnection rejects with its message.
        let rejected = try RTMPTestClient(port: port)
        let refusal = try rejected.connect(app: "live", port: port, arguments: [.string("reject")])
        #expect(refusal.first == .string("_error"))
        if case .object(_, let fields)? = refusal.last {
            #expect(fields.first { $0.key == "code" }?.value == .string("NetConnection.Connect.Rejected"))
            #expect(fields.first { $0.key == "description" }?.value == .string("not welcome"))
        }
        #expect(rejected.socket.waitForEOF())
        // An unknown application is refused with InvalidApp.
        let other = try RTMPTestClient(port: port)
        let invalid = try other.connect(app: "nowhere", port: port)
        #expect(invalid.first == .string("_error"))
        if case .object(_, let fields)? = invalid.last {
            #expect(fields.first { $0.key == "code" }?.value == .string("NetConnection.Connect.InvalidApp"))
        }
    }

    /// Malformed input, each sent byte by byte: the session is closed (with a log line), the server goes on.
    static let badInputs: [(name: String, afterHandshake: Bool, bytes: [UInt8])] = [
        ("wrong handshake version", false, [5] + [UInt8](repeating: 0, count: 1536)),
        ("2000 bytes of 'a'", false, [UInt8](repeating: 0x61, count: 2000)),
        ("an absurd chunk size", true, RTMPChunkEncoder().encodeOnce(RTMPMessage(csid: 2, typeID: 1, payload: [0x80, 0, 0, 0]))),
        ("media on a stream never created", true, RTMPChunkEncoder().encodeOnce(RTMPMessage(csid: 6, typeID: 9, streamID: 7, payload: [0x17, 1]))),
        ("an unknown message type", true, RTMPChunkEncoder().encodeOnce(RTMPMessage(csid: 3, typeID: 0x30, payload: [1, 2, 3]))),
        ("AMF that runs off the end", true, RTMPChunkEncoder().encodeOnce(RTMPMessage(csid: 3, typeID: 20, payload: [0x02, 0x00, 0x10, 0x63, 0x6F]))),
        ("a command before connect", true, RTMPChunkEncoder().encodeOnce(RTMPMessage(csid: 3, typeID: 20,
                                                                                      payload: AMF.encode([.string("play"), .number(1)], mode: .amf0).bytes))),
    ]

    @Test func malformedInputClosesOnlyThatSession() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let bystander = try RTMPTestClient(port: port)
        #expect(try bystander.connect(app: "live", port: port).first == .string("_result"))
        for bad in Self.badInputs {
            let socket: TestSocket
            if bad.afterHandshake {
                socket = try RTMPTestClient(port: port).socket
            } else {
                socket = try TestSocket(tcpPort: port)
            }
            for byte in bad.bytes {
                do { try socket.send([byte]) } catch { break } // the server may close before the last byte
            }
            #expect(socket.waitForEOF(), "\(bad.name) closes the session")
        }
        #expect(server.waitFor("WARN"), "a log line says why")
        try bystander.command([.string("add"), .number(2), .nil, .number(1), .number(1)])
        #expect(try bystander.readCommand() == [.string("_result"), .number(2), .nil, .number(2)], "the other sessions go on")
    }
}

extension RTMPChunkEncoder {
    /// The chunks of one message from a fresh encoder.
    func encodeOnce(_ message: RTMPMessage) -> [UInt8] {
        var encoder = self
        return encoder.encode(message)
    }
}
