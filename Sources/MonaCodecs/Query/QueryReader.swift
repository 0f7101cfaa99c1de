import MonaValues

/// Reads a query string (see `Query`): `&`-separated items; consecutive `key=value` pairs form one
/// object; a bare token is a separate value that ends the current object; empty items are skipped.
enum QueryReader {
    static func decode(_ bytes: [UInt8]) -> [MonaValue] {
        var values: [MonaValue] = []
        var fields: [MonaField] = []
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != CodecBytes.ampersand { end += 1 }
            let item = bytes[start..<end]
            start = end + 1
            if item.isEmpty { continue }
            if let equal = item.firstIndex(of: CodecBytes.equal) {
                let key = Query.decodeBytes(item[item.startIndex..<equal], plusAsSpace: true)
                let text = Query.decodeBytes(item[(equal + 1)...], plusAsSpace: true)
                fields.append(MonaField(key: key, value: typed(text)))
            } else {
                if !fields.isEmpty {
                    values.append(.object(fields))
                    fields = []
                }
                values.append(typed(Query.decodeBytes(item, plusAsSpace: true)))
            }
        }
        if !fields.isEmpty { values.append(.object(fields)) }
        return values
    }

    /// `null` → nil, `true`/`false` in any case → boolean, a decimal number → number, else string.
    static func typed(_ text: String) -> MonaValue {
        if text == "null" { return .nil }
        if CodecBytes.equalsIgnoringCase(text.utf8, "true") { return .boolean(true) }
        if CodecBytes.equalsIgnoringCase(text.utf8, "false") { return .boolean(false) }
        if isDecimal(text.utf8), let number = Double(text) { return .number(number) }
        // 1.x: date-like values became dates; they stay strings now.
        return .string(text)
    }

    /// `[+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?`
    static func isDecimal(_ text: String.UTF8View) -> Bool {
        var iterator = Array(text)[...]
        if let sign = iterator.first, sign == CodecBytes.plus || sign == CodecBytes.minus { iterator = iterator.dropFirst() }
        var mantissaDigits = 0
        while let byte = iterator.first, CodecBytes.isDigit(byte) {
            mantissaDigits += 1
            iterator = iterator.dropFirst()
        }
        if iterator.first == CodecBytes.dot {
            iterator = iterator.dropFirst()
            while let byte = iterator.first, CodecBytes.isDigit(byte) {
                mantissaDigits += 1
                iterator = iterator.dropFirst()
            }
        }
        guard mantissaDigits > 0 else { return false }
        if let byte = iterator.first, byte == 0x65 || byte == 0x45 {
            iterator = iterator.dropFirst()
            if let sign = iterator.first, sign == CodecBytes.plus || sign == CodecBytes.minus { iterator = iterator.dropFirst() }
            var exponentDigits = 0
            while let byte = iterator.first, CodecBytes.isDigit(byte) {
                exponentDigits += 1
                iterator = iterator.dropFirst()
            }
            guard exponentDigits > 0 else { return false }
        }
        return iterator.isEmpty
    }
}
