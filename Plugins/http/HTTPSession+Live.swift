import MonaMedia
import MonaPluginKit
import PluginABI

/// HTTP-FLV: `GET /app/<name>.flv` of a publication that runs plays it (the session subscribes, its
/// client's onSubscribe may refuse: 403) as an endless FLV response (no Content-Length, the connection
/// closes when the publication ends); a name that is not publishing is served as a file (so 404 when
/// there is none). A viewer that reads too slowly gets no frame but codec configurations until its
/// queue drains (the host then restarts its video on a key frame); one that stays stalled for the idle
/// time-out is dropped. Frame bodies are copied once for all viewers (SharedFrame).
extension HTTPSession {
    /// Bytes queued towards a viewer past which its frames are refused (video skips to the next key frame).
    static let liveCongestion: Int64 = 2 << 20
    /// Gathered output is written past this size even inside a batch.
    static let liveOutputLimit = 64 * 1024
    /// A viewer with more than this queued towards it is dropped: frames stop well before
    /// (`liveCongestion`), this bounds what else piles up (configurations, metadata, data).
    static let liveQueueLimit: Int64 = 32 << 20

    /// A live response in progress: its subscription, whether its head went out, what waits to be written.
    struct LiveResponse {
        /// The subscription's sink context.
        let viewer: FLVViewer
        var subscription: mona_handle = 0
        /// sink_start came: the publication runs.
        var running = false
        var headSent = false
        var output = GatheredOutput()
    }

    /// Plays `name` as HTTP-FLV when it is publishing; false when it is not (nothing was answered).
    func playLive(_ head: HTTPRequestHead, name: String) -> Bool {
        let viewer = FLVViewer(session: self)
        live = LiveResponse(viewer: viewer)
        switch host.subscribe(client: client, name: name, query: head.query, sink: viewer.context) {
        case .failure(let refusal):
            live = nil
            let refused = refusal.status == MONA_E_REJECTED
            fail(head, status: refused ? 403 : 500, message: refused ? PeerText.withoutPaths(refusal.message) : PeerText.applicationFailure)
            return true
        case .success(let subscription):
            // The host starts a subscriber of a running publication within subscribe.
            guard live?.running == true else {
                host.unsubscribe(subscription)
                live = nil
                return false
            }
            live?.subscription = subscription
        }
        respond(head, status: 200, extra: [("Content-Type", "video/x-flv"), ("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache")],
                body: [], close: true, bodyFollows: true, lengthKnown: false)
        send(FLVTags.fileHeader)
        live?.headSent = true
        flushLive() // the metadata given within subscribe
        return true
    }

    /// The publication runs (within subscribe) or runs again (a new publisher: the stream goes on).
    func liveStarted() -> Int32 {
        guard live != nil, !closing else { return MONA_E_CLOSED }
        live?.running = true
        return MONA_OK
    }

    /// The publication ended: the response ends with it.
    func liveStopped() -> Int32 {
        guard live != nil, !closing else { return MONA_E_CLOSED }
        flushLive()
        finish()
        return MONA_OK
    }

    /// Metadata: an onMetaData script tag.
    func liveMetadata(_ metadata: MonaValue) -> Int32 {
        var fields: [MonaField] = []
        if case .object(_, let objectFields) = metadata { fields = objectFields }
        guard let body = host.encode([.string("onMetaData"), .mixed(dense: [], fields: fields)], format: MONA_FORMAT_AMF0) else {
            return MONA_E_INVAL
        }
        return body.withUnsafeBytes { liveTag(FLVTags.script, time: 0, body: $0) }
    }

    /// A data message: a script tag (AMF0, converted from another format).
    func liveData(format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 {
        if format == MONA_FORMAT_AMF0 { return liveTag(FLVTags.script, time: 0, body: bytes) }
        guard let values = host.decode(bytes, format: format), let body = host.encode(values, format: MONA_FORMAT_AMF0) else {
            return MONA_E_INVAL
        }
        return body.withUnsafeBytes { liveTag(FLVTags.script, time: 0, body: $0) }
    }

    /// An audio or video frame; refused (MONA_E_AGAIN) while the viewer is too far behind, except the
    /// codec configurations.
    func liveFrame(video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32, serial: UInt64) -> Int32 {
        guard live != nil, !closing else { return MONA_E_CLOSED }
        if flags & MONA_MEDIA_CONFIG == 0, queuedBytes > Self.liveCongestion { return MONA_E_AGAIN }
        let type = video ? FLVTags.video : FLVTags.audio
        guard bytes.count >= SharedFrame.minimumSize, bytes.count <= FLVTags.maxBody, let frame = plugin.sharedFrame(serial, bytes) else {
            return liveTag(type, time: time, body: bytes)
        }
        live?.output.write { FLVTags.appendHeader(type, size: bytes.count, time: time, to: &$0) }
        live?.output.write(frame)
        live?.output.write { FLVTags.appendTrailer(size: bytes.count, to: &$0) }
        if (live?.output.count ?? 0) >= Self.liveOutputLimit { flushLive() }
        return MONA_OK
    }

    /// A tag whose body is copied into this viewer's output.
    private func liveTag(_ type: UInt8, time: UInt32, body: UnsafeRawBufferPointer) -> Int32 {
        guard live != nil, !closing else { return MONA_E_CLOSED }
        guard body.count <= FLVTags.maxBody else { return MONA_E_INVAL }
        live?.output.write { FLVTags.append(type, time: time, body: body, to: &$0) }
        if (live?.output.count ?? 0) >= Self.liveOutputLimit { flushLive() }
        return MONA_OK
    }

    /// Writes what was gathered (once the response head went out).
    func flushLive() {
        guard live?.headSent == true, live?.output.isEmpty == false, !closing else { return }
        let queued = live?.output.send(to: connection, host: host) ?? 0
        if queued >= 0 { queuedBytes = queued }
        if queued > Self.liveQueueLimit {
            host.log(MONA_LOG_WARN, "HTTP viewer \(peer) reads too slowly (\(queued) bytes waiting): closed")
            host.close(connection, how: MONA_CLOSE_ABORT)
            closing = true
        }
    }

    /// The viewer's subscription ends (the connection closes).
    func stopLive() {
        guard let live else { return }
        self.live = nil
        if live.subscription != 0 { host.unsubscribe(live.subscription) }
    }
}
