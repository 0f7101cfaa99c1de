// Request paths to application paths, as MonaServer maps HTTP and WebSocket URLs.

/// A request path split MonaServer's way: without a trailing slash the last segment is a file (or a
/// method) of the application that is the rest; "." and ".." are resolved and cannot climb above "/".
public struct HTTPPath {
    /// "" for the root, else "/a/b".
    public let application: String
    /// The file or method name, "" for the application's folder.
    public let file: String
    /// False for a path with a NUL or a backslash-trick that cannot be served.
    public let isValid: Bool

    public init(_ path: String) {
        var parts: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(segment)
        }
        isValid = !path.utf8.contains(0) && !path.contains("\\")
        let endsWithSlash = path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..")
        if endsWithSlash || parts.isEmpty {
            application = parts.isEmpty ? "" : "/" + parts.joined(separator: "/")
            file = ""
        } else {
            application = parts.count > 1 ? "/" + parts.dropLast().joined(separator: "/") : ""
            file = String(parts.last!)
        }
    }
}
