// The values the HTTP/1.1 request parser produces, and the syntax checks of a complete request head
// (request line, header fields, request target). Framing (body length) is decided in HTTPRequestParser.swift.

#if canImport(Glibc)
import Glibc
#endif

/// One parsed request head, immutable: a class, so that handing it from the parser to the queue, the
/// handler and the response costs one reference count, not one per field.
final class HTTPRequestHead: Equatable, Sendable {
    /// The method as sent, e.g. "GET" (case-sensitive, token characters only).
    let method: String
    /// The raw request target, e.g. "/app/file.txt?x=1".
    let target: String
    /// The percent-decoded path part of the target, without the query ("*" for `OPTIONS *`).
    let path: String
    /// The raw query without "?", "" if none.
    let query: String
    /// HTTP/1.x → x: 0 or 1 (a higher 1.x minor version is treated as 1, RFC 9110 §2.5).
    let versionMinor: Int
    /// The header fields in order, names as sent, values without leading and trailing whitespace.
    let headers: [(name: String, value: String)]
    /// Whether the connection persists after this request (Connection header and version defaults).
    let keepAlive: Bool
    /// Whether the client waits for "100 Continue" before sending the body (HTTP/1.1 only).
    let expectsContinue: Bool

    init(method: String, target: String, path: String, query: String, versionMinor: Int,
         headers: [(name: String, value: String)], keepAlive: Bool, expectsContinue: Bool) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.versionMinor = versionMinor
        self.headers = headers
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }

    /// The value of the first header field named `name` (compared case-insensitively), or nil.
    /// A GET asking to switch to WebSocket (`Upgrade: websocket`): what follows it is not HTTP.
    var isWebSocketUpgrade: Bool {
        method == "GET" && header("Upgrade").map { HTTPSyntax.equalsIgnoringCase($0, "websocket") } == true
    }

    func header(_ name: String) -> String? {
        for field in headers where HTTPSyntax.equalsIgnoringCase(field.name, name) { return field.value }
        return nil
    }

    static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        guard lhs.method == rhs.method, lhs.target == rhs.target, lhs.path == rhs.path, lhs.query == rhs.query,
              lhs.versionMinor == rhs.versionMinor, lhs.keepAlive == rhs.keepAlive,
              lhs.expectsContinue == rhs.expectsContinue, lhs.headers.count == rhs.headers.count else { return false }
        for (left, right) in zip(lhs.headers, rhs.headers) where left.name != right.name || left.value != right.value {
            return false
        }
        return true
    }
}

/// The bounds the parser enforces so that one connection never holds more than a few kilobytes of head.
struct HTTPLimits: Equatable, Sendable {
    /// The request line plus all header lines (and, separately, all trailer lines), in bytes.
    var maxHeadBytes = 16384
    /// Header field lines in one head.
    var maxHeaderCount = 100
    /// Bytes of the raw request target.
    var maxTargetLength = 8192
    /// Bytes of one request body (declared by Content-Length or summed over chunks).
    var maxBodyBytes = 16 << 20
}

/// What fed bytes complete, in order.
enum HTTPParseEvent: Equatable, Sendable {
    /// A request head is complete.
    case head(HTTPRequestHead)
    /// A piece of its body (decoded from chunked if needed), possibly several per request.
    case body([UInt8])
    /// The request (head + body) is complete.
    case end
    /// Bytes after a WebSocket upgrade request: they belong to the protocol the connection switches to.
    case tunnel([UInt8])
}

/// Why a request is refused; the connection is answered with `status` and closed.
enum HTTPParseError: Error, Equatable, Sendable {
    /// 400: malformed request line, header, chunk, target or framing.
    case badRequest(String)
    /// 414: the request target is longer than `maxTargetLength`.
    case uriTooLong
    /// 431: the head is over `maxHeadBytes` or has more than `maxHeaderCount` header fields.
    case headersTooLarge
    /// 413: the body is over `maxBodyBytes`.
    case payloadTooLarge
    /// 505: an HTTP version other than 1.x.
    case versionNotSupported
    /// 501: a transfer coding other than chunked.
    case notImplemented(String)

    /// The HTTP status code of the answer.
    var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .payloadTooLarge: 413
        case .versionNotSupported: 505
        case .notImplemented: 501
        }
    }
}

/// Byte classes and small ASCII helpers of the HTTP grammar (RFC 9110 §5.6).
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, space: UInt8 = 0x20, tab: UInt8 = 0x09

    /// tchar: the characters of methods, header names and transfer codings.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// A decimal digit.
    static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// A control character (C0 or DEL).
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// The value of a hexadecimal digit, or nil.
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    /// ASCII case-insensitive equality, without allocating.
    static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        for (left, right) in zip(lhs.utf8, rhs.utf8) where lower(left) != lower(right) { return false }
        return true
    }

    /// An ASCII letter in lower case; other bytes unchanged.
    static func lower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// The elements of a comma-separated list value, trimmed, lowercased, empty ones dropped.
    static func listTokens(_ value: String) -> [String] {
        value.split(separator: ",").compactMap { element in
            let trimmed = trim(Array(element.utf8)[...])
            return trimmed.isEmpty ? nil : String(decoding: trimmed.map(lower), as: UTF8.self)
        }
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == space || bytes[start] == tab { start += 1 }
        while end > start, bytes[end - 1] == space || bytes[end - 1] == tab { end -= 1 }
        return bytes[start..<end]
    }
}

