import MonaMedia
import MonaPluginKit
import PluginABI

/// One WebSocket connection handed over by the HTTP plugin: the handshake (101 or an HTTP error), then
/// frames both ways. MonaServer's semantics: a client per connection (`onConnection` with the URL query),
/// JSON-array RPC (`["method", args…]`), results and server pushes as text frames, raw data as binary
/// frames. A failing call is answered `["__error", method, message]` and the socket stays open.
final class WebSocketSession {
    unowned let plugin: WebSocketPlugin
    let connection: mona_handle
    private var parser: WebSocketFrameParser
    private(set) var client: mona_handle = 0
    /// The publication this client publishes (`__publish`) and the subscription it plays (`__play`).
    var publication: mona_handle?
    var subscription: mona_handle?
    /// Audio and video of the played publication as fMP4 (`["__play", name, "fmp4"]`), nil without.
    var fragmenter: FMP4Fragmenter?
    /// What the host kept queued after the last write (0 once it drained).
    var queued: Int64 = 0

    /// Opening: frames written by onConnection wait for the 101. Open: frames flow. Closing: our close
    /// frame is out, waiting for the peer's. Closed: nothing more is sent.
    private enum Phase { case opening, open, closing, closed }
    private var phase = Phase.opening
    private var beforeSwitch: [[UInt8]] = []
    /// Set-Cookie values from client.properties during onConnection, sent with the 101.
    private var cookies = PendingCookies()
    /// The last time anything arrived (ms, host clock), the idle limit (s) and the ping/idle timer.
    private var lastReceived: Int64
    private var idleSeconds: Int
    /// When the first byte of the message being received arrived (ms, host clock), nil between messages:
    /// a message must be complete within the idle time-out, however slowly its bytes keep coming.
    private var messageStarted: Int64?
    /// When the next ping is due (ms, host clock).
    private var nextPing: Int64 = 0
    /// A timer of this session only while closing (the keep-alive is the plugin's tick).
    private var timer: mona_handle?

