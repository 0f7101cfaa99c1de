import MonaCodecs
import MonaValues
import Testing

/// A responder scripted by hand from RFC 7016/7425 and protocols.md §3.3 (MonaServer's RHello and
/// RIKeying), to drive the test client's state machine end to end.
private final class ScriptedResponder {
    typealias Client = RTMFPTestClient

    let responderSessionID: UInt32 = 0x0A0B_0C0D
    let cookie = [UInt8](repeating: 0xC0, count: 64)
    let keyPair: Client.KeyPair
    var initiatorSessionID: UInt32 = 0
    var skic: [UInt8] = []
    var skrc: [UInt8] = []
    var initiatorCertificate: [UInt8] = []
    var encryptKey: [UInt8] = []
    var decryptKey: [UInt8] = []

    init?(group: Int) {
        guard let keyPair = Client.KeyPair(group: group) else { return nil }
        self.keyPair = keyPair
    }

    /// The one chunk of a startup packet from the client (session ID 0, default key).
    func startupChunk(_ datagram: [UInt8]) -> Client.Chunk? {
        guard Client.Packet.sessionID(of: datagram) == 0,
              let packet = Client.Packet.decode(datagram, key: Client.Crypto.defaultKey),
              packet.mode == Client.PacketFlag.startupMode, packet.chunks.count == 1 else { return nil }
        return packet.chunks[0]
    }

    func startup(_ chunk: Client.Chunk, sessionID: UInt32 = 0) -> [UInt8] {
        Client.Packet(mode: Client.PacketFlag.startupMode, timestamp: 100, chunks: [chunk])
            .encode(sessionID: sessionID, key: Client.Crypto.defaultKey) ?? []
    }

    func rHello(tag: [UInt8], certificate: [UInt8] = ClientHandshakeTests.monaCertificate) -> [UInt8] {
        startup(Client.Chunk(0x70, Client.Wire.vluPrefixed(tag) + Client.Wire.vluPrefixed(cookie) + certificate))
    }

    /// Reads IIKeying field by field; answers RIKeying (MonaServer's skrc) and derives the keys.
    func riKeying(answering iiKeying: Client.Chunk) -> [UInt8]? {
        var reader = Client.Reader(iiKeying.value)
        guard iiKeying.type == 0x38, let sessionID = reader.u32(), reader.vluPrefixed() == cookie,
              let certificate = reader.vluPrefixed(), let skic = reader.vluPrefixed(), reader.atEnd else { return nil }
        initiatorSessionID = sessionID
        initiatorCertificate = certificate
        self.skic = skic
        guard let clientKey = Client.Handshake.responderPublicKey(skrc: skic, group: keyPair.group)
            ?? staticKey(certificate), let secret = keyPair.sharedSecret(with: clientKey) else { return nil }
        skrc = [0x03, 0x1A, 0x00, 0x00, 0x02, 0x1E, 0x00]
            + Client.Option(type: 0x0D, value: Client.Wire.vlu(UInt64(keyPair.group)) + keyPair.publicKey).encoded
        // The responder's view of RFC 7425 §4.6: it decrypts with HMAC(secret, HMAC(skrc, skic)).
        decryptKey = Array(Client.Crypto.hmacSHA256(key: secret, data: Client.Crypto.hmacSHA256(key: skrc, data: skic)).prefix(16))
        encryptKey = Array(Client.Crypto.hmacSHA256(key: secret, data: Client.Crypto.hmacSHA256(key: skic, data: skrc)).prefix(16))
        return startup(Client.Chunk(0x78, Client.Wire.u32(responderSessionID) + Client.Wire.vluPrefixed(skrc) + [0x58]),
                       sessionID: sessionID)
    }

    private func staticKey(_ certificate: [UInt8]) -> [UInt8]? {
        var reader = Client.Reader(certificate)
        guard let body = reader.vluPrefixed(), reader.atEnd else { return nil }
        var inner = Client.Reader(body)
        guard inner.vlu() == 0x1D, inner.vlu() == UInt64(keyPair.group) else { return nil }
        return inner.rest()
    }

    /// A client datagram of the session, decrypted.
    func open(_ datagram: [UInt8]) -> Client.Packet? {
        guard Client.Packet.sessionID(of: datagram) == responderSessionID else { return nil }
        return Client.Packet.decode(datagram, key: decryptKey)
    }

    /// A session packet to the client.
    func packet(_ chunks: [Client.Chunk], timestamp: UInt16 = 200) -> [UInt8] {
        Client.Packet(mode: Client.PacketFlag.responderMode, timestamp: timestamp, chunks: chunks)
            .encode(sessionID: initiatorSessionID, key: encryptKey) ?? []
    }

