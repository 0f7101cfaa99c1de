import MonaPluginKit
import PluginABI

/// One RTMFP session with a client, after the handshake: the packets it sends (chunks dispatched to
/// its flows, pings, acknowledgements, close), the flows both ways (RFC 7016 §3.6), and the Flash
/// layer on top of them (RTMFPSession+Commands: the NetConnection, its NetStreams, NetGroups).
/// Output is gathered and written as packets of at most `maxChunkBytes` of chunks
/// (RTMFPSession+Output). Times are the plugin's monotonic milliseconds.
final class RTMFPSession {
    /// The plugin outlives its sessions (it drops them before it is destroyed).
    unowned(unsafe) let plugin: RTMFPPlugin
    /// Our session id: the one the client writes in its packets.
    let id: UInt32
    /// The client's session id: the one we write in ours.
    let farID: UInt32
    let decryptKey: [UInt8]
    let encryptKey: [UInt8]
    /// HMACs and sequence numbers both ways, as negotiated (the receive window and send counter move).
    var protection: RTMFPPacketProtection
    /// Chunk bytes one packet carries at most: 1192 bytes of UDP payload, less the scrambled session id,
    /// the HMAC, the sequence number, the checksum, flags, timestamp and echo, rounded down so that
    /// the encrypted part stays a multiple of 16 with its padding (1177 without HMAC or sequence).
    let maxChunkBytes: Int
    /// SHA-256 of the client's certificate: its peer id (client.rawId).
    let peerID: [UInt8]
    /// The URL of the handshake (rtmfp://host:port/app?query), as the client sent it.
    let url: String
    /// Where the client's packets come from (it may move: mobility).
    private(set) var address: mona_addr
    /// The client's own view of its addresses (NetConnection setPeerInfo), for rendezvous.
    var localAddresses: [mona_addr] = []
    var host: MonaHost { plugin.host }

    /// The host's client after a successful connect, and whether its values are AMF3.
    var client: mona_handle = 0
    var amf3 = false
    var streams: [UInt32: RTMFPStream] = [:]
    /// Memberships of NetGroups, by the receive flow that joined.
    var groups: [UInt64: RTMFPGroupMembership] = [:]
    /// Calls whose method waits for the host, by token: the transaction its _result answers.
    var pendingCalls: [Int32: Double] = [:]
    /// Lua's client.writer.reliable: whether invocations and messages of the NetConnection are
    /// retransmitted when lost.
    var writerReliable = true

    /// The client's flows and what each carries.
    var receiveFlows: [UInt64: RTMFPReceiveFlow] = [:]
    var receiveKinds: [UInt64: RTMFPFlowSignature] = [:]
    /// Our flows, in creation order for fair packing.
    var sendFlows: [UInt64: RTMFPSendFlow] = [:]
    var sendOrder: [UInt64] = []
    private var nextSendFlowID: UInt64 = 1
    /// Our NetConnection flow (answers on the client's NetConnection flow).
    var netConnectionFlow: UInt64?
    /// Receive flows that got data since the last packet went out: they are acknowledged.
    var flowsToAcknowledge: [UInt64] = []
    /// Chunks other than user data and acknowledgements waiting for the next packet.
    var controlChunks: [(type: UInt8, value: [UInt8])] = []
    private var parser = RTMFPUserDataParser()

    /// The client's last timestamp (4 ms units) and when it arrived: what our echoes are made of.
    var peerTimestamp: (value: UInt16, at: UInt64)?
    private(set) var lastReceived: UInt64
    /// Server pings sent since the client was last heard from.
    private var silentPings = 0

    /// Where the session is in its life.
    enum State: Equatable {
        case open
        /// We asked the client to close (0x0C): sent this many times.
        case closing(attempts: Int)
        case closed
    }
    private(set) var state = State.open

    /// What one client flow may hold out of order (and advertises) and the largest message it reassembles.
    static let receiveConfiguration: RTMFPReceiveFlow.Configuration = {
        var configuration = RTMFPReceiveFlow.Configuration()
        configuration.bufferCapacity = 1 << 20
        configuration.maxMessageSize = 4 << 20
        return configuration
    }()
    /// The most flows a client may open at once, and NetStreams.
    static let maxReceiveFlows = 64
    static let maxStreams = 64
    /// A session silent this long is pinged (then every keepalive period); silent `deadAfter`, it dies.
    static let pingAfter: UInt64 = 120_000
    static let deadAfter: UInt64 = 360_000
    /// Close requests sent before a session that does not acknowledge them is dropped.
    static let maxCloseAttempts = 10

