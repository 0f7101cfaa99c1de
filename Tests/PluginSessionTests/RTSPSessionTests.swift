import MonaPluginTesting
import MonaValues
import PluginABI
@testable import RTSPPlugin
import Testing

extension PluginSessions {
    /// The RTSP plugin on the fake host: requests as bytes, answers and interleaved RTP read back, the
    /// media model's subscriptions fed by the test, and what a publisher's RTP becomes.
    @Suite("RTSP sessions on the fake host")
    struct RTSPSessionTests {
        /// One answer of the plugin.
        struct Answer {
            let status: Int
            let headers: [String: String]
            let body: String
        }

        /// What the plugin wrote: answers and `$` frames (channel, bytes), in order.
        static func read(_ bytes: [UInt8]) -> (answers: [Answer], frames: [(channel: UInt8, bytes: [UInt8])]) {
            var answers: [Answer] = [], frames: [(UInt8, [UInt8])] = []
            var rest = bytes[...]
            while let first = rest.first {
                if first == UInt8(ascii: "$") {
                    let size = Int(rest[rest.startIndex + 2]) << 8 | Int(rest[rest.startIndex + 3])
                    frames.append((rest[rest.startIndex + 1], Array(rest.dropFirst(4).prefix(size))))
                    rest = rest.dropFirst(4 + size)
                    continue
                }
                let text = String(decoding: rest, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { break }
                let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    headers[String(parts[0])] = String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
                let headSize = text[..<end.upperBound].utf8.count
                let bodySize = Int(headers["Content-Length"] ?? "0") ?? 0
                let body = String(decoding: rest.dropFirst(headSize).prefix(bodySize), as: UTF8.self)
                answers.append(Answer(status: Int(lines[0].split(separator: " ")[1]) ?? 0, headers: headers, body: body))
                rest = rest.dropFirst(headSize + bodySize)
            }
            return (answers, frames)
        }

        static func started(_ host: FakeHost = FakeHost(section: "RTSP", config: ["RTSP.port": "554"]) { monaPluginEntryRTSP($0) }) -> FakeHost {
            #expect(host.start() == MONA_OK)
            return host
        }

        /// One request, its answers (and frames) back.
        static func request(_ host: FakeHost, _ connection: FakeHost.Connection, _ method: String, _ url: String, cseq: Int,
                            _ headers: [String] = [], body: String = "") -> (answers: [Answer], frames: [(channel: UInt8, bytes: [UInt8])]) {
            var text = "\(method) \(url) RTSP/1.0\r\nCSeq: \(cseq)\r\n" + headers.map { $0 + "\r\n" }.joined()
            if !body.isEmpty { text += "Content-Length: \(body.utf8.count)\r\n" }
            host.receive(connection, text + "\r\n" + body)
            return read(host.takeOutput(connection))
        }

        static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5], pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
        /// An FLV AVC sequence header, a key frame and an AAC config and frame.
        static var avcHeader: [UInt8] { [0x17, 0, 0, 0, 0] + AVCConfig(sps: [sps], pps: [pps]).record }
        static func avcFrame(key: Bool, size: Int) -> [UInt8] {
            let nal: [UInt8] = [key ? 0x65 : 0x41] + [UInt8](repeating: 0xAB, count: size - 1)
            return [key ? 0x17 : 0x27, 1, 0, 0, 0, UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)] + nal
        }
        static let aacHeader: [UInt8] = [0xAF, 0, 0x12, 0x10]
        static let aacFrame: [UInt8] = [0xAF, 1] + [UInt8](repeating: 0x21, count: 200)

