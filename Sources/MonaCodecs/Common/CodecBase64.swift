/// Standard base64 (RFC 4648 §4, `+/` alphabet, `=` padding), as written for bytes by every codec.
public enum CodecBase64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0...63 for the alphabet, 0xFF otherwise.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// The padded base64 text of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        String(decoding: encodeBytes(bytes), as: UTF8.self)
    }

    /// The padded base64 of `bytes`, as ASCII bytes.
    public static func encodeBytes(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(chunk >> 18)])
            out.append(alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(alphabet[Int(chunk >> 6 & 0x3F)])
            out.append(alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            var chunk = UInt32(bytes[index]) << 16
            if rest == 2 { chunk |= UInt32(bytes[index + 1]) << 8 }
            out.append(alphabet[Int(chunk >> 18)])
            out.append(alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(rest == 2 ? alphabet[Int(chunk >> 6 & 0x3F)] : 0x3D)
            out.append(0x3D)
        }
        return out
    }

    /// Strict decoding of padded base64: nil unless the length is a multiple of 4, every character is
    /// in the alphabet, and `=` appears only as the last one or two characters.
    public static func decode(_ text: String) -> [UInt8]? {
        decode(Array(text.utf8)[...], ignoringWhitespace: false)
    }

    /// Strict decoding of padded base64 bytes; `ignoringWhitespace` first drops ASCII whitespace (line
    /// breaks inside XML-RPC `<base64>`).
    static func decode(_ input: ArraySlice<UInt8>, ignoringWhitespace: Bool) -> [UInt8]? {
        var text = input
        if ignoringWhitespace, input.contains(where: CodecBytes.isSpace) {
            text = ArraySlice(input.filter { !CodecBytes.isSpace($0) })
        }
        guard text.count % 4 == 0 else { return nil }
        var padding = 0
        if text.last == 0x3D { padding += 1 }
        if text.count >= 2, text[text.endIndex - 2] == 0x3D { padding += 1 }
        if padding == 1, text.last != 0x3D { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var chunk: UInt32 = 0
        var filled = 0
        for (position, byte) in zip(text.indices, text) {
            let value: UInt8
            if position >= text.endIndex - padding {
                value = 0
            } else {
                value = values[Int(byte)]
                guard value != 0xFF else { return nil }
            }
            chunk = chunk << 6 | UInt32(value)
            filled += 1
            if filled == 4 {
                out.append(UInt8(chunk >> 16 & 0xFF))
                out.append(UInt8(chunk >> 8 & 0xFF))
                out.append(UInt8(chunk & 0xFF))
                chunk = 0
                filled = 0
            }
        }
        out.removeLast(padding)
        return out
    }
}
