import MonaMedia
import MonaPluginKit
import PluginABI

/// The HTTP/1.1 protocol plugin: MonaServer's application semantics (a client per connection and
/// path, onConnection, RPC by GET/POST, onRead and static files from www/, long polling) over a
/// sans-IO request parser. Configured by its section (`HTTP` by default): `host`, `port` (80),
/// `timeout` (7 s idle), `index` (true: folder listing; false: 403; "file.ext": that file; "name": that
/// client method), `maxBodySize` (bytes, 16 MiB), `flv` (true: `GET /app/<name>.flv` plays the
/// publication `name` live when it runs, HTTPSession+Live).
final class HTTPPlugin: MonaSessionPlugin {
    let host: MonaHost
    let section: String
    var limits = HTTPLimits()
    /// Idle time-out in seconds (a client's `timeout` parameter overrides it).
    var timeout = 7
    /// The default folder index rule.
    var index = "true"
    /// What response heads share (status lines, the Date header of the current second).
    let heads = ResponseHeads()
    /// Small static files, revalidated by stat on each request.
    let files = FileCache()
    /// HTTP-FLV on (`flv`).
    var flv = true
    /// The `[HLS]` section: `enabled` (true: every publication is packaged from its start),
    /// `segmentDuration` (seconds, 2), `window` (segments, 6), `ts` (true: MPEG-TS segments too),
    /// `partDuration` (seconds, 0.5; 0: no parts): the parts of low-latency HLS (fMP4).
    var hls = (enabled: true, segmentMs: UInt32(2000), window: 6, ts: true, partMs: UInt32(500))
    /// The HLS packagers by publication name (HTTPPlugin+HLS).
    var packagers: [String: HLSPackager] = [:]
    /// The timers that free the packagers of ended publications: the name and the end they expire.
    var expiries: [mona_handle: (name: String, endedAt: Int64)] = [:]
    /// The timers that answer HLS requests waiting past their deadline, by packager name.
    var hlsChecks: [mona_handle: String] = [:]
    /// Where the plugin listens: the address of its packagers' clients (the server's own).
    var listenAddress = mona_addr()
    /// The body of the last frame shared between viewers (all of them get it in one round).
    private var lastFrame: SharedFrame?

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
    }

    func start() -> Int32 {
        host.declareDefaults(["port": "80", "timeout": "\(timeout)", "index": index, "flv": "true"]) // MonaServer's, and ours
        let address = host.config("\(section).host") ?? host.config("host") ?? "0.0.0.0"
        guard let port = UInt16(host.config("\(section).port") ?? "80") else {
            host.log(MONA_LOG_ERROR, "\(section).port is not a port number")
            return MONA_E_INVAL
        }
        if let text = host.config("\(section).timeout"), let value = Int(text) { timeout = max(0, value) }
        if let text = host.config("\(section).index") { index = text }
        if let text = host.config("\(section).flv") { flv = !Self.isOff(text) }
        if let text = host.config("HLS.enabled") { hls.enabled = !Self.isOff(text) }
        if let text = host.config("HLS.segmentDuration"), let seconds = Double(text), seconds >= 0.1, seconds <= 60 {
            hls.segmentMs = UInt32(seconds * 1000)
        }
        if let text = host.config("HLS.window"), let count = Int(text), count >= 2, count <= 1000 { hls.window = count }
        if let text = host.config("HLS.ts") { hls.ts = !Self.isOff(text) }
        if let text = host.config("HLS.partDuration") {
            if let seconds = Double(text), seconds == 0 || (seconds >= 0.05 && seconds <= Double(hls.segmentMs) / 1000) {
                hls.partMs = UInt32((seconds * 1000).rounded())
            } else {
                host.log(MONA_LOG_WARN, "HLS.partDuration \(text) ignored: 0 (no parts) or 0.05 s to the segment duration")
            }
        }
        hls.partMs = min(hls.partMs, hls.segmentMs)
        if let text = host.config("\(section).maxBodySize"), let value = Int(text), value >= 0 { limits.maxBodyBytes = value }
        let listening = host.listenTCP(host: address, port: port)
        listenAddress = listening.bound
        return listening.status
    }

    static func isOff(_ text: String) -> Bool { ["false", "0", "no", "off"].contains(text.lowercased()) }

    func stop() { closePackagers() }

    func accept(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> HTTPSession? {
        HTTPSession(plugin: self, connection: connection, peer: peer, local: local)
    }

    func receive(_ session: HTTPSession, bytes: UnsafeRawBufferPointer) -> Int {
        session.receive(bytes)
        return bytes.count
    }

    func drained(_ session: HTTPSession) { session.writable() }

    func peerFinished(_ session: HTTPSession) -> Bool { session.peerFinished() }

    func closed(_ session: HTTPSession, reason: Int32) { session.closed() }

    func workDone(context: UnsafeMutableRawPointer?) { BlockingJob.finish(context) }

    func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle) {
        if let expiry = expiries.removeValue(forKey: timer) {
            expire(expiry.name, endedAt: expiry.endedAt)
        } else if let name = hlsChecks.removeValue(forKey: timer) {
            checkWaits(name, timer: timer)
        } else {
            HTTPSession.from(context)?.timedOut(timer)
        }
    }

    func writerInvoke(writer: UnsafeMutableRawPointer?, name: String, args: [MonaValue]) -> Int32 {
        HTTPSession.from(writer)?.push(values: [.string(name)] + args) ?? MONA_E_CLOSED
    }

    func writerMessage(writer: UnsafeMutableRawPointer?, response: Int32, args: [MonaValue]) -> Int32 {
        guard let session = HTTPSession.from(writer) else { return MONA_E_CLOSED }
        // Nothing to send: a request waiting for a late answer keeps waiting.
        guard let values = WebClient.messageValues(response: response, args: args) else { return MONA_OK }
        return session.push(values: values)
    }

    func writerRaw(writer: UnsafeMutableRawPointer?, bytes: UnsafeRawBufferPointer) -> Int32 {
        HTTPSession.from(writer)?.push(raw: Array(bytes)) ?? MONA_E_CLOSED
    }

    func writerSetProperty(writer: UnsafeMutableRawPointer?, key: String, args: [MonaValue]) -> Int32 {
        guard let session = HTTPSession.from(writer) else { return MONA_E_CLOSED }
        return session.setCookie(key, args: args)
    }

    func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32 {
        HTTPSession.from(writer)?.closeByApplication(code: Int(code))
        return MONA_OK
    }

    // MARK: sinks (LiveSink: an HTTP-FLV viewer or an HLS packager)

    func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32 { LiveSink.from(sink)?.started() ?? MONA_E_CLOSED }

    func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        guard let live = LiveSink.from(sink) else { return MONA_E_CLOSED }
        let status = live.stopped()
        if let packager = live as? HLSPackager { packagerStopped(packager) }
        return status
    }

    func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32 {
        LiveSink.from(sink)?.metadata(metadata) ?? MONA_E_CLOSED
    }

    func sinkFrame(sink: UnsafeMutableRawPointer?, video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32,
                   serial: UInt64) -> Int32 {
        LiveSink.from(sink)?.frame(video: video, time: time, bytes: bytes, flags: flags, serial: serial) ?? MONA_E_CLOSED
    }

    func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        sinkFrame(sink: sink, video: false, time: time, bytes: bytes, flags: flags, serial: 0)
    }

    func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        sinkFrame(sink: sink, video: true, time: time, bytes: bytes, flags: flags, serial: 0)
    }

    func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 {
        LiveSink.from(sink)?.data(format: format, bytes: bytes) ?? MONA_E_CLOSED
    }

    func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32 {
        LiveSink.from(sink)?.flush()
        return MONA_OK
    }

    /// The shared body of frame `serial`: the last one when it is the same, else a new copy (nil: copy
    /// the frame into the viewer's output instead).
    func sharedFrame(_ serial: UInt64, _ body: UnsafeRawBufferPointer) -> SharedFrame? {
        guard serial != 0 else { return nil }
        if let last = lastFrame, last.serial == serial { return last }
        lastFrame = SharedFrame.copy(body, serial: serial, host: host)
        return lastFrame
    }
}

nonisolated(unsafe) let httpDescriptor = monaMakeDescriptor(name: "http", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(HTTPPlugin(host: host, section: String(cString: section)), host: host)
}

/// The HTTP plugin's entry symbol.
@_cdecl("mona_plugin_entry_http")
public func monaPluginEntryHTTP(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? httpDescriptor : nil
}
