/// The parts of a request URL that matter to the server: `rtsp://[user[:password]@]host[:port]/app/sub/stream[?query]`
/// (or an absolute path). The application is everything before the last segment, which names the
/// stream; a SETUP URL has one more segment, the track's control (resolved by the session).
struct RTSPURL: Equatable {
    var user: String?
    var password: String?
    var server: String?
    /// The path segments (no empty ones).
    var segments: [String]
    var query: String

    /// The URL's parts, or nil when it is neither rtsp:// nor an absolute path.
    init?(_ text: String) {
        var rest = Substring(text)
        if rest.lowercased().hasPrefix("rtsp://") {
            rest = rest.dropFirst(7)
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            rest = rest.dropFirst(authority.count)
            var host = authority
            if let at = authority.lastIndex(of: "@") {
                let credentials = authority[..<at]
                host = authority[authority.index(after: at)...]
                let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                user = Self.decode(parts[0])
                password = parts.count > 1 ? Self.decode(parts[1]) : nil
            }
            server = host.isEmpty ? nil : String(host)
        } else if !rest.hasPrefix("/") {
            return nil
        }
        let path = rest.prefix { $0 != "?" }
        var query = rest.dropFirst(path.count).dropFirst()
        var segments = path.split(separator: "/").map(String.init)
        // A track URL built on a base that kept the query: ".../stream?x=y/trackID=0".
        if let slash = query.lastIndex(of: "/") {
            segments.append(String(query[query.index(after: slash)...]))
            query = query[..<slash]
        }
        guard !segments.contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        self.segments = segments
        self.query = String(query)
    }

    /// The application path ("" or "/app/sub") and stream name when the last `trailing` segments are
    /// not part of them (1 for a track URL).
    func application(dropping trailing: Int = 0) -> (path: String, stream: String) {
        let kept = segments.dropLast(trailing)
        guard let stream = kept.last else { return ("", "") }
        return (kept.dropLast().map { "/" + $0 }.joined(), stream)
    }

    /// Percent-decoded text (credentials may carry reserved characters).
    private static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let end = utf8.index(index, offsetBy: 3, limitedBy: utf8.endIndex),
               let value = Hex.decode(Substring(String(decoding: utf8[utf8.index(after: index)..<end], as: UTF8.self))) {
                bytes += value
                index = end
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
