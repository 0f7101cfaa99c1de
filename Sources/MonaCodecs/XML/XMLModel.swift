/// One `name="value"` attribute of an element or a processing instruction.
public struct XMLAttribute: Equatable, Sendable {
    /// The attribute name.
    public var name: String
    /// The value, entities decoded.
    public var value: String

    /// Creates an attribute.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A processing instruction `<?name attr="value" …?>` (`<?xml version="1.0" ?>`).
public struct XMLProcessingInstruction: Equatable, Sendable {
    /// The target (`xml`).
    public var name: String
    /// Its pseudo-attributes, in order.
    public var attributes: [XMLAttribute]

    /// Creates a processing instruction.
    public init(_ name: String, _ attributes: [XMLAttribute] = []) {
        self.name = name
        self.attributes = attributes
    }
}

/// A child of an element (or of the document): an element or a run of text.
public enum XMLNode: Equatable, Sendable {
    /// An element.
    case element(XMLElement)
    /// Text: entities decoded and trimmed by the parser; CDATA content kept as is.
    case text(String)
}

/// An element: a name, attributes in order, and children in order.
public struct XMLElement: Equatable, Sendable {
    /// The tag name.
    public var name: String
    /// The attributes, in document order.
    public var attributes: [XMLAttribute]
    /// Child elements and text, in document order.
    public var children: [XMLNode]
    /// Where the parser found the start tag (not compared by `==`).
    var offset: Int = 0

    /// Creates an element.
    public init(_ name: String, attributes: [XMLAttribute] = [], children: [XMLNode] = []) {
        self.name = name
        self.attributes = attributes
        self.children = children
    }

    /// Equal names, attributes and children (the parse offset is ignored).
    public static func == (lhs: XMLElement, rhs: XMLElement) -> Bool {
        lhs.name == rhs.name && lhs.attributes == rhs.attributes && lhs.children == rhs.children
    }

    /// The value of the first attribute called `name`, or nil.
    public subscript(attribute name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    /// The child elements, in order.
    public var elements: [XMLElement] {
        children.compactMap { node in
            if case .element(let element) = node { return element }
            return nil
        }
    }

    /// The first child element called `name` (Lua `el.name` in 1.x), or nil.
    public func firstElement(named name: String) -> XMLElement? {
        for case .element(let element) in children where element.name == name { return element }
        return nil
    }

    /// The first child when it is text (Lua `el.__value` in 1.x), or nil.
    public var value: String? {
        if case .text(let text)? = children.first { return text }
        return nil
    }
}

/// A parsed XML document: its processing instructions and its root-level nodes.
public struct XMLDocument: Equatable, Sendable {
    /// The processing instructions, in document order (Lua `doc.xml.version`).
    public var processingInstructions: [XMLProcessingInstruction]
    /// The root-level elements (and any non-blank text outside them), in document order.
    public var nodes: [XMLNode]

    /// Creates a document.
    public init(processingInstructions: [XMLProcessingInstruction] = [], nodes: [XMLNode] = []) {
        self.processingInstructions = processingInstructions
        self.nodes = nodes
    }

    /// The first root element, or nil.
    public var root: XMLElement? {
        for case .element(let element) in nodes { return element }
        return nil
    }

    /// The processing instruction called `name` (the first one), or nil.
    public func processingInstruction(named name: String) -> XMLProcessingInstruction? {
        processingInstructions.first { $0.name == name }
    }
}

/// The XML DOM of `mona:fromXML` / `mona:toXML`.
public enum XMLDOM {
    /// Parses an XML text into a document. Entities are decoded (1.x: kept as written), text is
    /// trimmed and blank text dropped, CDATA is kept as text, comments and DOCTYPE are skipped;
    /// elements nest at most `CodecLimits.maxDepth` deep.
    public static func parse(_ text: String) throws(CodecError) -> XMLDocument {
        try parse(Array(text.utf8))
    }

    /// Parses UTF-8 XML bytes (see `parse(_:)` for text).
    public static func parse(_ bytes: [UInt8]) throws(CodecError) -> XMLDocument {
        var scanner = XMLScanner(bytes: bytes, trimText: true, maxDepth: CodecLimits.maxDepth)
        return try scanner.parse()
    }

    /// Serializes with 1.x's spacing: processing instructions first (`<?xml version="1.0" ?>`), then
    /// the nodes in order: `<name attr="v" >children</name>`, `<name />` without children.
    /// Text and attribute values are escaped (1.x: written raw).
    public static func serialize(_ document: XMLDocument) -> String {
        var out: [UInt8] = []
        // 1.x: processing instructions came in Lua `next` order, possibly after the elements.
        for instruction in document.processingInstructions {
            out.append(contentsOf: "<?".utf8)
            out.append(contentsOf: instruction.name.utf8)
            out.append(0x20)
            appendAttributes(instruction.attributes, to: &out)
            out.append(contentsOf: "?>".utf8)
        }
        for node in document.nodes { append(node, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Serializes one element alone (same spacing as `serialize(_:)`).
    public static func serialize(_ element: XMLElement) -> String {
        var out: [UInt8] = []
        append(.element(element), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func append(_ node: XMLNode, to out: inout [UInt8]) {
        switch node {
        case .text(let text):
            XMLEscape.appendText(text, to: &out)
        case .element(let element):
            out.append(CodecBytes.less)
            out.append(contentsOf: element.name.utf8)
            out.append(0x20)
            appendAttributes(element.attributes, to: &out)
            if element.children.isEmpty {
                out.append(contentsOf: "/>".utf8)
                return
            }
            out.append(CodecBytes.greater)
            for child in element.children { append(child, to: &out) }
            out.append(contentsOf: "</".utf8)
            out.append(contentsOf: element.name.utf8)
            out.append(CodecBytes.greater)
        }
    }

    /// `name="value" ` for each attribute (each followed by a space, as 1.x).
    private static func appendAttributes(_ attributes: [XMLAttribute], to out: inout [UInt8]) {
        for attribute in attributes {
            out.append(contentsOf: attribute.name.utf8)
            out.append(contentsOf: "=\"".utf8)
            XMLEscape.appendAttribute(attribute.value, to: &out)
            out.append(contentsOf: "\" ".utf8)
        }
    }
}
