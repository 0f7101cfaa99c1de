import Foundation
import HTTPPlugin
import MonaPluginTesting
import MonaValues
import PluginABI
import Testing
import WebSocketPlugin

extension PluginSessions {
    /// The WebSocket plugin on the fake host, fed the upgrade exactly as the HTTP plugin hands it over
    /// (both plugins run on fake hosts: the HTTP one's handoff is the WebSocket one's adoption).
    @Suite("WebSocket sessions on the fake host")
    struct WebSocketSessionTests {
        static let key = "dGhlIHNhbXBsZSBub25jZQ=="

        /// A masked client frame (RFC 6455 §5.2).
        static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
            var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
            if payload.count < 126 {
                bytes.append(0x80 | UInt8(payload.count))
            } else {
                bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
            }
            let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
            bytes += mask
            bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
            return bytes
        }

        static func text(_ string: String) -> [UInt8] { frame(0x1, Array(string.utf8)) }

        /// The server's frames in `bytes` (unmasked): opcode and payload.
        static func frames(_ bytes: [UInt8]) -> [(opcode: UInt8, payload: [UInt8])] {
            var result: [(UInt8, [UInt8])] = []
            var index = 0
            while index + 2 <= bytes.count {
                let opcode = bytes[index] & 0x0F
                var length = Int(bytes[index + 1] & 0x7F)
                index += 2
                if length == 126 {
                    length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
                    index += 2
                } else if length == 127 {
                    length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[index + $1]) }
                    index += 8
                }
                guard index + length <= bytes.count else { break }
                result.append((opcode, Array(bytes[index..<index + length])))
                index += length
            }
            return result
        }

        /// An upgraded session: the HTTP plugin's handoff adopted by the WebSocket plugin.
        static func upgraded(config: [String: String] = [:]) throws -> (http: FakeHost, ws: FakeHost, FakeHost.Connection) {
            let http = FakeHost(section: "HTTP", config: ["HTTP.port": "8080"]) { monaPluginEntryHTTP($0) }
            #expect(http.start() == MONA_OK)
            let connection = try #require(http.connect())
            http.receive(connection, "GET /app/?x=1 HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let handoff = try #require(connection.handoff)
            #expect(handoff.section == "WebSocket")
            let ws = FakeHost(section: "WebSocket", config: config) { monaPluginEntryWebSocket($0) }
            #expect(ws.start() == MONA_OK)
            let adopted = try #require(ws.adopt(request: handoff.request, bytes: handoff.bytes))
            return (http, ws, adopted)
        }

        @Test func theUpgradeOpensTheClientThenAnswers101() throws {
            let (http, ws, connection) = try Self.upgraded()
            defer { http.destroy(); ws.destroy() }
            let client = try #require(ws.clients.values.first)
            #expect(client.protocol == "WebSocket")
            #expect(client.path == "/app")
            #expect(client.query == "x=1")
            let head = connection.outputText
            #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
            // RFC 6455's example key and accept value.
            #expect(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "\(head)")
        }

        @Test func aJSONMessageCallsTheMethodAndItsResultsComeBack() throws {
            let (http, ws, connection) = try Self.upgraded()
            defer { http.destroy(); ws.destroy() }
            _ = ws.takeOutput(connection)
            ws.onInvoke = { _, method, args in .results([.string(method)] + args) }
            ws.receive(connection, Self.text("[\"echo\",1,\"two\"]"))
            let answers = Self.frames(ws.takeOutput(connection))
            #expect(answers.count == 1)
            #expect(answers.first?.opcode == 1)
            #expect(answers.first.map { String(decoding: $0.payload, as: UTF8.self) } == "[\"echo\",1,\"two\"]")
        }

        @Test func aFragmentedMessageByteByByteIsOneCall() throws {
            let (http, ws, connection) = try Self.upgraded()
            defer { http.destroy(); ws.destroy() }
            var methods: [String] = []
            ws.onInvoke = { _, method, _ in
                methods.append(method)
                return .results([])
            }
            let message = Self.frame(0x1, Array("[\"pa".utf8), fin: false) + Self.frame(0x9, Array("ping".utf8))
                + Self.frame(0x0, Array("rt\"]".utf8))
            _ = ws.takeOutput(connection)
            for byte in message { ws.receive(connection, [byte]) }
            #expect(methods == ["part"])
            let replies = Self.frames(ws.takeOutput(connection))
            #expect(replies.contains { $0.opcode == 0xA && $0.payload == Array("ping".utf8) }, "the ping got its pong")
        }

        @Test func anUnknownMethodAnswersAnError() throws {
            let (http, ws, connection) = try Self.upgraded()
            defer { http.destroy(); ws.destroy() }
            _ = ws.takeOutput(connection)
            ws.receive(connection, Self.text("[\"nothing\"]"))
            let answer = Self.frames(ws.takeOutput(connection)).first.map { String(decoding: $0.payload, as: UTF8.self) } ?? ""
            #expect(answer.hasPrefix("[\"__error\""), "\(answer)")
            #expect(!connection.ended)
        }

        @Test func anUnmaskedClientFrameClosesWith1002() throws {
            let (http, ws, connection) = try Self.upgraded()
            defer { http.destroy(); ws.destroy() }
            _ = ws.takeOutput(connection)
            ws.receive(connection, [0x81, 0x02] + Array("hi".utf8))
            let close = Self.frames(ws.takeOutput(connection)).first { $0.opcode == 0x8 }
            #expect(close.map { Int($0.payload[0]) << 8 | Int($0.payload[1]) } == 1002)
            #expect(connection.closedHow == MONA_CLOSE_WRITE) // then it drains what the peer still sends
            ws.receive(connection, Self.text("[\"ignored\"]"))
            #expect(ws.count("client_invoke") == 0)
            ws.end(connection)
            #expect(ws.clients.isEmpty, "the client closed with its connection")
        }

        @Test func aServerPushIsATextFrame() throws {
            let (http, ws, connection) = try Self.upgraded()
            defer { http.destroy(); ws.destroy() }
            _ = ws.takeOutput(connection)
            let client = try #require(ws.clients.values.first)
            #expect(ws.writerInvoke(client.writer, "news", [.number(3)]) == MONA_OK)
            let pushed = Self.frames(ws.takeOutput(connection)).first.map { String(decoding: $0.payload, as: UTF8.self) }
            #expect(pushed == "[\"news\",3]")
        }

        @Test func aSilentPeerIsPingedThenClosed() throws {
            let (http, ws, connection) = try Self.upgraded(config: ["WebSocket.timeout": "10"])
            defer { http.destroy(); ws.destroy() }
            _ = ws.takeOutput(connection)
            ws.advance(ms: 6_000)
            #expect(Self.frames(ws.takeOutput(connection)).contains { $0.opcode == 0x9 }, "pinged after timeout/2")
            ws.advance(ms: 6_000)
            let close = Self.frames(ws.takeOutput(connection)).first { $0.opcode == 0x8 }
            #expect(close.map { Int($0.payload[0]) << 8 | Int($0.payload[1]) } == 1001)
        }
    }
}