/// Checks the syntax of a complete request head and builds its `HTTPRequestHead`.
enum HTTPHeadParser {
    /// `buffer` holds the whole head: the request line ending at `requestLineEnd` (after its LF), then the
    /// header lines, then the empty line. Lines end with LF, optionally preceded by CR.
    static func parse(_ buffer: [UInt8], requestLineEnd: Int, limits: HTTPLimits) throws(HTTPParseError) -> HTTPRequestHead {
        let line = stripLineEnd(buffer[0..<requestLineEnd])
        let start = try requestLine(line, limits: limits)
        let headers = try fields(buffer[requestLineEnd...], limits: limits)
        var close = false, keepAlive = false, continues = false
        for field in headers {
            if HTTPSyntax.equalsIgnoringCase(field.name, "Connection") {
                for token in HTTPSyntax.listTokens(field.value) {
                    if token == "close" { close = true } else if token == "keep-alive" { keepAlive = true }
                }
            } else if HTTPSyntax.equalsIgnoringCase(field.name, "Expect") {
                if HTTPSyntax.listTokens(field.value).contains("100-continue") { continues = true }
            }
        }
        return HTTPRequestHead(method: start.method, target: start.target, path: start.path, query: start.query,
                               versionMinor: start.versionMinor, headers: headers,
                               keepAlive: start.versionMinor >= 1 ? !close : keepAlive && !close,
                               expectsContinue: continues && start.versionMinor >= 1) // RFC 9110 §10.1.1: ignored from HTTP/1.0
    }

    /// What the request line gives.
    struct RequestLine {
        let method: String, target: String, path: String, query: String, versionMinor: Int
    }

    /// A line without its final LF and the CR before it.
    static func stripLineEnd(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var end = line.endIndex
        if end > line.startIndex, line[end - 1] == HTTPSyntax.lf { end -= 1 }
        if end > line.startIndex, line[end - 1] == HTTPSyntax.cr { end -= 1 }
        return line[line.startIndex..<end]
    }

    /// `METHOD SP target SP HTTP/1.x`; the returned head has no headers yet. As in MonaServer 1.x, a
    /// line without its version (`METHOD SP target`, with or without the last space: 1.x's own test
    /// clients send `POST /app/ ` and headers) is HTTP/1.1.
    static func requestLine(_ line: ArraySlice<UInt8>, limits: HTTPLimits) throws(HTTPParseError) -> RequestLine {
        // Method, target, version, separated by single spaces (found without allocating).
        guard let first = line.firstIndex(of: HTTPSyntax.space), first > line.startIndex else {
            throw .badRequest("malformed request line")
        }
        let second = line[(first + 1)...].firstIndex(of: HTTPSyntax.space) ?? line.endIndex
        guard second > first + 1, second == line.endIndex || !line[(second + 1)...].contains(HTTPSyntax.space) else {
            throw .badRequest("malformed request line")
        }
        let minor = second + 1 >= line.endIndex ? 1 : try version(line[(second + 1)...])
        let methodBytes = line[line.startIndex..<first]
        guard methodBytes.allSatisfy(HTTPSyntax.isToken) else { throw .badRequest("invalid method") }
        let method = Self.knownMethod(methodBytes) ?? String(decoding: methodBytes, as: UTF8.self)
        let rawTarget = line[(first + 1)..<second]
        guard rawTarget.count <= limits.maxTargetLength else { throw .uriTooLong }
        guard !rawTarget.contains(where: HTTPSyntax.isControl) else {
            throw .badRequest("control character in request target")
        }
        // ASCII (the usual target) is valid UTF-8: decoded without the generic validation.
        let target: String
        if rawTarget.allSatisfy({ $0 < 0x80 }) {
            target = rawTarget.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
        } else {
            guard let valid = String(validating: rawTarget, as: UTF8.self) else {
                throw .badRequest("request target is not UTF-8")
            }
            target = valid
        }
        guard !rawTarget.contains(UInt8(ascii: "#")) else { throw .badRequest("fragment in request target") }
        let (path, query) = try pathAndQuery(rawTarget, method: method)
        return RequestLine(method: method, target: target, path: path, query: query, versionMinor: minor)
    }

