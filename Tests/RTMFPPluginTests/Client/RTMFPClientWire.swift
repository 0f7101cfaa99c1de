// The test client's byte layer (RFC 7016 §2.1): VLUs, options, big-endian integers and a bounded
// reader. Written from the RFC apart from the plugin's own code, so that each checks the other.

extension RTMFPTestClient {
    /// Big-endian integers and RFC 7016 variable length unsigned integers (VLU: 7 bits per byte,
    /// most significant group first, high bit set on every byte but the last).
    enum Wire {
        /// The VLU encoding of `value` (1 to 10 bytes).
        static func vlu(_ value: UInt64) -> [UInt8] {
            var bytes: [UInt8] = [UInt8(value & 0x7F)]
            var rest = value >> 7
            while rest > 0 {
                bytes.append(UInt8(rest & 0x7F) | 0x80)
                rest >>= 7
            }
            return bytes.reversed()
        }

        /// `bytes` preceded by their length as a VLU.
        static func vluPrefixed(_ bytes: [UInt8]) -> [UInt8] {
            vlu(UInt64(bytes.count)) + bytes
        }

        /// Two bytes, big-endian.
        static func u16(_ value: UInt16) -> [UInt8] {
            [UInt8(value >> 8), UInt8(value & 0xFF)]
        }

        /// Four bytes, big-endian.
        static func u32(_ value: UInt32) -> [UInt8] {
            [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }

        /// The 32-bit big-endian word at `offset` (the caller guarantees four bytes there).
        static func word(_ bytes: [UInt8], at offset: Int) -> UInt32 {
            UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
                | UInt32(bytes[offset + 3])
        }
    }

    /// A reader over received bytes: every read answers nil when the bytes run out (or a VLU
    /// overflows 64 bits) and then leaves the position where it was.
    struct Reader {
        /// The bytes read.
        let bytes: [UInt8]
        /// The index of the next byte.
        private(set) var position = 0

        /// A reader at the start of `bytes`.
        init(_ bytes: [UInt8]) {
            self.bytes = bytes
        }

        /// How many bytes are left.
        var remaining: Int { bytes.count - position }
        /// True when nothing is left.
        var atEnd: Bool { position >= bytes.count }

        /// One byte.
        mutating func u8() -> UInt8? {
            guard remaining >= 1 else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        /// A 16-bit big-endian integer.
        mutating func u16() -> UInt16? {
            guard remaining >= 2 else { return nil }
            defer { position += 2 }
            return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        }

        /// A 32-bit big-endian integer.
        mutating func u32() -> UInt32? {
            guard remaining >= 4 else { return nil }
            defer { position += 4 }
            return Wire.word(bytes, at: position)
        }

        /// A VLU (at most 10 bytes, and its value must fit 64 bits).
        mutating func vlu() -> UInt64? {
            var value: UInt64 = 0
            var index = position
            while index < bytes.count, index - position < 10 {
                let byte = bytes[index]
                guard value <= UInt64.max >> 7 else { return nil }
                value = value << 7 | UInt64(byte & 0x7F)
                index += 1
                if byte & 0x80 == 0 {
                    position = index
                    return value
                }
            }
            return nil
        }

        /// `count` bytes.
        mutating func bytes(_ count: Int) -> [UInt8]? {
            guard count >= 0, remaining >= count else { return nil }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }

        /// A VLU length, then that many bytes.
        mutating func vluPrefixed() -> [UInt8]? {
            let start = position
            guard let length = vlu(), length <= UInt64(remaining), let value = bytes(Int(length)) else {
                position = start
                return nil
            }
            return value
        }

        /// Everything left.
        mutating func rest() -> [UInt8] {
            defer { position = bytes.count }
            return Array(bytes[min(position, bytes.count)...])
        }
    }

    /// One option of RFC 7016 §2.1.3: `length VLU | type VLU | value`, the length counting the type
    /// and the value. A zero length is the marker that ends an option list.
    struct Option: Equatable {
        /// The option type.
        var type: UInt64
        /// The option value.
        var value: [UInt8]

        /// Creates an option.
        init(type: UInt64, value: [UInt8]) {
            self.type = type
            self.value = value
        }

        /// The wire form.
        var encoded: [UInt8] {
            Wire.vluPrefixed(Wire.vlu(type) + value)
        }

        /// Reads one option; `.some(nil)` is the end marker, nil a malformed option.
        static func read(_ reader: inout Reader) -> Option?? {
            guard let body = reader.vluPrefixed() else { return nil }
            if body.isEmpty { return .some(nil) }
            var inner = Reader(body)
            guard let type = inner.vlu() else { return nil }
            return .some(Option(type: type, value: inner.rest()))
        }

        /// An option list that fills `bytes` (a certificate, a keying component, an EPD); markers
        /// are skipped. Nil when an option is malformed.
        static func list(_ bytes: [UInt8]) -> [Option]? {
            var reader = Reader(bytes)
            var options: [Option] = []
            while !reader.atEnd {
                guard let option = read(&reader) else { return nil }
                if let option { options.append(option) }
            }
            return options
        }

        /// An option list ended by a marker (user data options); nil when malformed or unterminated.
        static func markedList(_ reader: inout Reader) -> [Option]? {
            var options: [Option] = []
            while true {
                guard let option = read(&reader) else { return nil }
                guard let option else { return options }
                options.append(option)
            }
        }
    }
}
