import MonaMedia
import MonaPluginKit
import PluginABI

/// The WebSocket protocol plugin (RFC 6455): it listens on nothing; the HTTP plugin hands it the
/// connections that ask for an upgrade (tcp_handoff with the request). Configured by its section
/// (`WebSocket`): `timeout` (80 s: a ping every timeout/2, silent clients closed), `maxMessageSize`
/// (bytes, 16 MiB), `protocols` (the sub-protocols it agrees to, comma-separated; unset: the first one
/// a client offers).
final class WebSocketPlugin: MonaSessionPlugin {
    let host: MonaHost
    let section: String
    /// Idle time-out in seconds (a client's `timeout` parameter overrides it).
    var timeout = 80
    var maxMessageSize = 16 << 20
    /// Sub-protocols agreed to; nil: any (the first offered).
    var subprotocols: [String]?
    /// Most bytes queued towards one slow client before it is dropped.
    let maxQueuedBytes: Int64 = 32 << 20
    /// How long a close frame we sent waits for the peer's answer.
    static let closeWaitMs: UInt64 = 5000
    /// The open sessions, to close them politely when the server stops and for the keep-alive tick.
    private var sessions: [mona_handle: WebSocketSession] = [:]
    /// fMP4 viewers of one publication share its frames' bytes, its fragments and their frames.
    let frameBodies = SharedFrameBodies()
    let sharedFragment = FMP4SharedFragment()
    var lastFragment: (fragment: [UInt8], frame: [UInt8]) = ([], [])
    /// The keep-alive tick: pings and idle time-outs of all sessions, every `tickMs`.
    private var tick: mona_handle?
    static let tickMs: UInt64 = 500

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
    }

    func start() -> Int32 {
        host.declareDefaults(["timeout": "\(timeout)"]) // MonaServer's
        if let text = host.config("\(section).timeout"), let value = Int(text) { timeout = max(0, value) }
        if let text = host.config("\(section).maxMessageSize"), let value = Int(text), value > 0 {
            // A frame waits whole in the host (MONA_TCP_MAX_UNCONSUMED) only while its header is incomplete;
            // the message itself is assembled here, bounded by this limit.
            maxMessageSize = min(value, 1 << 30)
        }
        if let text = host.config("\(section).protocols") {
            subprotocols = text.split(separator: ",").map { String(FileText.trim($0)) }.filter { !$0.isEmpty }
        }
        // One timer for every session's keep-alive (a timer each would cost memory per idle socket).
        tick = host.startTimer(delayMs: Self.tickMs, periodMs: Self.tickMs, context: nil)
        return MONA_OK
    }

    func stop() {
        for session in sessions.values { session.close(code: WebSocketCloseCode.goingAway, reason: "server stopping") }
    }

    func adopt(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> WebSocketSession? {
        guard let values = try? MVSReader.decode(Array(request)), let value = values.first,
              let upgrade = WebSocketHandshake.Request(value) else {
            host.log(MONA_LOG_ERROR, "a connection was handed over without an upgrade request")
            return nil
        }
        let session = WebSocketSession(plugin: self, connection: connection)
        sessions[connection] = session
        session.open(upgrade, peer: peer, local: local)
        return session
    }

    func receive(_ session: WebSocketSession, bytes: UnsafeRawBufferPointer) -> Int {
        session.receive(bytes)
        return bytes.count
    }

    func drained(_ session: WebSocketSession) { session.queued = 0 }

    func closed(_ session: WebSocketSession, reason: Int32) {
        sessions.removeValue(forKey: session.connection)
        session.closed()
    }

    func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle) {
        if let session = WebSocketSession.from(context) {
            session.timerFired(timer)
        } else if timer == tick {
            let now = host.monotonicMs
            for session in Array(sessions.values) { session.tick(now: now) }
        }
    }

    func writerInvoke(writer: UnsafeMutableRawPointer?, name: String, args: [MonaValue]) -> Int32 {
        WebSocketSession.from(writer)?.push(invocation: name, args) ?? MONA_E_CLOSED
    }

    func writerMessage(writer: UnsafeMutableRawPointer?, response: Int32, args: [MonaValue]) -> Int32 {
        guard let session = WebSocketSession.from(writer) else { return MONA_E_CLOSED }
        guard let values = WebClient.messageValues(response: response, args: args) else { return MONA_OK }
        return session.push(message: values)
    }

    func writerRaw(writer: UnsafeMutableRawPointer?, bytes: UnsafeRawBufferPointer) -> Int32 {
        WebSocketSession.from(writer)?.push(raw: Array(bytes)) ?? MONA_E_CLOSED
    }

    func writerSetProperty(writer: UnsafeMutableRawPointer?, key: String, args: [MonaValue]) -> Int32 {
        WebSocketSession.from(writer)?.setCookie(key, args: args) ?? MONA_E_CLOSED
    }

    // MARK: sinks (a client that plays with __play)

    func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        guard let session = WebSocketSession.from(sink) else { return MONA_E_CLOSED }
        session.sendJSON([.string("__publishing"), .string(name)])
        session.restartFragmenter(name)
        return MONA_OK
    }

    func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        WebSocketSession.from(sink)?.sendJSON([.string("__unpublishing"), .string(name)])
        return MONA_OK
    }

    func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32 {
        WebSocketSession.from(sink)?.sendJSON([.string("onMetaData"), metadata])
        return MONA_OK
    }

    /// Audio and video go only to fMP4 viewers (`["__play", name, "fmp4"]`); the others do not get them (1.x).
    func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        WebSocketSession.from(sink)?.media(video: false, time: time, bytes: bytes, flags: flags) ?? MONA_E_CLOSED
    }

    func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        WebSocketSession.from(sink)?.media(video: true, time: time, bytes: bytes, flags: flags) ?? MONA_E_CLOSED
    }

    func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32 {
        WebSocketSession.from(sink)?.flushMedia()
        return MONA_OK
    }

    func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 {
        WebSocketSession.from(sink)?.relay(format: format, bytes: bytes)
        return MONA_OK
    }

    func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32 {
        WebSocketSession.from(writer)?.closeByApplication(code: Int(code))
        return MONA_OK
    }
}

nonisolated(unsafe) let webSocketDescriptor = monaMakeDescriptor(name: "websocket", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(WebSocketPlugin(host: host, section: String(cString: section)), host: host)
}

/// The WebSocket plugin's entry symbol.
@_cdecl("mona_plugin_entry_websocket")
public func monaPluginEntryWebSocket(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? webSocketDescriptor : nil
}
