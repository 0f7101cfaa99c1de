/// The XML parser behind `XMLDOM.parse` and the XML-RPC reader. No recursion: open elements are
/// kept on a stack of at most `maxDepth`.
///
/// `trimText`: the DOM trims text and drops blank runs; XML-RPC keeps text as written (a
/// `<string>` may hold spaces) and only drops blank text at the root.
struct XMLScanner {
    private let bytes: [UInt8]
    private var position = 0
    private let trimText: Bool
    private let maxDepth: Int
    private var document = XMLDocument()
    private var stack: [XMLElement] = []

    init(bytes: [UInt8], trimText: Bool, maxDepth: Int) {
        self.bytes = bytes
        self.trimText = trimText
        self.maxDepth = maxDepth
    }

    private func failure(_ message: String, at offset: Int? = nil) -> CodecError {
        CodecError(offset: offset ?? position, message: "XML: " + message)
    }

    private func starts(with prefix: String) -> Bool {
        var index = position
        for byte in prefix.utf8 {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
        }
        return true
    }

    private mutating func skipSpaces() {
        while position < bytes.count, CodecBytes.isSpace(bytes[position]) { position += 1 }
    }

    /// Moves past the next `terminator`, or fails with `message`.
    private mutating func skip(past terminator: String, _ message: String) throws(CodecError) -> Range<Int> {
        let start = position
        let pattern = Array(terminator.utf8)
        var index = position
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0], bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                position = index + pattern.count
                return start..<index
            }
            index += 1
        }
        throw failure(message, at: start)
    }

    mutating func parse() throws(CodecError) -> XMLDocument {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // UTF-8 byte order mark
        while position < bytes.count {
            guard bytes[position] == CodecBytes.less else {
                try readText()
                continue
            }
            let start = position
            if starts(with: "<?") {
                position += 2
                let name = try readName()
                let attributes = try readAttributes(end: "?>").attributes
                document.processingInstructions.append(XMLProcessingInstruction(name, attributes))
            } else if starts(with: "<!--") {
                position += 4
                _ = try skip(past: "-->", "unterminated comment")
            } else if starts(with: "<![CDATA[") {
                position += 9
                let range = try skip(past: "]]>", "unterminated CDATA section")
                guard let text = String(validating: bytes[range], as: UTF8.self) else {
                    throw failure("invalid UTF-8", at: range.lowerBound)
                }
                if !text.isEmpty { append(.text(text), blank: false) }
            } else if starts(with: "<!") {
                try skipDeclaration()
            } else if starts(with: "</") {
                position += 2
                let name = try readName()
                skipSpaces()
                guard position < bytes.count, bytes[position] == CodecBytes.greater else {
                    throw failure("expected '>' closing </\(name)")
                }
                position += 1
                guard let element = stack.popLast() else { throw failure("</\(name)> closes nothing", at: start) }
                guard element.name == name else {
                    throw failure("</\(name)> closes <\(element.name)>", at: start)
                }
                append(.element(element), blank: false)
            } else {
                position += 1
                var element = XMLElement(try readName())
                element.offset = start
                let tag = try readAttributes(end: ">")
                element.attributes = tag.attributes
                if tag.selfClosing {
                    append(.element(element), blank: false)  // <name … />
                } else {
                    guard stack.count < maxDepth else { throw failure("elements nested deeper than \(maxDepth)", at: start) }
                    stack.append(element)
                }
            }
        }
        if let open = stack.last { throw failure("<\(open.name)> is not closed", at: open.offset) }
        return document
    }

    /// Adds a node to the innermost open element, or to the document.
    private mutating func append(_ node: XMLNode, blank: Bool) {
        if stack.isEmpty {
            if !blank { document.nodes.append(node) }
        } else {
            stack[stack.count - 1].children.append(node)
        }
    }

    /// Text up to the next `<` or the end.
    private mutating func readText() throws(CodecError) {
        let start = position
        while position < bytes.count, bytes[position] != CodecBytes.less { position += 1 }
        let raw = bytes[start..<position]
        let trimmed = CodecBytes.trimmed(raw)
        let blank = trimmed.isEmpty
        if trimText {
            if !blank { append(.text(try XMLEscape.decode(trimmed, offset: trimmed.startIndex)), blank: false) }
        } else {
            append(.text(try XMLEscape.decode(raw, offset: start)), blank: blank)
        }
    }

    /// `<!DOCTYPE …>` and other declarations, with a bracketed internal subset.
    private mutating func skipDeclaration() throws(CodecError) {
        let start = position
        var brackets = 0
        var quote: UInt8?
        position += 2
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == CodecBytes.quote || byte == CodecBytes.apostrophe {
                quote = byte
            } else if byte == 0x5B {
                brackets += 1
            } else if byte == 0x5D {
                brackets -= 1
            } else if byte == CodecBytes.greater, brackets <= 0 {
                return
            }
        }
        throw failure("unterminated declaration", at: start)
    }

    /// A tag or attribute name: bytes up to a space or one of `<>/=?!"'&`.
    private mutating func readName() throws(CodecError) -> String {
        let start = position
        while position < bytes.count, Self.isNameByte(bytes[position]) { position += 1 }
        guard position > start else {
            throw failure(position < bytes.count ? "expected a name" : "unexpected end, expected a name")
        }
        guard let name = String(validating: bytes[start..<position], as: UTF8.self) else {
            throw failure("invalid UTF-8 in a name", at: start)
        }
        return name
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x09, 0x0A, 0x0D, CodecBytes.less, CodecBytes.greater, CodecBytes.slash, CodecBytes.equal,
             CodecBytes.question, 0x21, CodecBytes.quote, CodecBytes.apostrophe, CodecBytes.ampersand:
            return false
        default:
            return true
        }
    }

    /// `name="value"` pairs up to `end` (`>` or `?>`); for `>`, a `/>` ends a start tag too
    /// (`selfClosing`).
    private mutating func readAttributes(end: String) throws(CodecError) -> (attributes: [XMLAttribute], selfClosing: Bool) {
        var attributes: [XMLAttribute] = []
        while true {
            skipSpaces()
            guard position < bytes.count else { throw failure("unexpected end inside a tag") }
            if starts(with: end) {
                position += end.utf8.count
                return (attributes, false)
            }
            if end == ">", starts(with: "/>") {
                position += 2
                return (attributes, true)
            }
            let name = try readName()
            skipSpaces()
            guard position < bytes.count else { throw failure("unexpected end inside a tag") }
            guard bytes[position] == CodecBytes.equal else { throw failure("expected '=' after \(name)") }
            position += 1
            skipSpaces()
            guard position < bytes.count else { throw failure("unexpected end inside a tag") }
            let quote = bytes[position]
            guard quote == CodecBytes.quote || quote == CodecBytes.apostrophe else {
                throw failure("expected a quoted value for \(name)")
            }
            position += 1
            let start = position
            while position < bytes.count, bytes[position] != quote { position += 1 }
            guard position < bytes.count else { throw failure("unterminated value of \(name)", at: start - 1) }
            let value = try XMLEscape.decode(bytes[start..<position], offset: start)
            position += 1
            attributes.append(XMLAttribute(name, value))
        }
    }
}
