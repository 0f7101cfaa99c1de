/// MD5 (RFC 1321), written here so that the module needs no C library. Used only to name value files
/// the way MonaServer 1.x does (the lowercase hex digest of the value bytes); not for security.
enum MD5 {
    /// The running digest (A, B, C, D of RFC 1321).
    private struct State {
        var a: UInt32 = 0x6745_2301
        var b: UInt32 = 0xefcd_ab89
        var c: UInt32 = 0x98ba_dcfe
        var d: UInt32 = 0x1032_5476

        /// Mixes in one 64-byte block.
        mutating func process(_ block: UnsafeRawPointer) {
            @inline(__always) func word(_ index: Int) -> UInt32 {
                UInt32(littleEndian: block.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
            }
            var (a, b, c, d) = (self.a, self.b, self.c, self.d)
            // Round 1
            MD5.f(&a, b, c, d, word( 0),  7, 0xd76aa478); MD5.f(&d, a, b, c, word( 1), 12, 0xe8c7b756)
            MD5.f(&c, d, a, b, word( 2), 17, 0x242070db); MD5.f(&b, c, d, a, word( 3), 22, 0xc1bdceee)
            MD5.f(&a, b, c, d, word( 4),  7, 0xf57c0faf); MD5.f(&d, a, b, c, word( 5), 12, 0x4787c62a)
            MD5.f(&c, d, a, b, word( 6), 17, 0xa8304613); MD5.f(&b, c, d, a, word( 7), 22, 0xfd469501)
            MD5.f(&a, b, c, d, word( 8),  7, 0x698098d8); MD5.f(&d, a, b, c, word( 9), 12, 0x8b44f7af)
            MD5.f(&c, d, a, b, word(10), 17, 0xffff5bb1); MD5.f(&b, c, d, a, word(11), 22, 0x895cd7be)
            MD5.f(&a, b, c, d, word(12),  7, 0x6b901122); MD5.f(&d, a, b, c, word(13), 12, 0xfd987193)
            MD5.f(&c, d, a, b, word(14), 17, 0xa679438e); MD5.f(&b, c, d, a, word(15), 22, 0x49b40821)
            // Round 2
            MD5.g(&a, b, c, d, word( 1),  5, 0xf61e2562); MD5.g(&d, a, b, c, word( 6),  9, 0xc040b340)
            MD5.g(&c, d, a, b, word(11), 14, 0x265e5a51); MD5.g(&b, c, d, a, word( 0), 20, 0xe9b6c7aa)
            MD5.g(&a, b, c, d, word( 5),  5, 0xd62f105d); MD5.g(&d, a, b, c, word(10),  9, 0x02441453)
            MD5.g(&c, d, a, b, word(15), 14, 0xd8a1e681); MD5.g(&b, c, d, a, word( 4), 20, 0xe7d3fbc8)
            MD5.g(&a, b, c, d, word( 9),  5, 0x21e1cde6); MD5.g(&d, a, b, c, word(14),  9, 0xc33707d6)
            MD5.g(&c, d, a, b, word( 3), 14, 0xf4d50d87); MD5.g(&b, c, d, a, word( 8), 20, 0x455a14ed)
            MD5.g(&a, b, c, d, word(13),  5, 0xa9e3e905); MD5.g(&d, a, b, c, word( 2),  9, 0xfcefa3f8)
            MD5.g(&c, d, a, b, word( 7), 14, 0x676f02d9); MD5.g(&b, c, d, a, word(12), 20, 0x8d2a4c8a)
            // Round 3
            MD5.h(&a, b, c, d, word( 5),  4, 0xfffa3942); MD5.h(&d, a, b, c, word( 8), 11, 0x8771f681)
            MD5.h(&c, d, a, b, word(11), 16, 0x6d9d6122); MD5.h(&b, c, d, a, word(14), 23, 0xfde5380c)
            MD5.h(&a, b, c, d, word( 1),  4, 0xa4beea44); MD5.h(&d, a, b, c, word( 4), 11, 0x4bdecfa9)
            MD5.h(&c, d, a, b, word( 7), 16, 0xf6bb4b60); MD5.h(&b, c, d, a, word(10), 23, 0xbebfbc70)
            MD5.h(&a, b, c, d, word(13),  4, 0x289b7ec6); MD5.h(&d, a, b, c, word( 0), 11, 0xeaa127fa)
            MD5.h(&c, d, a, b, word( 3), 16, 0xd4ef3085); MD5.h(&b, c, d, a, word( 6), 23, 0x04881d05)
            MD5.h(&a, b, c, d, word( 9),  4, 0xd9d4d039); MD5.h(&d, a, b, c, word(12), 11, 0xe6db99e5)
            MD5.h(&c, d, a, b, word(15), 16, 0x1fa27cf8); MD5.h(&b, c, d, a, word( 2), 23, 0xc4ac5665)
            // Round 4
            MD5.i(&a, b, c, d, word( 0),  6, 0xf4292244); MD5.i(&d, a, b, c, word( 7), 10, 0x432aff97)
            MD5.i(&c, d, a, b, word(14), 15, 0xab9423a7); MD5.i(&b, c, d, a, word( 5), 21, 0xfc93a039)
            MD5.i(&a, b, c, d, word(12),  6, 0x655b59c3); MD5.i(&d, a, b, c, word( 3), 10, 0x8f0ccc92)
            MD5.i(&c, d, a, b, word(10), 15, 0xffeff47d); MD5.i(&b, c, d, a, word( 1), 21, 0x85845dd1)
            MD5.i(&a, b, c, d, word( 8),  6, 0x6fa87e4f); MD5.i(&d, a, b, c, word(15), 10, 0xfe2ce6e0)
            MD5.i(&c, d, a, b, word( 6), 15, 0xa3014314); MD5.i(&b, c, d, a, word(13), 21, 0x4e0811a1)
            MD5.i(&a, b, c, d, word( 4),  6, 0xf7537e82); MD5.i(&d, a, b, c, word(11), 10, 0xbd3af235)
            MD5.i(&c, d, a, b, word( 2), 15, 0x2ad7d2bb); MD5.i(&b, c, d, a, word( 9), 21, 0xeb86d391)
            self.a &+= a
            self.b &+= b
            self.c &+= c
            self.d &+= d
        }
    }

