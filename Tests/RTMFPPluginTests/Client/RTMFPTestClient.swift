/// An RTMFP client (the initiator of RFC 7016, with the Flash profile of RFC 7425) for tests, sans-IO:
/// datagrams in, datagrams out, time (ms) passed in. It is written from the specifications apart
/// from the plugin, so that it and the server check each other.
///
/// Transport: `start(now:)` answers the first IHello; `receive(_:now:)` takes a datagram from the
/// server and answers every datagram due then (acks, replies, queued messages); `tick(now:)`
/// answers what is due without input (retransmissions, messages queued by the Flash calls).
/// The test delivers the datagrams (and may drop, repeat or reorder them, both ways).
/// Flash: see RTMFPTestClient+Flash.swift. Records of what arrived are read-only properties.
final class RTMFPTestClient {
    /// How the client behaves; every field has a default but the URL.
    struct Settings {
        /// The `rtmfp://host[:port]/app[?query]` URL sent in the IHello (EPD option 0x0A) and as `tcUrl`.
        var url: String
        /// The Diffie-Hellman key layout.
        var keyLayout: KeyLayout = .ephemeral
        /// A group to use whatever the server offers (nil: 14 if offered, else 2).
        var forcedGroup: Int?
        /// The IHello tag (nil: 16 random bytes).
        var tag: [UInt8]?
        /// The initiator session ID (nil: random, non-zero).
        var sessionID: UInt32?
        /// Adds HMAC and session-sequence negotiation options ("send on request") to the skic.
        var negotiationOptions = true
        /// Always sends and requires HMACs and session sequence numbers, as rtmfp-cpp by default
        /// (RTMFPClientProtection.swift); replaces `negotiationOptions`.
        var protection = false
        /// The length of the HMACs the client sends with `protection`.
        var hmacLength = 10
        /// The IIKeying signature (Flash's is empty).
        var keyingSignature: [UInt8] = []
        /// The largest datagram sent.
        var datagramSize = Packet.maximumSize
        /// The largest fragment of a message (smaller values force fragmentation).
        var fragmentSize = 1024
        /// The retransmission timer of handshake messages, fragments and close requests (ms).
        var retransmitAfter: UInt64 = 1000
        /// How many times one thing is sent before giving up (the flow or the session fails).
        var maximumTransmissions = 10
        /// The free buffer announced in acknowledgements, in 1024-byte blocks.
        var receiveBufferBlocks: UInt64 = 0x7F
        /// Uses Next User Data (0x11) for consecutive fragments of a flow in one packet.
        var useNextUserData = true
        /// Associates each NetStream flow with the server's NetConnection flow (option 0x0A).
        var associateStreamFlows = false
        /// The `objectEncoding` of `connect` (0: AMF0 replies).
        var objectEncoding: Double = 0
        /// The metadata of NetGroup flows (must start with `'G' 'C'`).
        var groupMetadata: [UInt8] = [0x47, 0x43]

        /// Settings for `url`, defaults elsewhere.
        init(url: String) {
            self.url = url
        }
    }

    /// The session state.
    enum State: Equatable {
        case idle
        /// IHello sent, waiting for RHello (or Redirect).
        case helloSent
        /// IIKeying sent, waiting for RIKeying.
        case keyingSent
        /// Keys derived: flows run.
        case open
        /// The server answered the IHello with a Redirect (`redirects` has the addresses).
        case redirected
        /// A close request is out, waiting for its acknowledgement.
        case closing
        case closed
        case failed(String)
    }

