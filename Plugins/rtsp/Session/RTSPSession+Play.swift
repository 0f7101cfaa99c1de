import MonaPluginKit
import MonaValues
import PluginABI

/// Playing a publication: DESCRIBE subscribes and answers the SDP from the codec configurations the host
/// caches, or once they came with the first frames (bounded wait), SETUP picks each track's transport, PLAY starts on a key frame with the parameter
/// sets in band, and the host's frames become RTP packets and RTCP sender reports.
extension RTSPSession {
    func describe(_ request: RTSPRequest) {
        guard let url = RTSPURL(request.url) else { return answer(request, RTSPResponse(400, reason: "Bad URL")) }
        if let accept = request.header("Accept"), !accept.lowercased().contains("application/sdp"), !accept.contains("*/*") {
            return answer(request, RTSPResponse(406))
        }
        guard announced == nil, publication == nil else { return answer(request, RTSPResponse(455)) }
        guard let client = openClient(request, url, trackURL: false) else { return }
        let (_, name) = url.application()
        guard !name.isEmpty else { return answer(request, RTSPResponse(404)) }
        if subscription != nil, name != streamName { endSession() }
        if subscription == nil {
            started = false
            playout = RTSPPlayout()
            switch host.subscribe(client: client, name: name, query: url.query, sink: context) {
            case .success(let handle):
                subscription = handle
                streamName = name
            case .failure(let refusal):
                guard refusal.status == MONA_E_REJECTED else { return answer(request, RTSPResponse(404)) }
                return refuse(request, url, refusal.message)
            }
        }
        guard started else { // nobody publishes it
            endSession()
            return answer(request, RTSPResponse(404))
        }
        // The configurations the host caches (ABI 1.7): no wait for the next key frame.
        if let (audio, video) = host.publicationConfigs(name) {
            for (isVideo, config) in [(false, audio), (true, video)] {
                _ = config?.withUnsafeBytes { playout.frame(video: isVideo, time: 0, bytes: $0, flags: MONA_MEDIA_CONFIG, hold: false) }
            }
        }
        if playout.ready { return answerDescribe(request, url) }
        let timer = host.startTimer(delayMs: UInt64(plugin.describeTimeout), context: context)
        pendingDescribe = (request, url, timer)
    }

    /// The SDP of what the publication sends (DESCRIBE's answer).
    private func answerDescribe(_ request: RTSPRequest, _ url: RTSPURL) {
        guard playout.video != nil || playout.audio != nil else {
            endSession()
            return answer(request, RTSPResponse(404, reason: "No H.264, H.265 or AAC media in \(streamName)"))
        }
        described = (playout.video != nil ? 0 : nil, playout.audio != nil ? (playout.video != nil ? 1 : 0) : nil)
        let address = local.family == MONA_AF_INET ? "\(local.ip.0).\(local.ip.1).\(local.ip.2).\(local.ip.3)" : "0.0.0.0"
        let sdp = SDPDescription.text(name: streamName, sessionID: "\(UInt32(truncatingIfNeeded: host.timeMs / 1000))", address: address,
                                      video: playout.video, audio: playout.audio)
        let base = request.url.hasSuffix("/") ? request.url : request.url + "/"
        answer(request, RTSPResponse(200, headers: [("Content-Type", "application/sdp"), ("Content-Base", base)], body: Array(sdp.utf8)))
    }

    /// The configurations came (or changed) while a DESCRIBE waited: answer it.
    private func describeReady() {
        guard let pending = pendingDescribe, playout.ready else { return }
        if let timer = pending.timer { host.cancelTimer(timer) }
        pendingDescribe = nil
        answerDescribe(pending.request, pending.url)
        process()
    }

    func describeTimedOut() {
        guard let pending = pendingDescribe else { return }
        pendingDescribe = nil
        answerDescribe(pending.request, pending.url)
        process()
    }

