// Conditional requests on static files (RFC 9110 §8.8 validators, §13 preconditions). MonaServer 1.x
// only honoured If-Modified-Since (protocols.md §4.4); here are ETag, If-Match, If-None-Match and
// If-Unmodified-Since too, evaluated in the order of RFC 9110 §13.2.2.

import MonaPluginKit

/// The validators of one file: its size, modification time and strong entity tag.
struct FileValidators: Equatable, Sendable {
    let size: Int
    /// Modification time, seconds since 1970 (the Last-Modified value).
    let modified: Int
    /// Strong entity tag, quotes included: "\"<size hex>-<mtime in ns hex>\"".
    let etag: String

    init(size: Int, modifiedSeconds: Int, modifiedNanoseconds: Int) {
        self.size = size
        modified = modifiedSeconds
        let nanoseconds = modifiedSeconds &* 1_000_000_000 &+ modifiedNanoseconds
        etag = "\"\(String(size, radix: 16))-\(String(UInt64(bitPattern: Int64(nanoseconds)), radix: 16))\""
    }
}

/// What the preconditions of a request say about serving the file.
enum ConditionalOutcome: Equatable, Sendable {
    case send, notModified, preconditionFailed
}

/// Evaluation of the preconditions of a GET/HEAD (or other) request for a file.
enum FileConditions {
    /// RFC 9110 §13.2.2 order: If-Match (→ 412), If-Unmodified-Since (→ 412, only without If-Match),
    /// If-None-Match (GET/HEAD → 304, other methods → 412; weak comparison, "*" matches),
    /// If-Modified-Since (only without If-None-Match, GET/HEAD; file modified at or before the date → 304).
    /// Unparsable dates are ignored. `header` returns a request header by name (case-insensitive).
    static func evaluate(method: String, header: (String) -> String?,
                         validators: FileValidators) -> ConditionalOutcome {
        let safe = method == "GET" || method == "HEAD"
        if let ifMatch = header("If-Match") {
            if FileText.trim(ifMatch) != "*",
               !EntityTag.list(ifMatch).contains(where: { $0.strongMatches(validators.etag) }) {
                return .preconditionFailed
            }
        } else if let ifUnmodifiedSince = header("If-Unmodified-Since"),
                  let date = HTTPDate.parse(ifUnmodifiedSince), validators.modified > date {
            return .preconditionFailed
        }
        if let ifNoneMatch = header("If-None-Match") {
            if FileText.trim(ifNoneMatch) == "*"
                || EntityTag.list(ifNoneMatch).contains(where: { $0.weakMatches(validators.etag) }) {
                return safe ? .notModified : .preconditionFailed
            }
        } else if safe, let ifModifiedSince = header("If-Modified-Since"),
                  let date = HTTPDate.parse(ifModifiedSince), validators.modified <= date {
            return .notModified
        }
        return .send
    }
}

extension FileConditions {
    /// One entity tag of a header list.
    struct EntityTag: Equatable, Sendable {
        /// The tag with its quotes, without "W/".
        var opaque: String
        /// Whether it was sent as W/"…".
        var weak: Bool

        /// Parses a comma-separated list of entity tags (`W/"x", "y"`); parsing stops at the first malformed element.
        static func list(_ text: String) -> [EntityTag] {
            let bytes = Array(text.utf8)
            var tags: [EntityTag] = []
            var index = 0
            while index < bytes.count {
                while index < bytes.count, bytes[index] == 0x2C || FileText.isBlank(bytes[index]) { index += 1 }
                guard index < bytes.count else { break }
                var weak = false
                if index + 1 < bytes.count, bytes[index] == 0x57, bytes[index + 1] == 0x2F { // W/
                    weak = true
                    index += 2
                }
                guard index < bytes.count, bytes[index] == 0x22,
                      let close = bytes[(index + 1)...].firstIndex(of: 0x22) else { break }
                tags.append(EntityTag(opaque: String(decoding: bytes[index...close], as: UTF8.self), weak: weak))
                index = close + 1
            }
            return tags
        }

        /// Parses a single entity tag (the whole text), nil if it is not one.
        static func single(_ text: String) -> EntityTag? {
            let trimmed = FileText.trim(text)
            let body = trimmed.hasPrefix("W/") ? trimmed.dropFirst(2) : trimmed
            guard body.utf8.count >= 2, body.first == "\"", body.last == "\"",
                  !body.dropFirst().dropLast().contains("\"") else { return nil }
            return EntityTag(opaque: String(body), weak: trimmed.hasPrefix("W/"))
        }

        /// Strong comparison (RFC 9110 §8.8.3.2): both strong and the same opaque tag.
        func strongMatches(_ etag: String) -> Bool { !weak && opaque == etag }

        /// Weak comparison: the same opaque tag, whether weak or not.
        func weakMatches(_ etag: String) -> Bool { opaque == etag }
    }
}