    /// The settings.
    let settings: Settings
    /// The IHello tag.
    let tag: [UInt8]
    /// The session ID the server puts in its packets.
    let initiatorSessionID: UInt32
    /// The session state.
    private(set) var state: State = .idle
    /// The session ID the client puts in its packets (from RIKeying).
    private(set) var responderSessionID: UInt32?
    /// The cookie of RHello.
    private(set) var cookie: [UInt8]?
    /// The responder certificate of RHello.
    private(set) var serverCertificate: [UInt8]?
    /// The client's certificate (sent in IIKeying).
    private(set) var certificate: [UInt8]?
    /// The Diffie-Hellman group used.
    private(set) var group: Int?
    /// The session keys (RFC 7425 §4.6), once derived.
    private(set) var encryptKey: [UInt8]?
    private(set) var decryptKey: [UInt8]?
    /// HMACs and sequence numbers, when `Settings.protection` negotiated them.
    private(set) var protection: Protection?

    /// Redirects received (for the IHello or a rendezvous request), in order.
    private(set) var redirects: [Redirect] = []
    /// FIHello introductions (another peer wants to reach this one), in order.
    private(set) var introductions: [ForwardedHello] = []
    /// Acknowledgements of the client's flows, in order.
    private(set) var acknowledgements: [Acknowledgement] = []
    /// Flow exception reports on the client's flows, in order.
    private(set) var flowExceptions: [FlowException] = []
    /// Bodies of the ping replies (0x41) received.
    private(set) var pingReplies: [[UInt8]] = []
    /// Bodies of the pings (0x01) the server sent (each answered).
    private(set) var pingsReceived: [[UInt8]] = []
    /// How many close requests (0x0C) the server sent.
    private(set) var closeRequestsReceived = 0
    /// Chunks of types the client does not handle, or in the wrong kind of packet.
    private(set) var unexpectedChunks: [Chunk] = []
    /// Everything that went wrong (bad datagrams, refused keys, flows that failed…), in order.
    private(set) var errors: [String] = []
    /// The modes of every packet received (3 startup, 2 responder).
    private(set) var receivedModes: [UInt8] = []
    /// The client's send flows by ID.
    private(set) var sendFlows: [UInt64: SendFlow] = [:]
    /// The server's flows by ID.
    private(set) var receiveFlows: [UInt64: ReceiveFlow] = [:]
    /// The Flash layer's bookkeeping and records (written by the Flash calls and the flows).
    var flash = FlashRecords()

    private var keyPair: KeyPair?
    private var skic: [UInt8]?
    private var handshakeDatagram: [UInt8]?
    private var handshakeSentAt: UInt64 = 0
    private var handshakeTransmissions = 0
    private var closeSentAt: UInt64?
    private var closeTransmissions = 0
    private var lastTimestamp: (value: UInt16, at: UInt64)?
    private var pendingChunks: [Chunk] = []
    private var nextFlowID: UInt64 = 2

    /// The most server flows kept (more are refused with an exception report).
    static let maximumReceiveFlows = 1024

    /// A client with `settings`.
    init(_ settings: Settings) {
        self.settings = settings
        tag = settings.tag ?? Crypto.random(16)
        var sessionID = settings.sessionID ?? 0
        while sessionID == 0 {
            let random = Crypto.random(4)
            sessionID = Wire.word(random, at: 0)
        }
        initiatorSessionID = sessionID
    }

    /// A client of `url` with default settings.
    convenience init(url: String) {
        self.init(Settings(url: url))
    }

    /// The client's peer ID: SHA-256 of its certificate (known once IIKeying is built).
    var peerID: [UInt8]? { certificate.map(Crypto.sha256) }
    /// The server's peer ID: SHA-256 of its certificate.
    var serverPeerID: [UInt8]? { serverCertificate.map(Crypto.sha256) }

    // MARK: transport

    /// The first IHello (EPD: the URL as ancillary data 0x0A; the tag).
    func start(now: UInt64) -> [UInt8] {
        let chunk = Handshake.iHello(endpointDiscriminator: Handshake.endpointDiscriminator(url: settings.url), tag: tag)
        state = .helloSent
        return sendHandshake(chunk, now: now)
    }

