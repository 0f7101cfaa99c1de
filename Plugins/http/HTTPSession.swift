import MonaPluginKit
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP connection: parses requests, keeps the Lua client of its path, answers requests strictly
/// in order (pipelining), streams files with back-pressure, holds RPC requests that returned nothing
/// until the application pushes an answer (long polling) or the time-out.
final class HTTPSession {
    unowned let plugin: HTTPPlugin
    let connection: mona_handle
    let peer: mona_addr
    let local: mona_addr
    private var parser: HTTPRequestParser
    /// The request being received, then the complete ones waiting their turn.
    private var receiving: HTTPRequest?
    private var queue: [HTTPRequest] = []
    /// Bytes received and not parsed yet: only `maxWaitingRequests` parsed requests wait for their answers.
    private var backlog: [UInt8] = []
    /// Reading is paused (tcp_set_reading(0)) while requests or output back up.
    private var readingPaused = false
    /// What the host had queued for this connection after our last send.
    var queuedBytes: Int64 = 0
    /// Most parsed requests waiting for their answers; the rest of a pipeline stays unparsed meanwhile.
    static let maxWaitingRequests = 8
    /// Most bytes queued in the host before requests stop being answered (until tcp_writable).
    static let outputWindow: Int64 = 256 * 1024
    /// A request answered later (long polling), and pushes that found no request to answer.
    private var waiting: HTTPRequest?
    private var pushes: [Reply] = []
    /// A file being sent.
    var stream: FileStream?
    /// Work is in progress on the blocking pool (a file opened or read, a folder listed).
    var reading = false
    /// The last request path and what it maps to (see `location(of:)`).
    private var lastLocation: (path: String, location: HTTPPath)?
    private var client: mona_handle = 0
    private var clientKey: String?
    /// The idle timer: one host timer at a time, started once and re-armed only when it fires (a
    /// host timer is a scheduled task of the event loop: too costly to restart on every request).
    private var timer: mona_handle?
    /// When the connection was last active (monotonic ms): the timer compares it with the time-out.
    private var lastActivity: Int64 = 0
    /// When the first byte of the request head being received arrived (monotonic ms), nil between heads:
    /// a head must be complete within the time-out, however slowly its bytes keep coming.
    private var headStarted: Int64?
    /// Idle time-out in seconds: HTTP.timeout, or the client's `timeout` parameter once it is open.
    private lazy var idleSeconds = plugin.timeout
    var closing = false
    /// The peer half-closed: close once every request is answered.
    private var peerDone = false
    /// Bytes that followed a WebSocket upgrade request, handed over with the connection.
    private var tunnel: [UInt8] = []
    /// Most such bytes kept while the upgrade request waits for its turn.
    static let maxTunnelBytes = 1 << 20
    /// Most pushes kept for requests to come; older ones are dropped past it.
    static let maxPushes = 64
    /// The request being dispatched and not answered yet (a push during onRead or an RPC answers it).
    var current: HTTPRequestHead?
    /// Set-Cookie values from client.properties(key, value, options), sent with the next response.
    var cookies: [String] = []
    /// Most cookies kept for one response (a loop in a script cannot grow the headers without bound).
    static let maxCookies = 32

    /// A complete request.
    struct HTTPRequest {
        var head: HTTPRequestHead
        var body: [UInt8] = []
    }

    /// An answer the application produced outside a request: JSON values or raw bytes.
    enum Reply {
        case values([MonaValue])
        case raw([UInt8])
        /// A body already encoded, with its content type.
        case encoded([UInt8], type: String)
    }

