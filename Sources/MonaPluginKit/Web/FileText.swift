// Small text helpers shared by the static-file code (no Foundation): ASCII trimming and lowering,
// HTML escaping, URL percent-encoding and decimal parsing.

/// ASCII-level text helpers for headers, file names and generated HTML.
public enum FileText {
    /// True for space and horizontal tab (HTTP's optional white space).
    public static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// `text` without leading and trailing spaces and tabs.
    public static func trim(_ text: Substring) -> Substring {
        var start = text.utf8.startIndex
        var end = text.utf8.endIndex
        while start < end, isBlank(text.utf8[start]) { start = text.utf8.index(after: start) }
        while end > start, isBlank(text.utf8[text.utf8.index(before: end)]) { end = text.utf8.index(before: end) }
        return Substring(text.utf8[start..<end])
    }

    /// `text` without leading and trailing spaces and tabs.
    public static func trim(_ text: String) -> Substring { trim(text[...]) }

    /// `text` with A–Z lowered (other characters untouched).
    public static func lowerASCII<S: StringProtocol>(_ text: S) -> String {
        String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Whether `text` equals `other`, ignoring the case of ASCII letters.
    public static func equalsIgnoringCase<S: StringProtocol>(_ text: S, _ other: String) -> Bool {
        guard text.utf8.count == other.utf8.count else { return false }
        for (left, right) in zip(text.utf8, other.utf8) where left != right {
            let lower = left >= 0x41 && left <= 0x5A ? left | 0x20 : left
            let otherLower = right >= 0x41 && right <= 0x5A ? right | 0x20 : right
            if lower != otherLower { return false }
        }
        return true
    }

    /// A non-empty run of decimal digits as an Int (saturating at Int.max), nil for anything else.
    public static func decimal<S: StringProtocol>(_ text: S) -> Int? {
        guard !text.utf8.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - 0x30))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }

    /// `text` with &, <, >, " and ' replaced by character references.
    public static func escapeHTML(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `text` percent-encoded as one URL path segment: every UTF-8 byte except A–Z a–z 0–9 - . _ ~ becomes %XX.
    public static func encodeURLSegment(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E:
                bytes.append(byte)
            default:
                bytes += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value` in decimal, left-padded with zeros to `width` digits.
    public static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
