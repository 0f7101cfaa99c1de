import MonaValues

/// Parses JSON without recursion (an explicit stack, at most `CodecLimits.maxDepth` deep).
///
/// Grammar is RFC 8259 except that `true`/`false`/`null` are case-insensitive like 1.x. Strings
/// are unescaped (1.x: kept the backslashes), including `\uXXXX` and surrogate pairs; a lone
/// surrogate becomes U+FFFD. Objects are special only in these exact forms (1.x looked at the first
/// property only and matched any name ending with "type"/"raw", and turned date-like strings into
/// dates): `{"__raw": "<valid base64>"}` alone → bytes, `{"__time": number}` alone → date, a
/// `"__type": "<string>"` property → typed object (that property removed). A string value that is a
/// complete ISO-8601 timestamp with its zone is a date (`CodecDate.parseTimestamp`), so dates
/// round-trip through the writer and JavaScript's dates arrive as dates; other strings stay strings.
struct JSONReader {
    /// An open array (`key` nil) or object (`key`: the name of the value being read).
    private struct Frame {
        var key: String?
        var items: [MonaValue] = []
        var fields: [MonaField] = []
    }

    private let bytes: [UInt8]
    private var position = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func failure(_ message: String, at offset: Int? = nil) -> CodecError {
        CodecError(offset: offset ?? position, message: "JSON: " + message)
    }

    /// Reads the whole input.
    mutating func readDocument() throws(CodecError) -> [MonaValue] {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // UTF-8 byte order mark
        skipSpaces()
        guard position < bytes.count else { return [] }
        let topIsArray = bytes[position] == 0x5B
        // 1.x: a top-level object was mis-parsed (`{"a":1}` → "a"); it is one value here.
        // 1.x: a top-level scalar (`"x"`, `12`) gave no value; it is one value here.
        let value = try readValue()
        skipSpaces()
        guard position == bytes.count else { throw failure("unexpected content after the value") }
        if topIsArray, case .array(let items) = value { return items }
        return [value]
    }

    private mutating func skipSpaces() {
        while position < bytes.count, CodecBytes.isSpace(bytes[position]) { position += 1 }
    }

    /// Expects `byte` (after spaces) and consumes it.
    private mutating func expect(_ byte: UInt8, _ what: String) throws(CodecError) {
        skipSpaces()
        guard position < bytes.count else { throw failure("unexpected end, expected \(what)") }
        guard bytes[position] == byte else { throw failure("expected \(what)") }
        position += 1
    }

    /// Reads `"key"` then `:` (after spaces).
    private mutating func readKey() throws(CodecError) -> String {
        skipSpaces()
        guard position < bytes.count else { throw failure("unexpected end, expected a property name") }
        guard bytes[position] == CodecBytes.quote else { throw failure("expected a property name") }
        let key = try readString()
        try expect(CodecBytes.colon, "':'")
        return key
    }

    private mutating func readValue() throws(CodecError) -> MonaValue {
        var stack: [Frame] = []
        nextValue: while true {
            skipSpaces()
            guard position < bytes.count else { throw failure("unexpected end, expected a value") }
            var value: MonaValue
            switch bytes[position] {
            case 0x5B, 0x7B:  // [ {
                guard stack.count < CodecLimits.maxDepth else {
                    throw failure("nested deeper than \(CodecLimits.maxDepth)")
                }
                let isArray = bytes[position] == 0x5B
                position += 1
                skipSpaces()
                if position < bytes.count, bytes[position] == (isArray ? 0x5D : 0x7D) {
                    position += 1
                    value = isArray ? .array([]) : .object([])
                } else if isArray {
                    stack.append(Frame(key: nil))
                    continue nextValue
                } else {
                    stack.append(Frame(key: try readKey()))
                    continue nextValue
                }
            case CodecBytes.quote:
                // A complete ISO-8601 timestamp with its zone (what the writer and JavaScript's Date
                // write) is a date. 1.x: any string its date parser took (ISO, RFC 822, "12 Jan 2014
                // 10:00"…) became a date.
                let text = try readString()
                value = CodecDate.parseTimestamp(text).map { .date($0) } ?? .string(text)
            case CodecBytes.minus, 0x30...0x39:
                value = .number(try readNumber())
            case 0x41...0x5A, 0x61...0x7A:
                value = try readLiteral()
            default:
                throw failure("unexpected character")
            }
            // Attach the value to its container; close every container that ends here.
            // (Containers are extended in place: popping a frame to append would copy its array.)
            while let last = stack.indices.last {
                skipSpaces()
                if let key = stack[last].key {
                    stack[last].fields.append(MonaField(key: key, value: value))
                    guard position < bytes.count else { throw failure("unexpected end, expected ',' or '}'") }
                    if bytes[position] == CodecBytes.comma {
                        position += 1
                        stack[last].key = try readKey()
                        continue nextValue
                    }
                    guard bytes[position] == 0x7D else { throw failure("expected ',' or '}'") }
                    position += 1
                    value = Self.object(stack.removeLast().fields)
                } else {
                    stack[last].items.append(value)
                    guard position < bytes.count else { throw failure("unexpected end, expected ',' or ']'") }
                    if bytes[position] == CodecBytes.comma {
                        position += 1
                        continue nextValue
                    }
                    guard bytes[position] == 0x5D else { throw failure("expected ',' or ']'") }
                    position += 1
                    value = .array(stack.removeLast().items)
                }
            }
            return value
        }
    }

