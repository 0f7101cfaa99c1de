// MonaServer's templates (protocols.md §4.4): in a text file served with parameters, every "<% key %>"
// is replaced by the parameter's value. Plain substitution, no code execution.

/// Substitutes "<% key %>" tokens in file content.
enum Template {
    /// Every "<% key %>" (spaces optional) is replaced by values[key] (missing keys → ""), plain substitution,
    /// one pass (a replacement is never re-scanned). A "<%" without a closing "%>" before the next "<%" or
    /// the end stays as is. Linear time: each byte is examined a bounded number of times.
    static func apply(_ bytes: [UInt8], values: [String: String]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        let count = bytes.count
        var copied = 0 // bytes[..<copied] are handled
        var index = 0
        while index + 1 < count {
            guard bytes[index] == 0x3C, bytes[index + 1] == 0x25 else { // "<%"
                index += 1
                continue
            }
            // Look for "%>" after "<%"; another "<%" first makes this one literal text.
            var scan = index + 2
            var close: Int?
            while scan + 1 < count {
                if bytes[scan] == 0x25, bytes[scan + 1] == 0x3E { close = scan; break }
                if bytes[scan] == 0x3C, bytes[scan + 1] == 0x25 { break }
                scan += 1
            }
            guard let close else {
                index = scan // the next "<%" (or the end): examined again from there
                continue
            }
            output += bytes[copied..<index]
            var start = index + 2
            var end = close
            while start < end, isSpace(bytes[start]) { start += 1 }
            while end > start, isSpace(bytes[end - 1]) { end -= 1 }
            if let value = values[String(decoding: bytes[start..<end], as: UTF8.self)] { output += value.utf8 }
            index = close + 2
            copied = index
        }
        output += bytes[copied...]
        return output
    }

    /// Space, tab, CR or LF around a key.
    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
}
