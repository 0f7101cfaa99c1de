import MonaPluginKit
import PluginABI

/// Calls of client methods (RPC by POST, and by GET of a name without a dot), their answers in the
/// request's format, and long polling: a call that returned nothing waits for a push of the application
/// (client.writer), or for the idle time-out (204).
extension HTTPSession {
    /// POST: a call whose body format follows its Content-Type.
    func call(_ request: HTTPRequest) {
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
    func invoke(_ method: String, args: [MonaValue], format: Int32) -> Invocation {
        switch host.invoke(client: client, method: method, args: args, format: format) {
        case .encoded(let body): return .results(body)
        case .pending: return .results(nil) // the answer comes later, as a push
        case .failed(let status, let kind, let message): return .failed(status: status, kind: kind, message: message)
        }
    }

    /// The results of a call: an answer now, or (none) the request waits for a push.
    func answer(_ head: HTTPRequestHead, body: [UInt8]?, format: Int32) {
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

    func reply(_ head: HTTPRequestHead, _ reply: Reply) {
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
    func encode(_ values: [MonaValue], format: Int32) -> [UInt8] {
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
    func setCookie(_ name: String, args: [MonaValue]) -> Int32 { cookies.add(name, args: args, host: host) }

    func push(values: [MonaValue]) -> Int32 { push(.values(values)) }

    func push(raw: [UInt8]) -> Int32 { push(.raw(raw)) }

    func push(_ reply: Reply) -> Int32 {
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
    func keep(_ reply: Reply) {
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
}
