import MonaValues

/// Writes values as XML-RPC `<value>` elements (see `XMLRPC`). Recursion is bounded by
/// `CodecLimits.maxDepth`.
struct XMLRPCWriter {
    static let format = "XML-RPC"

    var out: [UInt8] = []
    var graph: CodecValueGraph
    var log = CodecWarningLog()

    init(graph: CodecValueGraph) {
        self.graph = graph
    }

    /// Writes `<value>…</value>` for one value found at stream slot `slot`.
    mutating func writeValue(_ value: MonaValue, slot: Int, depth: Int) {
        out.append(contentsOf: "<value>".utf8)
        writeContent(value, slot: slot, depth: depth)
        out.append(contentsOf: "</value>".utf8)
    }

    private mutating func element(_ name: String, _ content: String) {
        out.append(contentsOf: "<\(name)>".utf8)
        out.append(contentsOf: content.utf8)
        out.append(contentsOf: "</\(name)>".utf8)
    }

    /// The type element of a value (nothing for nil).
    private mutating func writeContent(_ value: MonaValue, slot: Int, depth: Int) {
        switch value {
        case .nil:
            break
        case .boolean(let flag):
            element("boolean", flag ? "1" : "0")
        case .number(let number):
            if let integer = CodecNumber.int32(number) {
                element("int", String(integer))
            } else {
                element("double", CodecNumber.format(number))
            }
        case .string(let text):
            // 1.x: strings were written raw; `&`, `<`, `>` are escaped now.
            out.append(contentsOf: "<string>".utf8)
            XMLEscape.appendText(text, to: &out)
            out.append(contentsOf: "</string>".utf8)
        case .bytes(let raw):
            out.append(contentsOf: "<base64>".utf8)
            out.append(contentsOf: CodecBase64.encodeBytes(raw))
            out.append(contentsOf: "</base64>".utf8)
        case .date(let milliseconds):
            if let text = CodecDate.formatLong(milliseconds) {
                element("dateTime.iso8601", text)
            } else {
                log.add(CodecWarning.badDate(Self.format))
            }
        case .reference(let index):
            let resolution = graph.resolve(index, slot: slot)
            if case .value(let target, let targetIndex) = resolution {
                writeContent(target, slot: targetIndex, depth: depth)
            } else {
                log.add(CodecWarning.reference(resolution, Self.format))
            }
        case .array, .object, .mixed, .map:
            guard depth < CodecLimits.maxDepth else {
                log.add(CodecWarning.tooDeep(Self.format))
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
            out.append(contentsOf: "<array size=\"\(items.count)\"><data>".utf8)
            for (position, item) in items.enumerated() {
                writeValue(item, slot: slots[position], depth: depth)
            }
            out.append(contentsOf: "</data></array>".utf8)
        case .object(let type, let fields):
            openStruct(type: type)
            writeMembers(fields, slots: slots[...], depth: depth)
            out.append(contentsOf: "</struct>".utf8)
        case .mixed(let dense, let fields):
            // As 1.x: an array whose first element is the struct of the fields.
            out.append(contentsOf: "<array size=\"\(dense.count + 1)\"><data><value><struct>".utf8)
            writeMembers(fields, slots: slots[dense.count...], depth: depth)
            out.append(contentsOf: "</struct></value>".utf8)
            for (position, item) in dense.enumerated() {
                writeValue(item, slot: slots[position], depth: depth)
            }
            out.append(contentsOf: "</data></array>".utf8)
        case .map(_, let entries):
            log.add(CodecWarning.map(Self.format))
            out.append(contentsOf: "<struct>".utf8)
            for (position, entry) in entries.enumerated() {
                let key = JSONWriter.keyText(entry.key, slot: slots[2 * position], depth: depth,
                                             graph: &graph, log: &log)
                writeMember(key, entry.value, slot: slots[2 * position + 1], depth: depth)
            }
            writeMember("__size", .number(Double(entries.count)), slot: 0, depth: depth)
            out.append(contentsOf: "</struct>".utf8)
        default:
            break
        }
    }

    private mutating func openStruct(type: String) {
        if type.isEmpty {
            out.append(contentsOf: "<struct>".utf8)
        } else {
            // 1.x: the type was written raw; escaped as an attribute value now.
            out.append(contentsOf: "<struct type=\"".utf8)
            XMLEscape.appendAttribute(type, to: &out)
            out.append(contentsOf: "\">".utf8)
        }
    }

    private mutating func writeMembers(_ fields: [MonaField], slots: ArraySlice<Int>, depth: Int) {
        for (position, field) in fields.enumerated() {
            writeMember(field.key, field.value, slot: slots[slots.startIndex + position], depth: depth)
        }
    }

    private mutating func writeMember(_ name: String, _ value: MonaValue, slot: Int, depth: Int) {
        // 1.x: member names were written raw; `&`, `<`, `>` are escaped now.
        out.append(contentsOf: "<member><name>".utf8)
        XMLEscape.appendText(name, to: &out)
        out.append(contentsOf: "</name>".utf8)
        writeValue(value, slot: slot, depth: depth)
        out.append(contentsOf: "</member>".utf8)
    }
}
