import MonaValues

/// Writes values as a flattened query string (see `Query`). Recursion is bounded by
/// `CodecLimits.maxDepth`.
struct QueryWriter {
    static let format = "Query"

    var out: [UInt8] = []
    var graph: CodecValueGraph
    var log = CodecWarningLog()
    private var first = true

    init(graph: CodecValueGraph) {
        self.graph = graph
    }

    /// Starts a new `&`-separated item.
    private mutating func separate() {
        if !first { out.append(CodecBytes.ampersand) }
        first = false
    }

    /// The text of a value that is not complex, or nil for a complex value or a reference.
    private mutating func scalarText(_ value: MonaValue) -> String? {
        switch value {
        case .nil: return "null"
        case .boolean(let flag): return flag ? "true" : "false"
        case .number(let number): return CodecNumber.format(number)
        case .string(let text): return text
        case .bytes(let raw): return CodecBase64.encode(raw)
        case .date(let milliseconds):
            if let text = CodecDate.formatShort(milliseconds) { return text }
            log.add(CodecWarning.badDate(Self.format))
            return "null"
        default: return nil
        }
    }

    /// Writes a value as one item, or a complex value as its flattened items.
    mutating func writeItem(_ value: MonaValue, slot: Int, depth: Int) {
        if let text = scalarText(value) {
            separate()
            Query.appendEncoded(text, to: &out)
            return
        }
        if let (target, index) = complex(value, slot: slot, depth: depth) {
            graph.enter(index)
            flatten(target, slots: graph.slots(of: target, at: index), depth: depth + 1)
            graph.leave(index)
        } else {
            separate()
            out.append(contentsOf: "null".utf8)
        }
    }

    /// Writes `key=value`, or for a complex value the bare key followed by its flattened items.
    private mutating func writeField(_ key: String, _ value: MonaValue, slot: Int, depth: Int) {
        separate()
        Query.appendEncoded(key, to: &out)
        if let text = scalarText(value) {
            out.append(CodecBytes.equal)
            Query.appendEncoded(text, to: &out)
            return
        }
        if let (target, index) = complex(value, slot: slot, depth: depth) {
            graph.enter(index)
            flatten(target, slots: graph.slots(of: target, at: index), depth: depth + 1)
            graph.leave(index)
        } else {
            out.append(contentsOf: "=null".utf8)
        }
    }

    /// The complex value to flatten (a reference resolved) and its number, or nil (with a warning)
    /// when it must be written as null: a cycle, a bad reference, or too deep.
    private mutating func complex(_ value: MonaValue, slot: Int, depth: Int) -> (MonaValue, Int)? {
        if case .reference(let reference) = value {
            let resolution = graph.resolve(reference, slot: slot)
            guard case .value(let target, let index) = resolution else {
                log.add(CodecWarning.reference(resolution, Self.format))
                return nil
            }
            return complex(target, slot: index, depth: depth)
        }
        guard depth < CodecLimits.maxDepth else {
            log.add(CodecWarning.tooDeep(Self.format))
            return nil
        }
        return (value, slot)
    }

    /// The items of a complex value (1.x: begin/end of tables write nothing).
    private mutating func flatten(_ value: MonaValue, slots: [Int], depth: Int) {
        switch value {
        case .array(let items):
            for (position, item) in items.enumerated() {
                writeItem(item, slot: slots[position], depth: depth)
            }
        case .object(_, let fields):
            for (position, field) in fields.enumerated() {
                writeField(field.key, field.value, slot: slots[position], depth: depth)
            }
        case .mixed(let dense, let fields):
            // As 1.x (DataWriter default): the object part first, then the elements.
            for (position, field) in fields.enumerated() {
                writeField(field.key, field.value, slot: slots[dense.count + position], depth: depth)
            }
            for (position, item) in dense.enumerated() {
                writeItem(item, slot: slots[position], depth: depth)
            }
        case .map(_, let entries):
            log.add(CodecWarning.map(Self.format))
            for (position, entry) in entries.enumerated() {
                let key = JSONWriter.keyText(entry.key, slot: slots[2 * position], depth: depth,
                                             graph: &graph, log: &log)
                writeField(key, entry.value, slot: slots[2 * position + 1], depth: depth)
            }
            writeField("__size", .number(Double(entries.count)), slot: 0, depth: depth)
        default:
            break
        }
    }
}