    init(plugin: RTMFPPlugin, id: UInt32, farID: UInt32, keys: RTMFPSessionKeys, peerID: [UInt8],
         url: String, address: mona_addr, now: UInt64) {
        self.plugin = plugin
        self.id = id
        self.farID = farID
        decryptKey = keys.decrypt
        encryptKey = keys.encrypt
        protection = keys.protection
        let overhead = keys.protection.maxOverhead
        maxChunkBytes = RTMFPPacketWriter.maxEncryptedSize(trailer: overhead.trailer) - overhead.prefix - 5
        self.peerID = peerID
        self.url = url
        self.address = address
        lastReceived = now
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RTMFPSession? {
        pointer.map { Unmanaged<RTMFPSession>.fromOpaque($0).takeUnretainedValue() }
    }

    // MARK: packets in

    /// A decrypted packet of this session from `from`: its chunks in order, then acknowledgements and
    /// whatever the Flash layer answered go out.
    func receive(timestamp: UInt16?, echo: UInt16?, chunks: [(type: UInt8, value: ArraySlice<UInt8>)], from: mona_addr, now: UInt64) {
        guard state != .closed else { return }
        lastReceived = now
        silentPings = 0
        if !RTMFPAddresses.same(from, address) { moved(to: from) }
        if let timestamp { peerTimestamp = (timestamp, now) }
        if let echo { observe(echo: echo, now: now) }
        parser.reset()
        for chunk in chunks {
            guard state != .closed else { return }
            handle(chunk.type, chunk.value, now: now)
        }
        flushPublications()
        flush(now: now)
    }

    private func moved(to newAddress: mona_addr) {
        let old = address
        address = newAddress
        host.log(MONA_LOG_INFO, "RTMFP session \(id) moved from \(old) to \(newAddress)")
        if client != 0 { host.addressChanged(client: client, peer: newAddress) }
    }

    /// The echo of one of our timestamps: a round-trip time sample for the flows.
    private func observe(echo: UInt16, now: UInt64) {
        let elapsed = UInt64(Self.timestamp(now) &- echo) * 4
        guard elapsed < 60_000 else { return }
        for id in sendOrder { sendFlows[id]?.observeRTT(elapsed) }
    }

    /// Our clock in the 4 ms units of packet timestamps.
    static func timestamp(_ now: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: now / 4) }

    private func handle(_ type: UInt8, _ value: ArraySlice<UInt8>, now: UInt64) {
        switch type {
        case RTMFPChunk.ping:
            controlChunks.append((RTMFPChunk.pingReply, Array(value))) // RFC 7016: the reply echoes the ping
        case RTMFPChunk.pingReply:
            break // any packet counts as life (lastReceived)
        case RTMFPFlowChunkType.userData, RTMFPFlowChunkType.nextUserData:
            guard let fragment = parser.parse(chunkType: type, value: value) else {
                return fail("a malformed user data chunk")
            }
            receive(fragment, now: now)
        case RTMFPFlowChunkType.ackRanges, RTMFPFlowChunkType.ackBitmap:
            guard let ack = RTMFPAck.parse(chunkType: type, value: value) else { return fail("a malformed acknowledgement") }
            guard sendFlows[ack.flowID] != nil else { return } // a flow already finished
            sendFlows[ack.flowID]?.handle(ack: ack, now: now)
            collect(ack.flowID)
        case RTMFPFlowChunkType.bufferProbe:
            guard let flow = RTMFPBufferProbe.parse(value) else { return fail("a malformed buffer probe") }
            if receiveFlows[flow] != nil {
                receiveFlows[flow]?.bufferProbed()
                acknowledge(flow)
            }
        case RTMFPFlowChunkType.flowException:
            guard let exception = RTMFPFlowException.parse(value) else { return fail("a malformed exception report") }
            sendFlows[exception.flowID]?.receiveException(code: exception.code)
            collect(exception.flowID)
        case RTMFPChunk.closeRequest:
            controlChunks.append((RTMFPChunk.closeAcknowledgement, []))
            flush(now: now)
            terminate(reason: "closed by the client")
        case RTMFPChunk.closeAcknowledgement:
            terminate(reason: state == .open ? "closed by the client" : "closed")
        case RTMFPChunk.padding, RTMFPChunk.paddingFF:
            break
        default:
            host.log(MONA_LOG_DEBUG, "RTMFP chunk 0x\(String(type, radix: 16)) from \(address): ignored")
        }
    }