    init(plugin: HTTPPlugin, connection: mona_handle, peer: mona_addr, local: mona_addr) {
        self.plugin = plugin
        self.connection = connection
        self.peer = peer
        self.local = local
        parser = HTTPRequestParser(limits: plugin.limits)
        touch()
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> HTTPSession? {
        pointer.map { Unmanaged<HTTPSession>.fromOpaque($0).takeUnretainedValue() }
    }

    private var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var host: MonaHost { plugin.host }

    // MARK: input

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        touch()
        if backlog.isEmpty {
            let consumed = parse(bytes)
            if !closing, consumed < bytes.count { backlog = Array(UnsafeRawBufferPointer(rebasing: bytes[consumed...])) }
        } else {
            backlog.append(contentsOf: bytes)
        }
        process()
    }

    /// Parses more of the backlog while few requests wait.
    private func parseBacklog() {
        guard !backlog.isEmpty, queue.count < Self.maxWaitingRequests else { return }
        let consumed = backlog.withUnsafeBytes { parse($0) }
        backlog.removeFirst(min(consumed, backlog.count))
        if backlog.isEmpty { backlog = [] } // gives the storage back
    }

    /// Feeds the parser until `maxWaitingRequests` requests wait; returns how many bytes it consumed.
    private func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        let wasReceivingHead = parser.isReceivingHead
        let events: [HTTPParseEvent], consumed: Int
        do throws(HTTPParseError) {
            (events, consumed) = try parser.feed(bytes, maxRequests: Self.maxWaitingRequests - queue.count)
        } catch {
            backlog = []
            fail(status: error.status, message: "\(error)")
            return bytes.count
        }
        if parser.isReceivingHead {
            let headDone = events.contains { if case .head = $0 { true } else { false } }
            if !wasReceivingHead || headDone || headStarted == nil { headStarted = host.monotonicMs }
        } else {
            headStarted = nil
        }
        for event in events {
            switch event {
            case .head(let head):
                receiving = HTTPRequest(head: head)
                if head.expectsContinue { send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
            case .body(let piece):
                receiving?.body += piece
            case .end:
                if let request = receiving { queue.append(request) }
                receiving = nil
            case .tunnel(let piece):
                tunnel += piece
                guard tunnel.count <= Self.maxTunnelBytes else {
                    host.log(MONA_LOG_WARN, "more than \(Self.maxTunnelBytes) bytes after a WebSocket upgrade request before its answer")
                    host.close(connection, how: MONA_CLOSE_ABORT)
                    closing = true
                    return bytes.count
                }
            }
        }
        return consumed
    }

    /// Reads while few requests wait and little output is queued; pauses otherwise (TCP flow control
    /// then holds the peer back, and memory stays bounded however many requests it pipelines).
    private func updateReading() {
        let wanted = !closing && backlog.isEmpty && queue.count < Self.maxWaitingRequests && queuedBytes <= Self.outputWindow
        guard wanted == readingPaused else { return }
        readingPaused = !wanted
        host.setReading(connection, wanted)
    }

    func peerFinished() -> Bool {
        // Answer what was asked, then close.
        if queue.isEmpty, waiting == nil, stream == nil, !reading { return false }
        peerDone = true
        return true
    }

    /// The host's queue drained: stream more of a file, or answer the requests that wait.
    func writable() {
        queuedBytes = 0
        touch()
        if stream != nil { continueStream() } else { process() }
    }

    func closed() {
        closing = true
        queue = []
        backlog = []
        waiting = nil
        pushes = []
        if !reading { stream?.close() } // a read in flight still uses the descriptor: closed when it ends
        stream = nil
        if let timer { host.cancelTimer(timer) }
        if client != 0 { host.closeClient(client) }
        client = 0
    }

