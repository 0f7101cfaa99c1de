// MonaCodecs: the text codecs of MonaServer (JSON, XML-RPC, Query strings, XML DOM) converting
// between `MonaValue` lists and bytes. Pure Swift, no Foundation. Behaviour follows MonaServer 1.x
// (docs: lua-api.md §3) except where a `// 1.x:` comment documents a deliberate fix.

import MonaValues

/// The bytes a codec wrote, with the warnings MonaServer 1.x would have logged while writing them.
public struct CodecOutput: Equatable, Sendable {
    /// The encoded bytes.
    public var bytes: [UInt8]
    /// Distinct warning messages (a map written as an object, a cycle written as null, …), in order.
    public var warnings: [String]

    /// Creates an output.
    public init(bytes: [UInt8] = [], warnings: [String] = []) {
        self.bytes = bytes
        self.warnings = warnings
    }

    /// The bytes as text (every codec here writes UTF-8).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Why a codec could not read its input: a byte offset into the input and a one-line message.
public struct CodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The byte position in the input where the problem was found.
    public let offset: Int
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// `message` and `offset` on one line.
    public var description: String { "\(message) (at byte \(offset))" }
}

/// Limits shared by every codec.
public enum CodecLimits {
    /// The deepest nesting of complex values a reader accepts or a writer writes (as MVS).
    public static let maxDepth = 512
}

/// Collects the warnings of one encoding, each distinct message once.
struct CodecWarningLog {
    private(set) var messages: [String] = []

    mutating func add(_ message: String) {
        if !messages.contains(message) { messages.append(message) }
    }

    mutating func merge(_ other: CodecWarningLog) {
        for message in other.messages { add(message) }
    }
}

/// Byte-level helpers shared by the writers and readers.
enum CodecBytes {
    static let quote: UInt8 = 0x22       // "
    static let ampersand: UInt8 = 0x26   // &
    static let apostrophe: UInt8 = 0x27  // '
    static let plus: UInt8 = 0x2B        // +
    static let comma: UInt8 = 0x2C       // ,
    static let minus: UInt8 = 0x2D       // -
    static let dot: UInt8 = 0x2E         // .
    static let slash: UInt8 = 0x2F       // /
    static let colon: UInt8 = 0x3A       // :
    static let semicolon: UInt8 = 0x3B   // ;
    static let less: UInt8 = 0x3C        // <
    static let equal: UInt8 = 0x3D       // =
    static let greater: UInt8 = 0x3E     // >
    static let question: UInt8 = 0x3F    // ?
    static let backslash: UInt8 = 0x5C   // \
    static let percent: UInt8 = 0x25     // %
    static let hash: UInt8 = 0x23        // #

    /// Space, tab, newline or carriage return.
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// The value of a hexadecimal digit, or nil.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// The uppercase hexadecimal digit of a nibble (0...15).
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10
    }

    /// Lowercases ASCII letters only.
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
    }

    /// True when `bytes` equals the ASCII `word` ignoring ASCII case.
    static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ word: String) -> Bool where C.Element == UInt8 {
        guard bytes.count == word.utf8.count else { return false }
        return zip(bytes, word.utf8).allSatisfy { lower($0) == lower($1) }
    }

    /// `bytes` without leading and trailing ASCII whitespace.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lower = bytes.startIndex
        var upper = bytes.endIndex
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return bytes[lower..<upper]
    }

    /// `text` without leading and trailing ASCII whitespace.
    static func trimmed(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let slice = trimmed(bytes[...])
        if slice.count == bytes.count { return text }
        return String(decoding: slice, as: UTF8.self)
    }

    /// Appends the UTF-8 encoding of a Unicode scalar.
    static func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
        let value = scalar.value
        switch value {
        case 0..<0x80:
            out.append(UInt8(value))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (value >> 6)))
            out.append(UInt8(0x80 | (value & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (value >> 12)))
            out.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (value & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (value >> 18)))
            out.append(UInt8(0x80 | ((value >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (value & 0x3F)))
        }
    }
}

