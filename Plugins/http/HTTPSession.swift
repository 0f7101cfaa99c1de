import MonaPluginKit
import PluginABI

/// One HTTP connection: parses requests, keeps the Lua client of its path, answers requests strictly
/// in order (pipelining), streams files with back-pressure, holds RPC requests that returned nothing
/// until the application pushes an answer (long polling) or the time-out. Split by concern: this file
/// holds its state and the dispatch of requests; `+Pipeline` the input and time-outs, `+Calls` RPC and
/// long polling, `+Files` files and folders, `+Upgrade` the WebSocket handoff, `+Responses` the output.
final class HTTPSession {
    unowned let plugin: HTTPPlugin
    let connection: mona_handle
    let peer: mona_addr
    let local: mona_addr
    var parser: HTTPRequestParser
    /// The request being received, then the complete ones waiting their turn.
    var receiving: HTTPRequest?
    var queue: [HTTPRequest] = []
    /// Bytes received and not parsed yet: only `maxWaitingRequests` parsed requests wait for their answers.
    var backlog: [UInt8] = []
    /// Reading is paused (tcp_set_reading(0)) while requests or output back up.
    var readingPaused = false
    /// What the host had queued for this connection after our last send.
    var queuedBytes: Int64 = 0
    /// Most parsed requests waiting for their answers; the rest of a pipeline stays unparsed meanwhile.
    static let maxWaitingRequests = 8
    /// Most bytes queued in the host before requests stop being answered (until tcp_writable).
    static let outputWindow: Int64 = 256 * 1024
    /// A request answered later (long polling), and pushes that found no request to answer.
    var waiting: HTTPRequest?
    var pushes: [Reply] = []
    /// A file being sent.
    var stream: FileStream?
    /// A live stream being played (HTTP-FLV): the last answer of the connection.
    var live: LiveResponse?
    /// An HLS request waiting for the stream: the first segment, a blocking reload, the next part (HTTPSession+HLS).
    var hlsWaiting: HLSWait?
    /// Publications the client's onSubscribe accepted as HLS viewer.
    var hlsAllowed: Set<String> = []
    /// Work is in progress on the blocking pool (a file opened or read, a folder listed).
    var reading = false
    /// The last request path and what it maps to (see `location(of:)`).
    var lastLocation: (path: String, location: HTTPPath)?
    var client: mona_handle = 0
    var clientKey: String?
    /// The idle timer: one host timer at a time, started once and re-armed only when it fires (a
    /// host timer is a scheduled task of the event loop: too costly to restart on every request).
    var timer: mona_handle?
    /// When the connection was last active (monotonic ms): the timer compares it with the time-out.
    var lastActivity: Int64 = 0
    /// When the first byte of the request head being received arrived (monotonic ms), nil between heads:
    /// a head must be complete within the time-out, however slowly its bytes keep coming.
    var headStarted: Int64?
    /// Idle time-out in seconds: HTTP.timeout, or the client's `timeout` parameter once it is open.
    lazy var idleSeconds = plugin.timeout
    var closing = false
    /// The peer half-closed: close once every request is answered.
    var peerDone = false
    /// Bytes that followed a WebSocket upgrade request, handed over with the connection.
    var tunnel: [UInt8] = []
    /// Most such bytes kept while the upgrade request waits for its turn.
    static let maxTunnelBytes = 1 << 20
    /// Most pushes kept for requests to come; older ones are dropped past it.
    static let maxPushes = 64
    /// The request being dispatched and not answered yet (a push during onRead or an RPC answers it).
    var current: HTTPRequestHead?
    /// Set-Cookie values from client.properties(key, value, options), sent with the next response.
    var cookies = PendingCookies()

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

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var host: MonaHost { plugin.host }

    // MARK: dispatch