    /// The value an object's fields stand for.
    static func object(_ fields: [MonaField]) -> MonaValue {
        if fields.count == 1 {
            let field = fields[0]
            // 1.x: a first property named *raw (any case) made bytes, dropping the others; a lone "__raw" now.
            if field.key == "__raw", case .string(let text) = field.value, let raw = CodecBase64.decode(text) {
                return .bytes(raw)
            }
            // 1.x: {"__time": n} stayed a table (that Lua scripts treat as a date); a date now.
            if field.key == "__time", case .number(let milliseconds) = field.value {
                return .date(milliseconds)
            }
        }
        // 1.x: a first property named *type ("type", "mytype") made a typed object; "__type" anywhere now.
        if let index = fields.firstIndex(where: { field in
            if field.key == "__type", case .string = field.value { return true }
            return false
        }), case .string(let type) = fields[index].value {
            var rest = fields
            rest.remove(at: index)
            return .object(type: type, fields: rest)
        }
        return .object(type: "", fields: fields)
    }

    /// `true`, `false` or `null`, any case (1.x).
    private mutating func readLiteral() throws(CodecError) -> MonaValue {
        let start = position
        while position < bytes.count, (0x41...0x5A).contains(bytes[position]) || (0x61...0x7A).contains(bytes[position]) {
            position += 1
        }
        let word = bytes[start..<position]
        if CodecBytes.equalsIgnoringCase(word, "true") { return .boolean(true) }
        if CodecBytes.equalsIgnoringCase(word, "false") { return .boolean(false) }
        if CodecBytes.equalsIgnoringCase(word, "null") { return .nil }
        throw failure("unknown literal", at: start)
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func readNumber() throws(CodecError) -> Double {
        let start = position
        func digits(_ position: inout Int, _ bytes: [UInt8]) -> Int {
            let first = position
            while position < bytes.count, CodecBytes.isDigit(bytes[position]) { position += 1 }
            return position - first
        }
        if bytes[position] == CodecBytes.minus { position += 1 }
        let integerStart = position
        let integerDigits = digits(&position, bytes)
        guard integerDigits > 0 else { throw failure("malformed number", at: start) }
        guard integerDigits == 1 || bytes[integerStart] != 0x30 else { throw failure("leading zero in number", at: start) }
        if position < bytes.count, bytes[position] == CodecBytes.dot {
            position += 1
            guard digits(&position, bytes) > 0 else { throw failure("malformed number", at: start) }
        }
        if position < bytes.count, bytes[position] == 0x65 || bytes[position] == 0x45 {
            position += 1
            if position < bytes.count, bytes[position] == CodecBytes.plus || bytes[position] == CodecBytes.minus {
                position += 1
            }
            guard digits(&position, bytes) > 0 else { throw failure("malformed number", at: start) }
        }
        guard let number = Double(String(decoding: bytes[start..<position], as: UTF8.self)) else {
            throw failure("malformed number", at: start)
        }
        return number
    }

    /// Reads a string literal whose opening quote is at `position`.
    private mutating func readString() throws(CodecError) -> String {
        let start = position
        position += 1
        var run = position
        // Fast path: no escape.
        while run < bytes.count, bytes[run] != CodecBytes.quote, bytes[run] != CodecBytes.backslash { run += 1 }
        var text: [UInt8]
        if run < bytes.count, bytes[run] == CodecBytes.quote {
            text = Array(bytes[position..<run])
            position = run + 1
        } else {
            text = Array(bytes[position..<run])
            position = run
            try readEscapedRest(into: &text, start: start)
        }
        guard let string = String(validating: text, as: UTF8.self) else {
            throw failure("invalid UTF-8 in string", at: start)
        }
        return string
    }

    /// Continues a string from `position` up to and including its closing quote, unescaping.
    private mutating func readEscapedRest(into text: inout [UInt8], start: Int) throws(CodecError) {
        while true {
            guard position < bytes.count else { throw failure("unterminated string", at: start) }
            let byte = bytes[position]
            position += 1
            if byte == CodecBytes.quote { return }
            guard byte == CodecBytes.backslash else {
                text.append(byte)
                continue
            }
            // 1.x: escapes were not decoded (`["a\"b"]` → `a\"b`); decoded per RFC 8259 now.
            guard position < bytes.count else { throw failure("unterminated string", at: start) }
            let escape = bytes[position]
            position += 1
            switch escape {
            case CodecBytes.quote, CodecBytes.backslash, CodecBytes.slash: text.append(escape)
            case 0x62: text.append(0x08)  // b
            case 0x66: text.append(0x0C)  // f
            case 0x6E: text.append(0x0A)  // n
            case 0x72: text.append(0x0D)  // r
            case 0x74: text.append(0x09)  // t
            case 0x75:  // u
                let unit = try readHex4()
                var scalar: Unicode.Scalar?
                if (0xD800..<0xDC00).contains(unit) {
                    // A high surrogate: combine with a following \uDC00-\uDFFF.
                    if position + 1 < bytes.count, bytes[position] == CodecBytes.backslash, bytes[position + 1] == 0x75 {
                        let mark = position
                        position += 2
                        let low = try readHex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                        } else {
                            position = mark
                        }
                    }
                } else {
                    scalar = Unicode.Scalar(unit)
                }
                CodecBytes.appendUTF8(scalar ?? "\u{FFFD}", to: &text)
            default:
                throw failure("bad escape in string", at: position - 2)
            }
        }
    }

    private mutating func readHex4() throws(CodecError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = CodecBytes.hexValue(bytes[position + offset]) else {
                throw failure("bad \\u escape", at: position + offset)
            }
            value = value << 4 | UInt32(digit)
        }
        position += 4
        return value
    }
}