    /// SETUP of a described track (or of an announced one: RTSPSession+Record).
    func setup(_ request: RTSPRequest) {
        guard let url = RTSPURL(request.url), url.segments.count >= 1 else { return answer(request, RTSPResponse(400, reason: "Bad URL")) }
        guard let header = request.header("Transport"), let (transport, record) = RTSPTransport.parse(header) else {
            return answer(request, RTSPResponse(461))
        }
        guard openClient(request, url, trackURL: true) != nil else { return }
        let index: Int?
        let video: Bool
        if let announced {
            index = recordedTrack(url, announced.tracks)
            video = index.map { announced.tracks[$0].video } ?? false
        } else if subscription != nil, !record {
            let control = url.segments.last ?? ""
            index = [described.video, described.audio].compactMap { $0 }.first { control == "trackID=\($0)" }
            video = index != nil && index == described.video
        } else {
            return answer(request, RTSPResponse(455, reason: "Method Not Valid in This State (DESCRIBE or ANNOUNCE first)"))
        }
        guard let index else { return answer(request, RTSPResponse(404, reason: "Unknown track")) }
        guard tracks[index] == nil else { return answer(request, RTSPResponse(459, reason: "Track already set up")) }
        let track = RTSPTrack(index: index, video: video)
        switch transport {
        case .interleaved(let asked):
            let channel = asked ?? UInt8(2 * index)
            guard !tracks.values.contains(where: { $0.channel.map { abs(Int($0) - Int(channel)) < 2 } ?? false }) else {
                return answer(request, RTSPResponse(461, reason: "Interleaved channels already in use"))
            }
            track.channel = channel
        case .udp(let clientRTP, let clientRTCP):
            guard peer.family != MONA_AF_NONE,
                  let (rtp, rtcp) = RTSPUDPPort.bindPair(host, address: plugin.address, session: self, track: index) else {
                return answer(request, RTSPResponse(453, reason: "No UDP port pair available"))
            }
            track.rtp = rtp
            track.rtcp = rtcp
            track.clientRTP = peer
            track.clientRTP.port = clientRTP
            track.clientRTCP = peer
            track.clientRTCP.port = clientRTCP
        }
        if announced != nil {
            track.inbound = RTSPInbound(track: announced!.tracks[index])
        } else {
            let clock = video ? 90000 : playout.audio?.sampleRate ?? 90000
            let payloadType = video ? SDPDescription.videoPayloadType : SDPDescription.audioPayloadType
            // TCP players (they share `$` frames): one SSRC per publication track (SharedStreams), the rest
            // set at PLAY; a UDP player's sender is its own.
            track.sender = streamName.isEmpty || track.channel == nil
                ? RTPSender(payloadType: payloadType, clockRate: clock, random: host.randomBytes(10))
                : RTPSender(payloadType: payloadType, clockRate: clock,
                            ssrc: plugin.sharedStreams.ssrc(streamName, video: video) { host.randomBytes(4) }, seed: host.randomBytes(6))
        }
        tracks[index] = track
        if sessionID == nil { sessionID = Hex.encode(host.randomBytes(8)).uppercased() }
        answer(request, RTSPResponse(200, headers: [("Transport", track.transportText(record: announced != nil))]))
    }

    func play(_ request: RTSPRequest) {
        guard sessionID != nil, subscription != nil, !tracks.isEmpty else {
            return answer(request, RTSPResponse(455, reason: "Method Not Valid in This State (SETUP first)"))
        }
        let held = playout.takeHeld()
        let firstVideo = held.first { $0.video }
        // Players that start on the same key frame start in the same state (SharedStreams); without a
        // key frame held, the stream starts on the next one (audio waits for it too).
        let start = held.first.map { SharedStreams.StartKey.held(time: $0.time, size: $0.bytes.count) }
            ?? plugin.sharedStreams.nextStart(streamName)
        let sharing = !streamName.isEmpty && tracks.values.contains { $0.channel != nil && $0.sender?.packets == 0 }
        if sharing, held.isEmpty, described.video != nil { awaitingKeyFrame = true }
        var infos: [String] = []
        let base = request.url.trimmingSuffix("/")
        for track in tracks.values.sorted(by: { $0.index < $1.index }) {
            if sharing, track.channel != nil, let sender = track.sender, sender.packets == 0 { // a first PLAY (not one after PAUSE)
                let seed = plugin.sharedStreams.start(streamName, video: track.video, on: start) { host.randomBytes(6) }
                track.sender = RTPSender(payloadType: sender.payloadType, clockRate: sender.clockRate, ssrc: sender.ssrc, seed: seed)
            }
            guard let sender = track.sender else { continue }
            let first = held.first { $0.video == track.video } ?? firstVideo
            let ms = first.map { Double($0.time) + (track.video ? Double(Self.compositionOffset($0.bytes)) : 0) } ?? Double(playout.latest)
            infos.append("url=\(base)/trackID=\(track.index);seq=\(sender.sequence);rtptime=\(sender.timestamp(ms: ms))")
        }
        anchor = (host.timeMs, Double(playout.latest))
        playing = true
        answer(request, RTSPResponse(200, headers: [("Range", "npt=0.000-"), ("RTP-Info", infos.joined(separator: ","))]))
        senderReports()
        for frame in held { _ = frame.bytes.withUnsafeBytes { media(video: frame.video, time: frame.time, bytes: $0, flags: frame.flags) } }
    }

