import MonaCodecs
import MonaPluginTesting
import MonaValues
import PluginABI
@testable import RTMPPlugin
import Testing

extension PluginSessions {
    /// The RTMP plugin on the fake host: a client's handshake, connect, publish and play as bytes, the
    /// media model's calls and pushes read back, the merged writes driven by the fake clock.
    @Suite("RTMP sessions on the fake host")
    struct RTMPSessionTests {
        /// A peer speaking RTMP to the plugin through the fake host.
        final class Peer {
            let host: FakeHost
            let connection: FakeHost.Connection
            private var encoder = RTMPChunkEncoder()
            private var decoder = RTMPChunkDecoder()

            /// Connects and completes the simple handshake.
            init(_ host: FakeHost) throws {
                self.host = host
                connection = try #require(host.connect())
                var c1 = [UInt8](repeating: 0, count: 1536)
                for index in 8..<1536 { c1[index] = UInt8(truncatingIfNeeded: index &* 31) }
                host.receive(connection, [3] + c1)
                let answer = host.takeOutput(connection)
                guard answer.count == 1 + 2 * 1536, answer[0] == 3, Array(answer[1537...]) == c1 else {
                    throw RTMPTestFailure("unexpected S0/S1/S2 (\(answer.count) bytes)")
                }
                host.receive(connection, Array(answer[1..<1537]))
            }

            func send(_ message: RTMPMessage) { host.receive(connection, encoder.encode(message)) }

            func command(_ values: [MonaValue], stream: UInt32 = 0) {
                send(RTMPMessage(csid: 3, typeID: 20, streamID: stream, payload: AMF.encode(values, mode: .amf0).bytes))
            }

            /// Every message the plugin sent since the last call (the merged writes flushed first).
            func messages() throws -> [RTMPMessage] {
                host.advance(ms: 200)
                return try decoder.feed(host.takeOutput(connection))
            }

            /// The AMF values of every command among them.
            func commands() throws -> [[MonaValue]] {
                try messages().filter { $0.typeID == 20 }.map { try AMF.decode($0.payload) }
            }

            func connect(app: String) throws -> [[MonaValue]] {
                command([.string("connect"), .number(1), .object(type: "", fields: [
                    MonaField("app", .string(app)), MonaField("tcUrl", .string("rtmp://test/\(app)")),
                ])])
                return try commands()
            }

            /// createStream, then `verb` ("publish"/"play") of `name` on that stream; the commands that came back.
            func open(_ verb: String, _ name: String) throws -> [[MonaValue]] {
                command([.string("createStream"), .number(2), .nil])
                _ = try commands()
                command([.string(verb), .number(3), .nil, .string(name)], stream: 1)
                return try commands()
            }
        }

        struct RTMPTestFailure: Error, CustomStringConvertible {
            let description: String
            init(_ description: String) { self.description = description }
        }

        static func started() -> FakeHost {
            let host = FakeHost(section: "RTMP", config: ["RTMP.port": "1935"]) { monaPluginEntryRTMP($0) }
            #expect(host.start() == MONA_OK)
            return host
        }

        /// The status code of an onStatus command.
        static func statusCode(_ command: [MonaValue]) -> String? {
            guard command.first == .string("onStatus"), case .object(_, let fields)? = command.last else { return nil }
            return fields.first { $0.key == "code" }.flatMap { if case .string(let code) = $0.value { code } else { nil } }
        }

        @Test func connectOpensTheClientAndAnswersResult() throws {
            let host = Self.started()
            defer { host.destroy() }
            let peer = try Peer(host)
            host.onOpen = { _ in .accept([.object(type: "", fields: [MonaField("greeting", .string("hi"))])]) }
            let answers = try peer.connect(app: "live")
            let client = try #require(host.clients.values.first)
            #expect(client.protocol == "RTMP")
            #expect(client.path == "/live")
            let result = try #require(answers.first { $0.first == .string("_result") })
            #expect(result.count >= 4)
            #expect("\(result)".contains("NetConnection.Connect.Success"))
            #expect("\(result)".contains("greeting"), "onConnection's table is merged into _result")
        }