    /// Every user data fragment of client datagrams (Next User Data expanded).
    func fragments(_ datagrams: [[UInt8]]) -> [Client.UserData] {
        var all: [Client.UserData] = []
        for datagram in datagrams {
            var previous: Client.UserData?
            for chunk in open(datagram)?.chunks ?? [] {
                if chunk.type == 0x10 { previous = Client.UserData(userData: chunk.value) }
                if chunk.type == 0x11 { previous = previous.flatMap { Client.UserData(nextUserData: chunk.value, after: $0) } }
                if chunk.type == 0x10 || chunk.type == 0x11, let previous { all.append(previous) }
            }
        }
        return all
    }

    /// Every chunk of type `type` in client datagrams.
    func chunks(_ type: UInt8, in datagrams: [[UInt8]]) -> [Client.Chunk] {
        datagrams.flatMap { open($0)?.chunks ?? [] }.filter { $0.type == type }
    }
}

/// The test client's session from IHello to close, against `ScriptedResponder`.
@Suite struct ClientSessionTests {
    typealias Client = RTMFPTestClient

    private static func openSession(_ settings: Client.Settings = Client.Settings(url: "rtmfp://localhost/app"),
                                    group: Int = 14) throws -> (Client, ScriptedResponder) {
        let client = Client(settings)
        let responder = try #require(ScriptedResponder(group: group))
        let iHello = try #require(responder.startupChunk(client.start(now: 1000)))
        #expect(client.state == .helloSent)
        #expect(iHello.type == 0x30)
        let out = client.receive(responder.rHello(tag: client.tag), now: 1010)
        #expect(client.state == .keyingSent)
        let keyingDatagram = try #require(out.first)
        let iiKeying = try #require(responder.startupChunk(keyingDatagram))
        let riKeying = try #require(responder.riKeying(answering: iiKeying))
        #expect(client.receive(riKeying, now: 1020).isEmpty)
        #expect(client.state == .open)
        #expect(client.responderSessionID == responder.responderSessionID)
        #expect(client.encryptKey == responder.decryptKey && client.decryptKey == responder.encryptKey)
        return (client, responder)
    }

    @Test func handshakeWithAnEphemeralKey() throws {
        let (client, responder) = try Self.openSession()
        #expect(client.group == 14)
        #expect(responder.initiatorSessionID == client.initiatorSessionID)
        #expect(responder.skic.starts(with: [0x82, 0x02, 0x0D, 0x0E])) // 0x0D, group 14, 256-byte key
        #expect(client.peerID == Client.Crypto.sha256(responder.initiatorCertificate))
        #expect(client.serverPeerID == Client.Crypto.sha256(ClientHandshakeTests.monaCertificate))
        #expect(client.errors.isEmpty)
    }

    @Test func handshakeWithFlashsStaticKeyAndAForcedGroup() throws {
        var settings = Client.Settings(url: "rtmfp://localhost/app")
        settings.keyLayout = .flashStatic
        settings.forcedGroup = 2
        let (client, responder) = try Self.openSession(settings, group: 2)
        #expect(client.group == 2)
        #expect(responder.initiatorCertificate.starts(with: [0x81, 0x02, 0x1D, 0x02]))
        #expect(responder.skic.starts(with: [0x02, 0x1D, 0x02, 0x41, 0x0E]))
    }

    @Test func handshakeRetransmitsThenGivesUp() throws {
        var settings = Client.Settings(url: "rtmfp://localhost/app")
        settings.maximumTransmissions = 3
        let client = Client(settings)
        let first = client.start(now: 0)
        #expect(client.tick(now: 999).isEmpty)
        #expect(client.tick(now: 1000) == [first])
        #expect(client.tick(now: 2000) == [first])
        #expect(client.tick(now: 3000).isEmpty)
        #expect(client.state == .failed("handshake unanswered after 3 transmissions"))
    }

    @Test func redirectAndUnusableCertificates() throws {
        let client = Client(url: "rtmfp://localhost/app")
        let responder = try #require(ScriptedResponder(group: 2))
        _ = client.start(now: 0)
        let other = client.receive(responder.startup(Client.Chunk(0x71, [0x02, 0xEE, 0xEE, 0x02, 10, 0, 0, 1, 0x07, 0x8F])), now: 1)
        #expect(other.isEmpty && client.state == .helloSent) // another tag
        _ = client.receive(responder.startup(Client.Chunk(0x71, Client.Wire.vluPrefixed(client.tag) + [0x02, 10, 0, 0, 1, 0x07, 0x8F])), now: 2)
        #expect(client.state == .redirected)
        #expect(client.redirects.last?.addresses == [Client.Address(ip: [10, 0, 0, 1], port: 1935, origin: 2)])

        let picky = Client(url: "rtmfp://localhost/app")
        _ = picky.start(now: 0)
        #expect(picky.receive(responder.rHello(tag: picky.tag, certificate: [0x02, 0x15, 0x05]), now: 1).isEmpty)
        #expect(picky.state == .failed("no usable Diffie-Hellman group in [5]"))
    }

