#if canImport(Glibc)
import Glibc
#endif

/// The JSON of an RPC answer, written in the plugin for the values answers usually hold (nil,
/// booleans, numbers, strings, arrays and objects), byte for byte as the host's JSON writer
/// (MonaCodecs' JSON: one array of every value, numbers as `%.16g`, strings escaped per RFC 8259,
/// a typed object's type as `"__type"`). Anything else (bytes, dates, mixed tables, maps,
/// references, deep nesting) gives nil, and the host's value_encode writes it, warnings and all.
/// Encoding here saves an MVS round trip through the host per answer.
public enum JSONReply {
    /// Nesting deeper than this goes to the host (which has its own limit and warning).
    static let maxDepth = 64

    /// `values` as one JSON array, or nil when the host must write them.
    public static func encode(_ values: [MonaValue]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        out.append(0x5B) // [
        for (position, value) in values.enumerated() {
            if position > 0 { out.append(0x2C) }
            guard write(value, to: &out, depth: 0) else { return nil }
        }
        out.append(0x5D) // ]
        return out
    }

    private static func write(_ value: MonaValue, to out: inout [UInt8], depth: Int) -> Bool {
        switch value {
        case .nil:
            out.append(literal: "null")
        case .boolean(let flag):
            if flag { out.append(literal: "true") } else { out.append(literal: "false") }
        case .number(let number):
            // The host writes NaN and infinities as null.
            if number.isFinite { appendNumber(number, to: &out) } else { out.append(literal: "null") }
        case .string(let text):
            appendString(text, to: &out)
        case .array(let items):
            guard depth < maxDepth else { return false }
            out.append(0x5B)
            for (position, item) in items.enumerated() {
                if position > 0 { out.append(0x2C) }
                guard write(item, to: &out, depth: depth + 1) else { return false }
            }
            out.append(0x5D)
        case .object(let type, let fields):
            guard depth < maxDepth else { return false }
            out.append(0x7B) // {
            if !type.isEmpty {
                out.append(literal: "\"__type\":")
                appendString(type, to: &out)
            }
            for (position, field) in fields.enumerated() {
                if !type.isEmpty || position > 0 { out.append(0x2C) }
                appendString(field.key, to: &out)
                out.append(0x3A) // :
                guard write(field.value, to: &out, depth: depth + 1) else { return false }
            }
            out.append(0x7D) // }
        case .bytes, .date, .mixed, .map, .reference:
            return false
        }
        return true
    }

    /// The JSON of an MVS stream (the results of client_invoke) written straight from its bytes,
    /// without decoding it into values: the same text as `encode(MVSReader.decode(mvs))`, or nil
    /// for what `encode` leaves to the host and for anything malformed (the caller then decodes the
    /// stream the usual way, which reports it).
    public static func transcode(mvs: UnsafeRawBufferPointer) -> [UInt8]? {
        var transcoder = MVSTranscoder(cursor: MVSCursor(mvs))
        transcoder.out.reserveCapacity(mvs.count + 16)
        transcoder.out.append(0x5B)
        var first = true
        while !transcoder.cursor.isAtEnd {
            if !first { transcoder.out.append(0x2C) }
            first = false
            guard (try? transcoder.value(depth: 0)) == true else { return nil }
        }
        transcoder.out.append(0x5D)
        return transcoder.out
    }

    /// Reads MVS (through MVSCursor, with MVSReader's checks) and writes JSON.
    private struct MVSTranscoder {
        var cursor: MVSCursor
        var out: [UInt8] = []

        /// One value written; false for what the host must write, a throw for a malformed stream.
        mutating func value(depth: Int) throws(MVSError) -> Bool {
            switch try cursor.byte() {
            case 0x01: out.append(literal: "null")
            case 0x02: out.append(literal: "false")
            case 0x03: out.append(literal: "true")
            case 0x04:
                let number = try cursor.double()
                if number.isFinite { JSONReply.appendNumber(number, to: &out) } else { out.append(literal: "null") }
            case 0x05:
                JSONReply.appendString(try cursor.text(), to: &out)
            case 0x08: // array
                guard depth < JSONReply.maxDepth else { return false }
                let count = try cursor.count(bytesPerItem: 1)
                out.append(0x5B)
                for position in 0..<count {
                    if position > 0 { out.append(0x2C) }
                    guard try value(depth: depth + 1) else { return false }
                }
                out.append(0x5D)
            case 0x09: // object: type, count, (key, value)…
                guard depth < JSONReply.maxDepth else { return false }
                let type = try cursor.text()
                let count = try cursor.count(bytesPerItem: 2)
                out.append(0x7B)
                if !type.isEmpty {
                    out.append(literal: "\"__type\":")
                    JSONReply.appendString(type, to: &out)
                }
                for position in 0..<count {
                    if !type.isEmpty || position > 0 { out.append(0x2C) }
                    JSONReply.appendString(try cursor.text(), to: &out)
                    out.append(0x3A)
                    guard try value(depth: depth + 1) else { return false }
                }
                out.append(0x7D)
            default: // bytes, dates, mixed, maps, references: the host's writer; unknown tags: malformed
                return false
            }
            return true
        }
    }

    /// A finite number as C's `%.16g` (the host's CodecNumber.format).
    static func appendNumber(_ value: Double, to out: inout [UInt8]) {
        if value == value.rounded(.towardZero), value.magnitude < 1e16 {
            if value == 0 {
                if value.sign == .minus { out.append(literal: "-0") } else { out.append(0x30) }
                return
            }
            let integer = Int(value) // |value| < 1e16: exact
            if integer < 0 { out.append(0x2D) }
            out.append(decimal: integer < 0 ? -integer : integer)
            return
        }
        var buffer = [CChar](repeating: 0, count: 48)
        let count = withVaList([value]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.16g", arguments) }
        }
        guard count > 0, Int(count) < buffer.count else {
            out.append(text: String(value))
            return
        }
        for index in 0..<Int(count) {
            let byte = UInt8(bitPattern: buffer[index])
            out.append(byte == 0x2C ? 0x2E : byte) // a decimal comma (a locale) becomes a point
        }
    }

    /// `text` between double quotes, escaped per RFC 8259 as the host does.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// UTF-8 `bytes` between double quotes, escaped per RFC 8259 as the host does.
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(0x22)
        var plain = 0 // bytes[plain..<index] need no escape: appended as one run
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[plain..<index]))
            plain = index + 1
            switch byte {
            case 0x22, 0x5C:
                out.append(0x5C)
                out.append(byte)
            case 0x0A: out.append(literal: "\\n")
            case 0x0D: out.append(literal: "\\r")
            case 0x09: out.append(literal: "\\t")
            case 0x08: out.append(literal: "\\b")
            case 0x0C: out.append(literal: "\\f")
            default:
                out.append(literal: "\\u00")
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0x0F))
            }
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[plain...]))
        out.append(0x22)
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10 }
}