    /// An IHello asking the server to introduce this client to `peerID` (EPD fingerprint 0x0F,
    /// rendezvous). The Redirect that answers lands in `redirects` with `tag`.
    func rendezvous(peerID: [UInt8], tag: [UInt8], now: UInt64) -> [UInt8] {
        let chunk = Handshake.iHello(endpointDiscriminator: Handshake.endpointDiscriminator(peerID: peerID), tag: tag)
        return startupDatagram(chunk, now: now)
    }

    /// Takes one datagram from the server; answers every datagram due now.
    func receive(_ datagram: [UInt8], now: UInt64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        if let packet = open(datagram) {
            receivedModes.append(packet.mode)
            if let timestamp = packet.timestamp { lastTimestamp = (timestamp, now) }
            if packet.mode == PacketFlag.startupMode {
                out += handleStartup(packet.chunks, now: now)
            } else {
                handleSession(packet.chunks)
            }
        }
        return out + tick(now: now)
    }

    /// Everything due at `now`: handshake and close retransmissions, then one or more packets of
    /// control chunks and flow fragments (new ones and those whose timer ran out).
    func tick(now: UInt64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        switch state {
        case .helloSent, .keyingSent:
            if let datagram = handshakeDatagram, now >= handshakeSentAt + settings.retransmitAfter {
                if handshakeTransmissions >= settings.maximumTransmissions {
                    fail("handshake unanswered after \(handshakeTransmissions) transmissions")
                } else {
                    handshakeSentAt = now
                    handshakeTransmissions += 1
                    out.append(datagram)
                }
            }
        case .closing:
            if closeSentAt.map({ now >= $0 + settings.retransmitAfter }) ?? true {
                if closeTransmissions >= settings.maximumTransmissions {
                    state = .closed
                } else {
                    closeSentAt = now
                    closeTransmissions += 1
                    pendingChunks.append(Chunk(ChunkType.sessionClose, []))
                }
            }
        default:
            break
        }
        return out + assemble(now: now)
    }

    /// Queues a ping (0x01); its reply lands in `pingReplies`.
    func ping(_ body: [UInt8] = []) {
        pendingChunks.append(Chunk(ChunkType.ping, body))
    }

    /// Starts closing the session (0x0C, repeated until 0x4C arrives).
    func requestClose() {
        guard state == .open else {
            state = .closed
            return
        }
        state = .closing
    }

    /// Opens a send flow with `metadata` (and a return association); answers its ID.
    func openFlow(metadata: [UInt8], returnAssociation: UInt64? = nil) -> UInt64 {
        let id = nextFlowID
        nextFlowID += 1
        sendFlows[id] = SendFlow(id: id, metadata: metadata, returnAssociation: returnAssociation)
        return id
    }

    /// Queues `message` on send flow `flowID` (sent once the session is open).
    func send(_ message: [UInt8], onFlow flowID: UInt64) {
        guard var flow = sendFlows[flowID] else { return }
        let optionBytes = flow.options.flatMap(\.encoded).count + 1
        let room = Packet.chunkCapacity(datagramSize: datagramBudget) - 34 - optionBytes // chunk and fragment headers
        flow.send(message, fragmentSize: min(settings.fragmentSize, room))
        sendFlows[flowID] = flow
    }

    /// Ends send flow `flowID` (an empty final fragment).
    func finishFlow(_ flowID: UInt64) {
        sendFlows[flowID]?.finish()
    }

    // MARK: receiving

    /// Decrypts a datagram: session ID 0 and RIKeying under the default key, the session under the
    /// derived key.
    private func open(_ datagram: [UInt8]) -> Packet? {
        guard let sessionID = Packet.sessionID(of: datagram) else {
            errors.append("datagram of \(datagram.count) bytes")
            return nil
        }
        guard sessionID == 0 || sessionID == initiatorSessionID else {
            errors.append("datagram for unknown session ID \(sessionID)")
            return nil
        }
        if sessionID != 0, let decryptKey {
            if protection != nil, let packet = protection?.decode(datagram, key: decryptKey) { return packet }
            if protection == nil, let packet = Packet.decode(datagram, key: decryptKey) { return packet }
        }
        guard let packet = Packet.decode(datagram, key: Crypto.defaultKey), packet.mode == PacketFlag.startupMode else {
            errors.append("datagram that does not decrypt (session ID \(sessionID))")
            return nil
        }
        return packet
    }

