import MonaPluginKit
import MonaValues
import PluginABI

/// One RTSP connection: requests framed by RTSPRequestParser (and `$` frames between them), answered in
/// order; the client opened on the first request (onConnection); one RTSP session (SETUP…TEARDOWN) that
/// plays a publication (RTSPSession+Play) or records one (RTSPSession+Record), its RTP over this
/// connection or over UDP port pairs of its own.
final class RTSPSession: MergedOutput {
    /// The plugin outlives its sessions.
    unowned(unsafe) let plugin: RTSPPlugin
    let connection: mona_handle
    let peer: mona_addr
    let local: mona_addr
    var host: MonaHost { plugin.host }

    /// Input not processed yet (a request waits for its answer, e.g. a DESCRIBE for the codecs).
    private var input: [UInt8] = []
    private var paused = false
    /// Output gathered during a batch (answers, interleaved RTP), written by `flush`.
    var output: [UInt8] = []
    /// Ranges of shared buffers (RTP payloads) that go between `output`'s bytes, in order, and the
    /// buffers they name (held until written).
    var outputShared: [(at: Int, handle: mona_handle, range: Range<Int>)] = []
    var outputBlocks: [SharedBytes] = []
    /// The bytes of those ranges.
    var outputSharedBytes = 0
    /// Gathered output is written past this size even inside a batch (as RTMP's).
    static let outputLimit = 64 * 1024
    /// Merged writes (WriteMerger): since when RTP waits in the output, whether the merger lists this
    /// session, and the rhythm of the batches that reach it.
    var waitingSince: Int64?
    var listedForMerge = false
    var lastBatchEnd: Int64?
    var batchGap: Int64 = 0
    var hasOutput: Bool { !output.isEmpty || !outputShared.isEmpty }
    /// What the host had queued after the last send (0 once drained).
    private(set) var queued: Int64 = 0
    var closing = false

    /// The client (0 until a request opened it) and its application path.
    var client: mona_handle = 0
    /// The RTSP session id, once a SETUP made one.
    var sessionID: String?
    var tracks: [Int: RTSPTrack] = [:]
    /// Playing: the subscription, the stream, what it learnt before PLAY, whether PLAY started.
    var subscription: mona_handle?
    var streamName = ""
    var started = false
    var playout = RTSPPlayout()
    var described: (video: Int?, audio: Int?) = (nil, nil)
    var playing = false
    /// PLAY found no key frame held: frames wait for the next key frame.
    var awaitingKeyFrame = false
    /// The NTP↔media mapping of the sender reports: this wall time (ms) is that media time (ms).
    var anchor: (wall: Int64, media: Double)?
    /// A DESCRIBE waiting for codec configurations: its request and time-out timer.
    var pendingDescribe: (request: RTSPRequest, url: RTSPURL, timer: mona_handle?)?
    /// Recording: the announced stream and tracks, the publication once RECORD ran, when it started.
    var announced: (name: String, tracks: [SDPTrack])?
    var publication: mona_handle?
    var recordStart: Int64 = 0

    private var timer: mona_handle?
    private var lastActivity: Int64
    /// Seconds without a request nor RTCP before the connection closes (0: never): RTSP.timeout, or the
    /// client's `timeout` parameter (what onConnection returned).
    private var idleSeconds: Int

    init(plugin: RTSPPlugin, connection: mona_handle, peer: mona_addr, local: mona_addr) {
        self.plugin = plugin
        self.connection = connection
        self.peer = peer
        self.local = local
        lastActivity = plugin.host.monotonicMs
        idleSeconds = plugin.timeout
        timer = plugin.host.startTimer(delayMs: RTSPPlugin.reportPeriod, periodMs: RTSPPlugin.reportPeriod, context: context)
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RTSPSession? {
        pointer.map { Unmanaged<RTSPSession>.fromOpaque($0).takeUnretainedValue() }
    }

    // MARK: bytes in

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        lastActivity = host.monotonicMs
        input += bytes
        process()
        if pendingDescribe != nil, input.count > plugin.parser.maxHead + plugin.parser.maxBody, !paused {
            paused = true // a client that does not wait for the answer is slowed down by TCP
            host.setReading(connection, false)
        }
    }