    func timedOut(_ fired: mona_handle) {
        guard fired == timer else { return }
        timer = nil
        guard idleSeconds > 0, !closing else { return }
        let limit = Int64(idleSeconds) * 1000
        let now = host.monotonicMs
        let headLate = headStarted.map { now - $0 >= limit } ?? false
        let idle = now - lastActivity >= limit
        guard headLate || idle else {
            // Active since it was armed: wait for the rest (of the head's time, if it comes first).
            startTimer(min(lastActivity, headStarted ?? lastActivity) + limit - now)
            return
        }
        let owesAnswers = waiting != nil || !queue.isEmpty || stream != nil || reading || queuedBytes > 0
        if headLate || (idle && !parser.isIdle && !owesAnswers) {
            // A request that does not come whole in time (one byte now and then must not hold a connection).
            host.log(MONA_LOG_INFO, "HTTP request not received within \(idleSeconds) s: connection closed")
            if owesAnswers {
                host.close(connection, how: MONA_CLOSE_ABORT)
                closing = true
            } else {
                fail(status: 408, message: "The request did not arrive in time")
            }
            return
        }
        if let request = waiting {
            waiting = nil
            respond(request.head, status: 204, body: [])
            process()
        } else if !owesAnswers {
            host.close(connection)
            closing = true
            return
        }
        touch() // answers are being produced or wait for the peer to read them
    }

    /// The connection is active: the idle time-out counts from now. Starts the timer if none runs.
    private func touch() {
        lastActivity = host.monotonicMs
        if timer == nil, idleSeconds > 0, !closing { startTimer(Int64(idleSeconds) * 1000) }
    }

    private func startTimer(_ delayMs: Int64) {
        timer = host.startTimer(delayMs: UInt64(max(delayMs, 1)), context: context)
    }

    /// The time-out changed (the client's `timeout` parameter): the running timer is replaced.
    private func restartTimer() {
        if let timer { host.cancelTimer(timer) }
        timer = nil
        touch()
    }

    // MARK: dispatch

    /// Answers queued requests in order while nothing is in progress and the output is not backed up,
    /// parsing more of the backlog as they go.
    func process() {
        while !closing {
            parseBacklog()
            guard waiting == nil, stream == nil, !reading, queuedBytes <= Self.outputWindow, !queue.isEmpty else { break }
            handle(queue.removeFirst())
        }
        if peerDone, !closing, waiting == nil, stream == nil, !reading, queue.isEmpty, backlog.isEmpty { finish() }
        updateReading()
    }

    private func handle(_ request: HTTPRequest) {
        let head = request.head
        current = head
        defer { current = nil }
        switch head.method {
        case "GET", "HEAD", "POST", "OPTIONS": break
        default:
            respond(head, status: 405, extra: [("Allow", "GET, HEAD, POST, OPTIONS")],
                    body: ErrorPage.html(status: 405, reason: HTTPStatus.reason(405), message: "\(head.method) is not allowed"))
            return
        }
        let location = self.location(of: head.path)
        guard location.isValid else {
            // After an upgrade request the parser takes nothing more as HTTP: such a connection ends.
            fail(head, status: 400, message: "Invalid path", close: head.isWebSocketUpgrade)
            return
        }
        if head.isWebSocketUpgrade {
            upgrade(head, location)
            return
        }
        guard openClient(for: head, location) else { return }
        switch head.method {
        case "OPTIONS":
            var extra = [("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"), ("Access-Control-Max-Age", "86400")]
            if let asked = head.header("Access-Control-Request-Headers") { extra.append(("Access-Control-Allow-Headers", asked)) }
            respond(head, status: 200, extra: extra, body: [])
        case "POST":
            call(request)
        default:
            get(head, location)
        }
    }

    /// The application and file of a request path (the last one is kept: a keep-alive connection
    /// often asks for the same path again).
    private func location(of path: String) -> HTTPPath {
        if let last = lastLocation, last.path == path { return last.location }
        let location = HTTPPath(path)
        lastLocation = (path, location)
        return location
    }