        @Test func aRejectedConnectAnswersError() throws {
            let host = Self.started()
            defer { host.destroy() }
            let peer = try Peer(host)
            host.onOpen = { _ in .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "go away") }
            let answers = try peer.connect(app: "live")
            let error = try #require(answers.first { $0.first == .string("_error") })
            #expect("\(error)".contains("NetConnection.Connect.Rejected"))
            #expect("\(error)".contains("go away"))
            #expect(host.clients.isEmpty)
        }

        @Test func aPublisherFramesReachTheMediaModel() throws {
            let host = Self.started()
            defer { host.destroy() }
            let peer = try Peer(host)
            _ = try peer.connect(app: "live")
            let answers = try peer.open("publish", "cam")
            #expect(answers.compactMap(Self.statusCode).contains("NetStream.Publish.Start"))
            let publication = try #require(host.publications.values.first)
            #expect(publication.name == "cam")
            let keyFrame: [UInt8] = [0x17, 0x01, 0, 0, 0] + [UInt8](repeating: 7, count: 300)
            peer.send(RTMPMessage(csid: 6, timestamp: 40, typeID: 9, streamID: 1, payload: keyFrame))
            peer.send(RTMPMessage(csid: 4, timestamp: 41, typeID: 8, streamID: 1, payload: [0xAF, 0x01, 1, 2, 3]))
            host.advance(ms: 100) // the read batcher's tick ends the batch
            #expect(publication.frames.map(\.kind) == [MONA_MEDIA_VIDEO, MONA_MEDIA_AUDIO])
            #expect(publication.frames.first?.bytes == keyFrame)
            #expect(publication.frames.first?.time == 40)
            #expect(publication.flushes >= 1)
        }

        @Test func aPlayerGetsPushedFramesAsRTMPMessages() throws {
            let host = Self.started()
            defer { host.destroy() }
            let peer = try Peer(host)
            _ = try peer.connect(app: "live")
            let answers = try peer.open("play", "cam")
            #expect(answers.compactMap(Self.statusCode).contains("NetStream.Play.Start"), "\(answers)")
            let subscription = try #require(host.subscriptions.values.first)
            #expect(subscription.name == "cam")
            host.sinkStart(subscription)
            let frame: [UInt8] = [0x17, 0x01, 0, 0, 0] + [UInt8](repeating: 9, count: 5_000)
            #expect(host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 0, frame, flags: MONA_MEDIA_KEY, serial: 1) == MONA_OK)
            host.sinkFlush(subscription)
            let messages = try peer.messages()
            let video = try #require(messages.first { $0.typeID == 9 })
            #expect(video.payload == frame)
            #expect(video.streamID == 1)
            #expect(messages.filter { $0.typeID == 20 }.compactMap { try? Self.statusCode(AMF.decode($0.payload)) }
                .contains("NetStream.Play.PublishNotify"))
        }

        @Test func garbageAfterTheHandshakeClosesOnlyThatSession() throws {
            let host = Self.started()
            defer { host.destroy() }
            let good = try Peer(host)
            let bad = try Peer(host)
            _ = try good.connect(app: "live")
            // A fmt-1 chunk on a chunk stream that never had a full header: the stream cannot be decoded.
            host.receive(bad.connection, [0x45, 0, 0, 0, 0, 0, 4, 20, 1, 2, 3, 4])
            #expect(bad.connection.closedHow != nil || bad.connection.ended)
            #expect(!good.connection.ended)
            good.command([.string("createStream"), .number(2), .nil])
            #expect(try good.commands().contains { $0.first == .string("_result") })
        }

        @Test func closingTheConnectionClosesTheClientAndItsPublication() throws {
            let host = Self.started()
            defer { host.destroy() }
            let peer = try Peer(host)
            _ = try peer.connect(app: "live")
            _ = try peer.open("publish", "cam")
            host.end(peer.connection)
            #expect(host.clients.isEmpty)
            #expect(host.count("client_close") == 1)
        }
    }
}