    /// Handles what the input holds, until a request waits or more bytes are needed.
    func process() {
        var offset = 0
        while !closing, pendingDescribe == nil, let (unit, consumed) = plugin.parser.next(input[offset...]) {
            offset += consumed
            switch unit {
            case .request(let request): handle(request)
            case .interleaved(let channel, let payload): interleaved(channel: channel, payload)
            case .refused(let status, let cseq, let reason): answer(cseq: cseq, RTSPResponse(status, reason: reason))
            case .skipped: break
            case .malformed(let status, let reason):
                host.log(MONA_LOG_WARN, "client \(peer): \(reason), closing")
                if status != 0 { answer(cseq: nil, RTSPResponse(status)) }
                close()
            }
        }
        input.removeFirst(min(offset, input.count))
        if let publication { host.flush(publication: publication) }
        flush()
        if paused, pendingDescribe == nil, !closing {
            paused = false
            host.setReading(connection, true)
        }
    }

    private func handle(_ request: RTSPRequest) {
        if let id = sessionID, let asked = request.header("Session")?.split(separator: ";").first?.trimmingWhitespace(), asked != id {
            return answer(request, RTSPResponse(454))
        }
        switch request.method {
        case "OPTIONS":
            answer(request, RTSPResponse(200, headers: [("Public", RTSPPlugin.methods)]))
        case "GET_PARAMETER", "SET_PARAMETER":
            answer(request, RTSPResponse(200)) // keep-alive (no parameter is served)
        case "DESCRIBE": describe(request)
        case "ANNOUNCE": announce(request)
        case "SETUP": setup(request)
        case "PLAY": play(request)
        case "RECORD": record(request)
        case "PAUSE":
            guard sessionID != nil else { return answer(request, RTSPResponse(455)) }
            playing = false
            answer(request, RTSPResponse(200))
        case "TEARDOWN":
            guard sessionID != nil else { return answer(request, RTSPResponse(454)) }
            answer(request, RTSPResponse(200))
            endSession()
        default:
            answer(request, RTSPResponse(501, headers: [("Public", RTSPPlugin.methods)]))
        }
    }

    // MARK: the client

    /// The client, opened with the request's URL on its first request (onConnection); nil after an
    /// answer that says why it could not be.
    func openClient(_ request: RTSPRequest, _ url: RTSPURL, trackURL: Bool) -> mona_handle? {
        if client != 0 { return client }
        let (path, _) = url.application(dropping: trackURL ? 1 : 0)
        var headers = request.headers
        if let (user, password) = Self.credentials(request, url) { headers += [("user", user), ("password", password)] }
        // client.serverAddress: what the URL names (WebClient reads it from a Host header, which RTSP lacks).
        if let server = url.server, request.header("Host") == nil { headers.append(("Host", server)) }
        switch WebClient.open(host, protocol: "RTSP", peer: peer, local: local, path: path, query: url.query, headers: headers,
                              version: "1.0", writer: context) {
        case .opened(let handle, _):
            client = handle
            if let seconds = WebClient.idleSeconds(host, client: handle) { idleSeconds = seconds }
            return handle
        case .refused(_, let kind, let message):
            if kind == MONA_ERR_APPLICATION {
                answer(request, RTSPResponse(404, reason: message))
            } else if kind == MONA_ERR_SCRIPT {
                refuse(request, url, message)
            } else {
                answer(request, RTSPResponse(403))
            }
            return nil
        }
    }

