import MonaCodecs
import MonaPluginTesting
import MonaValues
import PluginABI
@testable import RTMFPPlugin
import Testing

/// The RTMFP plugin on the fake host, driven by the independent test client over a simulated network:
/// handshake, connect, calls, publish and play, groups, rendezvous, loss, garbage.
@Suite("RTMFP sessions on the fake host", .serialized)
struct RTMFPSessionTests {
    /// The fake host and the clients around it: datagrams are routed by port, both ways, until quiet.
    final class Network {
        let host: FakeHost
        private(set) var clients: [UInt16: RTMFPTestClient] = [:]
        private var consumed = 0
        /// Drops the n-th datagram in each direction when true (loss simulation), by a seeded rule.
        var drop: (Int) -> Bool = { _ in false }
        private var counter = 0

        init(config: [String: String] = [:]) {
            host = FakeHost(section: "RTMFP", config: ["RTMFP.port": "1935"].merging(config) { $1 }) { monaPluginEntryRTMFP($0) }
            #expect(host.start() == MONA_OK)
        }

        var now: UInt64 { host.nowNs / 1_000_000 }
        var socket: FakeHost.UDPEndpoint { host.udpSockets.values.first! }

        /// A client on `port`, its handshake begun.
        func client(port: UInt16, _ settings: RTMFPTestClient.Settings = .init(url: "rtmfp://127.0.0.1/live")) -> RTMFPTestClient {
            let client = RTMFPTestClient(settings)
            clients[port] = client
            settle([(port, client.start(now: now))])
            return client
        }

        /// Delivers datagrams both ways until nobody has anything to say (bounded).
        func settle(_ initial: [(port: UInt16, bytes: [UInt8])] = []) {
            var outgoing = initial
            for (port, client) in clients { outgoing += client.tick(now: now).map { (port, $0) } }
            for _ in 0..<1000 {
                for datagram in outgoing {
                    counter += 1
                    if drop(counter) { continue }
                    host.datagram(datagram.bytes, from: .loopback(datagram.port))
                }
                outgoing = []
                let sent = socket.sent
                let fresh = sent[consumed...]
                consumed = sent.count
                for datagram in fresh {
                    counter += 1
                    if drop(counter) { continue }
                    guard let client = clients[datagram.to.port] else { continue }
                    outgoing += client.receive(datagram.bytes, now: now).map { (datagram.to.port, $0) }
                }
                for (port, client) in clients { outgoing += client.tick(now: now).map { (port, $0) } }
                if outgoing.isEmpty && fresh.isEmpty { return }
            }
            Issue.record("the network never went quiet")
        }

        /// Time passes (the plugin's timers fire), then the network settles.
        func advance(ms: UInt64, step: UInt64 = 50) {
            var left = ms
            while left > 0 {
                let slice = min(step, left)
                host.advance(ms: slice)
                left -= slice
                settle()
            }
        }

        func connected(port: UInt16, url: String = "rtmfp://127.0.0.1/live") -> RTMFPTestClient {
            let client = client(port: port, .init(url: url))
            client.connect()
            settle()
            return client
        }
    }

    @Test func handshakeAndConnectOpenTheClientWithThePeerID() throws {
        let network = Network()
        defer { network.host.destroy() }
        let client = network.connected(port: 40_001)
        #expect(client.state == .open, "\(client.errors)")
        #expect(client.isConnected, "\(client.statusCodes) \(client.errors)")
        let opened = try #require(network.host.clients.values.first)
        #expect(opened.protocol == "RTMFP")
        #expect(opened.path == "/live")
        #expect(network.host.groups.peerIDs[opened.handle] == client.peerID)
        #expect(client.errors.isEmpty, "\(client.errors)")
    }

    @Test(arguments: [2, 5, 14]) func everyAdvertisedGroupWorks(group: Int) throws {
        let network = Network()
        defer { network.host.destroy() }
        var settings = RTMFPTestClient.Settings(url: "rtmfp://127.0.0.1/live")
        settings.forcedGroup = group
        let client = network.client(port: 40_002, settings)
        client.connect()
        network.settle()
        #expect(client.isConnected, "group \(group): \(client.errors)")
    }

