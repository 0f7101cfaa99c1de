import MonaValues

/// Query strings as MonaServer 1.x speaks them (`mona:toQuery`/`fromQuery`, URL arguments, form
/// bodies `application/x-www-form-urlencoded`).
///
/// Writing: values separated by `&`, object properties as `key=value`, nested tables flattened
/// (`{a={b=1}}` → `a&b=1`), nil as `null`, numbers `%.16g`, dates in the short ISO form, bytes in
/// base64. Reading: consecutive `key=value` pairs form one object, a bare token is a separate value
/// and ends the current object; `+` is a space, a `%` without two hex digits is kept; `null` → nil,
/// `true`/`false` (any case) → boolean, numeric → number, anything else → string.
public enum Query {
    /// Encodes `values` as a query string, with the warnings 1.x would log.
    public static func encode(_ values: [MonaValue]) -> CodecOutput {
        var writer = QueryWriter(graph: CodecValueGraph(values))
        for (position, value) in values.enumerated() {
            writer.writeItem(value, slot: writer.graph.topSlots[position], depth: 0)
        }
        return CodecOutput(bytes: writer.out, warnings: writer.log.messages)
    }

    /// Decodes a query string (without the leading `?`); it cannot fail (see `decodeBytes`).
    public static func decode(_ bytes: [UInt8]) -> [MonaValue] {
        QueryReader.decode(bytes)
    }

    /// Percent-encodes `text` for a query string or a URL path: bytes up to 0x20, from 0x7F, and
    /// `%` `<` `>` `{` `}` `|` `\` `"` `^` `` ` `` `#` `?` `&` `=` `+` become `%XX` (two uppercase
    /// hex digits). Letters, digits, `/`, `:` and the other punctuation are kept.
    public static func percentEncode(_ text: String) -> String {
        var out: [UInt8] = []
        appendEncoded(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// True for the bytes `percentEncode` escapes.
    static func mustEncode(_ byte: UInt8) -> Bool {
        // 1.x: `&`, `=` and `+` were kept, so `toQuery("a&b")` did not round-trip.
        switch byte {
        case 0...0x20, 0x7F...0xFF:
            return true
        case CodecBytes.percent, CodecBytes.less, CodecBytes.greater, 0x7B, 0x7D, 0x7C, CodecBytes.backslash,
             CodecBytes.quote, 0x5E, 0x60, CodecBytes.hash, CodecBytes.question,
             CodecBytes.ampersand, CodecBytes.equal, CodecBytes.plus:
            return true
        default:
            return false
        }
    }

    /// Appends `text` percent-encoded.
    static func appendEncoded(_ text: String, to out: inout [UInt8]) {
        // 1.x: `%2X` padded with a space (`\n` → `% A`); two hex digits now (`%0A`).
        for byte in text.utf8 {
            if mustEncode(byte) {
                out.append(CodecBytes.percent)
                out.append(CodecBytes.hexDigit(byte >> 4))
                out.append(CodecBytes.hexDigit(byte & 0x0F))
            } else {
                out.append(byte)
            }
        }
    }

    /// Decodes a run of a query string: `%XX` sequences, and `+` as a space when `plusAsSpace` (query
    /// strings and form bodies). As 1.x did, and browsers do, a `%` not followed by two hex digits stays
    /// as it is (`one%*$` is `one%*$`); bytes that are not UTF-8 become U+FFFD. One bad escape never
    /// costs the other parameters.
    static func decodeBytes(_ raw: ArraySlice<UInt8>, plusAsSpace: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            if byte == CodecBytes.percent, index + 3 <= raw.endIndex,
               let high = CodecBytes.hexValue(raw[index + 1]), let low = CodecBytes.hexValue(raw[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusAsSpace && byte == CodecBytes.plus ? 0x20 : byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
