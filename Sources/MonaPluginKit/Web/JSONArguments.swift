/// JSON text read straight into a Mona Value Stream, in the plugin: the same stream the host's
/// value_decode(MONA_FORMAT_JSON) gives (MonaCodecs' JSON reader: the elements of a top-level
/// array as separate values, any other top-level value as one, `true`/`false`/`null` in any case,
/// escapes decoded) for what RPC messages usually hold: literals, numbers, strings, arrays and plain
/// objects. Anything else gives nil and the caller asks the host, which then decides (and reports
/// malformed text): `\u` escapes, objects with a `__raw`, `__time` or `__type` property (bytes,
/// dates and typed objects), nesting deeper than `maxDepth`, invalid UTF-8, any syntax error.
/// Reading here saves a host round trip and two value trees per incoming RPC message.
public enum JSONArguments {
    /// Nesting deeper than this goes to the host.
    static let maxDepth = 64

    /// The MVS stream of `json`, or nil when the host must read it.
    public static func transcode(_ json: UnsafeRawBufferPointer) -> [UInt8]? {
        if json.contains(where: { $0 >= 0x80 }),
           String(validating: json.bindMemory(to: UInt8.self), as: UTF8.self) == nil { return nil }
        var reader = Reader(bytes: json)
        if json.count >= 3, json[0] == 0xEF, json[1] == 0xBB, json[2] == 0xBF { reader.offset = 3 } // byte order mark
        reader.skipSpaces()
        guard reader.offset < json.count else { return [] }
        if json[reader.offset] == 0x5B { // [: its elements are the values
            reader.offset += 1
            guard reader.elements(depth: 1) != nil else { return nil }
        } else {
            guard reader.value(depth: 0) else { return nil }
        }
        reader.skipSpaces()
        return reader.offset == json.count ? reader.out.bytes : nil
    }