    @Test func theFlashStaticKeyLayoutWorks() throws {
        let network = Network()
        defer { network.host.destroy() }
        var settings = RTMFPTestClient.Settings(url: "rtmfp://127.0.0.1/live")
        settings.keyLayout = .flashStatic
        let client = network.client(port: 40_003, settings)
        client.connect()
        network.settle()
        #expect(client.isConnected, "\(client.errors)")
    }

    @Test func aRefusedConnectAnswersError() throws {
        let network = Network()
        defer { network.host.destroy() }
        network.host.onOpen = { _ in .reject(MONA_E_REJECTED, MONA_ERR_SCRIPT, "go away") }
        let client = network.connected(port: 40_004)
        #expect(!client.isConnected)
        guard case .error(let values)? = client.reply(to: 1) else { Issue.record("no _error: \(client.errors)"); return }
        #expect("\(values)".contains("NetConnection.Connect.Rejected") && "\(values)".contains("go away"))
        #expect(network.host.clients.isEmpty)
    }

    @Test func callsReachLuaAndServerInvocationsReachTheClient() throws {
        let network = Network()
        defer { network.host.destroy() }
        network.host.onInvoke = { _, method, args in method == "echo" ? .results(args) : .failure(MONA_E_NOTFOUND, MONA_ERR_NOTFOUND, "no \(method)") }
        let client = network.connected(port: 40_005)
        let echo = client.call("echo", [.string("hi"), .number(3)])
        let missing = client.call("missing")
        network.settle()
        #expect(client.reply(to: echo) == .result([.string("hi"), .number(3)]))
        guard case .error(let values)? = client.reply(to: missing) else { Issue.record("no _error for a missing method"); return }
        #expect("\(values)".contains("NetConnection.Call.Failed"))
        let writer = try #require(network.host.writers.keys.first)
        #expect(network.host.writerInvoke(writer, "news", [.string("flash")]) == MONA_OK)
        network.settle()
        #expect(client.invocations(named: "news").count == 1)
    }

    @Test func setPeerInfoIsAnsweredWithTheKeepalivePeriods() throws {
        let network = Network(config: ["RTMFP.keepaliveServer": "20"])
        defer { network.host.destroy() }
        let client = network.connected(port: 40_006)
        client.setPeerInfo(["192.168.1.5:4000"])
        network.settle()
        let keepalive = client.flash.userControls.last { $0.event == 0x29 }
        #expect(keepalive?.payload == [0x00, 0x00, 0x4E, 0x20, 0x00, 0x00, 0x27, 0x10], "\(client.flash.userControls)")
    }

    @Test func publishAndPlayThroughTheMediaModel() throws {
        let network = Network()
        defer { network.host.destroy() }
        let publisher = network.connected(port: 40_007)
        let created = publisher.createStream()
        network.settle()
        let stream = try #require(publisher.streamID(created: created))
        publisher.publish(stream: stream, name: "cam")
        network.settle()
        #expect(publisher.statusCodes(stream: stream).contains("NetStream.Publish.Start"), "\(publisher.statusCodes)")
        let publication = try #require(network.host.publications.values.first)
        #expect(publication.name == "cam")
        let keyFrame: [UInt8] = [0x17, 0x01, 0, 0, 0] + (0..<3000).map { UInt8(truncatingIfNeeded: $0) }
        publisher.sendVideo(stream: stream, time: 40, keyFrame)
        publisher.sendAudio(stream: stream, time: 41, [0xAF, 0x01, 1, 2, 3])
        network.settle()
        #expect(publication.frames.map(\.kind) == [MONA_MEDIA_VIDEO, MONA_MEDIA_AUDIO])
        #expect(publication.frames.first?.bytes == keyFrame, "a fragmented frame arrives whole")
        #expect(publication.frames.first?.time == 40)

        let player = network.connected(port: 40_008)
        let playCreated = player.createStream()
        network.settle()
        let playStream = try #require(player.streamID(created: playCreated))
        player.play(stream: playStream, name: "cam")
        network.settle()
        #expect(player.statusCodes(stream: playStream).contains("NetStream.Play.Start"), "\(player.statusCodes)")
        let subscription = try #require(network.host.subscriptions.values.first)
        network.host.sinkStart(subscription)
        let frame: [UInt8] = [0x27, 0x01, 0, 0, 0] + [UInt8](repeating: 9, count: 5_000)
        network.host.sinkFrame(subscription, kind: MONA_MEDIA_VIDEO, time: 80, frame)
        network.host.sinkFrame(subscription, kind: MONA_MEDIA_AUDIO, time: 81, [0xAF, 0x01, 7])
        network.host.sinkFlush(subscription)
        network.settle()
        let media = player.media(stream: playStream)
        #expect(media.map(\.type) == [9, 8], "\(media.map(\.type))")
        #expect(media.first?.payload == frame)
        #expect(media.first?.time == 80)
    }

