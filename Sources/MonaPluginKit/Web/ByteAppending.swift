// Appending text and numbers to byte buffers without building Strings (response heads, JSON).

extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of `text`. (These are inlinable: plugins call them from their own
    /// modules on every response.)
    @inlinable
    public mutating func append(text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends the bytes of a literal.
    @inlinable
    public mutating func append(literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a non-negative integer in decimal (negative ones as Swift prints them).
    @inlinable
    public mutating func append(decimal value: Int) {
        guard value >= 0 else { return append(text: String(value)) }
        if value < 10 { return append(UInt8(truncatingIfNeeded: 0x30 + value)) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for Int.max
        Swift.withUnsafeMutableBytes(of: &digits) { raw in
            var rest = value
            var index = raw.count
            while rest > 0 {
                index -= 1
                raw[index] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
            }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[index...]))
        }
    }
}