    /// Basic credentials of a request (its Authorization header, or the URL's user and password).
    static func credentials(_ request: RTSPRequest, _ url: RTSPURL) -> (user: String, password: String)? {
        if let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("basic "),
           let decoded = Base64.decode(authorization.dropFirst(6).trimmingWhitespace()[...]) {
            let parts = String(decoding: decoded, as: UTF8.self).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        return url.user.map { ($0, url.password ?? "") }
    }

    /// Lua refused (onConnection, onSubscribe or onPublish): 403 with its message when the request had
    /// credentials, else 401 (with the message too) to ask for them (FFmpeg, GStreamer and VLC then send the URL's), the client
    /// closed so that the next request's credentials reach onConnection.
    func refuse(_ request: RTSPRequest, _ url: RTSPURL, _ message: String) {
        if Self.credentials(request, url) != nil {
            return answer(request, RTSPResponse(403, reason: message.isEmpty ? nil : PeerText.withoutPaths(message)))
        }
        if client != 0, subscription == nil, publication == nil {
            host.closeClient(client)
            client = 0
        }
        answer(request, RTSPResponse(401, reason: message.isEmpty ? nil : PeerText.withoutPaths(message),
                                     headers: [("WWW-Authenticate", "Basic realm=\"MonaServer\"")]))
    }

    // MARK: answers and output

    func answer(_ request: RTSPRequest, _ response: RTSPResponse) { answer(cseq: request.cseq, response) }

    func answer(cseq: String?, _ response: RTSPResponse) {
        var response = response
        if let sessionID { response.headers.insert(("Session", idleSeconds > 0 ? "\(sessionID);timeout=\(idleSeconds)" : sessionID), at: 0) }
        output += response.encode(cseq: cseq)
    }

    /// Writes the gathered output: one send, the RTP payloads it names by reference.
    func flush() {
        waitingSince = nil
        guard hasOutput, !closing else { return }
        let result = outputShared.isEmpty ? output.withUnsafeBytes { host.send(connection, $0) } : sendWithShared()
        output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
        outputShared.removeAll(keepingCapacity: true)
        outputBlocks.removeAll(keepingCapacity: true)
        outputSharedBytes = 0
        if result < 0 { return close(how: MONA_CLOSE_ABORT) }
        queued = result
        if queued > RTSPPlugin.queueLimit {
            host.log(MONA_LOG_WARN, "client \(peer) reads nothing (\(queued) bytes queued), closing")
            close(how: MONA_CLOSE_ABORT)
        }
    }

    /// `output` and the shared ranges between its bytes as the parts of one tcp_send_parts.
    private func sendWithShared() -> Int64 {
        var parts = plugin.sendParts
        plugin.sendParts = []
        defer { plugin.sendParts = parts }
        parts.removeAll(keepingCapacity: true)
        return output.withUnsafeBytes { bytes in
            // No base when the output holds shared ranges only (`$` frames shared whole): then no bytes part either.
            let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var start = 0
            for reference in outputShared {
                if reference.at > start, let base { parts.append(mona_send_part(shared: 0, data: base + start, offset: 0, size: reference.at - start)) }
                parts.append(mona_send_part(shared: reference.handle, data: nil, offset: reference.range.lowerBound, size: reference.range.count))
                start = reference.at
            }
            if bytes.count > start, let base { parts.append(mona_send_part(shared: 0, data: base + start, offset: 0, size: bytes.count - start)) }
            return parts.withUnsafeBufferPointer { host.send(connection, parts: $0) }
        }
    }

    func writable() { queued = 0 }

    /// The RTP packets of one frame (the marker on the last): on an interleaved channel, each `$` frame's
    /// headers into the output and its payload by reference to the frame's shared buffer (copied into
    /// the output when the host has none); over UDP, each run of equal-sized packets (a fragmented NAL
    /// unit's) in one host call.
    func send(_ track: RTSPTrack, payloads: RTPPayloads, timestamp: UInt32) {
        // The sender and the output are taken out of their objects for the loop and put back after:
        // one exclusivity check each instead of several per packet.
        guard var sender = track.sender else { return }
        defer { track.sender = sender }
        let ranges = payloads.ranges
        if let channel = track.channel {
            var out = output
            output = []
            defer { output = out }
            let last = ranges.count - 1
            if payloads.id != 0, host.sharesBuffers {
                // The same frame in the same state as another player's: its `$` frames, made once.
                let key = SharedStreams.FrameKey(payloads: payloads.id, channel: channel, payloadType: sender.payloadType,
                                                 ssrc: sender.ssrc, sequence: sender.sequence, timestamp: timestamp)
                let frames = plugin.sharedStreams.frame(video: track.video, key) {
                    var copy = sender
                    var bytes: [UInt8] = []
                    bytes.reserveCapacity(payloads.bytes.count + 16 * ranges.count)
                    payloads.bytes.withUnsafeBytes { all in
                        for index in ranges.indices {
                            let payload = UnsafeRawBufferPointer(rebasing: all[ranges[index]])
                            copy.appendHeader(payloadSize: payload.count, timestamp: timestamp, marker: index == last, channel: channel, to: &bytes)
                            bytes.append(contentsOf: payload)
                        }
                    }
                    return SharedBytes(host: host, bytes: bytes)
                }
                if let frames {
                    outputBlocks.append(frames)
                    outputShared.append((out.count, frames.handle, 0..<frames.count))
                    outputSharedBytes += frames.count
                    sender.advance(packets: ranges.count, octets: payloads.bytes.count)
                    return
                }
            }
            if let shared = payloads.shared(host) {
                outputBlocks.append(shared)
                out.reserveCapacity(out.count + 16 * ranges.count)
                for index in ranges.indices {
                    sender.appendHeader(payloadSize: ranges[index].count, timestamp: timestamp, marker: index == last, channel: channel, to: &out)
                    outputShared.append((out.count, shared.handle, ranges[index]))
                }
                outputSharedBytes += payloads.bytes.count
                return
            }
            out.reserveCapacity(out.count + payloads.bytes.count + 16 * ranges.count)
            payloads.bytes.withUnsafeBytes { bytes in
                for index in ranges.indices {
                    let payload = UnsafeRawBufferPointer(rebasing: bytes[ranges[index]])
                    sender.appendHeader(payloadSize: payload.count, timestamp: timestamp, marker: index == last, channel: channel, to: &out)
                    out.append(contentsOf: payload)
                }
            }
            return
        }
        guard let socket = track.rtp else { return }
        var datagrams = plugin.datagrams
        plugin.datagrams = []
        defer { plugin.datagrams = datagrams }
        payloads.bytes.withUnsafeBytes { bytes in
            var start = 0
            while start < ranges.count {
                let size = ranges[start].count
                var end = start + 1
                while end < ranges.count, ranges[end].count == size { end += 1 }
                if end < ranges.count, ranges[end].count < size { end += 1 } // a shorter last one ends the run
                datagrams.removeAll(keepingCapacity: true)
                for index in start..<end {
                    sender.append(payload: UnsafeRawBufferPointer(rebasing: bytes[ranges[index]]), timestamp: timestamp,
                                  marker: index == ranges.count - 1, to: &datagrams)
                }
                datagrams.withUnsafeBytes { _ = host.send(udp: socket.handle, to: track.clientRTP, segments: $0, segmentSize: size + 12) }
                start = end
            }
        }
    }

    /// A packet on an interleaved channel or a UDP socket (RTP or RTCP) of track `track`.
    func send(_ track: RTSPTrack, rtcp: Bool, _ packet: [UInt8]) {
        if let channel = track.channel {
            output += [UInt8(ascii: "$"), channel + (rtcp ? 1 : 0), UInt8(packet.count >> 8), UInt8(packet.count & 0xFF)]
            output += packet
        } else if let socket = rtcp ? track.rtcp : track.rtp {
            packet.withUnsafeBytes { _ = host.send(udp: socket.handle, to: rtcp ? track.clientRTCP : track.clientRTP, $0) }
        }
    }

    // MARK: time

    func timerFired(_ fired: mona_handle) {
        if let pending = pendingDescribe, pending.timer == fired {
            describeTimedOut()
            return
        }
        guard fired == timer, !closing else { return }
        if idleSeconds > 0, host.monotonicMs - lastActivity > Int64(idleSeconds) * 1000 {
            host.log(MONA_LOG_INFO, "client \(peer) idle for \(idleSeconds) s, closing")
            return close()
        }
        if playing { senderReports() }
        flush()
    }

    /// A datagram on a UDP port of this session: RTP of a recorder, or RTCP (receiver reports from a
    /// player, sender reports from a recorder), which keeps the session alive.
    func datagram(_ port: RTSPUDPPort, _ bytes: UnsafeRawBufferPointer) {
        guard !closing, let track = tracks[port.track] else { return }
        if port.isRTCP {
            if RTCP.packetTypes(bytes) != nil { lastActivity = host.monotonicMs }
            return
        }
        lastActivity = host.monotonicMs
        received(track, bytes)
        if let publication { host.flush(publication: publication) }
    }

    private func interleaved(channel: UInt8, _ payload: [UInt8]) {
        guard let track = tracks.values.first(where: { $0.channel == channel || $0.channel.map { $0 + 1 } == channel }) else {
            return // a channel nobody set up: skipped (RFC 2326 §10.12 allows ignoring it)
        }
        if track.channel == channel { payload.withUnsafeBytes { received(track, $0) } }
    }

    // MARK: the end

    /// Ends the RTSP session (TEARDOWN, or the connection closing): no more media, no more UDP.
    func endSession() {
        if let subscription { host.unsubscribe(subscription) }
        subscription = nil
        if let publication { host.unpublish(publication) }
        publication = nil
        for track in tracks.values { track.close(host) }
        tracks = [:]
        sessionID = nil
        playing = false
        started = false
        announced = nil
        anchor = nil
        playout = RTSPPlayout()
        if let pending = pendingDescribe, let describeTimer = pending.timer { host.cancelTimer(describeTimer) }
        pendingDescribe = nil
    }

    func close(how: Int32 = MONA_CLOSE_GRACEFUL) {
        guard !closing else { return }
        flush()
        closing = true
        host.close(connection, how: how)
    }

    /// The connection is over: everything goes.
    func closed() {
        closing = true
        endSession()
        outputShared.removeAll()
        outputBlocks.removeAll()
        outputSharedBytes = 0
        if let timer { host.cancelTimer(timer) }
        timer = nil
        if client != 0 { host.closeClient(client) }
        client = 0
    }
}
