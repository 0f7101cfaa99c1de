import Foundation
import HTTPPlugin
import MonaPluginTesting
import MonaValues
import PluginABI
import Testing

extension PluginSessions {
    /// HLS on the fake host: the packager's own client and subscription, opened when the publication
    /// starts (ABI 1.9) or by a first request, a playlist that waits for the first segment, the init
    /// segment and segments from memory, the viewer's onSubscribe, the packager freed after the end.
    @Suite("HLS sessions on the fake host")
    struct HTTPHLSTests {
        static let config: [UInt8] = [0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 0]

        /// The body of the last response in `output`.
        static func body(_ output: String) -> String { output.components(separatedBy: "\r\n\r\n").last ?? "" }

        @Test func aPlaylistWaitsForTheFirstSegmentThenSegmentsComeFromMemory() throws {
            let (host, folder) = try HTTPLiveTests.started(config: ["HLS.segmentDuration": "1"])
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.output.isEmpty, "no segment yet: the request waits")
            let protocols = host.clients.values.map(\.protocol).sorted()
            #expect(protocols == ["HLS", "HTTP"], "the packager is a client of its own")
            let packager = try #require(host.subscriptions.values.first { !$0.ended })
            #expect(host.subscriptions.count == 2, "the viewer's onSubscribe ran on a subscription of its own, ended at once")
            host.sinkFrame(packager, kind: MONA_MEDIA_VIDEO, time: 0, Self.config, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY)
            for index in 0...25 {
                let key = index % 25 == 0
                host.sinkFrame(packager, kind: MONA_MEDIA_VIDEO, time: UInt32(index * 40), [key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88],
                               flags: key ? MONA_MEDIA_KEY : 0)
            }
            let playlist = Self.body(connection.outputText)
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200"), "\(connection.outputText)")
            #expect(connection.outputText.contains("Content-Type: application/vnd.apple.mpegurl"))
            #expect(playlist.contains("#EXTINF:1.000,\ncam.0.m4s\n"), "\(playlist)")
            #expect(!playlist.contains("#EXT-X-ENDLIST"))
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /live/cam.init.mp4 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.contains("Content-Type: video/mp4"))
            #expect(Self.body(connection.outputText).dropFirst(4).hasPrefix("ftyp"))
            _ = host.takeOutput(connection)
            let gathered = host.count("tcp_send_parts")
            host.receive(connection, "GET /live/cam.0.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(Self.body(connection.outputText).dropFirst(4).hasPrefix("moof"), "\(connection.outputText.prefix(300))")
            #expect(host.count("tcp_send_parts") == gathered + 1, "head and the segment's shared buffer in one send")
            let segment = host.takeOutput(connection)
            let headEnd = try #require(segment.indices.first { Array(segment[$0...].prefix(4)) == [13, 10, 13, 10] }) + 4
            #expect(String(decoding: segment[..<headEnd], as: UTF8.self).contains("Content-Length: \(segment.count - headEnd)\r\n"))
            // The segmenter gave its copy up: HEAD still knows the length, and sends no body.
            host.receive(connection, "HEAD /live/cam.0.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(host.takeOutput(connection) == Array(segment[..<headEnd]), "the GET's head, no body")
            host.receive(connection, "GET /live/cam.1.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "not cut yet")
            _ = host.takeOutput(connection)
            // The publication ends mid-segment: what was made is the last segment, the playlist ends.
            host.sinkStop(packager)
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            let last = Self.body(connection.outputText)
            #expect(last.contains("cam.1.m4s\n#EXT-X-ENDLIST\n"), "\(last)")
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /live/cam.1.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(Self.body(connection.outputText).dropFirst(4).hasPrefix("moof"), "the segment the end cut is served too")
        }

        @Test func aNameNotPublishingIs404AndOnSubscribeMayRefuse() throws {
            let (host, folder) = try HTTPLiveTests.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            let connection = try #require(host.connect())
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")
            #expect(host.clients.values.map(\.protocol) == ["HTTP"], "no packager is left behind")
            // onSubscribe decides once per client: another connection's client is refused.
            host.running = ["cam"]
            host.onSubscribe = { client, _ in client.protocol == "HTTP" ? .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "members only") : .accept }
            let other = try #require(host.connect())
            host.receive(other, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(other.outputText.hasPrefix("HTTP/1.1 403"), "\(other.outputText)")
            #expect(other.outputText.contains("members only"))
        }

        /// The configuration then `seconds` seconds of video at 25 fps from second `start` (a key frame every
        /// second), to a subscription.
        static func feed(_ host: FakeHost, _ subscription: FakeHost.Subscription, from start: Int = 0, seconds: Int) {
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: UInt32(start * 1000), config, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY)
            for index in start * 25...(start + seconds) * 25 {
                let key = index % 25 == 0
                host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: UInt32(index * 40), [key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88],
                               flags: key ? MONA_MEDIA_KEY : 0)
            }
        }

