/// Base64 (RFC 4648) for SDP parameter sets and Basic credentials.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            let chunk = (Int(bytes[index]) << 16) | (count > 1 ? Int(bytes[index + 1]) << 8 : 0) | (count > 2 ? Int(bytes[index + 2]) : 0)
            for slot in 0..<4 {
                out.append(slot <= count ? alphabet[(chunk >> (18 - 6 * slot)) & 0x3F] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of base64 text (padding optional), or nil for a character outside the alphabet.
    static func decode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var accumulator = 0, bits = 0
        for character in text.utf8 where character != UInt8(ascii: "=") {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            accumulator = (accumulator << 6 | value) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((accumulator >> bits) & 0xFF))
            }
        }
        return bytes
    }
}