        /// A client that DESCRIBEd a running H.264/AAC publication: the host starts the sink during the
        /// subscription, then the first frames give the configurations.
        static func described(_ host: FakeHost) throws -> (FakeHost.Connection, FakeHost.Subscription, Answer) {
            let connection = try #require(host.connect())
            host.onSubscribed = { host.sinkStart($0) }
            host.receive(connection, "DESCRIBE rtsp://127.0.0.1/live/cam RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n")
            #expect(host.takeOutput(connection).isEmpty) // waits for the codecs
            let subscription = try #require(host.subscriptions.values.first)
            #expect(subscription.name == "cam")
            host.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 0, aacHeader, flags: MONA_MEDIA_CONFIG)
            host.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 0, aacFrame)
            #expect(host.takeOutput(connection).isEmpty)
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 10, avcHeader, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY)
            let answers = read(host.takeOutput(connection)).answers
            #expect(answers.count == 1)
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 10, avcFrame(key: true, size: 4000), flags: MONA_MEDIA_KEY)
            host.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 23, aacFrame)
            return (connection, subscription, try #require(answers.first))
        }

        @Test func describeWaitsForTheCodecsAndPlayStartsOnTheHeldKeyFrame() throws {
            let host = Self.started()
            defer { host.destroy() }
            let (connection, subscription, describe) = try Self.described(host)
            #expect(describe.status == 200 && describe.headers["Content-Type"] == "application/sdp")
            #expect(describe.headers["Content-Base"] == "rtsp://127.0.0.1/live/cam/")
            #expect(describe.body.contains("a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtoCgL/l,aM48gA=="))
            #expect(describe.body.contains("a=rtpmap:97 MPEG4-GENERIC/44100/2") && describe.body.contains("config=1210"))
            let (clientProtocol, clientPath) = (host.clients.values.first?.protocol, host.clients.values.first?.path)
            #expect(clientProtocol == "RTSP" && clientPath == "/live")
            #expect(host.clients.values.first?.serverAddress == "127.0.0.1")
            // PLAY before SETUP.
            #expect(Self.request(host, connection, "PLAY", "rtsp://127.0.0.1/live/cam", cseq: 2).answers.first?.status == 455)

            #expect(Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/cam/trackID=7", cseq: 3,
                                 ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]).answers.first?.status == 404)
            let video = Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/cam/trackID=0", cseq: 3,
                                     ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]).answers[0]
            #expect(video.status == 200 && video.headers["Transport"]?.hasPrefix("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=") == true)
            let session = try #require(video.headers["Session"]?.split(separator: ";").first.map(String.init))
            #expect(video.headers["Session"] == "\(session);timeout=60")
            let audio = Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/cam/trackID=1", cseq: 4,
                                     ["Transport: RTP/AVP/TCP;unicast;interleaved=2-3", "Session: \(session)"]).answers[0]
            #expect(audio.status == 200)
            let play = Self.request(host, connection, "PLAY", "rtsp://127.0.0.1/live/cam/", cseq: 5, ["Session: \(session)", "Range: npt=0-"])
            #expect(play.answers.first?.status == 200)
            #expect(play.answers.first?.headers["RTP-Info"]?.contains("url=rtsp://127.0.0.1/live/cam/trackID=0;seq=") == true)
            // The held key frame, with SPS and PPS before it (one STAP-A), then FU-As; the AAC frame after it.
            let rtp = play.frames.filter { $0.channel == 0 }.map { $0.bytes }
            #expect(rtp.count == 1 + 3)
            #expect(rtp.first.map { $0[12] & 0x1F } == 24)
            #expect(rtp.dropFirst().allSatisfy { $0[12] & 0x1F == 28 })
            #expect(rtp.last.map { $0[1] & 0x80 } == 0x80 && rtp.first.map { $0[1] & 0x80 } == 0)
            #expect(play.frames.contains { $0.channel == 2 && $0.bytes.count == 12 + 4 + 200 })
            #expect(play.frames.contains { $0.channel == 1 && $0.bytes[1] == 200 }) // a sender report
            // A slow player: its queue past the limit refuses frames (the host skips to the next key frame).
            connection.blocked = true
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 50, Self.avcFrame(key: false, size: 3 << 20))
            host.sinkFlush(subscription)
            #expect(host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 90, Self.avcFrame(key: false, size: 100)) == MONA_E_AGAIN)
            host.drain(connection)
            #expect(host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 130, Self.avcFrame(key: true, size: 100), flags: MONA_MEDIA_KEY) == MONA_OK)
            _ = host.takeOutput(connection)
            // TEARDOWN ends the subscription; the connection goes on.
            #expect(Self.request(host, connection, "TEARDOWN", "rtsp://127.0.0.1/live/cam/", cseq: 6, ["Session: \(session)"]).answers.first?.status == 200)
            #expect(subscription.ended)
            #expect(Self.request(host, connection, "OPTIONS", "*", cseq: 7).answers.first?.status == 200)
        }

        /// Merged writes (RTSP.writeDelay, 50 ms): a TCP player's RTP of several batches goes out in one
        /// send, by the merger's timer when batches stop; a frame past 64 KiB goes out at once.
        @Test func aTCPPlayersBatchesGoOutMerged() throws {
            let host = Self.started()
            defer { host.destroy() }
            let (connection, subscription, _) = try Self.described(host)
            let setup = Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/cam/trackID=0", cseq: 3,
                                     ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]).answers[0]
            let session = try #require(setup.headers["Session"]?.split(separator: ";").first.map(String.init))
            #expect(Self.request(host, connection, "PLAY", "rtsp://127.0.0.1/live/cam/", cseq: 4, ["Session: \(session)"]).answers.first?.status == 200)
            let sends = host.count("tcp_send") + host.count("tcp_send_parts")
            for time in [40, 80, 120] as [UInt32] {
                host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: time, Self.avcFrame(key: false, size: 3000))
                host.sinkFlush(subscription)
            }
            #expect(Self.read(host.takeOutput(connection)).frames.isEmpty, "the batches wait for the next ones")
            host.advance(ms: 200)
            let merged = Self.read(host.takeOutput(connection)).frames.filter { $0.channel == 0 }
            #expect(merged.count == 3 * 3, "three frames of three FU-As each")
            #expect(merged.filter { $0.bytes[1] & 0x80 != 0 }.count == 3, "a marker on each frame's last packet")
            #expect(host.count("tcp_send") + host.count("tcp_send_parts") == sends + 1, "in one send")
            host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 160, Self.avcFrame(key: false, size: 70_000))
            #expect(Self.read(host.takeOutput(connection)).frames.filter { $0.channel == 0 }.count == 49, "written within the batch")
        }

        /// TCP players that start on the same key frame are in the same state (one SSRC per publication
        /// track, one start per key frame): their streams are byte for byte the same, and from the second
        /// player on a frame's `$` frames are made once and named by reference. A player that starts on a
        /// later key frame gets a stream of its own.
        @Test func tcpPlayersStartingTogetherShareTheirFrames() throws {
            let host = Self.started()
            defer { host.destroy() }
            host.publicationConfigs["cam"] = (Self.aacHeader, Self.avcHeader)
            host.onSubscribed = { host.sinkStart($0) }
            /// A player of the video track over TCP, PLAYing at once (nothing held): its connection,
            /// subscription and RTP-Info.
            func player() throws -> (FakeHost.Connection, FakeHost.Subscription, String) {
                let before = Set(host.subscriptions.keys)
                let connection = try #require(host.connect())
                #expect(Self.request(host, connection, "DESCRIBE", "rtsp://127.0.0.1/live/cam", cseq: 1).answers.first?.status == 200)
                let subscription = try #require(host.subscriptions.first { !before.contains($0.key) }?.value)
                let setup = Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/cam/trackID=0", cseq: 2,
                                         ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]).answers[0]
                let session = try #require(setup.headers["Session"]?.split(separator: ";").first.map(String.init))
                let play = try #require(Self.request(host, connection, "PLAY", "rtsp://127.0.0.1/live/cam/", cseq: 3,
                                                     ["Session: \(session)"]).answers.first)
                #expect(play.status == 200)
                return (connection, subscription, try #require(play.headers["RTP-Info"]))
            }
            let players = try (0..<3).map { _ in try player() }
            #expect(Set(players.map(\.2)).count == 1, "one RTP-Info for the three: \(players.map(\.2))")
            var serial: UInt64 = 0
            /// One frame to every subscriber, as the host delivers it (one serial).
            func push(_ to: [FakeHost.Subscription], time: UInt32, _ bytes: [UInt8], key: Bool) {
                serial += 1
                for subscription in to {
                    host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: time, bytes, flags: key ? MONA_MEDIA_KEY : 0, serial: serial)
                    host.sinkFlush(subscription)
                }
            }
            let shared = host.count("shared_create")
            push(players.map(\.1), time: 40, Self.avcFrame(key: false, size: 3000), key: false) // before any key frame: nothing
            push(players.map(\.1), time: 80, Self.avcFrame(key: true, size: 9000), key: true)
            push(players.map(\.1), time: 120, Self.avcFrame(key: false, size: 3000), key: false)
            // A fourth player starts on the next key frame.
            let late = try player()
            push(players.map(\.1) + [late.1], time: 160, Self.avcFrame(key: false, size: 3000), key: false)
            push(players.map(\.1) + [late.1], time: 200, Self.avcFrame(key: true, size: 9000), key: true)
            #expect(late.2 != players[0].2, "another start, another RTP-Info")
            host.advance(ms: 200)
            #expect(players.allSatisfy { $0.0.closedHow == nil }, "nobody closed")
            let streams = players.map { Self.read(host.takeOutput($0.0)).frames.filter { $0.channel == 0 }.map(\.bytes) }
            #expect(streams[0].count == 8 + 3 + 3 + 8, "the key frames' SPS and PPS (one STAP-A), one FU-A run each, nothing before the first key frame")
            #expect(streams[0].first.map { $0[12] & 0x1F } == 24, "the stream starts with the key frame's parameter sets")
            #expect(streams[1] == streams[0] && streams[2] == streams[0], "the same bytes for the players that started together: \(streams.map(\.count))")
            // Per frame: one shared buffer of payloads, one of `$` frames (made for the second player, reused by the third),
            // and for the late player's frames a `$` frames buffer of its own state only if another shared it: none.
            #expect(host.count("shared_create") - shared == 4 * 2, "\(host.count("shared_create") - shared) shared buffers")
            let lateStream = Self.read(host.takeOutput(late.0)).frames.filter { $0.channel == 0 }.map(\.bytes)
            #expect(lateStream.count == 8, "the late player starts on the second key frame")
            #expect(lateStream.first.map { $0[12] & 0x1F } == 24)
            let sequence = { (packet: [UInt8]) in Int(packet[2]) << 8 | Int(packet[3]) }
            #expect(late.2.contains("seq=\(sequence(lateStream[0]));"), "RTP-Info names its first packet: \(late.2)")
            #expect(players[0].2.contains("seq=\(sequence(streams[0][0]));"), "\(players[0].2)")
            #expect(lateStream[0][8..<12] == streams[0][0][8..<12], "one SSRC per publication track")
        }

        @Test func describeAnswersAtOnceFromTheCachedConfigurations() throws {
            let host = Self.started()
            defer { host.destroy() }
            host.publicationConfigs["cam"] = (Self.aacHeader, Self.avcHeader)
            host.onSubscribed = { host.sinkStart($0) }
            let connection = try #require(host.connect())
            let describe = try #require(Self.request(host, connection, "DESCRIBE", "rtsp://127.0.0.1/live/cam", cseq: 1).answers.first)
            #expect(describe.status == 200)
            #expect(describe.body.contains("m=video 0 RTP/AVP 96") && describe.body.contains("m=audio 0 RTP/AVP 97"))
        }

        @Test func udpPlayersGetAServerPortPairAndPackets() throws {
            let host = Self.started()
            defer { host.destroy() }
            let (connection, _, _) = try Self.described(host)
            let setup = Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/cam/trackID=0", cseq: 3,
                                     ["Transport: RTP/AVP;unicast;client_port=6000-6001"]).answers[0]
            #expect(setup.status == 200)
            let transport = try #require(setup.headers["Transport"])
            #expect(transport.contains("client_port=6000-6001;server_port=41000-41001"))
            let session = try #require(setup.headers["Session"]?.split(separator: ";").first.map(String.init))
            #expect(Self.request(host, connection, "PLAY", "rtsp://127.0.0.1/live/cam", cseq: 4, ["Session: \(session)"]).answers[0].status == 200)
            let rtp = try #require(host.udpSockets.values.first { $0.port == 41000 })
            #expect(rtp.sent.count == 4 && rtp.sent.allSatisfy { $0.to.port == 6000 })
            let rtcp = try #require(host.udpSockets.values.first { $0.port == 41001 })
            #expect(rtcp.sent.first?.to.port == 6001)
            // Receiver reports keep a session alive past RTSP.timeout (60 s), garbage does not; silence ends it.
            let report: [UInt8] = [0x81, 201, 0, 7] + [UInt8](repeating: 1, count: 28)
            for _ in 0..<3 {
                host.advance(ms: 25_000)
                host.datagram(report, to: rtcp.handle)
                host.datagram([1, 2, 3], to: rtcp.handle)
            }
            #expect(connection.closedHow == nil)
            #expect(rtcp.sent.count > 10) // sender reports every 5 s
            host.advance(ms: 70_000)
            #expect(connection.closedHow == MONA_CLOSE_GRACEFUL)
            host.end(connection)
            #expect(rtp.closed && rtcp.closed)
        }

        @Test func badRequestsAreAnsweredAndTheSessionGoesOn() throws {
            let host = Self.started()
            defer { host.destroy() }
            let connection = try #require(host.connect())
            // An unknown publication, PLAY before SETUP, SETUP before DESCRIBE, an unknown method, a wrong session.
            #expect(Self.request(host, connection, "DESCRIBE", "rtsp://127.0.0.1/live/none", cseq: 1).answers.first?.status == 404)
            #expect(Self.request(host, connection, "PLAY", "rtsp://127.0.0.1/live/none", cseq: 2).answers.first?.status == 455)
            #expect(Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/none/trackID=0", cseq: 3,
                                 ["Transport: RTP/AVP/TCP;interleaved=0-1"]).answers.first?.status == 455)
            #expect(Self.request(host, connection, "FLY", "rtsp://127.0.0.1/live/none", cseq: 4).answers.first?.status == 501)
            #expect(Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/none/trackID=0", cseq: 5).answers.first?.status == 461)
            // A `$` frame on a channel nobody set up is skipped.
            host.receive(connection, [0x24, 7, 0, 3, 1, 2, 3])
            #expect(Self.request(host, connection, "OPTIONS", "*", cseq: 6).answers.first?.headers["Public"]?.contains("RECORD") == true)
            // An ANNOUNCE with a broken SDP, then one with nothing this server records.
            #expect(Self.request(host, connection, "ANNOUNCE", "rtsp://127.0.0.1/live/in", cseq: 7, ["Content-Type: application/sdp"],
                                 body: "this is no SDP").answers.first?.status == 400)
            #expect(Self.request(host, connection, "ANNOUNCE", "rtsp://127.0.0.1/live/in", cseq: 8, ["Content-Type: application/sdp"],
                                 body: "v=0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").answers.first?.status == 415)
            #expect(connection.closedHow == nil)
            // Garbage that cannot be framed: 400 and a clean close.
            host.receive(connection, "\u{1}\u{2}\u{3} garbage\r\n\r\n")
            #expect(Self.read(host.takeOutput(connection)).answers.first?.status == 400)
            #expect(connection.closedHow == MONA_CLOSE_GRACEFUL)
        }

        @Test func oversizedInterleavedFramesClose() throws {
            let host = Self.started()
            defer { host.destroy() }
            let connection = try #require(host.connect())
            host.receive(connection, [0x24, 0, 0xFF, 0xFF, 0])
            #expect(connection.closedHow == MONA_CLOSE_GRACEFUL)
        }

        @Test func refusalsAndCredentialsReachTheClient() throws {
            let host = Self.started()
            defer { host.destroy() }
            host.onOpen = { client in
                let user = client.properties.first.flatMap { value -> String? in
                    guard case .object(_, let fields) = value, case .string(let name)? = fields.first(where: { $0.key == "user" })?.value else { return nil }
                    return name
                }
                return user == "bob" ? .accept([]) : .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "who are you?")
            }
            host.onSubscribe = { _, name in name == "secret" ? .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "not for you") : .accept }
            let connection = try #require(host.connect())
            let anonymous = Self.request(host, connection, "DESCRIBE", "rtsp://127.0.0.1/live/secret", cseq: 1).answers.first
            #expect(anonymous?.status == 401 && anonymous?.headers["WWW-Authenticate"] == "Basic realm=\"MonaServer\"")
            let wrong = Self.request(host, connection, "DESCRIBE", "rtsp://127.0.0.1/live/secret", cseq: 2,
                                     ["Authorization: Basic \(Base64.encode(Array("eve:x".utf8)))"]).answers.first
            #expect(wrong?.status == 403)
            let refused = Self.request(host, connection, "DESCRIBE", "rtsp://bob:pw@127.0.0.1/live/secret", cseq: 3).answers.first
            #expect(refused?.status == 403)
            #expect(host.clients.count == 1)
        }

        @Test func recordedRTPBecomesFramesOfThePublication() throws {
            let host = Self.started()
            defer { host.destroy() }
            let connection = try #require(host.connect())
            let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                + "a=fmtp:96 packetization-mode=1\r\na=control:streamid=0\r\n"
                + "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
                + "a=fmtp:97 mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210\r\na=control:streamid=1\r\n"
            #expect(Self.request(host, connection, "ANNOUNCE", "rtsp://127.0.0.1/live/in", cseq: 1, ["Content-Type: application/sdp"],
                                 body: sdp).answers.first?.status == 200)
            let setup = Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/in/streamid=0", cseq: 2,
                                     ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"]).answers[0]
            #expect(setup.status == 200 && setup.headers["Transport"]?.hasSuffix("mode=record") == true)
            let session = try #require(setup.headers["Session"]?.split(separator: ";").first.map(String.init))
            #expect(Self.request(host, connection, "SETUP", "rtsp://127.0.0.1/live/in/streamid=1", cseq: 3,
                                 ["Transport: RTP/AVP/TCP;unicast;interleaved=2-3;mode=record", "Session: \(session)"]).answers[0].status == 200)
            #expect(Self.request(host, connection, "RECORD", "rtsp://127.0.0.1/live/in", cseq: 4, ["Session: \(session)"]).answers[0].status == 200)
            let publication = try #require(host.publications.values.first)
            #expect(publication.name == "in")
            // A key frame with in-band parameter sets (STAP-A + FU-A), then an AAC frame.
            var video = RTPSender(payloadType: 96, clockRate: 90000, random: [UInt8](repeating: 1, count: 10))
            let idr: [UInt8] = [0x65] + [UInt8](repeating: 5, count: 3000)
            var bytes: [UInt8] = []
            let payloads = NALPacketizer(hevc: false, maxPayload: 1400).payloads([Self.sps, Self.pps, idr])
            for (index, payload) in payloads.enumerated() {
                let packet = video.packet(payload: payload, timestamp: 90000, marker: index == payloads.count - 1)
                bytes += [0x24, 0, UInt8(packet.count >> 8), UInt8(packet.count & 0xFF)] + packet
            }
            // Four more frames: video waits for four frames to know its decode times.
            for frame in 1...4 {
                let packet = video.packet(payload: [0x41, UInt8(frame)], timestamp: 90000 + UInt32(frame) * 3600, marker: true)
                bytes += [0x24, 0, UInt8(packet.count >> 8), UInt8(packet.count & 0xFF)] + packet
            }
            var audio = RTPSender(payloadType: 97, clockRate: 44100, random: [UInt8](repeating: 2, count: 10))
            let aac = [UInt8](repeating: 0x42, count: 100)
            let packet = audio.packet(payload: aac.withUnsafeBytes { AACPayload.payloads($0, maxPayload: 1400)[0] }, timestamp: 5, marker: true)
            bytes += [0x24, 2, 0, UInt8(packet.count)] + packet
            host.receive(connection, bytes)
            let videoFrames = publication.frames.filter { $0.kind == MONA_MEDIA_VIDEO }, audioFrames = publication.frames.filter { $0.kind == MONA_MEDIA_AUDIO }
            #expect(videoFrames.count == 2)
            #expect(videoFrames.first?.bytes == [0x17, 0, 0, 0, 0] + AVCConfig(sps: [Self.sps], pps: [Self.pps]).record)
            #expect(videoFrames.last?.bytes.prefix(5) == [0x17, 1, 0, 0, 0]) // the key frame, no composition offset
            #expect(audioFrames.map(\.bytes) == [Self.aacHeader, [0xAF, 1] + aac])
            #expect(publication.flushes >= 1)
            host.end(connection)
            #expect(publication.unpublished)
        }
    }
}
