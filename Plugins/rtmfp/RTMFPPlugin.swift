import MonaPluginKit
import PluginABI

/// The RTMFP protocol plugin (RFC 7016 transport, RFC 7425 Flash profile): one UDP socket on
/// `RTMFP.port` (1935 by default, beside RTMP's TCP 1935). Session id 0 goes to the handshake
/// (RTMFPHandshaker), any other to its session; a periodic tick drives retransmissions, keepalive and
/// expiry. Keys: `host`, `port`, `keepaliveServer` and `keepalivePeer` (s, at least 5: the periods the
/// clients are told on setPeerInfo).
final class RTMFPPlugin: MonaPluginInstance {
    let host: MonaHost
    let section: String
    var keepaliveServer = 15
    var keepalivePeer = 10
    /// Our socket and the address it is bound to (the local address of every client).
    private var udp: mona_handle = 0
    private(set) var localAddress = mona_addr()
    private var handshaker: RTMFPHandshaker?
    private(set) var sessions: [UInt32: RTMFPSession] = [:]
    private var byPeer: [[UInt8]: RTMFPSession] = [:]
    /// Cookies of sessions that have not sent their first packet yet.
    private var cookies: [UInt32: [UInt8]] = [:]
    /// Sessions with data in flight or waiting: ticked often.
    private var busy: [UInt32: RTMFPSession] = [:]
    var groups = RTMFPGroupTable()
    let sendConfiguration = RTMFPSendFlow.Configuration()
    private var timer: mona_handle?
    private var ticks = 0
    /// The packets of the session being flushed, sent in runs (`flushOutbox`).
    private var outbox = RTMFPOutbox()
    /// The most sessions at once (a new handshake past it is ignored).
    static let maxSessions = 100_000
    /// Period of the tick (retransmissions); every `slowTicks` ticks, keepalive and expiry.
    static let tickMs: UInt64 = 50
    static let slowTicks = 20

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
    }

    var crypto: RTMFPHostCrypto { RTMFPHostCrypto(host: host) }
    /// The plugin's clock (ms).
    var now: UInt64 { UInt64(max(0, host.monotonicMs)) }

    func start() -> Int32 {
        host.declareDefaults(["port": "1935", "keepaliveServer": "15", "keepalivePeer": "10"]) // MonaServer's
        let address = host.config("\(section).host") ?? host.config("host") ?? "0.0.0.0"
        guard let port = UInt16(host.config("\(section).port") ?? "1935") else {
            host.log(MONA_LOG_ERROR, "\(section).port is not a port number")
            return MONA_E_INVAL
        }
        if let text = host.config("\(section).keepaliveServer"), let value = Int(text) { keepaliveServer = max(5, value) }
        if let text = host.config("\(section).keepalivePeer"), let value = Int(text) { keepalivePeer = max(5, value) }
        handshaker = RTMFPHandshaker(crypto: crypto)
        let bound = host.bindUDP(host: address, port: port)
        guard bound.status == MONA_OK else { return bound.status }
        udp = bound.socket
        localAddress = bound.bound
        timer = host.startTimer(delayMs: Self.tickMs, periodMs: Self.tickMs)
        return MONA_OK
    }

    func stop() {
        for session in Array(sessions.values) {
            session.close()
            session.terminate(reason: "server stopping")
        }
        if let timer { host.cancelTimer(timer) }
        timer = nil
    }

    // MARK: datagrams

    func datagram(socket: UnsafeMutableRawPointer?, udp: mona_handle, from: mona_addr, bytes: UnsafeRawBufferPointer) {
        guard let id = RTMFPPacket.sessionID(of: bytes) else { return }
        let now = now
        if id == 0 {
            guard let packet = RTMFPPacket.open(bytes, key: RTMFPPacket.defaultKey, crypto: crypto) else { return }
            for chunk in packet.chunks { handshake(chunk.type, chunk.value, from: from, now: now) }
            return
        }
        guard let session = sessions[id] else {
            host.log(MONA_LOG_DEBUG, "RTMFP packet for unknown session \(id) from \(from): dropped")
            return
        }
        guard let packet = RTMFPPacket.open(bytes, key: session.decryptKey, protection: &session.protection, crypto: crypto) else {
            host.log(MONA_LOG_DEBUG, "RTMFP packet of session \(id) from \(from) fails its checksum, HMAC or sequence: dropped")
            return
        }
        if let cookie = cookies.removeValue(forKey: id) { handshaker?.sessionStarted(cookie: cookie) }
        session.receive(timestamp: packet.timestamp, echo: packet.echo, chunks: Array(packet.chunks), from: from, now: now)
    }

    private func handshake(_ type: UInt8, _ value: ArraySlice<UInt8>, from: mona_addr, now: UInt64) {
        guard let event = handshaker?.receive(chunkType: type, value: value, from: from, now: now, crypto: crypto) else { return }
        switch event {
        case .connection(let request):
            let url = RTMFPURL(request.url)
            var properties: MonaValue?
            if !url.query.isEmpty, let decoded = Array(url.query.utf8).withUnsafeBytes({ host.decode($0, format: MONA_FORMAT_QUERY) }) {
                var fields: [MonaField] = []
                for case .object(_, let pairs) in decoded { fields += pairs }
                properties = .object(type: "", fields: fields)
            }
            let targets = host.handshakeTargets(peer: request.address, path: url.path, properties: properties,
                                                attempts: UInt32(clamping: request.attempts), capacity: 16)
                .compactMap { $0.isMyself ? myself : $0 }
            if !targets.isEmpty {
                send(startup: RTMFPHandshakeChunkType.redirect,
                     RTMFPRedirect.encode(tag: request.tag, addresses: targets.map { ($0, RTMFPAddressOrigin.relay) }), to: request.address)
            } else if let hello = handshaker?.responderHello(for: request, now: now, crypto: crypto) {
                send(hello, now: now)
            }
        case .rendezvous(let request):
            rendezvous(request, now: now)
        case .newSession(let keyed):
            guard sessions.count < Self.maxSessions, handshaker != nil else { return }
            var id: UInt32 = 0
            repeat {
                id = host.randomBytes(4).reduce(0) { $0 << 8 | UInt32($1) }
            } while id == 0 || sessions[id] != nil
            let session = RTMFPSession(plugin: self, id: id, farID: keyed.farSessionID, keys: keyed.keys,
                                       peerID: keyed.peerID, url: keyed.url, address: keyed.address, now: now)
            sessions[id] = session
            cookies[id] = keyed.cookie
            byPeer[keyed.peerID] = session
            if let reply = handshaker?.accept(keyed, sessionID: id, now: now) { send(reply, now: now) }
        case .send(let chunk):
            send(chunk, now: now)
        }
    }

    /// "myself" of a redirection: the address we are bound to (nil when it is a wildcard: unknown).
    private var myself: mona_addr? {
        withUnsafeBytes(of: localAddress.ip) { $0.allSatisfy { $0 == 0 } } ? nil : localAddress
    }

    /// An initiator looks for a peer: a connected one is introduced (its addresses to the initiator, the
    /// initiator's to it, so that both punch through); an unknown one is asked of Lua's
    /// onRendezVousUnknown (other servers).
    private func rendezvous(_ request: RTMFPRendezvousRequest, now: UInt64) {
        if let target = byPeer[request.peerID], target.state == .open {
            var addresses: [(address: mona_addr, origin: RTMFPAddressOrigin)] = [(target.address, .observed)]
            for local in target.localAddresses where !RTMFPAddresses.same(local, target.address) { addresses.append((local, .local)) }
            send(startup: RTMFPHandshakeChunkType.redirect, RTMFPRedirect.encode(tag: request.tag, addresses: addresses), to: request.address)
            let forwarded = RTMFPForwardedHello.encode(peerID: request.peerID, replyAddress: request.address, origin: .observed, tag: request.tag)
            target.controlChunks.append((RTMFPHandshakeChunkType.forwardedIHello, forwarded))
            target.flush(now: now)
            return
        }
        let targets = host.rendezvousTargets(peerID: request.peerID, capacity: 16)
        guard !targets.isEmpty else { return }
        send(startup: RTMFPHandshakeChunkType.redirect,
             RTMFPRedirect.encode(tag: request.tag, addresses: targets.map { ($0, RTMFPAddressOrigin.relay) }), to: request.address)
    }

    private func send(startup type: UInt8, _ value: [UInt8], to address: mona_addr) {
        send(RTMFPStartupChunk(type: type, value: value, address: address, farSessionID: 0), now: now)
    }

    private func send(_ chunk: RTMFPStartupChunk, now: UInt64) {
        guard let datagram = chunk.packet(now: now, crypto: crypto) else { return }
        _ = datagram.withUnsafeBytes { host.send(udp: udp, to: chunk.address, $0) }
    }

    /// One packet of a session: our responder flags, its chunks, sealed with its key, into the outbox
    /// (the session's flush sends it with `flushOutbox`).
    func sendPacket(_ body: [UInt8], session: RTMFPSession, timestamp: UInt16, echo: UInt16?) {
        var writer = RTMFPPacketWriter(flags: RTMFPPacket.Flag.timeCriticalReverse | RTMFPPacket.Flag.responderMode,
                                       timestamp: timestamp, echo: echo, sequence: session.protection.sendSequence,
                                       hmac: session.protection.sendHMAC)
        if let sequence = session.protection.sendSequence { session.protection.sendSequence = sequence &+ 1 }
        guard writer.append(encodedChunks: body),
              let datagram = writer.seal(farSessionID: session.farID, key: session.encryptKey, crypto: crypto) else {
            host.log(MONA_LOG_ERROR, "RTMFP packet of \(body.count) bytes does not fit: dropped")
            return
        }
        if !outbox.accepts(datagram.count, to: session.address) { flushOutbox() }
        outbox.append(datagram, to: session.address)
    }

    /// Sends the packets gathered, each run of them in one host call.
    func flushOutbox() {
        guard !outbox.isEmpty else { return }
        _ = outbox.bytes.withUnsafeBytes { host.send(udp: udp, to: outbox.address, segments: $0, segmentSize: outbox.segmentSize) }
        outbox.clear()
    }

    // MARK: sessions

    /// A session has something in flight or waiting: it is ticked until it has not.
    func markBusy(_ session: RTMFPSession) { busy[session.id] = session }

    func updateBusy(_ session: RTMFPSession) {
        if session.nextDeadline == nil, !session.hasDataToSend { busy[session.id] = nil } else { busy[session.id] = session }
    }

    /// A session ended: forgotten everywhere.
    func forget(_ session: RTMFPSession) {
        guard sessions[session.id] === session else { return }
        sessions[session.id] = nil
        busy[session.id] = nil
        cookies[session.id] = nil
        if byPeer[session.peerID] === session { byPeer[session.peerID] = nil }
    }

    func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle) {
        let now = now
        ticks += 1
        if ticks % Self.slowTicks == 0 {
            handshaker?.expire(now: now)
            for session in Array(sessions.values) { session.tick(now: now) }
        } else {
            for session in Array(busy.values) { session.tick(now: now) }
        }
    }

    // MARK: writers (the client's NetConnection)

    func writerInvoke(writer: UnsafeMutableRawPointer?, name: String, args: [MonaValue]) -> Int32 {
        guard let session = RTMFPSession.from(writer), session.state == .open else { return MONA_E_CLOSED }
        session.sendOnNetConnection(session.command(name, transaction: 0, [.nil] + args), reliable: session.writerReliable)
        session.flush(now: now)
        return MONA_OK
    }

    /// writeMessage: a `_result` with transaction 0; a late answer: the `_result` of the call that waited.
    func writerMessage(writer: UnsafeMutableRawPointer?, response: Int32, args: [MonaValue]) -> Int32 {
        guard let session = RTMFPSession.from(writer), session.state == .open else { return MONA_E_CLOSED }
        var transaction = 0.0
        var failed = false
        if response != 0 {
            guard response != Int32.min, let waiting = session.pendingCalls.removeValue(forKey: abs(response)) else { return MONA_OK }
            transaction = waiting
            failed = response < 0
        }
        if failed {
            let text: String = if case .string(let message)? = args.first { message } else { "call failed" }
            session.sendOnNetConnection(session.command("_error", transaction: transaction,
                                                        [.nil, RTMFPSession.info(level: "error", code: "NetConnection.Call.Failed", description: text)]))
        } else {
            session.sendOnNetConnection(session.command("_result", transaction: transaction, [.nil] + args), reliable: session.writerReliable)
        }
        session.flush(now: now)
        return MONA_OK
    }

    func writerSetReliable(writer: UnsafeMutableRawPointer?, reliable: Bool) -> Int32 {
        guard let session = RTMFPSession.from(writer), session.state == .open else { return MONA_E_CLOSED }
        session.writerReliable = reliable
        return MONA_OK
    }

    func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32 {
        guard let session = RTMFPSession.from(writer), session.state == .open else { return MONA_E_CLOSED }
        if code > 0 {
            let reason = code == 1 ? "NetConnection.Connect.IdleTimeout" : "NetConnection.Connect.AppShutdown"
            session.sendOnNetConnection(session.command("_error", transaction: 0,
                                                        [.nil, RTMFPSession.info(level: "error", code: reason, description: "Connection closed by the server")]))
            session.flush(now: now)
        }
        session.close()
        return MONA_OK
    }

    // MARK: sinks (a playing NetStream)

    func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        guard let stream = RTMFPStream.from(sink) else { return MONA_E_CLOSED }
        if !stream.holding {
            stream.send(RTMFPFlashMessage.userControl(RTMFPStream.streamBegin, [stream.id]))
            stream.status("NetStream.Play.PublishNotify", "\(name) is now published")
        }
        return MONA_OK
    }

    func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        guard let stream = RTMFPStream.from(sink) else { return MONA_E_CLOSED }
        stream.status("NetStream.Play.UnpublishNotify", "\(name) is now unpublished")
        stream.session.flush(now: now)
        return MONA_OK
    }

    /// Metadata as players expect it: `onMetaData` and an ECMA array.
    func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32 {
        guard let stream = RTMFPStream.from(sink) else { return MONA_E_CLOSED }
        var fields: [MonaField] = []
        if case .object(_, let objectFields) = metadata { fields = objectFields }
        let payload = host.encode([.string("onMetaData"), .mixed(dense: [], fields: fields)], format: MONA_FORMAT_AMF0) ?? []
        stream.send(RTMFPFlashMessage.encode(type: RTMFPFlashMessage.Kind.dataAMF0, time: 0, payload: payload))
        return MONA_OK
    }

    func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        media(sink, video: false, time: time, bytes: bytes, flags: flags)
    }

    func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        media(sink, video: true, time: time, bytes: bytes, flags: flags)
    }

    /// A frame for a player on its audio or video flow; a player whose flow holds too much (it does not
    /// acknowledge) gets nothing but configurations until it drains: the host restarts its video on a key frame.
    private func media(_ sink: UnsafeMutableRawPointer?, video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        guard let stream = RTMFPStream.from(sink), stream.session.state == .open else { return MONA_E_CLOSED }
        let track: RTMFPStream.Track = video ? .video : .audio
        if flags & MONA_MEDIA_CONFIG == 0, stream.queued(track) > RTMFPStream.congestion { return MONA_E_AGAIN }
        let type = video ? RTMFPFlashMessage.Kind.video : RTMFPFlashMessage.Kind.audio
        stream.send(RTMFPFlashMessage.encode(type: type, time: time, payload: bytes), track: track)
        return MONA_OK
    }

    /// A data message: AMF0 for Flash players, converted from another format when needed.
    func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let stream = RTMFPStream.from(sink) else { return MONA_E_CLOSED }
        if format == MONA_FORMAT_AMF0 {
            stream.send(RTMFPFlashMessage.encode(type: RTMFPFlashMessage.Kind.dataAMF0, time: 0, payload: bytes))
        } else if let values = host.decode(bytes, format: format), let payload = host.encode(values, format: MONA_FORMAT_AMF0) {
            stream.send(RTMFPFlashMessage.encode(type: RTMFPFlashMessage.Kind.dataAMF0, time: 0, payload: payload))
        }
        return MONA_OK
    }

    func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32 {
        RTMFPStream.from(sink)?.session.flush(now: now)
        return MONA_OK
    }
}

nonisolated(unsafe) let rtmfpDescriptor = monaMakeDescriptor(name: "RTMFP", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(RTMFPPlugin(host: host, section: String(cString: section)), host: host)
}

/// The RTMFP plugin's entry symbol.
@_cdecl("mona_plugin_entry_rtmfp")
public func monaPluginEntryRTMFP(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? rtmfpDescriptor : nil
}
