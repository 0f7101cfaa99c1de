// Base64 (RFC 4648 §4, with padding) for the handshake's key and accept values.

/// Standard base64 with "=" padding.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group = UInt32(bytes[index]) << 16
            if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { group |= UInt32(bytes[index + 2]) }
            for position in 0..<4 {
                output.append(position <= count ? alphabet[Int(group >> UInt32(18 - 6 * position)) & 0x3F] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes of a padded base64 text, or nil if it is not one.
    static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        var group: UInt32 = 0
        var padding = 0
        for (position, character) in characters.enumerated() {
            let value: UInt32
            if character == UInt8(ascii: "=") {
                guard position >= characters.count - 2 else { return nil }
                padding += 1
                value = 0
            } else {
                guard padding == 0, let found = alphabet.firstIndex(of: character) else { return nil }
                value = UInt32(found)
            }
            group = group << 6 | value
            if position % 4 == 3 {
                output += [UInt8(group >> 16 & 0xFF), UInt8(group >> 8 & 0xFF), UInt8(group & 0xFF)]
                group = 0
            }
        }
        return Array(output.dropLast(padding))
    }
}