        @Test func aPublicationIsPackagedFromItsStartAndFreedAfterItsEnd() throws {
            let (host, folder) = try HTTPLiveTests.started(config: ["HLS.segmentDuration": "1", "HLS.window": "3"])
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            #expect(host.publicationStarted(application: "/live", name: "cam"), "the HTTP plugin wants the event (ABI 1.9)")
            let client = try #require(host.clients.values.first)
            #expect(client.protocol == "HLS" && client.path == "/live", "a client of the publisher's application")
            let packager = try #require(host.subscriptions.values.first { !$0.ended && $0.name == "cam" })
            Self.feed(host, packager, seconds: 4)
            // The first viewer: the window is there already, answered at once.
            let connection = try #require(host.connect())
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            let playlist = Self.body(connection.outputText)
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200"), "\(connection.outputText)")
            #expect(playlist.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "4 segments cut, 3 in the window: \(playlist)")
            #expect(playlist.contains("cam.1.m4s\n") && playlist.contains("cam.3.m4s\n"), "\(playlist)")
            #expect(host.clients.values.filter { $0.protocol == "HLS" }.count == 1, "the request used the running packager")
            // A second start of the same name (a plugin told twice, or a request's packager) opens nothing more.
            host.publicationStarted(application: "/live", name: "cam")
            #expect(host.clients.values.filter { $0.protocol == "HLS" }.count == 1)
            // The end: players get the end of the playlist for the window's duration (3 s), then the memory goes.
            host.running = []
            host.sinkStop(packager)
            host.publicationEnded(application: "/live", name: "cam")
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(Self.body(connection.outputText).hasSuffix("#EXT-X-ENDLIST\n"), "\(connection.outputText)")
            host.advance(ms: 2_999)
            #expect(!client.closed)
            host.advance(ms: 1)
            #expect(client.closed && packager.ended, "the packager's client and subscription ended")
            #expect(host.logs.contains { $0.text.contains("HLS packager of cam freed (0 left)") }, "\(host.logs)")
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")
        }

        @Test func aNewPublisherWithinTheLingerKeepsThePackager() throws {
            let (host, folder) = try HTTPLiveTests.started(config: ["HLS.segmentDuration": "1", "HLS.window": "2"])
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            host.publicationStarted(application: "", name: "cam")
            let packager = try #require(host.subscriptions.values.first { !$0.ended })
            Self.feed(host, packager, seconds: 2)
            host.sinkStop(packager)
            host.publicationEnded(application: "", name: "cam")
            host.advance(ms: 1_000)
            host.sinkStart(packager) // onUnpublish published the name again, say
            host.publicationStarted(application: "", name: "cam")
            Self.feed(host, packager, from: 3, seconds: 2)
            host.advance(ms: 5_000)
            #expect(!packager.ended, "the old end's timer leaves the running stream alone")
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200"), "\(connection.outputText)")
            #expect(!Self.body(connection.outputText).contains("#EXT-X-ENDLIST"))
        }