    /// Keeps the client of this path and query, or opens it (onConnection).
    private func openClient(for head: HTTPRequestHead, _ location: HTTPPath) -> Bool {
        let key = location.application + "?" + head.query
        if client != 0, key == clientKey { return true }
        if client != 0 { host.closeClient(client) }
        client = 0
        clientKey = key
        var fields = head.headers.map { MonaField($0.name, .string($0.value)) }
        if let cookie = head.header("Cookie") {
            fields += Cookies.parse(cookie).map { MonaField($0.name, .string($0.value)) }
        }
        fields.append(MonaField("version", .string("1.\(head.versionMinor)")))
        let queryValues = queryArguments(head.query)
        switch host.openClient(protocol: "HTTP", peer: peer, local: local, serverAddress: head.header("Host"),
                               path: location.application, query: head.query, properties: .object(type: "", fields: fields),
                               args: queryValues, writer: context) {
        case .opened(let handle, _):
            client = handle
            // The client's `timeout` parameter (the config, or what onConnection returned) is read once.
            if let text = host.parameter(client: client, "timeout"), let value = Double(text), Int(value) != idleSeconds {
                idleSeconds = Int(value)
                restartTimer()
            }
            return true
        case .refused(_, let kind, let message):
            clientKey = nil
            // 1.x: 503 for a missing application; a GET of a path whose folder does not exist is a 404.
            let missing = kind == MONA_ERR_APPLICATION
            let status = missing ? (head.method == "GET" || head.method == "HEAD" ? 404 : 503) : 500
            // "Application /x doesn't exist" names what was asked; a script's failure stays in the log.
            fail(head, status: status, message: missing ? message : PeerText.applicationFailure, close: !missing)
            return false
        }
    }

    private func queryArguments(_ query: String) -> [MonaValue] {
        guard !query.isEmpty else { return [] }
        return Array(query.utf8).withUnsafeBytes { host.decode($0, format: MONA_FORMAT_QUERY) } ?? []
    }

    private func get(_ head: HTTPRequestHead, _ location: HTTPPath) {
        let arguments = queryArguments(head.query)
        if !location.file.isEmpty, !Self.hasDot(location.file) {
            switch invoke(location.file, args: arguments, format: MONA_FORMAT_JSON) {
            case .results(let body):
                answer(head, body: body, format: MONA_FORMAT_JSON)
                return
            case .failed(let status, _, let message) where status != MONA_E_NOTFOUND:
                fail(head, status: 500, message: PeerText.withoutPaths(message))
                return
            default:
                break // not a method: a file
            }
        }
        switch host.readFile(client: client, name: location.file, parameters: arguments) {
        case .handled:
            return // the application answered through its writer
        case .deny(let kind, let message):
            // The host's refusals name only the file asked for; a failing onRead says nothing more.
            let known = kind == MONA_ERR_PERMISSION || kind == MONA_ERR_NOTFOUND
            fail(head, status: kind == MONA_ERR_PERMISSION ? 403 : kind == MONA_ERR_NOTFOUND ? 404 : 500,
                 message: known ? message : PeerText.applicationFailure)
        case .allow(let path, let properties):
            if path.hasSuffix("/") {
                folder(head, path: path, arguments: arguments)
            } else {
                serve(head, path: path, templateValues: Self.templateValues(properties))
            }
        }
    }

    /// Whether a name contains "." (as a character: a dot followed by a combining mark does not count).
    static func hasDot(_ name: String) -> Bool {
        var dot = false
        for byte in name.utf8 {
            if byte >= 0x80 { return name.contains(".") }
            if byte == UInt8(ascii: ".") { dot = true }
        }
        return dot
    }

    private func folder(_ head: HTTPRequestHead, path: String, arguments: [MonaValue]) {
        guard head.path.hasSuffix("/") else {
            let target = head.path + "/" + (head.query.isEmpty ? "" : "?" + head.query)
            respond(head, status: 301, extra: [("Location", target)], body: [])
            return
        }
        let rule = host.parameter(client: client, "index") ?? plugin.index
        switch rule.lowercased() {
        case "true", "1", "yes", "on":
            list(head, folder: path)
        case "false", "0", "no", "off", "":
            fail(head, status: 403, message: "Folder listing is forbidden")
        default:
            if rule.contains(".") {
                serve(head, path: path + rule, templateValues: [:])
            } else {
                switch invoke(rule, args: arguments, format: MONA_FORMAT_JSON) {
                case .results(let body): answer(head, body: body, format: MONA_FORMAT_JSON)
                case .failed(_, _, let message): fail(head, status: 503, message: PeerText.withoutPaths(message))
                }
            }
        }
    }

