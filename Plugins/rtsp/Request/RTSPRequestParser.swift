/// One RTSP request (RFC 2326 §6): method, URL, headers (in order, names as sent) and body.
struct RTSPRequest {
    let method: String
    let url: String
    let headers: [(name: String, value: String)]
    let body: [UInt8]

    /// The first header of that name (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var cseq: String? { header("CSeq") }
}

/// What the bytes at the head of a connection's input hold.
enum RTSPInput {
    case request(RTSPRequest)
    /// A `$` frame (RFC 2326 §10.12): channel and the bytes of the frame (RTP or RTCP).
    case interleaved(channel: UInt8, payload: [UInt8])
    /// A request this server answers with `status` and then goes on: its bytes are consumed.
    case refused(status: Int, cseq: String?, reason: String)
    /// Blank lines between requests, skipped.
    case skipped
    /// Input that cannot be framed: answer `status` (0: nothing) and close the connection.
    case malformed(status: Int, reason: String)
}

/// Frames RTSP input as HTTP is framed (a head of CRLF lines, then Content-Length bytes), interleaved
/// with `$` frames, within limits: a head of at most `maxHead` bytes, a body of `maxBody`, a `$` frame
/// of `maxFrame`. Stateless: it reads the start of the buffer and says how much one unit took.
struct RTSPRequestParser {
    var maxHead = 8192
    var maxBody = 65536
    var maxFrame = 16384

    /// The first unit of `buffer` and the bytes it took, or nil when more bytes are needed.
    func next(_ buffer: ArraySlice<UInt8>) -> (input: RTSPInput, consumed: Int)? {
        guard let first = buffer.first else { return nil }
        if first == UInt8(ascii: "$") {
            guard buffer.count >= 4 else { return nil }
            let start = buffer.startIndex
            let size = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            guard size <= maxFrame else { return (.malformed(status: 0, reason: "an interleaved frame of \(size) bytes"), buffer.count) }
            guard buffer.count >= 4 + size else { return nil }
            return (.interleaved(channel: buffer[start + 1], payload: Array(buffer[start + 4..<start + 4 + size])), 4 + size)
        }
        // Blank lines between requests are tolerated (RFC 2326 §4: a CRLF may precede a request).
        if first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n") {
            let blank = buffer.prefix { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }.count
            return blank == buffer.count && blank < 4 ? nil : (.skipped, blank)
        }
        guard let headEnd = Self.endOfHead(buffer.prefix(maxHead + 4)) else {
            return buffer.count > maxHead ? (.malformed(status: 431, reason: "a request head over \(maxHead) bytes"), buffer.count) : nil
        }
        let head = String(decoding: buffer[buffer.startIndex..<buffer.startIndex + headEnd.head], as: UTF8.self)
        var lines = head.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while lines.last?.isEmpty == true { lines.removeLast() }
        let parts = lines.first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
        guard parts.count == 3, parts[0].allSatisfy({ $0.isLetter || $0 == "_" }), parts[2].hasPrefix("RTSP/") else {
            return (.malformed(status: 400, reason: "a malformed request line"), buffer.count)
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            if let continued = line.first, continued == " " || continued == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingWhitespace()
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                return (.malformed(status: 400, reason: "a malformed header line"), buffer.count)
            }
            headers.append((String(line[..<colon]).trimmingWhitespace(), String(line[line.index(after: colon)...]).trimmingWhitespace()))
        }
        let cseq = headers.first { $0.name.lowercased() == "cseq" }?.value
        var bodySize = 0
        if let length = headers.first(where: { $0.name.lowercased() == "content-length" })?.value {
            guard let size = Int(length), size >= 0 else { return (.malformed(status: 400, reason: "a bad Content-Length"), buffer.count) }
            guard size <= maxBody else { return (.malformed(status: 413, reason: "a body of \(size) bytes"), buffer.count) }
            bodySize = size
        }
        let total = headEnd.head + headEnd.separator + bodySize
        guard buffer.count >= total else { return nil }
        let consumed = total
        guard parts[2] == "RTSP/1.0" else { return (.refused(status: 505, cseq: cseq, reason: "RTSP Version Not Supported"), consumed) }
        guard cseq != nil else { return (.refused(status: 400, cseq: nil, reason: "Bad Request (no CSeq)"), consumed) }
        let bodyStart = buffer.startIndex + headEnd.head + headEnd.separator
        let request = RTSPRequest(method: String(parts[0]), url: String(parts[1]), headers: headers,
                                  body: Array(buffer[bodyStart..<bodyStart + bodySize]))
        return (.request(request), consumed)
    }

    /// The length of the head and of the blank line ending it (CRLFCRLF, or LFLF from lax clients).
    private static func endOfHead(_ bytes: ArraySlice<UInt8>) -> (head: Int, separator: Int)? {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "\n") {
                let next = index + 1
                if next < bytes.endIndex, bytes[next] == UInt8(ascii: "\n") { return (next - bytes.startIndex, 1) }
                if next + 1 < bytes.endIndex, bytes[next] == UInt8(ascii: "\r"), bytes[next + 1] == UInt8(ascii: "\n") {
                    return (next - bytes.startIndex, 2)
                }
            }
            index += 1
        }
        return nil
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        guard let start = firstIndex(where: { $0 != " " && $0 != "\t" }), let end = lastIndex(where: { $0 != " " && $0 != "\t" }) else {
            return ""
        }
        return String(self[start...end])
    }
}