    // The four rounds' steps.

    /// One step of each round: `a = b + ((a + F(b, c, d) + x + t) <<< s)`.
    @inline(__always) private static func step(
        _ a: inout UInt32, _ b: UInt32, _ mixed: UInt32, _ x: UInt32, _ s: UInt32, _ t: UInt32
    ) {
        let sum = a &+ mixed &+ x &+ t
        a = b &+ (sum &<< s | sum &>> (32 &- s))
    }

    @inline(__always) private static func f(
        _ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32, _ t: UInt32
    ) {
        step(&a, b, (b & c) | (~b & d), x, s, t)
    }

    @inline(__always) private static func g(
        _ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32, _ t: UInt32
    ) {
        step(&a, b, (b & d) | (c & ~d), x, s, t)
    }

    @inline(__always) private static func h(
        _ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32, _ t: UInt32
    ) {
        step(&a, b, b ^ c ^ d, x, s, t)
    }

    @inline(__always) private static func i(
        _ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32, _ t: UInt32
    ) {
        step(&a, b, c ^ (b | ~d), x, s, t)
    }

    /// The 16-byte digest of `message`.
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var state = State()
        let whole = message.count / 64 * 64
        message.withUnsafeBytes { bytes in
            var offset = 0
            while offset < whole {
                state.process(bytes.baseAddress! + offset)
                offset += 64
            }
        }
        // Padding: 0x80, zeros up to 56 mod 64, then the length in bits as 64-bit little-endian.
        var tail = Array(message[whole...])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        let bits = UInt64(message.count) &* 8
        for index in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index)))) }
        tail.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                state.process(bytes.baseAddress! + offset)
                offset += 64
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for word in [state.a, state.b, state.c, state.d] {
            for index in 0..<4 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(index)))) }
        }
        return out
    }

    /// The 32-character lowercase hex digest of `message` (the 1.x value file name).
    static func hex(_ message: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var chars: [UInt8] = []
        chars.reserveCapacity(32)
        for byte in digest(message) {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// True when `name` looks like a digest: exactly 32 characters in `0-9a-f`.
    static func isDigestName<S: Sequence>(_ name: S) -> Bool where S.Element == UInt8 {
        var count = 0
        for byte in name {
            count += 1
            if count > 32 { return false }
            guard (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) else { return false }
        }
        return count == 32
    }
}