    private func handleStartup(_ chunks: [Chunk], now: UInt64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for chunk in chunks {
            switch chunk.type {
            case ChunkType.rHello:
                if let datagram = handleResponderHello(chunk.value, now: now) { out.append(datagram) }
            case ChunkType.riKeying:
                handleResponderKeying(chunk.value)
            case ChunkType.redirect:
                guard let redirect = Redirect(chunk.value) else {
                    errors.append("malformed Redirect")
                    continue
                }
                redirects.append(redirect)
                if redirect.tag == tag, state == .helloSent { state = .redirected }
            default:
                unexpectedChunks.append(chunk)
            }
        }
        return out
    }

    private func handleResponderHello(_ value: [UInt8], now: UInt64) -> [UInt8]? {
        guard let hello = ResponderHello(value) else {
            errors.append("malformed RHello")
            return nil
        }
        guard hello.tag == tag, state == .helloSent else { return nil } // another tag, or a repetition
        guard let offered = ResponderCertificate(hello.certificate) else {
            fail("malformed responder certificate")
            return nil
        }
        guard let group = Handshake.chooseGroup(offered: offered.supportedGroups, forced: settings.forcedGroup),
              let keyPair = KeyPair(group: group) else {
            fail("no usable Diffie-Hellman group in \(offered.supportedGroups)")
            return nil
        }
        let certificate = Handshake.certificate(layout: settings.keyLayout, keyPair: keyPair)
        let skic = Handshake.initiatorComponent(layout: settings.keyLayout, keyPair: keyPair,
                                                negotiation: settings.negotiationOptions && !settings.protection)
            + (settings.protection ? Protection.initiatorOptions(hmacLength: settings.hmacLength) : [])
        self.group = group
        self.keyPair = keyPair
        self.certificate = certificate
        self.skic = skic
        cookie = hello.cookie
        serverCertificate = hello.certificate
        state = .keyingSent
        handshakeTransmissions = 0
        return sendHandshake(Handshake.iiKeying(sessionID: initiatorSessionID, cookie: hello.cookie, certificate: certificate,
                                                skic: skic, signature: settings.keyingSignature), now: now)
    }

    private func handleResponderKeying(_ value: [UInt8]) {
        guard let keying = ResponderKeying(value) else {
            errors.append("malformed RIKeying")
            return
        }
        guard state == .keyingSent, let keyPair, let skic else { return } // a repetition
        let serverHMACLength = Protection.responderHMACLength(skrc: keying.skrc)
        if settings.protection, serverHMACLength == nil {
            fail("the server does not promise HMACs and session sequence numbers")
            return
        }
        guard settings.protection || !Handshake.requiresUnsupportedNegotiation(skrc: keying.skrc) else {
            fail("the server requires HMAC or session sequence numbers")
            return
        }
        guard let serverKey = Handshake.responderPublicKey(skrc: keying.skrc, group: keyPair.group),
              let secret = keyPair.sharedSecret(with: serverKey) else {
            fail("no usable group \(keyPair.group) public key in the skrc")
            return
        }
        let keys = Crypto.initiatorKeys(secret: secret, skic: skic, skrc: keying.skrc)
        encryptKey = keys.encrypt
        decryptKey = keys.decrypt
        if settings.protection, let serverHMACLength {
            protection = Protection(secret: secret, skic: skic, skrc: keying.skrc, sendLength: settings.hmacLength,
                                    receiveLength: serverHMACLength)
        }
        responderSessionID = keying.sessionID
        handshakeDatagram = nil
        state = .open
    }

