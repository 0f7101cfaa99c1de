/// An RTSP response (RFC 2326 §7): status line, CSeq echoed, the server's headers, then a body.
struct RTSPResponse {
    var status: Int
    var reason: String?
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    init(_ status: Int, reason: String? = nil, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The bytes of the response to a request with `cseq`.
    func encode(cseq: String?) -> [UInt8] {
        // A reason is one line of text: a message from Lua loses its line breaks.
        let phrase = (reason ?? Self.phrase(status)).map { $0 == "\r" || $0 == "\n" ? " " : $0 }
        var text = "RTSP/1.0 \(status) \(String(phrase))\r\n"
        if let cseq { text += "CSeq: \(cseq)\r\n" }
        text += "Server: MonaServer\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 413: "Request Entity Too Large"
        case 415: "Unsupported Media Type"
        case 431: "Request Header Fields Too Large"
        case 453: "Not Enough Bandwidth"
        case 454: "Session Not Found"
        case 455: "Method Not Valid in This State"
        case 459: "Aggregate Operation Not Allowed"
        case 461: "Unsupported Transport"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "RTSP Version Not Supported"
        default: "Error"
        }
    }
}
