// The opening handshake (RFC 6455 §4.2): checking the upgrade request the HTTP plugin handed over, and
// the 101 answer or the HTTP error that refuses it.

import MonaPluginKit

/// Decides on an upgrade request and writes the server's answer.
enum WebSocketHandshake {
    /// The GUID of RFC 6455 §1.3, appended to the client's key before hashing.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// An upgrade request as the HTTP plugin describes it (the MVS of its handoff).
    struct Request: Equatable {
        var method = "GET"
        var path = "/"
        var query = ""
        var headers: [(name: String, value: String)] = []

        static func == (lhs: Request, rhs: Request) -> Bool {
            lhs.method == rhs.method && lhs.path == rhs.path && lhs.query == rhs.query
                && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
        }

        /// Reads `{method, path, query, headers = {name = value…}}`; nil if it is not such an object.
        init?(_ value: MonaValue) {
            guard case .object(_, let fields) = value else { return nil }
            for field in fields {
                switch (field.key, field.value) {
                case ("method", .string(let text)): method = text
                case ("path", .string(let text)): path = text
                case ("query", .string(let text)): query = text
                case ("headers", .object(_, let headerFields)):
                    headers = headerFields.compactMap { header in
                        if case .string(let text) = header.value { return (header.key, text) }
                        return nil
                    }
                default: break
                }
            }
        }

        init(method: String = "GET", path: String = "/", query: String = "", headers: [(String, String)]) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers.map { (name: $0.0, value: $0.1) }
        }

        /// The value of a header (names compared without case); several fields are joined with ", ".
        func header(_ name: String) -> String? {
            let values = headers.filter { FileText.equalsIgnoringCase($0.name, name) }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }

        /// The comma-separated tokens of a header, trimmed.
        func tokens(_ name: String) -> [String] {
            (header(name) ?? "").split(separator: ",").map { String(FileText.trim($0)) }.filter { !$0.isEmpty }
        }
    }

    /// What to do with a request.
    enum Decision: Equatable {
        /// Switch: the client's key and the sub-protocol to name in the answer (nil: none).
        case accept(key: String, subprotocol: String?)
        /// Refuse with this HTTP status, extra headers and message.
        case refuse(status: Int, headers: [String], message: String)
    }

    /// Checks method, `Connection: upgrade`, `Sec-WebSocket-Version: 13` (else 426) and a key of 16 bytes
    /// in base64; picks the sub-protocol: the first offered that `supported` lists, or with `supported` nil
    /// (any), the first offered — browsers fail a handshake that offered some and got none back.
    static func decide(_ request: Request, supported: [String]?) -> Decision {
        guard request.method == "GET" else {
            return .refuse(status: 405, headers: ["Allow: GET"], message: "A WebSocket handshake is a GET")
        }
        guard request.tokens("Connection").contains(where: { FileText.equalsIgnoringCase($0, "upgrade") }) else {
            return .refuse(status: 400, headers: [], message: "A WebSocket handshake needs Connection: Upgrade")
        }
        guard request.header("Sec-WebSocket-Version").map({ FileText.trim($0) == "13" }) == true else {
            return .refuse(status: 426, headers: ["Sec-WebSocket-Version: 13"], message: "Only WebSocket version 13 is supported")
        }
        guard let key = request.header("Sec-WebSocket-Key").map({ String(FileText.trim($0)) }),
              Base64.decode(key)?.count == 16 else {
            return .refuse(status: 400, headers: [], message: "Sec-WebSocket-Key must be 16 bytes in base64")
        }
        let offered = request.tokens("Sec-WebSocket-Protocol")
        let subprotocol = offered.first { candidate in supported.map { $0.contains(candidate) } ?? true }
        return .accept(key: key, subprotocol: subprotocol)
    }

    /// Sec-WebSocket-Accept: base64(SHA-1(key + GUID)).
    static func accept(key: String, sha1: ([UInt8]) -> [UInt8]) -> String {
        Base64.encode(sha1(Array((key + guid).utf8)))
    }

    /// The 101 answer, with the sub-protocol and the cookies set during onConnection.
    static func switching(accept: String, subprotocol: String?, cookies: [String]) -> [UInt8] {
        var lines = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        lines += "Sec-WebSocket-Accept: \(accept)\r\nServer: Mona\r\n"
        if let subprotocol { lines += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        for cookie in cookies { lines += "Set-Cookie: \(cookie)\r\n" }
        return Array((lines + "\r\n").utf8)
    }

    /// An HTTP error answer (the connection closes after it).
    static func refusal(status: Int, headers: [String], message: String) -> [UInt8] {
        let body = Array((message + "\n").utf8)
        var lines = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\nServer: Mona\r\nConnection: close\r\n"
        for header in headers { lines += header + "\r\n" }
        lines += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(lines.utf8) + body
    }
}