    /// POST: a call whose body format follows its Content-Type.
    private func call(_ request: HTTPRequest) {
        let head = request.head
        let type = (head.header("Content-Type") ?? "").lowercased()
        let format: Int32? = type.contains("json") ? MONA_FORMAT_JSON : type.contains("xml") ? MONA_FORMAT_XMLRPC
            : type.contains("amf") ? MONA_FORMAT_AMF3 : type.contains("x-www-form-urlencoded") ? MONA_FORMAT_QUERY : nil
        // The body as MVS: JSON read here when it can be (JSONArguments), anything else by the host.
        let stream: [UInt8]
        if let format {
            guard let decoded = request.body.withUnsafeBytes({ body in
                (format == MONA_FORMAT_JSON ? JSONArguments.transcode(body) : nil) ?? host.decodeMVS(body, format: format)
            }) else {
                fail(head, status: 400, message: "The body is not valid \(type)")
                return
            }
            stream = decoded
        } else {
            stream = MVSWriter.encode(.string(String(decoding: request.body, as: UTF8.self)))
        }
        // A leading string names the method; the arguments follow it (references stay valid).
        var method = "onMessage"
        var arguments = 0
        if format != nil, let (name, end) = MVSReader.leadingString(of: stream) {
            method = name
            arguments = end
        }
        let outcome = stream.withUnsafeBytes {
            host.invoke(client: client, method: method, mvs: UnsafeRawBufferPointer(rebasing: $0[arguments...]),
                        format: format ?? MONA_FORMAT_JSON)
        }
        switch outcome {
        case .encoded(let body):
            answer(head, body: body, format: format ?? MONA_FORMAT_JSON)
        case .pending:
            answer(head, body: nil, format: format ?? MONA_FORMAT_JSON) // the answer comes later, as a push
        case .failed(let status, _, let message):
            fail(head, status: status == MONA_E_NOTFOUND ? 503 : 500, message: PeerText.withoutPaths(message))
        }
    }

    /// What a call of a client method gave.
    enum Invocation {
        /// Its results encoded in the asked format; nil when it returned nothing.
        case results([UInt8]?)
        case failed(status: Int32, kind: Int32, message: String)
    }

    /// client:method(args…), its results encoded in `format` (JSON written in the plugin when it can be).
    private func invoke(_ method: String, args: [MonaValue], format: Int32) -> Invocation {
        switch host.invoke(client: client, method: method, args: args, format: format) {
        case .encoded(let body): return .results(body)
        case .pending: return .results(nil) // the answer comes later, as a push
        case .failed(let status, let kind, let message): return .failed(status: status, kind: kind, message: message)
        }
    }

    /// The results of a call: an answer now, or (none) the request waits for a push.
    private func answer(_ head: HTTPRequestHead, body: [UInt8]?, format: Int32) {
        guard current != nil else {
            // The method already answered through its writer: what it returned waits for the next request.
            if let body { keep(.encoded(body, type: Self.contentType(format))) }
            return
        }
        guard let body else {
            if !pushes.isEmpty {
                reply(head, pushes.removeFirst())
            } else {
                waiting = HTTPRequest(head: head)
            }
            return
        }
        respond(head, status: 200, extra: [("Content-Type", Self.contentType(format))], body: body)
    }

    private func reply(_ head: HTTPRequestHead, _ reply: Reply) {
        switch reply {
        case .values(let values):
            respond(head, status: 200, extra: [("Content-Type", "application/json")],
                    body: encode(values, format: MONA_FORMAT_JSON))
        case .raw(let bytes):
            respond(head, status: 200, extra: [("Content-Type", "text/plain; charset=utf-8")], body: bytes)
        case .encoded(let bytes, let type):
            respond(head, status: 200, extra: [("Content-Type", type)], body: bytes)
        }
    }