    // MARK: receive flows

    /// A fragment of one of the client's flows: the flow is created by its first fragment with options
    /// (its signature says what it carries); a flow we cannot use is refused with an exception report.
    private func receive(_ fragment: RTMFPUserData, now: UInt64) {
        let id = fragment.flowID
        if receiveFlows[id] == nil {
            // Without its options a fragment cannot open a flow (a late one of a flow already over, or a
            // packet that overtook the first): ignored, unacknowledged, so the sender repeats the options.
            guard fragment.metadata != nil else { return }
            guard receiveFlows.count < Self.maxReceiveFlows else { return fail("more than \(Self.maxReceiveFlows) flows") }
            let kind = RTMFPFlowSignature(metadata: (fragment.metadata ?? [])[...])
            var flow = RTMFPReceiveFlow(id: id, signature: fragment.metadata ?? [], associatedSendFlowID: fragment.returnFlowAssociation,
                                        configuration: Self.receiveConfiguration)
            host.log(MONA_LOG_TRACE, "RTMFP flow \(id) of \(address) opens: \(kind)")
            if !accepts(kind) {
                host.log(MONA_LOG_DEBUG, "RTMFP flow \(id) of \(address) refused (signature \(kind))")
                flow.reject()
            }
            receiveFlows[id] = flow
            receiveKinds[id] = kind
        }
        guard var flow = receiveFlows[id] else { return }
        let messages = flow.receive(fragment)
        let complete = flow.isComplete
        let exception = flow.exceptionReport
        receiveFlows[id] = flow
        acknowledge(id)
        if let exception { controlChunks.append((RTMFPFlowChunkType.flowException, exception.encodedValue)) }
        let kind = receiveKinds[id] ?? .unknown
        for message in messages {
            guard state == .open else { return }
            deliver(message[...], flow: id, kind: kind, now: now)
        }
        if complete { finished(flow: id, kind: kind) }
    }

    /// Whether a flow of this kind may open now.
    private func accepts(_ kind: RTMFPFlowSignature) -> Bool {
        switch kind {
        case .netConnection: true
        case .netStream(let stream): client != 0 && streams[stream] != nil
        case .group: client != 0
        case .unknown: false
        }
    }

    func acknowledge(_ flow: UInt64) {
        if !flowsToAcknowledge.contains(flow) { flowsToAcknowledge.append(flow) }
    }

    /// A client flow ended (its final fragment delivered): what it held ends too.
    private func finished(flow id: UInt64, kind: RTMFPFlowSignature) {
        receiveFlows[id] = nil
        receiveKinds[id] = nil
        if case .group = kind { leaveGroup(flow: id) }
    }

    // MARK: send flows

    /// Opens one of our flows with a signature, answering the client's flow `associated`.
    func openSendFlow(signature: [UInt8], associated: UInt64?) -> UInt64 {
        let id = nextSendFlowID
        nextSendFlowID += 1
        sendFlows[id] = RTMFPSendFlow(id: id, signature: signature, associatedReceiveFlowID: associated,
                                      configuration: plugin.sendConfiguration)
        sendOrder.append(id)
        return id
    }

    /// Writes a message on one of our flows; false when the flow is gone, failed or full.
    @discardableResult
    func write(_ message: [UInt8], on flow: UInt64, reliable: Bool = true, now: UInt64) -> Bool {
        guard state == .open, sendFlows[flow] != nil else { return false }
        let written = sendFlows[flow]?.write(message, reliable: reliable, now: now) ?? false
        plugin.markBusy(self)
        return written
    }