    /// Reads JSON at `offset`, writes MVS to `out`; false (or nil) when the host must read it.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0
        var out: MVSWriter

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
            out = MVSWriter(reservingCapacity: bytes.count + 16)
        }

        mutating func skipSpaces() {
            while offset < bytes.count {
                let byte = bytes[offset]
                guard byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D else { return }
                offset += 1
            }
        }

        /// One value (after spaces).
        mutating func value(depth: Int) -> Bool {
            skipSpaces()
            guard offset < bytes.count else { return false }
            switch bytes[offset] {
            case 0x5B: // [
                guard depth < JSONArguments.maxDepth else { return false }
                offset += 1
                out.writeTag(.array)
                out.countComplex()
                let countAt = out.reserveCount()
                guard let count = elements(depth: depth + 1) else { return false }
                out.patchCount(count, at: countAt)
            case 0x7B: // {
                guard depth < JSONArguments.maxDepth else { return false }
                offset += 1
                out.writeTag(.object)
                out.countComplex()
                out.writeVarUInt(0) // no type name
                let countAt = out.reserveCount()
                guard let count = fields(depth: depth + 1) else { return false }
                out.patchCount(count, at: countAt)
            case 0x22: // "
                out.writeTag(.string)
                return string()
            case 0x2D, 0x30...0x39:
                return number()
            default:
                return literal()
            }
            return true
        }

        /// The elements of an array whose `[` was read, up to its `]`: how many.
        mutating func elements(depth: Int) -> Int? { items(closing: 0x5D, keyed: false, depth: depth) }

        /// The properties of an object whose `{` was read, up to its `}`: how many.
        mutating func fields(depth: Int) -> Int? { items(closing: 0x7D, keyed: true, depth: depth) }

        /// The items of a container whose opening byte was read, up to `closing`: values, or
        /// `"key": value` pairs when `keyed`.
        private mutating func items(closing: UInt8, keyed: Bool, depth: Int) -> Int? {
            skipSpaces()
            if offset < bytes.count, bytes[offset] == closing {
                offset += 1
                return 0
            }
            var count = 0
            while true {
                if keyed { guard key() else { return nil } }
                guard value(depth: depth) else { return nil }
                count += 1
                skipSpaces()
                guard offset < bytes.count else { return nil }
                let byte = bytes[offset]
                offset += 1
                if byte == closing { return count }
                guard byte == 0x2C else { return nil }
            }
        }

        /// A property name and its `:` (after spaces); false for what the host must read.
        private mutating func key() -> Bool {
            skipSpaces()
            guard offset < bytes.count, bytes[offset] == 0x22 else { return false }
            let keyAt = out.bytes.count
            guard string() else { return false }
            // "__raw", "__time", "__type" make bytes, dates, typed objects: the host's rules.
            let written = out.bytes.count - keyAt
            if written == 6 || written == 7, out.bytes[keyAt + 1] == 0x5F, out.bytes[keyAt + 2] == 0x5F {
                let key = out.bytes[(keyAt + 3)...]
                if key.elementsEqual("raw".utf8) || key.elementsEqual("time".utf8) || key.elementsEqual("type".utf8) {
                    return false
                }
            }
            skipSpaces()
            guard offset < bytes.count, bytes[offset] == 0x3A else { return false }
            offset += 1
            return true
        }

        /// A string whose opening quote is at `offset`: its varuint length and bytes (no tag).
        mutating func string() -> Bool {
            offset += 1
            var end = offset
            while end < bytes.count, bytes[end] != 0x22, bytes[end] != 0x5C { end += 1 }
            guard end < bytes.count else { return false }
            if bytes[end] == 0x22 {
                out.writeString(utf8: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                offset = end + 1
                return true
            }
            var text = Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            offset = end
            while true {
                guard offset < bytes.count else { return false }
                let byte = bytes[offset]
                offset += 1
                if byte == 0x22 { break }
                guard byte == 0x5C else {
                    text.append(byte)
                    continue
                }
                guard offset < bytes.count else { return false }
                let escape = bytes[offset]
                offset += 1
                switch escape {
                case 0x22, 0x5C, 0x2F: text.append(escape)
                case 0x62: text.append(0x08) // b
                case 0x66: text.append(0x0C) // f
                case 0x6E: text.append(0x0A) // n
                case 0x72: text.append(0x0D) // r
                case 0x74: text.append(0x09) // t
                default: return false // \u (surrogates and their repairs) and bad escapes: the host
                }
            }
            text.withUnsafeBytes { out.writeString(utf8: $0) }
            return true
        }

        /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?` as a NUMBER value.
        mutating func number() -> Bool {
            let start = offset
            let negative = bytes[offset] == 0x2D
            if negative { offset += 1 }
            let integerStart = offset
            var integer = 0
            while offset < bytes.count, (0x30...0x39).contains(bytes[offset]) {
                if offset - integerStart < 18 { integer = integer &* 10 &+ Int(bytes[offset] - 0x30) }
                offset += 1
            }
            let integerDigits = offset - integerStart
            guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != 0x30 else { return false }
            var plainInteger = integerDigits <= 15
            if offset < bytes.count, bytes[offset] == 0x2E {
                offset += 1
                plainInteger = false
                guard digits() > 0 else { return false }
            }
            if offset < bytes.count, bytes[offset] == 0x65 || bytes[offset] == 0x45 {
                offset += 1
                plainInteger = false
                if offset < bytes.count, bytes[offset] == 0x2B || bytes[offset] == 0x2D { offset += 1 }
                guard digits() > 0 else { return false }
            }
            let number: Double
            if plainInteger {
                // At most 15 digits: exact as a double, as strtod gives it ("-0" is -0.0).
                number = negative ? -Double(integer) : Double(integer)
            } else {
                guard let parsed = Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self))
                else { return false }
                number = parsed
            }
            out.writeTag(.number)
            out.writeDouble(number)
            return true
        }

        private mutating func digits() -> Int {
            let start = offset
            while offset < bytes.count, (0x30...0x39).contains(bytes[offset]) { offset += 1 }
            return offset - start
        }

        /// `true`, `false` or `null` in any case.
        mutating func literal() -> Bool {
            let start = offset
            while offset < bytes.count, (0x41...0x5A).contains(bytes[offset]) || (0x61...0x7A).contains(bytes[offset]) {
                offset += 1
            }
            let word = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
            func equals(_ literal: StaticString) -> Bool {
                guard word.count == literal.utf8CodeUnitCount else { return false }
                for index in 0..<word.count where word[index] | 0x20 != literal.utf8Start[index] { return false }
                return true
            }
            if equals("true") { out.writeTag(.true) } else if equals("false") { out.writeTag(.false) } else if equals("null") {
                out.writeTag(.nil)
            } else {
                return false
            }
            return true
        }
    }
}