    /// The minor version of `HTTP/1.x`; other well-formed versions are not supported (505).
    static func version(_ text: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        let start = text.startIndex
        guard text.count > 5, text[start] == UInt8(ascii: "H"), text[start + 1] == UInt8(ascii: "T"),
              text[start + 2] == UInt8(ascii: "T"), text[start + 3] == UInt8(ascii: "P"), text[start + 4] == UInt8(ascii: "/")
        else { throw .badRequest("invalid HTTP version") }
        // "major[.minor]", each a non-empty run of digits, at most one dot.
        let numbers = text.dropFirst(5)
        let dot = numbers.firstIndex(of: UInt8(ascii: "."))
        let major = numbers[numbers.startIndex..<(dot ?? numbers.endIndex)]
        let minorDigits = dot.map { numbers[($0 + 1)...] }
        guard !major.isEmpty, major.allSatisfy(HTTPSyntax.isDigit) else { throw .badRequest("invalid HTTP version") }
        if let minorDigits {
            guard !minorDigits.isEmpty, minorDigits.allSatisfy(HTTPSyntax.isDigit) else {
                throw .badRequest("invalid HTTP version")
            }
        }
        guard major.count == 1, major[major.startIndex] == UInt8(ascii: "1") else { throw .versionNotSupported }
        guard let minorDigits, minorDigits.count == 1, let minor = HTTPSyntax.hexValue(minorDigits[minorDigits.startIndex])
        else { throw .badRequest("invalid HTTP version") }
        return min(minor, 1)
    }

    /// The common methods as constant strings (no allocation, and fast comparisons later).
    static func knownMethod(_ bytes: ArraySlice<UInt8>) -> String? {
        func equals(_ name: StaticString) -> Bool {
            guard bytes.count == name.utf8CodeUnitCount else { return false }
            return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, name.utf8Start, $0.count) == 0 }
        }
        switch bytes.first {
        case UInt8(ascii: "G"): if equals("GET") { return "GET" }
        case UInt8(ascii: "P"):
            if equals("POST") { return "POST" }
            if equals("PUT") { return "PUT" }
        case UInt8(ascii: "H"): if equals("HEAD") { return "HEAD" }
        case UInt8(ascii: "O"): if equals("OPTIONS") { return "OPTIONS" }
        default: break
        }
        return nil
    }

    /// The decoded path and raw query of an origin-form, absolute-form or asterisk-form target.
    static func pathAndQuery(_ target: ArraySlice<UInt8>, method: String) throws(HTTPParseError) -> (String, String) {
        if target.elementsEqual("*".utf8) {
            guard method == "OPTIONS" else { throw .badRequest("'*' target is only for OPTIONS") }
            return ("*", "")
        }
        var rest = target
        if target.first != UInt8(ascii: "/") {
            // absolute-form: scheme "://" authority [path-abempty] ["?" query]
            let lowered = target.prefix(8).map(HTTPSyntax.lower)
            let scheme = lowered.starts(with: "http://".utf8) ? 7 : lowered.starts(with: "https://".utf8) ? 8 : 0
            guard scheme > 0 else { throw .badRequest("invalid request target") }
            rest = target.dropFirst(scheme)
            let authorityEnd = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
            guard authorityEnd > rest.startIndex else { throw .badRequest("absolute target without host") }
            rest = rest[authorityEnd...]
        }
        let queryStart = rest.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = rest[rest.startIndex..<(queryStart ?? rest.endIndex)]
        let query = queryStart.map { String(decoding: rest[($0 + 1)...], as: UTF8.self) } ?? ""
        let path = rawPath.isEmpty ? "/" : try percentDecoded(rawPath)
        return (path, query)
    }

    /// `%XX` sequences replaced by their byte ("+" stays "+"); the result must be UTF-8 without NUL.
    static func percentDecoded(_ raw: ArraySlice<UInt8>) throws(HTTPParseError) -> String {
        guard raw.contains(UInt8(ascii: "%")) else { return String(decoding: raw, as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); index += 1; continue }
            guard index + 2 < raw.endIndex, let high = HTTPSyntax.hexValue(raw[index + 1]),
                  let low = HTTPSyntax.hexValue(raw[index + 2])
            else { throw .badRequest("invalid percent-encoding in path") }
            let decoded = UInt8(high << 4 | low)
            guard decoded != 0 else { throw .badRequest("NUL in path") }
            bytes.append(decoded)
            index += 3
        }
        guard let path = String(validating: bytes, as: UTF8.self) else { throw .badRequest("path is not UTF-8") }
        return path
    }

    /// The header lines of `section` (which ends with the empty line), at most `maxHeaderCount` of them.
    static func fields(_ section: ArraySlice<UInt8>,
                       limits: HTTPLimits) throws(HTTPParseError) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var lineStart = section.startIndex
        while let newline = section[lineStart...].firstIndex(of: HTTPSyntax.lf) {
            let line = stripLineEnd(section[lineStart...newline])
            lineStart = newline + 1
            if line.isEmpty { break }
            guard result.count < limits.maxHeaderCount else { throw .headersTooLarge }
            let first = line[line.startIndex]
            guard first != HTTPSyntax.space, first != HTTPSyntax.tab else {
                throw .badRequest("obsolete line folding in header")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .badRequest("header without colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(HTTPSyntax.isToken) else { throw .badRequest("invalid header name") }
            let value = HTTPSyntax.trim(line[(colon + 1)...])
            guard !value.contains(where: { HTTPSyntax.isControl($0) && $0 != HTTPSyntax.tab }) else {
                throw .badRequest("control character in header value")
            }
            result.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return result
    }
}
