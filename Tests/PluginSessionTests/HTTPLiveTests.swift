import Foundation
import HTTPPlugin
import MonaPluginTesting
import MonaValues
import PluginABI
import Testing

extension PluginSessions {
    /// HTTP-FLV on the fake host: a publication that runs plays as an endless FLV response.
    @Suite("HTTP-FLV sessions on the fake host")
    struct HTTPLiveTests {
        /// A started HTTP plugin whose onRead allows the files of an empty folder, as the host does
        /// (a missing one is not found).
        static func started(config: [String: String] = [:]) throws -> (FakeHost, String) {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mona-flv-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let host = FakeHost(section: "HTTP", config: ["HTTP.port": "8080"].merging(config) { $1 }) { monaPluginEntryHTTP($0) }
            host.onReadFile = { _, name, _ in
                FileManager.default.fileExists(atPath: "\(folder)/\(name)")
                    ? .allow(path: "\(folder)/\(name)", properties: []) : .deny(MONA_ERR_NOTFOUND, "File \(name) doesn't exist")
            }
            #expect(host.start() == MONA_OK)
            return (host, folder)
        }

        /// The FLV tags after the 13-byte file header: type, time, body.
        static func tags(_ bytes: ArraySlice<UInt8>) -> [(type: UInt8, time: UInt32, body: [UInt8])] {
            var tags: [(UInt8, UInt32, [UInt8])] = []
            var at = bytes.startIndex
            while bytes.endIndex - at >= 15 {
                let size = Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
                let time = UInt32(bytes[at + 7]) << 24 | UInt32(bytes[at + 4]) << 16 | UInt32(bytes[at + 5]) << 8 | UInt32(bytes[at + 6])
                guard bytes.endIndex - at >= 15 + size else { break }
                let previous = Int(bytes[at + 11 + size]) << 24 | Int(bytes[at + 12 + size]) << 16 | Int(bytes[at + 13 + size]) << 8
                    | Int(bytes[at + 14 + size])
                #expect(previous == 11 + size)
                tags.append((bytes[at], time, Array(bytes[(at + 11)..<(at + 11 + size)])))
                at += 15 + size
            }
            #expect(at == bytes.endIndex, "no partial tag")
            return tags
        }

        /// The response head and the body after it.
        static func split(_ output: [UInt8]) -> (head: String, body: ArraySlice<UInt8>) {
            let end = Array("\r\n\r\n".utf8)
            guard let index = (0...(output.count - 4)).first(where: { Array(output[$0..<($0 + 4)]) == end }) else {
                return (String(decoding: output, as: UTF8.self), [])
            }
            return (String(decoding: output[..<index], as: UTF8.self), output[(index + 4)...])
        }