    /// Values in a wire format: JSON in the plugin when it can (JSONReply), else by the host.
    private func encode(_ values: [MonaValue], format: Int32) -> [UInt8] {
        if format == MONA_FORMAT_JSON, let bytes = JSONReply.encode(values) { return bytes }
        return host.encode(values, format: format) ?? []
    }

    static func contentType(_ format: Int32) -> String {
        switch format {
        case MONA_FORMAT_XMLRPC: "text/xml; charset=utf-8"
        case MONA_FORMAT_AMF3, MONA_FORMAT_AMF0: "application/x-amf"
        case MONA_FORMAT_QUERY: "application/x-www-form-urlencoded"
        default: "application/json"
        }
    }

    // MARK: pushes from Lua (client.writer)

    /// client.properties(key, value[, options]): a cookie for the next response. `args` is the value then,
    /// optionally, an object of options `expires` (seconds from now, negative deletes), `path`, `domain`,
    /// `secure`, `httponly`. MONA_E_INVAL for a name that is not an RFC 6265 token.
    func setCookie(_ name: String, args: [MonaValue]) -> Int32 {
        guard let cookie = Cookies.setCookie(name, args: args, now: Int(host.timeMs / 1000)) else { return MONA_E_INVAL }
        if cookies.count == Self.maxCookies {
            host.log(MONA_LOG_WARN, "more than \(Self.maxCookies) cookies for one HTTP response, the oldest is dropped")
            cookies.removeFirst()
        }
        cookies.append(cookie)
        return MONA_OK
    }

    func push(values: [MonaValue]) -> Int32 { push(.values(values)) }

    func push(raw: [UInt8]) -> Int32 { push(.raw(raw)) }

    private func push(_ reply: Reply) -> Int32 {
        guard !closing else { return MONA_E_CLOSED }
        if let request = waiting {
            waiting = nil
            self.reply(request.head, reply)
            process()
        } else if let head = current {
            // During onRead or an RPC: this answers the request being handled.
            current = nil
            self.reply(head, reply)
        } else {
            keep(reply)
        }
        return MONA_OK
    }

    /// An answer with no request to carry it: kept for the next request (bounded).
    private func keep(_ reply: Reply) {
        if pushes.count == Self.maxPushes {
            pushes.removeFirst()
            host.log(MONA_LOG_WARN, "an HTTP client has more than \(Self.maxPushes) pushes waiting for requests, the oldest is dropped")
        }
        pushes.append(reply)
    }

    func closeByApplication(code: Int) {
        if code > 0, let head = waiting?.head ?? current {
            waiting = nil
            current = nil
            fail(head, status: code, message: "Closed by the application", close: true)
        } else {
            host.close(connection)
            closing = true
        }
    }

    // MARK: WebSocket

    private func upgrade(_ head: HTTPRequestHead, _ location: HTTPPath) {
        let request = MonaValue.object(type: "", fields: [
            MonaField("method", .string(head.method)), MonaField("path", .string(head.path)),
            MonaField("query", .string(head.query)),
            MonaField("headers", .object(type: "", fields: head.headers.map { MonaField($0.name, .string($0.value)) })),
        ])
        // The parser took every byte after the upgrade head as tunnel; the backlog follows them.
        if host.handoff(connection, to: "WebSocket", bytes: tunnel + backlog, request: request) == MONA_OK {
            closing = true // the connection belongs to the WebSocket plugin now
            tunnel = []
            backlog = []
            if let timer { host.cancelTimer(timer) }
            timer = nil
            if client != 0 { host.closeClient(client) }
            client = 0
            return
        }
        fail(head, status: 501, message: "WebSocket is not available on this server", close: true)
    }
}