    private static func compositionOffset(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { FLVMedia.video($0)?.offset ?? 0 }
    }

    // MARK: the sink (the host's frames)

    func publicationStarted() {
        started = true
    }

    func publicationStopped() {
        guard playing else { return }
        // RTCP BYE: FFmpeg ends the input once every track said goodbye.
        for track in tracks.values {
            guard let sender = track.sender else { continue }
            var bye: [UInt8] = [0x81, 203, 0, 1]
            bye.appendBigEndian(sender.ssrc)
            send(track, rtcp: true, report(track, sender) + bye)
        }
        flush()
    }

    func metadata(_ value: MonaValue) {
        playout.metadata(value)
    }

    /// A frame of the publication: held before PLAY, packetized after.
    /// `serial`: the host's for the frame (the same for all its players), 0 for a frame of this player's.
    func media(video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32, serial: UInt64 = 0) -> Int32 {
        guard !closing else { return MONA_E_CLOSED }
        if !playing {
            playout.frame(video: video, time: time, bytes: bytes, flags: flags, hold: true)
            if pendingDescribe != nil, playout.ready { describeReady() }
            return MONA_OK
        }
        if flags & MONA_MEDIA_CONFIG == 0, queued > RTSPPlugin.congestion { return MONA_E_AGAIN }
        playout.frame(video: video, time: time, bytes: bytes, flags: flags, hold: false)
        if awaitingKeyFrame { // started without a key frame held: nothing before the next one
            guard video, flags & MONA_MEDIA_KEY != 0, flags & MONA_MEDIA_CONFIG == 0 else { return MONA_OK }
            awaitingKeyFrame = false
        }
        if video, flags & MONA_MEDIA_KEY != 0 { plugin.sharedStreams.keyFrame(streamName, serial: serial) }
        if video {
            guard let index = described.video, let track = tracks[index], track.sender != nil, let config = playout.video,
                  let parsed = FLVMedia.video(bytes), !parsed.config else { return MONA_OK }
            let timestamp = track.sender!.timestamp(ms: Double(time) + Double(parsed.offset))
            let maxPayload = plugin.maxPayload
            // Parameter sets go before a key frame's units only: they tell frames apart for key frames only.
            let payloads = plugin.sharedPayloads.payloads(video: true, time: time, bytes: bytes, sets: parsed.key ? config.sets : [],
                                                          maxPayload: maxPayload, serial: serial) {
                var units = FLVMedia.nalUnits(parsed.payload, lengthSize: config.lengthSize).map { Array($0) }
                if parsed.key, !units.contains(where: { config.isParameterSet($0) }) { units = config.sets + units }
                return NALPacketizer(hevc: config.hevc, maxPayload: maxPayload).payloads(units)
            }
            send(track, payloads: payloads, timestamp: timestamp)
        } else {
            guard let index = described.audio, let track = tracks[index], let sender = track.sender, let config = playout.audio,
                  let parsed = FLVMedia.audio(bytes), !parsed.config, !parsed.payload.isEmpty else { return MONA_OK }
            // Milliseconds jitter by up to one: a frame right after the last one takes its exact timestamp.
            var timestamp = sender.timestamp(ms: Double(time))
            if let last = track.lastAudioTimestamp, abs(Int32(bitPattern: timestamp &- (last &+ 1024))) <= Int32(config.sampleRate / 1000 + 1) {
                timestamp = last &+ 1024
            }
            track.lastAudioTimestamp = timestamp
            let maxPayload = plugin.maxPayload
            let payloads = plugin.sharedPayloads.payloads(video: false, time: time, bytes: bytes, sets: [], maxPayload: maxPayload,
                                                          serial: serial) {
                AACPayload.payloads(parsed.payload, maxPayload: maxPayload)
            }
            send(track, payloads: payloads, timestamp: timestamp)
        }
        if output.count + outputSharedBytes > Self.outputLimit { flush() } // a large frame goes out at once
        return MONA_OK
    }

    // MARK: RTCP

    /// A sender report of every playing track (the same wall clock ↔ media time mapping for all).
    func senderReports() {
        for track in tracks.values {
            guard let sender = track.sender, sender.packets > 0 || anchor != nil else { continue }
            send(track, rtcp: true, report(track, sender))
        }
    }

    private func report(_ track: RTSPTrack, _ sender: RTPSender) -> [UInt8] {
        let now = host.timeMs
        let media = anchor.map { $0.media + Double(now - $0.wall) } ?? Double(playout.latest)
        return RTCP.senderReport(ssrc: sender.ssrc, wallMs: now, rtpTime: sender.timestamp(ms: media), packets: sender.packets,
                                 octets: sender.octets, cname: "MonaServer")
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
