import MonaValues

/// JSON as MonaServer 1.x speaks it (`mona:toJSON`/`fromJSON`, HTTP `application/json` bodies).
///
/// Writing: the output is always ONE array holding every value (`[]` for none); numbers as
/// `%.16g`; dates as local ISO-8601 strings; bytes as `{"__raw":"<base64>"}`; typed objects as
/// `{"__type":"T",…}`; mixed as `[{fields…}, elements…]`; maps as objects with `"__size":n`.
/// Reading: a top-level array yields its elements as separate values (`[]` → no value).
public enum JSON {
    /// Encodes `values` as one JSON array, with the warnings 1.x would log.
    public static func encode(_ values: [MonaValue]) -> CodecOutput {
        var writer = JSONWriter(graph: CodecValueGraph(values))
        writer.out.append(0x5B)  // [
        for (position, value) in values.enumerated() {
            if position > 0 { writer.out.append(CodecBytes.comma) }
            writer.write(value, slot: writer.graph.topSlots[position], depth: 0)
        }
        writer.out.append(0x5D)  // ]
        return CodecOutput(bytes: writer.out, warnings: writer.log.messages)
    }

    /// Decodes a JSON text: the elements of a top-level array, or the single top-level value
    /// (an object is one value); empty or blank input → no value.
    public static func decode(_ bytes: [UInt8]) throws(CodecError) -> [MonaValue] {
        var reader = JSONReader(bytes: bytes)
        return try reader.readDocument()
    }

    /// `text` as a JSON string literal, quotes included, escaped per RFC 8259.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        JSONWriter.appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
