// Incremental UTF-8 validation (RFC 3629) for text messages that arrive in pieces: fragments, frames
// split across TCP reads. A sequence may be cut anywhere; invalid bytes are caught as soon as they arrive.

/// Checks that a byte stream is well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
struct UTF8Validator: Equatable {
    /// Continuation bytes still expected for the sequence in progress.
    private var remaining = 0
    /// Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// True when no sequence is cut short: the bytes so far end on a character boundary.
    var isComplete: Bool { remaining == 0 }

    /// Feeds bytes; false as soon as they cannot be UTF-8 (the validator is then unusable).
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes {
            if remaining == 0 {
                if byte < 0x80 { continue }
                switch byte {
                case 0xC2...0xDF: remaining = 1
                case 0xE0: remaining = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE, 0xEF: remaining = 2
                case 0xED: remaining = 2; upper = 0x9F
                case 0xF0: remaining = 3; lower = 0x90
                case 0xF1...0xF3: remaining = 3
                case 0xF4: remaining = 3; upper = 0x8F
                default: return false
                }
            } else {
                guard byte >= lower, byte <= upper else { return false }
                lower = 0x80
                upper = 0xBF
                remaining -= 1
            }
        }
        return true
    }

    /// Whether `bytes` are a complete, well-formed UTF-8 text.
    static func isValid(_ bytes: [UInt8]) -> Bool {
        var validator = UTF8Validator()
        return bytes.withUnsafeBytes { validator.feed($0) } && validator.isComplete
    }
}