    /// Closes one of our flows (its last fragment carries the final flag).
    func closeSendFlow(_ flow: UInt64) {
        sendFlows[flow]?.close()
        plugin.markBusy(self)
    }

    /// A send flow that completed or failed is forgotten; a failed NetConnection flow fails the session.
    func collect(_ flow: UInt64) {
        guard let sendFlow = sendFlows[flow] else { return }
        if let failure = sendFlow.failure {
            sendFlows[flow] = nil
            sendOrder.removeAll { $0 == flow }
            if flow == netConnectionFlow {
                netConnectionFlow = nil
                fail("its NetConnection flow failed (\(failure))")
            } else {
                for stream in streams.values { stream.flowFailed(flow) }
            }
        } else if sendFlow.isComplete {
            sendFlows[flow] = nil
            sendOrder.removeAll { $0 == flow }
        }
    }

    /// True when one of our flows has something it may send.
    var hasDataToSend: Bool { sendOrder.contains { sendFlows[$0]?.hasDataToSend == true } }

    /// Bytes waiting in our flows towards this client.
    func queuedBytes(on flow: UInt64) -> Int { sendFlows[flow]?.queuedBytes ?? 0 }

    // MARK: time

    /// The plugin's tick: retransmissions due, keepalive and the idle limit, close requests.
    func tick(now: UInt64) {
        switch state {
        case .closed:
            return
        case .closing(let attempts):
            guard attempts < Self.maxCloseAttempts, now - lastReceived < Self.deadAfter else {
                return terminate(reason: "close request not acknowledged")
            }
            state = .closing(attempts: attempts + 1)
            controlChunks.append((RTMFPChunk.closeRequest, []))
        case .open:
            let silence = now - lastReceived
            if silence >= Self.deadAfter { return fail("silent for \(silence / 1000) s") }
            let keepalive = UInt64(plugin.keepaliveServer) * 1000
            if silence >= Self.pingAfter, silence >= Self.pingAfter + UInt64(silentPings) * keepalive {
                silentPings += 1
                controlChunks.append((RTMFPChunk.ping, []))
            }
            for flow in sendOrder {
                sendFlows[flow]?.checkTimeout(now: now)
                collect(flow)
            }
        }
        flush(now: now)
    }

    /// The earliest retransmission deadline of our flows (nil: nothing in flight).
    var nextDeadline: UInt64? { sendOrder.compactMap { sendFlows[$0]?.nextRetransmitDeadline }.min() }

    // MARK: end

    /// The client broke the protocol (or stopped answering): a log line, then we ask it to close.
    func fail(_ reason: String) {
        guard state == .open else { return }
        host.log(MONA_LOG_WARN, "RTMFP session of \(address) closed: \(reason)")
        close()
    }

    /// Asks the client to close (0x0C, repeated on every tick until it acknowledges) and ends the
    /// client on our side at once.
    func close() {
        guard state == .open else { return }
        flush(now: plugin.now) // what was written last (an _error, a close reason) goes out once
        state = .closing(attempts: 1)
        controlChunks.append((RTMFPChunk.closeRequest, []))
        release()
        flush(now: plugin.now)
    }

    /// The session is over: the client closes (onDisconnection) and the plugin forgets the session.
    func terminate(reason: String) {
        guard state != .closed else { return }
        host.log(MONA_LOG_DEBUG, "RTMFP session \(id) of \(address): \(reason)")
        state = .closed
        release()
        plugin.forget(self)
    }

    /// What the session holds in the host: streams stop, groups are left, then the client goes.
    private func release() {
        for stream in streams.values { stream.stop(notify: false) }
        streams = [:]
        for flow in Array(groups.keys) { leaveGroup(flow: flow) }
        if client != 0 { host.closeClient(client) }
        client = 0
        pendingCalls = [:]
    }
}

/// RTMFP chunk types the session handles itself (RFC 7016 §2.3; flows' in RTMFPFlowChunkType).
enum RTMFPChunk {
    static let padding: UInt8 = 0x00
    static let paddingFF: UInt8 = 0xFF
    static let ping: UInt8 = 0x01
    static let pingReply: UInt8 = 0x41
    static let closeRequest: UInt8 = 0x0C
    static let closeAcknowledgement: UInt8 = 0x4C
}
