import MonaValues

/// Interprets a parsed XML-RPC document (see `XMLRPC.decode`). Values nest at most
/// `CodecLimits.maxDepth` deep.
enum XMLRPCReader {
    private static func failure(_ message: String, _ element: XMLElement) -> CodecError {
        CodecError(offset: element.offset, message: "XML-RPC: " + message)
    }

    /// The values of a `methodCall` or `methodResponse` document.
    static func values(of document: XMLDocument) throws(CodecError) -> [MonaValue] {
        var root: XMLElement?
        for node in document.nodes {
            switch node {
            case .element(let element):
                guard root == nil else { throw failure("more than one root element", element) }
                root = element
            case .text:
                throw CodecError(offset: 0, message: "XML-RPC: text outside the root element")
            }
        }
        guard let root else { throw CodecError(offset: 0, message: "XML-RPC: no methodCall or methodResponse") }
        var values: [MonaValue] = []
        switch root.name {
        case "methodCall":
            var name: String?
            for element in try elements(of: root) {
                switch element.name {
                case "methodName":
                    guard name == nil else { throw failure("more than one methodName", element) }
                    name = CodecBytes.trimmed(try text(of: element))
                case "params":
                    try readParams(element, into: &values)
                default:
                    throw failure("unexpected <\(element.name)> in methodCall", element)
                }
            }
            guard let name else { throw failure("methodCall without methodName", root) }
            values.insert(.string(name), at: 0)
        case "methodResponse":
            for element in try elements(of: root) {
                switch element.name {
                case "params":
                    try readParams(element, into: &values)
                case "fault":
                    values.append(try readValue(try onlyValue(of: element), depth: 0))
                default:
                    throw failure("unexpected <\(element.name)> in methodResponse", element)
                }
            }
        default:
            throw failure("<\(root.name)> is neither methodCall nor methodResponse", root)
        }
        return values
    }

    /// The child elements, failing on non-blank text between them.
    private static func elements(of element: XMLElement) throws(CodecError) -> [XMLElement] {
        var result: [XMLElement] = []
        for child in element.children {
            switch child {
            case .element(let inner):
                result.append(inner)
            case .text(let text):
                guard text.utf8.allSatisfy(CodecBytes.isSpace) else {
                    throw failure("unexpected text in <\(element.name)>", element)
                }
            }
        }
        return result
    }

    /// The text content (entities decoded, CDATA included), failing on child elements.
    private static func text(of element: XMLElement) throws(CodecError) -> String {
        var result = ""
        for child in element.children {
            switch child {
            case .text(let text):
                result += text
            case .element(let inner):
                throw failure("unexpected <\(inner.name)> in <\(element.name)>", element)
            }
        }
        return result
    }

    /// The single `<value>` child of a `<param>`, `<fault>` or `<member>`-like element.
    private static func onlyValue(of element: XMLElement) throws(CodecError) -> XMLElement {
        let children = try elements(of: element)
        guard children.count == 1, children[0].name == "value" else {
            throw failure("<\(element.name)> must hold one <value>", element)
        }
        return children[0]
    }

    private static func readParams(_ params: XMLElement, into values: inout [MonaValue]) throws(CodecError) {
        for param in try elements(of: params) {
            guard param.name == "param" else { throw failure("unexpected <\(param.name)> in params", param) }
            values.append(try readValue(try onlyValue(of: param), depth: 0))
        }
    }

    /// The value of a `<value>` element, `depth` complex values deep.
    private static func readValue(_ value: XMLElement, depth: Int) throws(CodecError) -> MonaValue {
        let hasElement = value.children.contains { node in
            if case .element = node { return true }
            return false
        }
        if !hasElement {
            // `<value></value>` is how 1.x (and this writer) write nil.
            if value.children.isEmpty { return .nil }
            // 1.x: a value without a type element was read as nil; the XML-RPC spec says string.
            return .string(try text(of: value))
        }
        let children = try elements(of: value)
        guard children.count == 1 else { throw failure("<value> must hold one type element", value) }
        let typed = children[0]
        switch typed.name {
        case "i4", "int", "i8":
            let digits = Array(CodecBytes.trimmed(try text(of: typed)).utf8)
            guard let integer = Int64(String(decoding: digits, as: UTF8.self)) else {
                throw failure("bad integer", typed)
            }
            return .number(Double(integer))
        case "double":
            guard let number = Double(CodecBytes.trimmed(try text(of: typed))) else {
                throw failure("bad double", typed)
            }
            return .number(number)
        case "boolean":
            let flag = CodecBytes.trimmed(try text(of: typed))
            return .boolean(!(flag.isEmpty || flag == "0" || CodecBytes.equalsIgnoringCase(flag.utf8, "false")))
        case "string":
            return .string(try text(of: typed))
        case "dateTime.iso8601":
            // 1.x: any format 1.x's Date parser knew (RFC 822, asctime…); ISO-8601 forms only now.
            guard let milliseconds = CodecDate.parse(CodecBytes.trimmed(try text(of: typed))) else {
                throw failure("bad dateTime.iso8601", typed)
            }
            return .date(milliseconds)
        case "base64":
            let encoded = Array(try text(of: typed).utf8)
            guard let raw = CodecBase64.decode(encoded[...], ignoringWhitespace: true) else {
                throw failure("bad base64", typed)
            }
            return .bytes(raw)
        case "nil":
            // 1.x: no <nil/> (the XML-RPC nil extension); read as nil now.
            guard typed.children.isEmpty else { throw failure("<nil/> must be empty", typed) }
            return .nil
        case "array":
            guard depth < CodecLimits.maxDepth else { throw failure("values nested deeper than \(CodecLimits.maxDepth)", typed) }
            // 1.x: sized the array from the `size` attribute (holes if it lied); the values are counted now.
            var items: [MonaValue] = []
            for data in try elements(of: typed) {
                guard data.name == "data" else { throw failure("unexpected <\(data.name)> in array", data) }
                for item in try elements(of: data) {
                    guard item.name == "value" else { throw failure("unexpected <\(item.name)> in data", item) }
                    items.append(try readValue(item, depth: depth + 1))
                }
            }
            return .array(items)
        case "struct":
            guard depth < CodecLimits.maxDepth else { throw failure("values nested deeper than \(CodecLimits.maxDepth)", typed) }
            var fields: [MonaField] = []
            for member in try elements(of: typed) {
                guard member.name == "member" else { throw failure("unexpected <\(member.name)> in struct", member) }
                var name: String?
                var content: XMLElement?
                for part in try elements(of: member) {
                    switch part.name {
                    case "name" where name == nil: name = try text(of: part)
                    case "value" where content == nil: content = part
                    default: throw failure("unexpected <\(part.name)> in member", part)
                    }
                }
                guard let name, let content else { throw failure("member without name or value", member) }
                fields.append(MonaField(key: name, value: try readValue(content, depth: depth + 1)))
            }
            return .object(type: typed[attribute: "type"] ?? "", fields: fields)
        default:
            throw failure("unknown type <\(typed.name)>", typed)
        }
    }
}
