/// XML escaping on write and entity decoding on read, shared by the XML DOM and XML-RPC.
enum XMLEscape {
    /// Appends text with `&`, `<`, `>` escaped.
    static func appendText(_ text: String, to out: inout [UInt8]) {
        // 1.x: toXML and toXMLRPC wrote text raw.
        for byte in text.utf8 {
            switch byte {
            case CodecBytes.ampersand: out.append(contentsOf: "&amp;".utf8)
            case CodecBytes.less: out.append(contentsOf: "&lt;".utf8)
            case CodecBytes.greater: out.append(contentsOf: "&gt;".utf8)
            default: out.append(byte)
            }
        }
    }

    /// Appends an attribute value with `&`, `<`, `>` and `"` escaped.
    static func appendAttribute(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case CodecBytes.ampersand: out.append(contentsOf: "&amp;".utf8)
            case CodecBytes.less: out.append(contentsOf: "&lt;".utf8)
            case CodecBytes.greater: out.append(contentsOf: "&gt;".utf8)
            case CodecBytes.quote: out.append(contentsOf: "&quot;".utf8)
            default: out.append(byte)
            }
        }
    }

    /// Decodes the entities of `raw` (whose first byte is at input offset `offset`) and checks UTF-8.
    ///
    /// The five named entities and `&#N;`/`&#xH;` are decoded; a malformed character reference is an
    /// error; an unknown name (`&nbsp;`) or an `&` not starting a reference is kept literally.
    static func decode(_ raw: ArraySlice<UInt8>, offset: Int) throws(CodecError) -> String {
        // 1.x: entities were not decoded, neither by fromXML nor by fromXMLRPC.
        guard raw.contains(CodecBytes.ampersand) else {
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw CodecError(offset: offset, message: "XML: invalid UTF-8")
            }
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == CodecBytes.ampersand, let end = referenceEnd(raw, from: index) else {
                out.append(byte)
                index += 1
                continue
            }
            let name = raw[(index + 1)..<end]
            let at = offset + (index - raw.startIndex)
            if name.first == CodecBytes.hash {
                CodecBytes.appendUTF8(try characterReference(name.dropFirst(), at: at), to: &out)
            } else if let replacement = named(name) {
                out.append(replacement)
            } else {
                out.append(contentsOf: raw[index...end])
            }
            index = end + 1
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw CodecError(offset: offset, message: "XML: invalid UTF-8")
        }
        return text
    }

    /// The index of the `;` closing a reference that starts with `&` at `start`: a run of at most
    /// 32 name characters (letters, digits, `#`, `_`, `-`, `.`, `:`). Nil when there is none.
    private static func referenceEnd(_ raw: ArraySlice<UInt8>, from start: Int) -> Int? {
        var index = start + 1
        while index < raw.endIndex, index - start <= 33 {
            let byte = raw[index]
            if byte == CodecBytes.semicolon { return index > start + 1 ? index : nil }
            let isNameByte = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
                || (0x61...0x7A).contains(byte) || byte == CodecBytes.hash || byte == 0x5F
                || byte == CodecBytes.minus || byte == CodecBytes.dot || byte == CodecBytes.colon
            guard isNameByte else { return nil }
            index += 1
        }
        return nil
    }

    private static func named(_ name: ArraySlice<UInt8>) -> UInt8? {
        switch Array(name) {
        case Array("lt".utf8): return CodecBytes.less
        case Array("gt".utf8): return CodecBytes.greater
        case Array("amp".utf8): return CodecBytes.ampersand
        case Array("quot".utf8): return CodecBytes.quote
        case Array("apos".utf8): return CodecBytes.apostrophe
        default: return nil
        }
    }

    /// `N` or `xH` of `&#N;`/`&#xH;`: a Unicode scalar other than U+0000.
    private static func characterReference(_ digits: ArraySlice<UInt8>, at offset: Int) throws(CodecError) -> Unicode.Scalar {
        var body = digits
        let hexadecimal = body.first == 0x78 || body.first == 0x58  // x X
        if hexadecimal { body = body.dropFirst() }
        var value: UInt32 = 0
        var valid = !body.isEmpty
        for byte in body where valid {
            let digit: UInt8?
            if hexadecimal {
                digit = CodecBytes.hexValue(byte)
            } else {
                digit = CodecBytes.isDigit(byte) ? byte - 0x30 : nil
            }
            guard let digit else {
                valid = false
                break
            }
            value = value * (hexadecimal ? 16 : 10) + UInt32(digit)
            if value > 0x10FFFF { valid = false }
        }
        guard valid, value != 0, let scalar = Unicode.Scalar(value) else {
            throw CodecError(offset: offset, message: "XML: bad character reference")
        }
        return scalar
    }
}