    @Test func messagesSurviveLossAndReordering() throws {
        let network = Network()
        defer { network.host.destroy() }
        network.host.onInvoke = { _, _, args in .results(args) }
        let client = network.connected(port: 40_009)
        #expect(client.isConnected)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        network.drop = { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 60 < 3 // about 19 % of the datagrams, both ways
        }
        let big = String((0..<20_000).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
        let transactions = (0..<10).map { client.call("echo", [.number(Double($0)), .string(big)]) }
        network.advance(ms: 30_000, step: 100)
        for (index, transaction) in transactions.enumerated() {
            let reply = client.reply(to: transaction)
            #expect(reply == .result([.number(Double(index)), .string(big)]), "call \(index): \(String(describing: reply).prefix(200))")
        }
    }

    @Test func groupJoinIntroducesTheNewestMembers() throws {
        let network = Network()
        defer { network.host.destroy() }
        let specifier: [UInt8] = Array("G:0101010c0e74657374".utf8)
        let first = network.connected(port: 40_010)
        _ = first.joinGroup(specifier: specifier)
        network.settle()
        let second = network.connected(port: 40_011)
        _ = second.joinGroup(specifier: specifier)
        network.settle()
        let groupID = RTMFPTestClient.groupID(specifier: specifier)
        #expect(network.host.groups.members[groupID]?.count == 2)
        #expect(second.groupPeerIDs == [try #require(first.peerID)])
        #expect(first.groupPeerIDs.isEmpty)
    }

    @Test func rendezvousIntroducesBothPeers() throws {
        let network = Network()
        defer { network.host.destroy() }
        let target = network.connected(port: 40_012)
        target.setPeerInfo(["10.0.0.5:4000"])
        network.settle()
        let initiator = network.connected(port: 40_013)
        let tag = [UInt8](repeating: 0x42, count: 16)
        network.settle([(40_013, initiator.rendezvous(peerID: try #require(target.peerID), tag: tag, now: network.now))])
        let redirect = try #require(initiator.redirects.first { $0.tag == tag })
        #expect(redirect.addresses.count == 2, "public and local: \(redirect.addresses)")
        #expect(target.introductions.count == 1)
    }

    @Test func garbageAndUnknownSessionsAreDropped() throws {
        let network = Network()
        defer { network.host.destroy() }
        let client = network.connected(port: 40_014)
        var state: UInt64 = 1
        for size in [0, 1, 11, 12, 20, 36, 100, 1192, 1500] {
            let bytes = (0..<size).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            network.host.datagram(bytes, from: .loopback(40_099))
        }
        network.settle()
        #expect(network.socket.sent.allSatisfy { $0.to.port != 40_099 }, "garbage gets no answer")
        let echo = client.call("missing")
        network.settle()
        #expect(client.reply(to: echo) != nil, "the session goes on")
    }

    @Test func closeRequestEndsTheClient() throws {
        let network = Network()
        defer { network.host.destroy() }
        let client = network.connected(port: 40_015)
        #expect(network.host.clients.count == 1)
        client.requestClose()
        network.settle()
        #expect(network.host.clients.isEmpty)
    }

    @Test func aSilentClientIsDroppedAndItsMemoryFreed() throws {
        let network = Network()
        defer { network.host.destroy() }
        _ = network.connected(port: 40_016)
        #expect(network.host.clients.count == 1)
        network.host.advance(ms: 400_000)
        #expect(network.host.clients.isEmpty)
    }
}