        @Test func aRunningPublicationPlaysAsAnEndlessFLVResponse() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /live/cam.flv?token=1 HTTP/1.1\r\nHost: test\r\n\r\n")
            let subscription = try #require(host.subscriptions.values.first)
            #expect(subscription.name == "cam")
            #expect(subscription.query == "token=1")
            let config: [UInt8] = [0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1F]
            let key: [UInt8] = [0x17, 0x01, 0, 0, 0] + [UInt8](repeating: 7, count: 5_000) // shared between viewers
            let audio: [UInt8] = [0xAF, 0x01, 1, 2, 3]
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 0, config, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY)
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 0x0100_0010, key, flags: MONA_MEDIA_KEY, serial: 5)
            host.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 23, audio, serial: 6)
            host.sinkFlush(subscription)
            let (head, body) = Self.split(connection.output)
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
            #expect(head.contains("Content-Type: video/x-flv"))
            #expect(head.contains("Cache-Control: no-cache, no-store"))
            #expect(head.contains("Connection: close"))
            #expect(!head.contains("Content-Length"), "the body lasts as long as the publication")
            #expect(Array(body.prefix(13)) == [0x46, 0x4C, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0])
            let tags = Self.tags(body.dropFirst(13))
            #expect(tags.map(\.type) == [9, 9, 8])
            #expect(tags.map(\.time) == [0, 0x0100_0010, 23], "the fourth time byte extends the 24-bit one")
            #expect(tags.map(\.body) == [config, key, audio])
            #expect(connection.closedHow == nil)
            // The publication ends: so does the response, and closing unsubscribes.
            host.sinkStop(subscription)
            #expect(connection.closedHow == MONA_CLOSE_GRACEFUL)
            #expect(subscription.ended)
            #expect(host.count("shared_create") == 1)
        }

        @Test func metadataAndDataBecomeScriptTags() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            let subscription = try #require(host.subscriptions.values.first)
            host.sinkMetadata(subscription, .object(type: "", fields: [MonaField("width", .number(640))]))
            host.sinkData(subscription, format: MONA_FORMAT_JSON, Array("[\"onCuePoint\",1]".utf8))
            host.sinkFlush(subscription)
            let tags = Self.tags(Self.split(connection.output).body.dropFirst(13))
            #expect(tags.map(\.type) == [18, 18])
            // AMF0: string "onMetaData", then an ECMA array; string "onCuePoint", number 1.
            #expect(tags.first?.body.starts(with: [0x02, 0x00, 0x0A] + Array("onMetaData".utf8) + [0x08]) == true)
            #expect(tags.last?.body.starts(with: [0x02, 0x00, 0x0A] + Array("onCuePoint".utf8) + [0x00, 0x3F, 0xF0]) == true)
        }

        @Test func aNameNotPublishingIsAFileAnd404WithoutOne() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(folder)/recorded.flv"))
            let connection = try #require(host.connect())
            host.receive(connection, "GET /nobody.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            let tried = host.subscriptions.values.map(\.ended)
            #expect(tried == [true], "tried, then let go")
            host.runBlockingWork()
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")
            _ = host.takeOutput(connection)
            host.receive(connection, "GET /recorded.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            host.runBlockingWork()
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200"), "\(connection.outputText)")
            #expect(connection.outputText.contains("Content-Length: 3"))
        }

        @Test func onSubscribeRefusingIs403() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            host.onSubscribe = { _, _ in .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "members only") }
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 403"), "\(connection.outputText)")
            #expect(connection.outputText.contains("members only"))
            #expect(host.subscriptions.isEmpty)
        }

        @Test func flvOffServesFilesOnly() throws {
            let (host, folder) = try Self.started(config: ["HTTP.flv": "false"])
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            host.runBlockingWork()
            #expect(host.subscriptions.isEmpty)
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")
        }

        @Test func aViewerThatStopsReadingSkipsFramesThenIsDropped() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            let subscription = try #require(host.subscriptions.values.first)
            connection.blocked = true
            let frame: [UInt8] = [0x27, 0x01, 0, 0, 0] + [UInt8](repeating: 1, count: 100_000)
            var refused = 0
            for index in 0..<100 {
                let status = host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: UInt32(index * 40), frame, serial: UInt64(index + 1))
                host.sinkFlush(subscription)
                if status == MONA_E_AGAIN { refused += 1 }
            }
            #expect(refused > 70, "frames stop at ~2 MiB queued: \(refused) refused")
            #expect(connection.output.count < 3 << 20)
            // Configurations still go.
            #expect(host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 4_000, [0x17, 0, 0, 0, 0, 1], flags: MONA_MEDIA_CONFIG) == MONA_OK)
            // Still stalled after the idle time-out (7 s): dropped.
            host.advance(ms: 7_000)
            #expect(connection.closedHow == nil || connection.closedHow == MONA_CLOSE_ABORT)
            host.advance(ms: 7_000)
            #expect(connection.closedHow == MONA_CLOSE_ABORT)
            #expect(subscription.ended)
        }

        @Test func aViewerThatReadsIsKeptPastTheIdleTimeOut() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.running = ["cam"]
            let connection = try #require(host.connect())
            host.receive(connection, "GET /cam.flv HTTP/1.1\r\nHost: test\r\n\r\n")
            let subscription = try #require(host.subscriptions.values.first)
            for second in 0..<30 {
                host.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: UInt32(second * 1000), [0xAF, 1, 0], serial: UInt64(second + 1))
                host.sinkFlush(subscription)
                host.advance(ms: 1_000)
            }
            #expect(connection.closedHow == nil)
            host.end(connection)
            #expect(subscription.ended, "the viewer left: its subscription ends")
        }
    }
}