    @Test func connectCallAndAcknowledgements() throws {
        let (client, responder) = try Self.openSession()
        client.connect(arguments: [.string("extra")])
        let out = client.tick(now: 2000)
        let fragments = responder.fragments(out)
        let connect = try #require(fragments.first)
        #expect(fragments.count == 1)
        #expect(connect.flowID == 2 && connect.sequence == 1 && connect.fsnOffset == 1)
        #expect(connect.metadata == [0x54, 0x43, 0x04, 0x00])
        let message = try #require(Client.FlashMessage(connect.data))
        #expect(message.type == 0x14)
        let values = try AMF.decode(message.payload)
        #expect(values.first == .string("connect") && values[1] == .number(1))
        #expect(values[2][field: "app"] == .string("app") && values[2][field: "tcUrl"] == .string("rtmfp://localhost/app"))
        #expect(values.last == .string("extra"))
        let packet = try #require(responder.open(out[0]))
        #expect(packet.mode == 1 && packet.timestamp == 500 && packet.timestampEcho == 100 + 245) // 980 ms after 100

        // The server's reply flow (associated with flow 2) and its ack of the client's flow.
        let result = Client.FlashMessage.command("_result", transaction: 1, arguments: [
            .object([MonaField("level", .string("status")), MonaField("code", .string("NetConnection.Connect.Success"))]),
        ]).encoded
        let reply = Client.UserData(flowID: 3, sequence: 1, fsnOffset: 1, flags: 0, options: [
            Client.Option(type: 0, value: [0x54, 0x43, 0x04, 0x00]), Client.Option(type: 0x0A, value: [0x02]),
        ], data: result)
        let answer = client.receive(responder.packet([Client.Acknowledgement(flowID: 2, bufferBlocks: 0x7F, cumulative: 1).chunk,
                                                      reply.chunk]), now: 2100)
        #expect(client.isConnected)
        #expect(client.statusCodes == ["NetConnection.Connect.Success"])
        #expect(client.flash.serverNetConnectionFlow == 3)
        #expect(client.sendFlows[2]?.unacknowledged.isEmpty == true)
        #expect(client.acknowledgements == [Client.Acknowledgement(flowID: 2, bufferBlocks: 0x7F, cumulative: 1)])
        #expect(responder.chunks(0x51, in: answer).compactMap { Client.Acknowledgement($0.value) }
            == [Client.Acknowledgement(flowID: 3, bufferBlocks: 0x7F, cumulative: 1)])

