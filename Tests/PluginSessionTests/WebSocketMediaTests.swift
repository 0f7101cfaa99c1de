import Foundation
import MonaPluginTesting
import MonaValues
import PluginABI
import Testing

extension PluginSessions {
    /// `["__play", name, "fmp4"]` on the fake host: the media type, the init segment, a fragment per
    /// batch, the slow-viewer bound; a plain `__play` gets no media.
    @Suite("WebSocket fMP4 play on the fake host")
    struct WebSocketMediaTests {
        typealias WS = WebSocketSessionTests
        static let videoConfig: [UInt8] = [0x17, 0x00, 0, 0, 0, 1, 0x42, 0xC0, 0x0D, 0xFF, 0xE1, 0, 0]
        static let audioConfig: [UInt8] = [0xAF, 0x00, 0x12, 0x10]

        /// Plays `cam` with `arguments` after the name; the subscription.
        static func playing(_ arguments: String) throws -> (FakeHost, FakeHost, FakeHost.Connection, FakeHost.Subscription) {
            let (http, ws, connection) = try WS.upgraded()
            ws.receive(connection, WS.text("[\"__play\",\"cam\"\(arguments)]"))
            let subscription = try #require(ws.subscriptions.values.first)
            ws.sinkStart(subscription)
            _ = ws.takeOutput(connection)
            return (http, ws, connection, subscription)
        }

        /// Video config, a key frame, two audio frames and a delta frame, in two batches.
        static func feed(_ ws: FakeHost, _ subscription: FakeHost.Subscription) -> [Int32] {
            var answers: [Int32] = []
            answers.append(ws.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 0, audioConfig, flags: MONA_MEDIA_CONFIG))
            answers.append(ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 0, videoConfig, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY))
            answers.append(ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 0, [0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88], flags: MONA_MEDIA_KEY))
            answers.append(ws.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 10, [0xAF, 1, 0x21, 0x10]))
            ws.sinkFlush(subscription)
            answers.append(ws.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 33, [0xAF, 1, 0x21, 0x10]))
            answers.append(ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 40, [0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9A]))
            ws.sinkFlush(subscription)
            return answers
        }

        @Test func anFMP4ViewerGetsTheTypeTheInitSegmentThenAFragmentPerBatch() throws {
            let (http, ws, connection, subscription) = try Self.playing(",\"fmp4\"")
            defer { http.destroy(); ws.destroy() }
            #expect(Self.feed(ws, subscription).allSatisfy { $0 == MONA_OK })
            let frames = WS.frames(connection.output)
            #expect(frames.map(\.opcode) == [1, 2, 2, 2], "the type, the init segment, two fragments")
            #expect(String(decoding: frames[0].payload, as: UTF8.self) == "[\"__media\",\"video/mp4; codecs=\\\"avc1.42c00d,mp4a.40.2\\\"\"]")
            #expect(frames[1].payload.dropFirst(4).starts(with: Array("ftyp".utf8)))
            #expect(frames[2].payload.dropFirst(4).starts(with: Array("moof".utf8)))
            #expect(frames[3].payload.dropFirst(4).starts(with: Array("moof".utf8)))
        }

        /// A viewer that joins mid-GOP gets audio first (the host sends the video configuration right
        /// before the next key frame): the cached configurations say video will come, so the stream
        /// waits for it instead of starting without video after a second of audio.
        @Test func aViewerJoiningMidGOPWaitsForTheVideoPastASecondOfAudio() throws {
            let (http, ws, connection) = try WS.upgraded()
            defer { http.destroy(); ws.destroy() }
            ws.publicationConfigs["cam"] = (Self.audioConfig, Self.videoConfig)
            ws.receive(connection, WS.text("[\"__play\",\"cam\",\"fmp4\"]"))
            let subscription = try #require(ws.subscriptions.values.first)
            ws.sinkStart(subscription)
            _ = ws.takeOutput(connection)
            ws.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 0, Self.audioConfig, flags: MONA_MEDIA_CONFIG)
            for time in stride(from: UInt32(0), through: 1500, by: 23) {
                ws.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: time, [0xAF, 1, 0x21, 0x10])
                ws.sinkFlush(subscription)
            }
            #expect(ws.takeOutput(connection).isEmpty, "no stream without its video")
            ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 1520, Self.videoConfig, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY)
            ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 1520, [0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88], flags: MONA_MEDIA_KEY)
            ws.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 1522, [0xAF, 1, 0x21, 0x10])
            ws.sinkFlush(subscription)
            let frames = WS.frames(ws.takeOutput(connection))
            #expect(frames.map(\.opcode) == [1, 2, 2], "the type, the init segment, a fragment")
            #expect(frames.first.map { String(decoding: $0.payload, as: UTF8.self) } == "[\"__media\",\"video/mp4; codecs=\\\"avc1.42c00d,mp4a.40.2\\\"\"]")
        }

        @Test func aPlainPlayerGetsNoMedia() throws {
            let (http, ws, connection, subscription) = try Self.playing("")
            defer { http.destroy(); ws.destroy() }
            _ = Self.feed(ws, subscription)
            #expect(connection.output.isEmpty, "audio and video are not carried without fmp4 (1.x)")
        }

        @Test func aViewerThatStopsReadingSkipsFrames() throws {
            let (http, ws, connection, subscription) = try Self.playing(",\"fmp4\"")
            defer { http.destroy(); ws.destroy() }
            _ = Self.feed(ws, subscription)
            connection.blocked = true
            let big: [UInt8] = [0x27, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 100_000)
            var refused = 0
            for index in 0..<60 {
                if ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: UInt32(80 + index * 40), big) == MONA_E_AGAIN { refused += 1 }
                ws.sinkFlush(subscription)
            }
            #expect(refused > 30, "frames stop at ~2 MiB queued: \(refused) refused")
            ws.drain(connection)
            #expect(ws.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 5_000, big) == MONA_OK, "taken again once it drained")
        }
    }
}
