/// How path components (arbitrary Lua keys) become folder names, and back.
///
/// An ordinary key is its own folder name, byte for byte, exactly as MonaServer 1.x stored it. A key that
/// would be unsafe or ambiguous on disk is written as `%` followed by the key with `%`, `/` and NUL
/// percent-encoded (`%25`, `%2F`, `%00`). Unsafe keys are: the empty key, `.`, `..`, keys holding `/` or
/// NUL, keys starting with `%` (the marker itself), with the temp prefix or with the tombstone prefix, and
/// keys of exactly 32 lowercase hex characters (they would read as value files).
///
/// Decoding is total over folder names: a name is a canonical encoding when re-encoding its decoded key
/// gives the name back. Any other name (valid UTF-8) is a 1.x folder whose key is the name itself; load()
/// renames such folders to their canonical form. An encoded name never contains `/`, is never `.` or `..`,
/// and never starts with a reserved prefix, so no key can escape the data root or look like our own files.
enum KeyCodec {
    /// Prefix of the temporary file a value is written to before its rename (regular files only).
    static let tempPrefix: [UInt8] = Array(".mona-tmp-".utf8)
    /// Prefix of a removed entry's folder, renamed before its recursive deletion.
    static let tombstonePrefix: [UInt8] = Array(".mona-del-".utf8)
    /// First byte of an encoded name.
    static let marker: UInt8 = 0x25  // "%"

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// True when `name` starts with `prefix`.
    static func hasPrefix(_ name: [UInt8], _ prefix: [UInt8]) -> Bool {
        name.count >= prefix.count && name[0..<prefix.count].elementsEqual(prefix)
    }

    /// True when the key must be encoded to be stored as a folder name.
    static func needsEncoding(_ key: [UInt8]) -> Bool {
        if key.isEmpty || key == [0x2E] || key == [0x2E, 0x2E] { return true }
        if key.first == marker || key.contains(0x2F) || key.contains(0) { return true }
        if hasPrefix(key, tempPrefix) || hasPrefix(key, tombstonePrefix) { return true }
        return MD5.isDigestName(key)
    }

    /// The folder name of `key`.
    static func encode(_ key: String) -> [UInt8] {
        let bytes = Array(key.utf8)
        guard needsEncoding(bytes) else { return bytes }
        var name: [UInt8] = [marker]
        name.reserveCapacity(bytes.count + 8)
        for byte in bytes {
            if byte == marker || byte == 0x2F || byte == 0 {
                name.append(marker)
                name.append(hexDigits[Int(byte >> 4)])
                name.append(hexDigits[Int(byte & 0x0F)])
            } else {
                name.append(byte)
            }
        }
        return name
    }

    /// The key a folder name stands for, and whether the name is that key's canonical encoding. Nil for a
    /// name that is not valid UTF-8 (not a key we can represent: left alone as foreign).
    static func decode(_ name: [UInt8]) -> (key: String, canonical: Bool)? {
        if name.first == marker, let bytes = unescape(name.dropFirst()),
            let key = String(validating: bytes, as: UTF8.self), encode(key) == name
        {
            return (key, true)
        }
        guard let key = String(validating: name, as: UTF8.self) else { return nil }
        return (key, encode(key) == name)
    }

    /// `%XX`-decoded bytes, or nil when an escape is malformed.
    private static func unescape(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte != marker {
                out.append(byte)
                index += 1
                continue
            }
            guard text.endIndex - index >= 3, let high = hexValue(text[index + 1]), let low = hexValue(text[index + 2])
            else { return nil }
            out.append(high << 4 | low)
            index += 3
        }
        return out
    }

    /// The value of an uppercase hex digit.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }
}