    init(plugin: WebSocketPlugin, connection: mona_handle) {
        self.plugin = plugin
        self.connection = connection
        parser = WebSocketFrameParser(maxMessageSize: plugin.maxMessageSize)
        lastReceived = plugin.host.monotonicMs
        idleSeconds = plugin.timeout
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> WebSocketSession? {
        pointer.map { Unmanaged<WebSocketSession>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The writer and timer context handed to the host.
    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    var host: MonaHost { plugin.host }

    // MARK: handshake

    /// Answers the upgrade request: opens the client (onConnection) and switches, or refuses with an HTTP error.
    func open(_ request: WebSocketHandshake.Request, peer: mona_addr, local: mona_addr) {
        let key: String, subprotocol: String?
        switch WebSocketHandshake.decide(request, supported: plugin.subprotocols) {
        case .refuse(let status, let headers, let message):
            refuse(status: status, headers: headers, message: message)
            return
        case .accept(let acceptedKey, let chosen):
            key = acceptedKey
            subprotocol = chosen
        }
        let location = HTTPPath(request.path)
        guard location.isValid else {
            refuse(status: 400, headers: [], message: "Invalid path")
            return
        }
        switch WebClient.open(host, protocol: "WebSocket", peer: peer, local: local, path: location.application,
                              query: request.query, headers: request.headers, version: "1.1", writer: context) {
        case .opened(let handle, _):
            client = handle
            if let seconds = WebClient.idleSeconds(host, client: client) { idleSeconds = seconds }
            let accept = WebSocketHandshake.accept(key: key, sha1: host.sha1)
            send(WebSocketHandshake.switching(accept: accept, subprotocol: subprotocol, cookies: cookies.take()))
            // onConnection may have closed the socket (writer:close) after queueing frames: they follow the 101.
            let closeAfter = phase == .closing
            if !closeAfter { phase = .open }
            for frame in beforeSwitch { send(frame) }
            beforeSwitch = []
            nextPing = host.monotonicMs + Int64(idleSeconds) * 500
            if closeAfter { finish() }
        case .refused(_, let kind, let message):
            // "Application /x doesn't exist" names what was asked; a script's failure stays in the log.
            let missing = kind == MONA_ERR_APPLICATION
            refuse(status: missing ? 404 : 500, headers: [], message: missing ? message : PeerText.applicationFailure)
        }
    }

    private func refuse(status: Int, headers: [String], message: String) {
        host.log(MONA_LOG_INFO, "WebSocket handshake refused (\(status)): \(message)")
        send(WebSocketHandshake.refusal(status: status, headers: headers, message: message))
        finish()
    }

    // MARK: frames in

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard phase == .open || phase == .closing else { return }
        lastReceived = host.monotonicMs
        let events: [WebSocketEvent]
        do throws(WebSocketFailure) {
            events = try parser.feed(bytes)
        } catch {
            host.log(MONA_LOG_WARN, "WebSocket client broke the protocol (closing with \(error.code)): \(error.reason)")
            fail(error.code, reason: error.reason)
            return
        }
        if parser.isBetweenMessages {
            messageStarted = nil
        } else if messageStarted == nil || events.contains(where: \.isMessage) {
            messageStarted = lastReceived
        }
        for event in events {
            guard phase == .open || phase == .closing else { return }
            handle(event)
        }
    }

    private func handle(_ event: WebSocketEvent) {
        switch event {
        case .ping(let payload):
            write(WebSocketFrame.encode(.pong, payload)) // bounded like any output
        case .pong:
            break // lastReceived is updated: the peer is alive
        case .close(let code, _):
            // Answer with the same code (an empty close gets an empty one), then close the TCP connection.
            if phase == .open { send(code.map { WebSocketFrame.close($0) } ?? WebSocketFrame.encode(.close, [])) }
            phase = .closed
            finish()
        case .text(let bytes):
            guard phase == .open else { return }
            text(bytes)
        case .binary(let bytes):
            guard phase == .open else { return }
            call("onMessage", [.bytes(bytes)])
        }
    }

    /// A text message: `["method", args…]` calls the method; other JSON calls onMessage with the values;
    /// text that is not JSON calls onMessage with the text (and gets its answer in a binary frame).
    private func text(_ bytes: [UInt8]) {
        // JSON read in the plugin when it can be (JSONArguments), else by the host.
        guard let stream = bytes.withUnsafeBytes({ JSONArguments.transcode($0) ?? host.decodeMVS($0, format: MONA_FORMAT_JSON) })
        else {
            call("onMessage", [.string(String(decoding: bytes, as: UTF8.self))])
            return
        }
        let isArray = bytes.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D } == UInt8(ascii: "[")
        guard isArray, let (name, arguments) = MVSReader.leadingString(of: stream) else {
            stream.withUnsafeBytes { call("onMessage", mvs: $0) }
            return
        }
        // The arguments follow the name (a string opens no complex value: references stay valid).
        switch name {
        case "__close":
            close(code: WebSocketCloseCode.normal, reason: "")
        case "__publish", "__play", "__closePublish", "__closePlay":
            media(name, (try? MVSReader.decode(Array(stream[arguments...]))) ?? [])
        default:
            if let publication {
                // While publishing, every other JSON array is data for the publication.
                bytes.withUnsafeBytes { host.pushData(publication, format: MONA_FORMAT_JSON, $0) }
                host.flush(publication: publication)
            } else {
                stream.withUnsafeBytes { call(name, mvs: UnsafeRawBufferPointer(rebasing: $0[arguments...])) }
            }
        }
    }

    /// A JSON message's call: the results go back as JSON text, a failure as `["__error", method, message]`.
    private func call(_ method: String, mvs arguments: UnsafeRawBufferPointer) {
        switch host.invoke(client: client, method: method, mvs: arguments, format: MONA_FORMAT_JSON) {
        case .encoded(let text):
            if let text { write(WebSocketFrame.encode(.text, text)) } // nothing returned: nothing to send
        case .pending:
            break // the answer comes later through writerMessage
        case .failed(_, _, let message):
            sendJSON([.string("__error"), .string(method), .string(PeerText.withoutPaths(message))])
        }
    }

    /// A message that is not JSON (text or binary): the results go back in a binary frame.
    private func call(_ method: String, _ arguments: [MonaValue]) {
        switch host.invoke(client: client, method: method, args: arguments) {
        case .results(let results):
            if !results.isEmpty { sendRaw(results) }
        case .pending:
            break // the answer comes later through writerMessage
        case .failed(_, _, let message):
            sendJSON([.string("__error"), .string(method), .string(PeerText.withoutPaths(message))])
        }
    }

    // MARK: frames out

    func sendJSON(_ values: [MonaValue]) {
        guard let text = JSONReply.encode(values) ?? host.encode(values, format: MONA_FORMAT_JSON) else { return }
        write(WebSocketFrame.encode(.text, text))
    }

    /// Values as one binary frame: bytes and strings as they are, anything else as its JSON text.
    private func sendRaw(_ values: [MonaValue]) {
        var payload: [UInt8] = []
        for value in values {
            switch value {
            case .bytes(let bytes): payload += bytes
            case .string(let text): payload += Array(text.utf8)
            default: payload += host.encode([value], format: MONA_FORMAT_JSON).map { Array($0.dropFirst().dropLast()) } ?? []
            }
        }
        write(WebSocketFrame.encode(.binary, payload))
    }

    /// A frame from the application: held until the 101 while opening, refused once closing.
    @discardableResult
    func write(_ frame: [UInt8]) -> Int32 {
        switch phase {
        case .opening:
            beforeSwitch.append(frame)
            return MONA_OK
        case .open:
            let queued = send(frame)
            if queued >= 0 { self.queued = queued }
            guard queued <= plugin.maxQueuedBytes else {
                host.log(MONA_LOG_WARN, "a WebSocket client reads too slowly (\(queued) bytes waiting): closed")
                phase = .closed
                host.close(connection, how: MONA_CLOSE_ABORT)
                return MONA_E_NOMEM
            }
            return MONA_OK
        case .closing, .closed:
            return MONA_E_CLOSED
        }
    }

    @discardableResult
    private func send(_ bytes: [UInt8]) -> Int64 {
        bytes.withUnsafeBytes { host.send(connection, $0) }
    }

    // MARK: writer (Lua)

    func push(invocation name: String, _ arguments: [MonaValue]) -> Int32 {
        guard let text = JSONReply.encode([.string(name)] + arguments) ?? host.encode([.string(name)] + arguments, format: MONA_FORMAT_JSON)
        else { return MONA_E_INVAL }
        return write(WebSocketFrame.encode(.text, text))
    }

    func push(message arguments: [MonaValue]) -> Int32 {
        guard let text = JSONReply.encode(arguments) ?? host.encode(arguments, format: MONA_FORMAT_JSON) else { return MONA_E_INVAL }
        return write(WebSocketFrame.encode(.text, text))
    }

    func push(raw bytes: [UInt8]) -> Int32 { write(WebSocketFrame.encode(.binary, bytes)) }

    /// client.properties(key, value, options): a cookie, which only the 101 can carry.
    func setCookie(_ name: String, args: [MonaValue]) -> Int32 {
        guard phase == .opening else { return MONA_E_UNSUPPORTED }
        return cookies.add(name, args: args, host: host)
    }

    /// writer:close(code): a close frame with that code (0 or an invalid one: 1000).
    func closeByApplication(code: Int) {
        let status = code > 0 && code <= 0xFFFF && WebSocketCloseCode.isValid(UInt16(code)) ? UInt16(code) : WebSocketCloseCode.normal
        close(code: status, reason: "")
    }

    // MARK: closing

    /// Starts the closing handshake: our close frame, then the peer's within `closeWait` ms.
    func close(code: UInt16, reason: String) {
        switch phase {
        case .opening:
            beforeSwitch.append(WebSocketFrame.close(code, reason: reason))
            phase = .closing
        case .open:
            send(WebSocketFrame.close(code, reason: reason))
            phase = .closing
            armTimer(delayMs: WebSocketPlugin.closeWaitMs)
        case .closing, .closed:
            break
        }
    }

    /// The peer broke the protocol: the close frame with the reason, then the connection ends at once.
    private func fail(_ code: UInt16, reason: String) {
        if phase == .open { send(WebSocketFrame.close(code, reason: reason)) }
        phase = .closed
        finish()
    }

    /// Ends the connection: our side half-closes at once (what is queued, then FIN) and what the peer still
    /// sends is read and dropped until it closes too, within `closeWait` — closing with unread bytes would
    /// reset the connection and could destroy our last frames before the peer reads them.
    private func finish() {
        phase = .closed
        cancelTimer()
        host.close(connection, how: MONA_CLOSE_WRITE)
        timer = host.startTimer(delayMs: WebSocketPlugin.closeWaitMs, context: context)
    }

    /// The connection is gone: onDisconnection.
    func closed() {
        phase = .closed
        cancelTimer()
        if client != 0 { host.closeClient(client) }
        client = 0
    }

    // MARK: keep-alive

    /// The plugin's tick: a ping every timeout/2 s; a client silent for the whole timeout is closed (1001).
    func tick(now: Int64) {
        guard phase == .open, idleSeconds > 0 else { return }
        if let started = messageStarted, now - started >= Int64(idleSeconds) * 1000 {
            host.log(MONA_LOG_INFO, "WebSocket message not received within \(idleSeconds) s: closed")
            close(code: WebSocketCloseCode.policyViolation, reason: "message too slow")
        } else if now - lastReceived >= Int64(idleSeconds) * 1000 {
            host.log(MONA_LOG_DEBUG, "WebSocket client silent for \(idleSeconds) s: closed")
            close(code: WebSocketCloseCode.goingAway, reason: "idle timeout")
        } else if now >= nextPing {
            send(WebSocketFrame.encode(.ping, []))
            nextPing = now + Int64(idleSeconds) * 500
        }
    }

    /// Waits `delayMs` for the peer (closing handshake) before giving up on it.
    private func armTimer(delayMs: UInt64) {
        cancelTimer()
        timer = host.startTimer(delayMs: delayMs, context: context)
    }

    private func cancelTimer() {
        if let timer { host.cancelTimer(timer) }
        timer = nil
    }

    func timerFired(_ fired: mona_handle) {
        guard fired == timer else { return }
        timer = nil
        switch phase {
        case .closing:
            finish() // the peer did not answer our close frame in time
        case .closed:
            host.close(connection, how: MONA_CLOSE_ABORT) // the peer never closed its side
        case .open, .opening:
            break
        }
    }
}
