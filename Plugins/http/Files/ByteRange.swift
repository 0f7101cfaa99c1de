// Single byte ranges of static files (RFC 9110 §14): "bytes=a-b", "bytes=a-", "bytes=-n", guarded by
// If-Range. Several ranges are answered with the whole file (no multipart/byteranges), as RFC 9110
// allows a server to ignore Range.

import MonaPluginKit

/// What a Range request asks of a file of known size.
enum ByteRangeOutcome: Equatable, Sendable {
    /// 200 with the whole file.
    case full
    /// 206 with bytes first...last (inclusive, last < size).
    case partial(first: Int, last: Int)
    /// 416: the range starts past the end (or asks for a zero-length suffix).
    case unsatisfiable
}

/// Evaluation of the Range and If-Range request headers against a file.
enum ByteRange {
    /// A single "bytes=a-b", "bytes=a-", "bytes=-n" range against a file size; several ranges → .full (we don't
    /// do multipart); a malformed header or another unit → .full; a range starting past the end (or "-0") →
    /// .unsatisfiable; If-Range with a non-matching validator (strong etag or exact Last-Modified date) → .full.
    /// Clamps `last` to size-1.
    static func evaluate(rangeHeader: String?, ifRange: String?, validators: FileValidators) -> ByteRangeOutcome {
        guard let rangeHeader else { return .full }
        if let ifRange, !ifRangeMatches(ifRange, validators) { return .full }
        let header = FileText.trim(rangeHeader)
        guard let equals = header.firstIndex(of: "="),
              FileText.equalsIgnoringCase(FileText.trim(header[..<equals]), "bytes") else { return .full }
        let ranges = header[header.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
            .map { FileText.trim($0) }.filter { !$0.isEmpty }
        guard ranges.count == 1 else { return .full }
        return single(ranges[0], size: validators.size)
    }

    /// One "a-b", "a-" or "-n" element.
    private static func single(_ range: Substring, size: Int) -> ByteRangeOutcome {
        guard let dash = range.firstIndex(of: "-") else { return .full }
        let firstText = range[..<dash]
        let lastText = range[range.index(after: dash)...]
        if firstText.isEmpty { // suffix: the last n bytes
            guard let length = FileText.decimal(lastText) else { return .full }
            guard length > 0, size > 0 else { return .unsatisfiable }
            return .partial(first: size - min(length, size), last: size - 1)
        }
        guard let first = FileText.decimal(firstText) else { return .full }
        var last = Int.max
        if !lastText.isEmpty {
            guard let value = FileText.decimal(lastText), value >= first else { return .full }
            last = value
        }
        guard first < size else { return .unsatisfiable }
        return .partial(first: first, last: min(last, size - 1))
    }

    /// Whether an If-Range value (an entity tag, compared strongly, or an HTTP date equal to Last-Modified)
    /// still identifies the file; anything unparsable does not.
    private static func ifRangeMatches(_ value: String, _ validators: FileValidators) -> Bool {
        let trimmed = FileText.trim(value)
        if trimmed.hasPrefix("\"") || trimmed.hasPrefix("W/") {
            return FileConditions.EntityTag.single(value)?.strongMatches(validators.etag) ?? false
        }
        guard let date = HTTPDate.parse(value) else { return false }
        return date == validators.modified
    }
}
