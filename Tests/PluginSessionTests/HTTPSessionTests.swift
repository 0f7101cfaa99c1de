import Foundation
import HTTPPlugin
import MonaPluginTesting
import MonaValues
import PluginABI
import Testing

extension PluginSessions {
    /// The HTTP plugin driven through its C entry table by the fake host: no sockets, no Lua, a clock
    /// that moves only when the test says.
    @Suite("HTTP sessions on the fake host")
    struct HTTPSessionTests {
        /// A started HTTP plugin with a file of `content` that onRead allows as `/hello.txt`.
        static func started(content: String = "hello\n", config: [String: String] = [:]) throws -> (FakeHost, String) {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mona-http-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try content.write(toFile: "\(folder)/hello.txt", atomically: true, encoding: .utf8)
            let host = FakeHost(section: "HTTP", config: ["HTTP.port": "8080"].merging(config) { $1 }) { monaPluginEntryHTTP($0) }
            host.onReadFile = { _, name, _ in
                name == "hello.txt" ? .allow(path: "\(folder)/hello.txt", properties: []) : .deny(MONA_ERR_NOTFOUND, "no \(name)")
            }
            #expect(host.start() == MONA_OK)
            return (host, folder)
        }

        @Test func aFileIsServedThroughOnReadAndTheBlockingPool() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            #expect(host.listeners.values.first?.port == 8080)
            let connection = try #require(host.connect())
            host.receive(connection, "GET /hello.txt HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(host.count("client_open") == 1)
            #expect(host.clients.values.first?.protocol == "HTTP")
            #expect(host.count("client_read_file") == 1)
            #expect(host.pendingWorkCount > 0, "the file is opened and read on the blocking pool, not on the loop")
            host.runBlockingWork()
            let answer = connection.outputText
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            #expect(answer.hasSuffix("\r\n\r\nhello\n"), "\(answer)")
            #expect(connection.closedHow == nil) // keep-alive
        }

        @Test func aMissingFileIs404AndTheConnectionStays() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            let connection = try #require(host.connect())
            host.receive(connection, "GET /nothing.txt HTTP/1.1\r\nHost: test\r\n\r\n")
            host.runBlockingWork()
            #expect(connection.outputText.hasPrefix("HTTP/1.1 404"), "\(connection.outputText)")
            #expect(connection.closedHow == nil)
        }

        @Test func aGetWithoutDotCallsTheClientMethodAndAnswersJSON() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            var calls: [(String, [MonaValue])] = []
            host.onInvoke = { _, method, args in
                calls.append((method, args))
                return .results([.number(42), .string("ok")])
            }
            let connection = try #require(host.connect())
            host.receive(connection, "GET /sum HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(calls.first?.0 == "sum")
            let answer = connection.outputText
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            #expect(answer.hasSuffix("[42,\"ok\"]"), "\(answer)")
        }

        @Test func pipelinedRequestsAreAnsweredInOrder() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            host.onInvoke = { _, method, _ in .results([.string(method)]) }
            let connection = try #require(host.connect())
            // Byte by byte, three requests: the parser keeps what it has not consumed.
            let requests = "GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\nGET /third HTTP/1.1\r\nHost: t\r\n\r\n"
            for byte in requests.utf8 { host.receive(connection, [byte]) }
            let bodies = connection.outputText.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix(9) }
            #expect(bodies == ["[\"first\"]", "[\"second\"", "[\"third\"]"], "\(connection.outputText)")
        }

        @Test func aMalformedRequestIs400AndClosed() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            let connection = try #require(host.connect())
            host.receive(connection, "NOT AN HTTP REQUEST\r\n\r\n")
            #expect(connection.outputText.hasPrefix("HTTP/1.1 400"), "\(connection.outputText)")
            #expect(connection.closedHow != nil)
            #expect(connection.ended) // tcp_closed came, as a callback of its own
            #expect(host.clients.isEmpty)
        }

        @Test func anIdleConnectionTimesOutOnTheClock() throws {
            let (host, folder) = try Self.started(config: ["HTTP.timeout": "7"])
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            let connection = try #require(host.connect())
            host.advance(ms: 6_000)
            #expect(!connection.ended)
            host.advance(ms: 2_000)
            #expect(connection.ended)
            #expect(connection.endReason == MONA_CLOSED_BY_PLUGIN)
        }

        @Test func aPeerThatDoesNotReadPausesTheSession() throws {
            let (host, folder) = try Self.started(content: String(repeating: "x", count: 100_000))
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            let connection = try #require(host.connect())
            connection.blocked = true // nothing the plugin sends is read
            host.receive(connection, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            host.runBlockingWork()
            #expect(connection.outputText.hasPrefix("HTTP/1.1 200"))
            host.drain(connection)
            host.runBlockingWork()
            #expect(connection.output.count > 100_000)
        }

        @Test func aStopClosesEveryConnectionWithShutdown() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            let first = try #require(host.connect())
            let second = try #require(host.connect())
            host.receive(first, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            host.runBlockingWork()
            host.stop()
            #expect(first.ended && second.ended)
            #expect(host.clients.isEmpty, "the session's client was closed")
        }

        @Test func getMetricsAsksTheHostForThePeerWithoutOpeningAClient() throws {
            let (host, folder) = try Self.started()
            defer { host.destroy(); try? FileManager.default.removeItem(atPath: folder) }
            var peers: [UInt16] = []
            host.onMetrics = { peer in
                peers.append(peer.port)
                return peer.port == 50_000 ? (MONA_OK, "# TYPE up gauge\nup 1\n") : (MONA_E_REJECTED, "")
            }
            let allowed = try #require(host.connect())
            host.receive(allowed, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\nHEAD /metrics?x=1 HTTP/1.1\r\nHost: test\r\n\r\n")
            let answer = allowed.outputText
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer)")
            #expect(answer.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
            #expect(answer.contains("\r\n\r\n# TYPE up gauge\nup 1\nHTTP/1.1 200 OK"), "the HEAD answer has no body: \(answer)")
            #expect(answer.hasSuffix("Content-Length: 21\r\n\r\n"), "\(answer)")
            let refused = try #require(host.connect(peer: .loopback(50_001)))
            host.receive(refused, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(refused.outputText.hasPrefix("HTTP/1.1 404 Not Found"), "\(refused.outputText)")
            #expect(refused.outputText.contains("File metrics doesn"))
            #expect(peers == [50_000, 50_000, 50_001])
            #expect(host.count("client_open") == 0 && refused.closedHow == nil)
            // Off: an ordinary path (a method, then a file).
            host.onMetrics = { _ in (MONA_E_UNSUPPORTED, "") }
            let off = try #require(host.connect())
            host.receive(off, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            host.runBlockingWork()
            #expect(host.count("client_open") == 1 && host.count("client_read_file") == 1)
            #expect(off.outputText.hasPrefix("HTTP/1.1 404"), "\(off.outputText)")
        }
    }
}