    /// Answers queued requests in order while nothing is in progress and the output is not backed up,
    /// parsing more of the backlog as they go.
    func process() {
        while !closing {
            parseBacklog()
            guard waiting == nil, hlsWaiting == nil, stream == nil, live == nil, !reading, queuedBytes <= Self.outputWindow, !queue.isEmpty else { break }
            handle(queue.removeFirst())
        }
        if peerDone, !closing, waiting == nil, stream == nil, !reading, queue.isEmpty, backlog.isEmpty { finish() }
        updateReading()
    }

    func handle(_ request: HTTPRequest) {
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
        if head.path == "/metrics", head.method == "GET" || head.method == "HEAD", answerMetrics(head) { return }
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

    /// GET /metrics: the host's metrics to a peer allowed to read them, the usual 404 to another one (no
    /// client is opened for either); false when metrics are off: the path is then like any other.
    func answerMetrics(_ head: HTTPRequestHead) -> Bool {
        switch host.metricsText(for: peer) {
        case .text(let body):
            respond(head, status: 200, extra: [("Content-Type", MonaHost.metricsContentType), ("Cache-Control", "no-store")], body: body)
        case .refused:
            fail(head, status: 404, message: "File metrics doesn't exist")
        case .unavailable:
            return false
        }
        return true
    }

    /// The application and file of a request path (the last one is kept: a keep-alive connection
    /// often asks for the same path again).
    func location(of path: String) -> HTTPPath {
        if let last = lastLocation, last.path == path { return last.location }
        let location = HTTPPath(path)
        lastLocation = (path, location)
        return location
    }

    /// Keeps the client of this path and query, or opens it (onConnection).
    func openClient(for head: HTTPRequestHead, _ location: HTTPPath) -> Bool {
        let key = location.application + "?" + head.query
        if client != 0, key == clientKey { return true }
        if client != 0 { host.closeClient(client) }
        client = 0
        clientKey = key
        hlsAllowed = []
        switch WebClient.open(host, protocol: "HTTP", peer: peer, local: local, path: location.application, query: head.query,
                              headers: head.headers, version: "1.\(head.versionMinor)", writer: context) {
        case .opened(let handle, _):
            client = handle
            // The client's `timeout` parameter (the config, or what onConnection returned) is read once.
            if let seconds = WebClient.idleSeconds(host, client: client), seconds != idleSeconds {
                idleSeconds = seconds
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

    func get(_ head: HTTPRequestHead, _ location: HTTPPath) {
        let arguments = WebClient.queryArguments(host, head.query)
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
            // No such file: a live stream of that name, if it runs (HTTP-FLV as in 1.x, HLS).
            if kind == MONA_ERR_NOTFOUND, head.method == "GET" || head.method == "HEAD" {
                if head.method == "GET", plugin.flv, let name = Self.liveName(location.file), playLive(head, name: name) { return }
                if playHLS(head, location) { return } // HEAD: the same heads, no body
            }
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

    /// The publication a file name may play live: "name.flv" (any case) gives "name".
    static func liveName(_ file: String) -> String? {
        var file = file
        return file.withUTF8 { utf8 -> String? in
            // ".flv" is ASCII: compared on the bytes (every request that finds no file asks).
            guard utf8.count > 4 else { return nil }
            let end = utf8.count
            guard utf8[end - 4] == UInt8(ascii: "."), utf8[end - 3] | 0x20 == UInt8(ascii: "f"),
                  utf8[end - 2] | 0x20 == UInt8(ascii: "l"), utf8[end - 1] | 0x20 == UInt8(ascii: "v") else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: utf8[..<(end - 4)]), as: UTF8.self)
        }
    }

    /// Whether a name contains "." (as a character: a dot followed by a combining mark does not count).
    static func hasDot(_ name: String) -> Bool {
        var copy = name
        let ascii: Bool? = copy.withUTF8 { utf8 in
            var dot = false
            for byte in utf8 {
                if byte >= 0x80 { return nil }
                if byte == UInt8(ascii: ".") { dot = true }
            }
            return dot
        }
        return ascii ?? name.contains(".")
    }

    func folder(_ head: HTTPRequestHead, path: String, arguments: [MonaValue]) {
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
}