        // A call: sent without options (acknowledged flow), resent on the timer until acknowledged.
        let transaction = client.call("sum", [.number(1), .number(2)])
        #expect(transaction == 2)
        let sent = responder.fragments(client.tick(now: 3000))
        #expect(sent.map(\.sequence) == [2] && sent[0].options.isEmpty && sent[0].fsnOffset == 1)
        #expect(client.tick(now: 3999).isEmpty)
        #expect(responder.fragments(client.tick(now: 4000)).map(\.sequence) == [2])
        _ = client.receive(responder.packet([
            Client.Acknowledgement(flowID: 2, bufferBlocks: 0x7F, cumulative: 2).chunk,
            Client.UserData(flowID: 3, sequence: 2, fsnOffset: 1, flags: 0,
                            data: Client.FlashMessage.command("_result", transaction: 2, arguments: [.number(3)]).encoded).chunk,
        ]), now: 4100)
        #expect(client.reply(to: 2) == .result([.number(3)]))
        #expect(client.tick(now: 9000).isEmpty)
    }

    @Test func fragmentationAndNextUserData() throws {
        var settings = Client.Settings(url: "rtmfp://localhost/app")
        settings.fragmentSize = 100
        let (client, responder) = try Self.openSession(settings)
        let payload = [UInt8](repeating: 0x42, count: 250)
        client.sendMessage(stream: 0, type: 0x09, time: 7, payload)
        let first = client.tick(now: 2000)
        let fragments = responder.fragments(first)
        #expect(fragments.map(\.flags) == [0x90, 0xB0, 0xA0]) // options on each until acknowledged
        #expect(responder.chunks(0x11, in: first).isEmpty)
        #expect(fragments.flatMap(\.data) == Client.FlashMessage(type: 0x09, time: 7, payload: payload).encoded)
        _ = client.receive(responder.packet([Client.Acknowledgement(flowID: 2, bufferBlocks: 1, cumulative: 3).chunk]), now: 2100)
        client.sendMessage(stream: 0, type: 0x09, time: 8, payload)
        let second = client.tick(now: 2200)
        #expect(second.count == 1)
        #expect(responder.chunks(0x10, in: second).count == 1 && responder.chunks(0x11, in: second).count == 2)
        #expect(responder.fragments(second).map(\.sequence) == [4, 5, 6])
    }

    @Test func manyMessagesFillSeveralMaximumDatagrams() throws {
        let (client, responder) = try Self.openSession()
        for index in 0..<10 {
            client.sendMessage(stream: 0, type: 0x08, time: UInt32(index), [UInt8](repeating: UInt8(index), count: 600))
        }
        let out = client.tick(now: 2000)
        #expect(out.count > 1 && out.allSatisfy { $0.count <= Client.Packet.maximumSize })
        #expect(responder.fragments(out).map(\.sequence) == Array(1...10))
    }

    @Test func serverFlowsReorderedStreamsAndGroups() throws {
        let (client, responder) = try Self.openSession()
        client.connect()
        let create = client.createStream()
        _ = client.tick(now: 2000)
        let streamMetadata = Client.Option(type: 0, value: [0x54, 0x43, 0x04, 0x01])
        let replies = [
            Client.FlashMessage.command("_result", transaction: create, arguments: [.number(1)]).encoded,
            Client.FlashMessage.command("onStatus", transaction: 0, arguments: [
                .object([MonaField("level", .string("status")), MonaField("code", .string("NetStream.Play.Start"))]),
            ]).encoded,
        ]
        // The result on the NetConnection reply flow; the status and two video fragments on a stream
        // flow, delivered out of order across two datagrams.
        let video = Client.FlashMessage(type: 0x09, time: 33, payload: [UInt8](repeating: 0x17, count: 20)).encoded
        let late = responder.packet([
            Client.UserData(flowID: 5, sequence: 1, fsnOffset: 1, flags: 0, options: [streamMetadata], data: replies[1]).chunk,
        ])
        let early = responder.packet([
            Client.UserData(flowID: 3, sequence: 1, fsnOffset: 1, flags: 0, options: [Client.Option(type: 0, value: [0x54, 0x43, 0x04, 0x00])],
                            data: replies[0]).chunk,
            Client.UserData(flowID: 5, sequence: 2, fsnOffset: 2, flags: 0x10, options: [streamMetadata], data: Array(video.prefix(10))).chunk,
            Client.UserData(flowID: 5, sequence: 3, fsnOffset: 3, flags: 0x20, data: Array(video.dropFirst(10))).nextChunk,
        ])
        let acks = client.receive(early, now: 2100)
        #expect(client.streamID(created: create) == 1)
        #expect(client.media(stream: 1).isEmpty)
        #expect(responder.chunks(0x51, in: acks).compactMap { Client.Acknowledgement($0.value) }.first { $0.flowID == 5 }
            == Client.Acknowledgement(flowID: 5, bufferBlocks: 0x7F, cumulative: 0, ranges: [Client.AckRange(holes: 1, received: 2)]))
        _ = client.receive(late, now: 2200)
        #expect(client.statusCodes(stream: 1) == ["NetStream.Play.Start"])
        #expect(client.media(stream: 1) == [Client.Media(stream: 1, type: 0x09, time: 33, payload: [UInt8](repeating: 0x17, count: 20))])

        // publish/play go on the stream's own flow, `TC 04 01`.
        client.publish(stream: 1, name: "live")
        client.sendAudio(stream: 1, time: 5, [0xAF, 0x00])
        let joinFlow = client.joinGroup(specifier: Array("G:0101".utf8))
        let sent = responder.fragments(client.tick(now: 2300))
        let streamFragments = sent.filter { $0.metadata == [0x54, 0x43, 0x04, 0x01] }
        #expect(streamFragments.count == 2)
        let publish = try AMF.decode(try #require(Client.FlashMessage(streamFragments[0].data)).payload)
        #expect(publish == [.string("publish"), .number(0), .nil, .string("live"), .string("live")])
        #expect(Client.FlashMessage(streamFragments[1].data) == Client.FlashMessage(type: 0x08, time: 5, payload: [0xAF, 0x00]))
        let join = try #require(sent.first { $0.flowID == joinFlow })
        #expect(join.metadata == [0x47, 0x43])
        #expect(join.data == Client.FlashMessage.groupJoin(specifier: Array("G:0101".utf8)))

        // The server hands out a member on a flow associated with the group flow.
        let member = [UInt8](repeating: 0x77, count: 32)
        _ = client.receive(responder.packet([
            Client.UserData(flowID: 8, sequence: 1, fsnOffset: 1, flags: 0, options: [
                Client.Option(type: 0, value: [0x47, 0x43]), Client.Option(type: 0x0A, value: Client.Wire.vlu(joinFlow)),
            ], data: [0x0B] + member).chunk,
        ]), now: 2400)
        #expect(client.groupPeerIDs == [member])
        #expect(client.errors.isEmpty)
    }

    @Test func pingsExceptionsAndClose() throws {
        let (client, responder) = try Self.openSession()
        client.ping([1, 2])
        let ping = client.tick(now: 2000)
        #expect(responder.chunks(0x01, in: ping) == [Client.Chunk(0x01, [1, 2])])
        let replies = client.receive(responder.packet([Client.Chunk(0x41, [1, 2]), Client.Chunk(0x01, [9])]), now: 2100)
        #expect(client.pingReplies == [[1, 2]])
        #expect(responder.chunks(0x41, in: replies) == [Client.Chunk(0x41, [9])])

        client.call("doomed")
        _ = client.tick(now: 2200)
        _ = client.receive(responder.packet([Client.FlowException(flowID: 2, code: 0).chunk, Client.Chunk(0x99, [])]), now: 2300)
        #expect(client.flowExceptions == [Client.FlowException(flowID: 2, code: 0)])
        #expect(client.sendFlows[2]?.failed == true)
        #expect(client.tick(now: 5000).isEmpty) // a failed flow is not retransmitted
        #expect(client.unexpectedChunks == [Client.Chunk(0x99, [])])

        client.requestClose()
        #expect(responder.chunks(0x0C, in: client.tick(now: 6000)).count == 1)
        #expect(responder.chunks(0x0C, in: client.tick(now: 7000)).count == 1)
        _ = client.receive(responder.packet([Client.Chunk(0x4C, [])]), now: 7100)
        #expect(client.state == .closed)
    }

    @Test func rendezvousRequestsAndIntroductions() throws {
        let (client, responder) = try Self.openSession()
        let peer = [UInt8](repeating: 0xAB, count: 32)
        let tag = [UInt8](repeating: 0x7A, count: 16)
        let hello = try #require(responder.startupChunk(client.rendezvous(peerID: peer, tag: tag, now: 2000)))
        #expect(hello == Client.Chunk(0x30, [0x22, 0x21, 0x0F] + peer + tag))
        _ = client.receive(responder.startup(Client.Chunk(0x71, Client.Wire.vluPrefixed(tag) + [0x02, 10, 0, 0, 9, 0x13, 0x88])),
                           now: 2010)
        #expect(client.redirects.map(\.tag) == [tag])
        #expect(client.state == .open) // a rendezvous answer is not a redirect of the session
        let introduction = [0x22, 0x21, 0x0F] + peer + [0x02, 10, 0, 0, 8, 0x13, 0x89] + tag
        _ = client.receive(responder.packet([Client.Chunk(0x0F, introduction)]), now: 2020)
        #expect(client.introductions.map(\.replyAddress) == [Client.Address(ip: [10, 0, 0, 8], port: 5001, origin: 2)])
    }

    @Test func theServerClosesTheSession() throws {
        let (client, responder) = try Self.openSession()
        let out = client.receive(responder.packet([Client.Chunk(0x0C, [])]), now: 2000)
        #expect(responder.chunks(0x4C, in: out).count == 1)
        #expect(client.state == .closed && client.closeRequestsReceived == 1)
    }

    @Test func strayDatagramsAreRecorded() throws {
        let (client, responder) = try Self.openSession()
        #expect(client.receive([1, 2, 3], now: 2000).isEmpty)
        let wrongSession = Client.Packet(mode: 2, timestamp: 1, chunks: []).encode(sessionID: 0x1234, key: responder.encryptKey) ?? []
        #expect(client.receive(wrongSession, now: 2000).isEmpty)
        let wrongKey = Client.Packet(mode: 2, timestamp: 1, chunks: []).encode(sessionID: client.initiatorSessionID,
                                                                             key: [UInt8](repeating: 1, count: 16)) ?? []
        #expect(client.receive(wrongKey, now: 2000).isEmpty)
        #expect(client.errors.count == 3)
        #expect(client.state == .open)
    }
}
