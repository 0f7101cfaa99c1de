import MonaValues

/// XML-RPC as MonaServer 1.x speaks it (`mona:toXMLRPC`/`fromXMLRPC`, HTTP `text/xml` bodies).
///
/// Writing always produces a `methodResponse` whose params are the values, without whitespace:
/// `<int>` for integral numbers in C `int` range else `<double>` (`%.16g`), `<boolean>1|0`, nil as
/// an empty `<value></value>`, dates as `<dateTime.iso8601>` in the JSON date format, bytes as
/// `<base64>`, `<array size="N">`, `<struct>` / `<struct type="T">`, a mixed as an array whose
/// first element is the struct, a map as a struct of stringified keys plus `__size`.
/// Reading accepts a `methodCall` (its `methodName` is the first value) or a `methodResponse`
/// (its params, or a `<fault>` as one value).
public enum XMLRPC {
    /// Encodes `values` as the params of a `methodResponse`, with the warnings 1.x would log.
    public static func encode(_ values: [MonaValue]) -> CodecOutput {
        var writer = XMLRPCWriter(graph: CodecValueGraph(values))
        writer.out.append(contentsOf: "<?xml version=\"1.0\"?><methodResponse><params>".utf8)
        for (position, value) in values.enumerated() {
            writer.out.append(contentsOf: "<param>".utf8)
            writer.writeValue(value, slot: writer.graph.topSlots[position], depth: 0)
            writer.out.append(contentsOf: "</param>".utf8)
        }
        writer.out.append(contentsOf: "</params></methodResponse>".utf8)
        return CodecOutput(bytes: writer.out, warnings: writer.log.messages)
    }

    /// Decodes a `methodCall` (method name, then params) or a `methodResponse` (params or fault).
    public static func decode(_ bytes: [UInt8]) throws(CodecError) -> [MonaValue] {
        // Each nested value takes three elements (<value><array><data>, <value><struct><member>).
        let elementDepth = 3 * CodecLimits.maxDepth + 8
        var scanner = XMLScanner(bytes: bytes, trimText: false, maxDepth: elementDepth)
        let document = try scanner.parse()
        return try XMLRPCReader.values(of: document)
    }
}