    private func handleSession(_ chunks: [Chunk]) {
        var previous: UserData?
        var touched: [UInt64] = []
        for chunk in chunks {
            var fragment: UserData?
            switch chunk.type {
            case ChunkType.userData:
                fragment = UserData(userData: chunk.value)
            case ChunkType.nextUserData:
                fragment = previous.flatMap { UserData(nextUserData: chunk.value, after: $0) }
            case ChunkType.ackRanges:
                guard let ack = Acknowledgement(chunk.value) else { break }
                acknowledgements.append(ack)
                sendFlows[ack.flowID]?.acknowledge(ack)
            case ChunkType.bufferProbe:
                var reader = Reader(chunk.value)
                if let flowID = reader.vlu(), receiveFlows[flowID] != nil { touched.append(flowID) }
            case ChunkType.flowException:
                guard let exception = FlowException(chunk.value) else { break }
                flowExceptions.append(exception)
                sendFlows[exception.flowID]?.failed = true
            case ChunkType.ping:
                pingsReceived.append(chunk.value)
                pendingChunks.append(Chunk(ChunkType.pingReply, chunk.value))
            case ChunkType.pingReply:
                pingReplies.append(chunk.value)
            case ChunkType.sessionClose:
                closeRequestsReceived += 1
                pendingChunks.append(Chunk(ChunkType.sessionCloseAck, []))
                state = .closed
            case ChunkType.sessionCloseAck:
                state = .closed
            case ChunkType.forwardedIHello:
                if let hello = ForwardedHello(chunk.value) { introductions.append(hello) }
            default:
                unexpectedChunks.append(chunk)
            }
            guard chunk.type == ChunkType.userData || chunk.type == ChunkType.nextUserData else { continue }
            // Next User Data continues the most recent user data chunk of the packet (other chunks
            // may come between); after a malformed one there is nothing to continue.
            previous = fragment
            guard let fragment else {
                errors.append("malformed user data chunk 0x\(String(chunk.type, radix: 16))")
                continue
            }
            if accept(fragment) { touched.append(fragment.flowID) }
        }
        for flowID in Set(touched).sorted() {
            if let flow = receiveFlows[flowID] {
                pendingChunks.append(flow.acknowledgement(bufferBlocks: settings.receiveBufferBlocks).chunk)
            }
        }
    }

    /// Passes a fragment to its flow (created on its first fragment) and its messages to the
    /// Flash layer; false when the flow is refused.
    private func accept(_ fragment: UserData) -> Bool {
        var flow = receiveFlows[fragment.flowID] ?? ReceiveFlow(id: fragment.flowID)
        if receiveFlows[fragment.flowID] == nil {
            guard receiveFlows.count < RTMFPTestClient.maximumReceiveFlows else {
                pendingChunks.append(FlowException(flowID: fragment.flowID, code: 0).chunk)
                return false
            }
            if fragment.metadata == nil { errors.append("flow \(fragment.flowID) began without metadata") }
        }
        let messages = flow.receive(fragment)
        receiveFlows[fragment.flowID] = flow
        let kind = flowKind(flow)
        if case .stream(0) = kind, flow.returnAssociation == flash.netConnectionFlow {
            flash.serverNetConnectionFlow = flow.id
        }
        for message in messages {
            flash.deliver(message, flowID: flow.id, kind: kind)
        }
        return true
    }

    /// What a server flow carries: its metadata, else the client flow it answers.
    private func flowKind(_ flow: ReceiveFlow) -> FlowKind {
        if let metadata = flow.metadata {
            let kind = FlowKind(metadata: metadata)
            if kind != .unknown { return kind }
        }
        guard let associated = flow.returnAssociation.flatMap({ sendFlows[$0] }) else { return .unknown }
        return FlowKind(metadata: associated.metadata)
    }

    // MARK: sending

    private func sendHandshake(_ chunk: Chunk, now: UInt64) -> [UInt8] {
        let datagram = startupDatagram(chunk, now: now)
        handshakeDatagram = datagram
        handshakeSentAt = now
        handshakeTransmissions += 1
        return datagram
    }

