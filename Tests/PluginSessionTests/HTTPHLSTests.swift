import Foundation
import HTTPPlugin
import MonaPluginTesting
import MonaValues
import PluginABI
import Testing

extension PluginSessions {
    /// HLS on the fake host: the packager's own client and subscription, a playlist that waits for the
    /// first segment, the init segment and segments from memory, the viewer's onSubscribe.
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
            host.receive(connection, "GET /live/cam.0.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(Self.body(connection.outputText).dropFirst(4).hasPrefix("moof"), "\(connection.outputText.prefix(300))")
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /live/cam.1.m4s HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "not cut yet")
            _ = host.takeOutput(connection)
            // The publication ends mid-segment: what was made is the last segment, the playlist ends.
            host.sinkStop(packager)
            host.receive(connection, "GET /live/cam.m3u8 HTTP/1.1\r\nHost: test\r\n\r\n")
            let last = Self.body(connection.outputText)
            #expect(last.contains("cam.1.m4s\n#EXT-X-ENDLIST\n"), "\(last)")
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