        @Test func noPackagingWhenHLSIsOffOrTheApplicationRefusesIt() throws {
            let (off, offFolder) = try HTTPLiveTests.started(config: ["HLS.enabled": "false"])
            defer { off.destroy(); try? FileManager.default.removeItem(atPath: offFolder) }
            off.running = ["cam"]
            off.publicationStarted(application: "/live", name: "cam")
            #expect(off.clients.isEmpty && off.subscriptions.isEmpty, "[HLS] enabled = false: nothing starts")
            let connection = try #require(off.connect())
            off.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")

            let (host, folder) = try HTTPLiveTests.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            host.onSubscribe = { client, _ in client.protocol == "HLS" ? .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "no HLS here") : .accept }
            host.publicationStarted(application: "/live", name: "cam")
            #expect(host.clients.values.allSatisfy { $0.closed }, "the refused packager's client is closed")
            #expect(host.logs.contains { $0.level == MONA_LOG_NOTE && $0.text.contains("HLS of cam refused by the application: no HLS here") },
                    "\(host.logs)")
        }

        /// Low-latency HLS: a blocking playlist reload and the hinted part wait for the stream and are
        /// answered when the part is cut; what is too far ahead or malformed is a 400, a part never
        /// listed a 404, a wait the stream does not fill a 503 after three target durations.
        @Test func blockingReloadsAndTheNextPartWaitForTheStream() throws {
            let (host, folder) = try HTTPLiveTests.started(config: ["HLS.segmentDuration": "1", "HLS.partDuration": "0.5"])
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            host.publicationStarted(application: "/live", name: "cam")
            let packager = try #require(host.subscriptions.values.first { !$0.ended && $0.name == "cam" })
            host.sinkFrame(packager, kind: MONA_MEDIA_VIDEO, time: 0, Self.config, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY)
            /// Frames `range` of 25 fps video, a key frame every second.
            func frames(_ range: ClosedRange<Int>) {
                for index in range {
                    let key = index % 25 == 0
                    host.sinkFrame(packager, kind: MONA_MEDIA_VIDEO, time: UInt32(index * 40), [key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88],
                                   flags: key ? MONA_MEDIA_KEY : 0)
                }
            }
            frames(0...25) // segment 0 (parts of 480, 480 and 40 ms), segment 1 begun
            let connection = try #require(host.connect())
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            let playlist = Self.body(connection.outputText)
            #expect(playlist.contains("#EXT-X-PART-INF:PART-TARGET=0.500\n"), "\(playlist)")
            #expect(playlist.contains("#EXT-X-PART:DURATION=0.480,URI=\"cam.0.p0.m4s\",INDEPENDENT=YES\n"), "\(playlist)")
            #expect(playlist.hasSuffix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"cam.1.p0.m4s\"\n"), "\(playlist)")
            _ = host.takeOutput(connection)

            host.receive(connection, "GET /live/cam.m3u8?_HLS_msn=1&_HLS_part=0 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.output.isEmpty, "part 0 of segment 1 is not made: the reload waits")
            frames(26...36)
            #expect(connection.output.isEmpty)
            frames(37...37) // 1480 ms: part 0 of segment 1 is cut
            let reloaded = Self.body(connection.outputText)
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200"), "\(connection.outputText)")
            #expect(reloaded.hasSuffix("URI=\"cam.1.p0.m4s\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"cam.1.p1.m4s\"\n"), "\(reloaded)")
            _ = host.takeOutput(connection)

            host.receive(connection, "GET /live/cam.1.p1.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.output.isEmpty, "the hinted part waits")
            frames(38...49) // 1960 ms: part 1 is cut
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200") && connection.outputText.contains("Content-Type: video/iso.segment"))
            #expect(Self.body(connection.outputText).dropFirst(4).hasPrefix("moof"), "\(connection.outputText.prefix(300))")
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /live/cam.1.p0.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(Self.body(connection.outputText).dropFirst(4).hasPrefix("moof"), "a listed part at once")
            _ = host.takeOutput(connection)

            for (request, status) in [("cam.1.p9.m4s", "404"), ("cam.m3u8?_HLS_msn=5", "400"), ("cam.m3u8?_HLS_part=1", "400"),
                                      ("cam.m3u8?_HLS_msn=1&_HLS_part=x", "400"), ("cam.m3u8?_HLS_msn=0", "200")] {
                host.receive(connection, "GET /live/\(request) HTTP/1.1\r\nHost: test\r\n\r\n")
                #expect(connection.outputText.hasPrefix("HTTP/1.1 \(status)"), "\(request): \(connection.outputText)")
                _ = host.takeOutput(connection)
            }

            // The stream stalls: the wait ends in a 503 after three target durations, the connection stays.
            host.receive(connection, "GET /live/cam.m3u8?_HLS_msn=2 HTTP/1.1\r\nHost: test\r\n\r\n")
            host.advance(ms: 2_999)
            #expect(connection.output.isEmpty)
            host.advance(ms: 1)
            #expect(connection.outputText.hasPrefix("HTTP/1.1 503"), "\(connection.outputText)")
            #expect(connection.closedHow == nil)
            _ = host.takeOutput(connection)
            // With the stream's end, what a reload asks for is there.
            host.receive(connection, "GET /live/cam.m3u8?_HLS_msn=2&_HLS_part=0 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.output.isEmpty)
            host.sinkStop(packager)
            #expect(Self.body(connection.outputText).hasSuffix("#EXT-X-ENDLIST\n"), "\(connection.outputText)")
        }

        /// onSubscribe runs once per name and connection, and a connection that names ever new
        /// publications keeps a bounded memory of them: past 64 names it starts again.
        @Test func theNamesOnSubscribeAcceptedAreBoundedPerConnection() throws {
            let (host, folder) = try HTTPLiveTests.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            var asked: [String] = []
            host.onSubscribe = { client, name in
                if client.protocol == "HTTP" { asked.append(name) }
                return .accept
            }
            let connection = try #require(host.connect())
            for name in ["a", "a"] + (0..<64).map({ "n\($0)" }) + ["a"] {
                host.receive(connection, "GET /\(name).m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
                #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "not publishing: \(connection.outputText)")
                _ = host.takeOutput(connection)
            }
            #expect(asked.count == 66 && asked.first == "a" && asked.last == "a",
                    "once for a, once per other name, and for a again once 64 other names pushed it out: \(asked.count)")
        }

        @Test func aPlaylistThatGetsNoSegmentIs404AfterTheTimeOut() throws {
            let (host, folder) = try HTTPLiveTests.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.output.isEmpty)
            host.advance(ms: 7_000)
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")
            #expect(connection.closedHow == nil, "the connection stays")
        }
    }
}