    private func startupDatagram(_ chunk: Chunk, now: UInt64) -> [UInt8] {
        let packet = Packet(mode: PacketFlag.startupMode, timestamp: timestamp(now), chunks: [chunk])
        return packet.encode(sessionID: 0, key: Crypto.defaultKey) ?? []
    }

    /// Packs the pending control chunks, then the due fragments of every send flow (while open),
    /// into as few datagrams as fit.
    private func assemble(now: UInt64) -> [[UInt8]] {
        guard let responderSessionID, let encryptKey else { return [] }
        let capacity = Packet.chunkCapacity(datagramSize: datagramBudget)
        var packets: [[Chunk]] = []
        var current: [Chunk] = []
        var used = 0
        var lastFragment: (flowID: UInt64, sequence: UInt64)?
        func place(_ chunk: Chunk) {
            if used + chunk.encoded.count > capacity, !current.isEmpty {
                packets.append(current)
                current = []
                used = 0
                lastFragment = nil
            }
            current.append(chunk)
            used += chunk.encoded.count
        }
        for chunk in pendingChunks {
            place(chunk)
            lastFragment = nil
        }
        pendingChunks = []
        if state == .open {
            for flowID in sendFlows.keys.sorted() {
                guard var flow = sendFlows[flowID], !flow.failed else { continue }
                for index in flow.unacknowledged.indices where flow.isDue(index, now: now, retransmitAfter: settings.retransmitAfter) {
                    let fragment = flow.unacknowledged[index]
                    guard fragment.transmissions < settings.maximumTransmissions else {
                        flow.failed = true
                        errors.append("flow \(flowID): fragment \(fragment.sequence) unacknowledged after \(fragment.transmissions) transmissions")
                        break
                    }
                    let data = UserData(flowID: flowID, sequence: fragment.sequence,
                                        fsnOffset: fragment.sequence - flow.forwardSequenceNumber,
                                        flags: fragment.flags, options: flow.options, data: fragment.data)
                    let follows = lastFragment.map { $0.flowID == flowID && $0.sequence + 1 == fragment.sequence } ?? false
                    let short = data.nextChunk
                    if settings.useNextUserData, follows, data.options.isEmpty, used + short.encoded.count <= capacity {
                        place(short)
                    } else {
                        place(data.chunk)
                    }
                    lastFragment = (flowID, fragment.sequence)
                    flow.markSent(index, now: now)
                }
                sendFlows[flowID] = flow
            }
        }
        if !current.isEmpty { packets.append(current) }
        return packets.compactMap { chunks in
            let packet = Packet(mode: PacketFlag.initiatorMode, timestamp: timestamp(now), timestampEcho: echo(now), chunks: chunks)
            if protection != nil { return protection?.encode(packet, sessionID: responderSessionID, key: encryptKey) }
            return packet.encode(sessionID: responderSessionID, key: encryptKey)
        }
    }

    /// The datagram size chunks are packed for: with `protection`, room is left for the HMAC and the
    /// sequence number (a block more than the checksum they replace).
    private var datagramBudget: Int {
        settings.datagramSize - (settings.protection ? settings.hmacLength + 16 : 0)
    }

    /// The packet timestamp: `now` in 4 ms units, on 16 bits.
    private func timestamp(_ now: UInt64) -> UInt16 {
        UInt16(truncatingIfNeeded: now / 4)
    }

    /// The echo of the server's last timestamp, moved on by the time since it arrived (none after 30 s).
    private func echo(_ now: UInt64) -> UInt16? {
        guard let last = lastTimestamp, now >= last.at, now - last.at <= 30_000 else { return nil }
        return last.value &+ UInt16(truncatingIfNeeded: (now - last.at) / 4)
    }

    private func fail(_ reason: String) {
        errors.append(reason)
        state = .failed(reason)
    }
}
