import MonaValues

/// Writes values as JSON (see `JSON`). Recursion is bounded by `CodecLimits.maxDepth`.
struct JSONWriter {
    static let format = "JSON"

    var out: [UInt8] = []
    var graph: CodecValueGraph
    var log = CodecWarningLog()

    init(graph: CodecValueGraph) {
        self.graph = graph
    }

    /// Writes one value found at stream slot `slot`, `depth` complex values deep.
    mutating func write(_ value: MonaValue, slot: Int, depth: Int) {
        switch value {
        case .nil:
            out.append(contentsOf: "null".utf8)
        case .boolean(let flag):
            out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number):
            // 1.x: NaN and infinities were printed as nan/inf (invalid JSON); written as null.
            out.append(contentsOf: (number.isFinite ? CodecNumber.format(number) : "null").utf8)
        case .string(let text):
            Self.appendString(text, to: &out)
        case .bytes(let raw):
            out.append(contentsOf: "{\"__raw\":\"".utf8)
            out.append(contentsOf: CodecBase64.encodeBytes(raw))
            out.append(contentsOf: "\"}".utf8)
        case .date(let milliseconds):
            if let text = CodecDate.formatLong(milliseconds) {
                Self.appendString(text, to: &out)
            } else {
                log.add(CodecWarning.badDate(Self.format))
                out.append(contentsOf: "null".utf8)
            }
        case .reference(let index):
            let resolution = graph.resolve(index, slot: slot)
            if case .value(let target, let targetIndex) = resolution {
                write(target, slot: targetIndex, depth: depth)
            } else {
                log.add(CodecWarning.reference(resolution, Self.format))
                out.append(contentsOf: "null".utf8)
            }
        case .array, .object, .mixed, .map:
            guard depth < CodecLimits.maxDepth else {
                log.add(CodecWarning.tooDeep(Self.format))
                out.append(contentsOf: "null".utf8)
                return
            }
            graph.enter(slot)
            writeComplex(value, slots: graph.slots(of: value, at: slot), depth: depth + 1)
            graph.leave(slot)
        }
    }

    private mutating func writeComplex(_ value: MonaValue, slots: [Int], depth: Int) {
        switch value {
        case .array(let items):
            out.append(0x5B)
            for (position, item) in items.enumerated() {
                if position > 0 { out.append(CodecBytes.comma) }
                write(item, slot: slots[position], depth: depth)
            }
            out.append(0x5D)
        case .object(let type, let fields):
            out.append(0x7B)  // {
            if !type.isEmpty {
                out.append(contentsOf: "\"__type\":".utf8)
                Self.appendString(type, to: &out)
            }
            writeFields(fields, slots: slots[...], depth: depth, separated: !type.isEmpty)
            out.append(0x7D)  // }
        case .mixed(let dense, let fields):
            // As 1.x (DataWriter default): [{object part}, elements…].
            out.append(contentsOf: "[{".utf8)
            writeFields(fields, slots: slots[dense.count...], depth: depth, separated: false)
            out.append(0x7D)
            for (position, item) in dense.enumerated() {
                out.append(CodecBytes.comma)
                write(item, slot: slots[position], depth: depth)
            }
            out.append(0x5D)
        case .map(_, let entries):
            log.add(CodecWarning.map(Self.format))
            out.append(0x7B)
            for (position, entry) in entries.enumerated() {
                if position > 0 { out.append(CodecBytes.comma) }
                let key = Self.keyText(entry.key, slot: slots[2 * position], depth: depth,
                                       graph: &graph, log: &log)
                Self.appendString(key, to: &out)
                out.append(CodecBytes.colon)
                write(entry.value, slot: slots[2 * position + 1], depth: depth)
            }
            if !entries.isEmpty { out.append(CodecBytes.comma) }
            out.append(contentsOf: "\"__size\":\(entries.count)".utf8)
            out.append(0x7D)
        default:
            break
        }
    }

    private mutating func writeFields(_ fields: [MonaField], slots: ArraySlice<Int>, depth: Int, separated: Bool) {
        for (position, field) in fields.enumerated() {
            if separated || position > 0 { out.append(CodecBytes.comma) }
            Self.appendString(field.key, to: &out)
            out.append(CodecBytes.colon)
            write(field.value, slot: slots[slots.startIndex + position], depth: depth)
        }
    }

    /// Appends `text` between double quotes, escaped per RFC 8259.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        // 1.x: strings were copied verbatim (`a"b` → `"a"b"`); escaped per RFC 8259 now.
        out.append(CodecBytes.quote)
        for byte in text.utf8 {
            switch byte {
            case CodecBytes.quote, CodecBytes.backslash:
                out.append(CodecBytes.backslash)
                out.append(byte)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(CodecBytes.hexDigit(byte >> 4))
                out.append(CodecBytes.hexDigit(byte & 0x0F))
            default:
                out.append(byte)
            }
        }
        out.append(CodecBytes.quote)
    }

    /// The property name a map key is written under by the writers without maps (JSON, XML-RPC,
    /// Query): strings as they are, numbers `%.16g`, booleans `true`/`false`, nil `null`, dates in
    /// the long ISO form, bytes in base64, and a complex key as its JSON text.
    static func keyText(_ key: MonaValue, slot: Int, depth: Int,
                        graph: inout CodecValueGraph, log: inout CodecWarningLog) -> String {
        switch key {
        case .nil: return "null"
        case .boolean(let flag): return flag ? "true" : "false"
        case .number(let number): return CodecNumber.format(number)
        case .string(let text): return text
        case .bytes(let raw): return CodecBase64.encode(raw)
        case .date(let milliseconds): return CodecDate.formatLong(milliseconds) ?? "null"
        case .array, .object, .mixed, .map, .reference:
            var writer = JSONWriter(graph: CodecValueGraph())
            swap(&writer.graph, &graph)
            writer.write(key, slot: slot, depth: depth)
            swap(&writer.graph, &graph)
            log.merge(writer.log)
            return String(decoding: writer.out, as: UTF8.self)
        }
    }
}
