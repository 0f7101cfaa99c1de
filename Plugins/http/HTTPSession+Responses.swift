import MonaPluginKit
import PluginABI

/// Writing responses: status line and headers, error pages, the send queue and the end of the connection.
extension HTTPSession {
    /// Bodies up to this size go out in the same tcp_send as the head.
    static let joinedBody = 64 * 1024

    /// Sends a complete response; closes after it when asked or when the request does not keep alive.
    /// The head and the body go out in one tcp_send (one write) unless the body is large.
    /// `lines`: header lines ready to send ("Name: value\r\n"…), written before `extra`. Without
    /// `lengthKnown` the body follows until the connection closes (no Content-Length).
    func respond(_ head: HTTPRequestHead, status: Int, lines: [UInt8] = [], extra: [(String, String)] = [], body: [UInt8],
                 close: Bool = false, contentLength: Int? = nil, bodyFollows: Bool = false, lengthKnown: Bool = true,
                 sharedBody: SharedBytes? = nil) {
        if current === head { current = nil }
        let keepAlive = head.keepAlive && !close
        let withBody = !body.isEmpty && head.method != "HEAD"
        let joined = withBody && body.count <= Self.joinedBody
        var out: [UInt8] = []
        out.reserveCapacity(320 + (joined ? body.count : 0))
        out += plugin.heads.statusLine(status)
        out += plugin.heads.dateAndServer(Int(host.timeMs / 1000))
        if keepAlive { out.append(literal: "Connection: keep-alive\r\n") } else { out.append(literal: "Connection: close\r\n") }
        if let origin = head.header("Origin") {
            out.append(literal: "Access-Control-Allow-Origin: ")
            out.append(text: origin)
            out.append(literal: "\r\nVary: Origin\r\n")
        }
        out += lines
        for (name, value) in extra {
            out.append(text: name)
            out.append(literal: ": ")
            out.append(text: value)
            out.append(literal: "\r\n")
        }
        for cookie in cookies.take() {
            out.append(literal: "Set-Cookie: ")
            out.append(text: cookie)
            out.append(literal: "\r\n")
        }
        if lengthKnown, status != 304, status != 204, !(100..<200).contains(status) {
            out.append(literal: "Content-Length: ")
            out.append(decimal: contentLength ?? body.count)
            out.append(literal: "\r\n")
        }
        out.append(literal: "\r\n")
        if joined { out += body }
        if let sharedBody, head.method != "HEAD" {
            send(out, then: sharedBody)
        } else {
            send(out)
        }
        if withBody, !joined { send(body) }
        if !keepAlive, !bodyFollows { finish() } // a streamed body closes when it ends
    }

    /// An error page; `close` also ends the connection.
    func fail(_ head: HTTPRequestHead, status: Int, message: String, close: Bool = false) {
        respond(head, status: status, extra: [("Content-Type", "text/html; charset=utf-8")],
                body: ErrorPage.html(status: status, reason: HTTPStatus.reason(status), message: message), close: close)
    }

    /// An error before any request head could be read: answer it and close.
    func fail(status: Int, message: String) {
        let body = ErrorPage.html(status: status, reason: HTTPStatus.reason(status), message: message)
        var lines = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\nServer: Mona\r\nConnection: close\r\n"
        lines += "Content-Type: text/html; charset=utf-8\r\nContent-Length: \(body.count)\r\n\r\n"
        send(Array(lines.utf8) + body)
        finish()
    }

    /// Queues bytes; what the host keeps queued afterwards holds back the next answers (`outputWindow`).
    func send(_ bytes: [UInt8]) {
        let queued = bytes.withUnsafeBytes { host.send(connection, $0) }
        if queued >= 0 { queuedBytes = queued }
    }

    /// Queues bytes then a shared buffer's, in one gathered send.
    func send(_ bytes: [UInt8], then shared: SharedBytes) {
        let queued = bytes.withUnsafeBufferPointer { head in
            let parts = [mona_send_part(shared: 0, data: head.baseAddress, offset: 0, size: head.count), shared.part()]
            return parts.withUnsafeBufferPointer { host.send(connection, parts: $0) }
        }
        if queued >= 0 { queuedBytes = queued }
    }

    /// Closes once what is queued is written.
    func finish() {
        closing = true
        host.close(connection)
    }
}
