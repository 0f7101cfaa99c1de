import Testing
@testable import MonaCodecs
import MonaValues

/// The FunctionalTests `LUATests/XML` document, in 1.x's exact spacing.
private let functionalXML = #"<?xml version="1.0" ?><document ><article ><p >This is the first paragraph.</p><h2 class="opt" >Title with opt style</h2></article><article ><p >Some<b >important</b>text.</p></article></document>"#

@Test func xmlFunctionalTestsRoundTripIsByteExact() throws {
    let document = try XMLDOM.parse(functionalXML)
    #expect(XMLDOM.serialize(document) == functionalXML)
    #expect(try XMLDOM.serialize(XMLDOM.parse(codecBytes(functionalXML))) == functionalXML)
}

@Test func xmlFunctionalTestsAccessors() throws {
    let document = try XMLDOM.parse(functionalXML)
    #expect(document.processingInstructions == [XMLProcessingInstruction("xml", [XMLAttribute("version", "1.0")])])
    #expect(document.processingInstruction(named: "xml")?.attributes.first?.value == "1.0")
    let root = try #require(document.root)
    #expect(root.name == "document")
    #expect(document.nodes == [.element(root)])
    #expect(root.elements.count == 2)
    #expect(root.firstElement(named: "article")?.firstElement(named: "p")?.value == "This is the first paragraph.")
    let h2 = try #require(root.elements[0].firstElement(named: "h2"))
    #expect(h2[attribute: "class"] == "opt")
    #expect(h2[attribute: "id"] == nil)
    let p = try #require(root.elements[1].firstElement(named: "p"))
    #expect(p.children == [.text("Some"), .element(XMLElement("b", children: [.text("important")])), .text("text.")])
}

@Test func xmlSerializerSpacing() {
    let document = XMLDocument(
        processingInstructions: [XMLProcessingInstruction("xml", [XMLAttribute("version", "1.0"), XMLAttribute("encoding", "UTF-8")]),
                                 XMLProcessingInstruction("empty")],
        nodes: [.element(XMLElement("a", attributes: [XMLAttribute("x", "1"), XMLAttribute("y", "2")],
                                    children: [.element(XMLElement("c")), .text("t")]))])
    #expect(XMLDOM.serialize(document) == #"<?xml version="1.0" encoding="UTF-8" ?><?empty ?><a x="1" y="2" ><c />t</a>"#)
    #expect(XMLDOM.serialize(XMLElement("c")) == "<c />")
    #expect(XMLDOM.serialize(XMLDocument()) == "")
}

@Test func xmlEntitiesDecodedAndEscaped() throws {
    // 1.x: entities were kept as written and text/values written raw.
    let document = try XMLDOM.parse(#"<a t="x&amp;y&quot;&lt;" u='&apos;'>1 &lt; 2 &amp;&amp; 3 &gt; 2 &#233;&#x1F600;</a>"#)
    let a = try #require(document.root)
    #expect(a.attributes == [XMLAttribute("t", "x&y\"<"), XMLAttribute("u", "'")])
    #expect(a.value == "1 < 2 && 3 > 2 é😀")
    #expect(XMLDOM.serialize(document) == #"<a t="x&amp;y&quot;&lt;" u="'" >1 &lt; 2 &amp;&amp; 3 &gt; 2 é😀</a>"#)
    #expect(try XMLDOM.parse(XMLDOM.serialize(document)) == document)
    // Unknown entities and bare ampersands are kept literally.
    #expect(try XMLDOM.parse("<a>&nbsp; a & b &amp</a>").root?.value == "&nbsp; a & b &amp")
}

@Test func xmlTextTrimmingCDATACommentsAndDeclarations() throws {
    let text = """
    <?xml version="1.0"?>
    <!DOCTYPE note [ <!ELEMENT note (#PCDATA)> ]>
    <!-- a comment -->
    <note>
      <to>  Tove  </to>
      <!-- inner <comment> -->
      <body><![CDATA[ <raw> & text ]]></body>
      <empty></empty>
      <selfclosing/>
    </note>
    """
    let document = try XMLDOM.parse(text)
    let note = try #require(document.root)
    #expect(note.elements.map(\.name) == ["to", "body", "empty", "selfclosing"])
    #expect(note.firstElement(named: "to")?.value == "Tove")
    #expect(note.firstElement(named: "body")?.value == " <raw> & text ")
    #expect(note.firstElement(named: "empty")?.children == [])
    #expect(XMLDOM.serialize(document)
        == #"<?xml version="1.0" ?><note ><to >Tove</to><body > &lt;raw&gt; &amp; text </body><empty /><selfclosing /></note>"#)
}

@Test func xmlRootLevelNodes() throws {
    let document = try XMLDOM.parse("<a/> loose <b x='1'/><?pi k=\"v\"?>")
    #expect(document.nodes == [.element(XMLElement("a")), .text("loose"), .element(XMLElement("b", attributes: [XMLAttribute("x", "1")]))])
    #expect(document.processingInstructions == [XMLProcessingInstruction("pi", [XMLAttribute("k", "v")])])
    #expect(try XMLDOM.parse("") == XMLDocument())
    #expect(try XMLDOM.parse("\u{FEFF}<a/>").root == XMLElement("a"))
}

@Test func xmlRejectsEveryTruncation() {
    let bytes = codecBytes(functionalXML)
    let piEnd = codecBytes(#"<?xml version="1.0" ?>"#).count
    for length in 0..<bytes.count {
        let failed = codecFailure { try XMLDOM.parse(Array(bytes[0..<length])) } != nil
        // Only the empty text and the text ending right after the processing instruction are complete.
        #expect(failed == (length != 0 && length != piEnd), "prefix \(length)")
    }
}

@Test func xmlRejectsMalformedInput() {
    let bad = [
        "<a>", "</a>", "<a></b>", "<a><b></a></b>", "<a x=1/>", "<a x=\"1/>", "<a x/>", "<a =\"1\"/>", "< a/>", "<a", "<",
        "<a>&#xZZ;</a>", "<a>&#0;</a>", "<a>&#xD800;</a>", "<a>&#1114112;</a>", "<a x='&#;'/>", "<!-- open", "<![CDATA[ open",
        "<!DOCTYPE a [", "<?xml version", "<?xml version=\"1.0\"", "<?php echo 1 ?>", "<a></a ", "<a/ >",
    ]
    for text in bad {
        #expect(codecFailure { try XMLDOM.parse(text) } != nil, "\(text)")
    }
    #expect(codecFailure { try XMLDOM.parse([0x3C, 0x61, 0x3E, 0xC3, 0x28, 0x3C, 0x2F, 0x61, 0x3E]) } != nil)
    #expect(codecFailure { try XMLDOM.parse("<a><b></a>") }?.offset == 6)
}

@Test func xmlDepthLimit() throws {
    let limit = CodecLimits.maxDepth
    let atLimit = String(repeating: "<a>", count: limit) + String(repeating: "</a>", count: limit)
    #expect(try XMLDOM.serialize(XMLDOM.parse(atLimit)) == String(repeating: "<a >", count: limit - 1) + "<a />" + String(repeating: "</a>", count: limit - 1))
    let over = String(repeating: "<a>", count: limit + 1) + String(repeating: "</a>", count: limit + 1)
    #expect(codecFailure { try XMLDOM.parse(over) } != nil)
    #expect(codecFailure { try XMLDOM.parse(String(repeating: "<a>", count: 10000)) } != nil)
    #expect(codecFailure { try XMLDOM.parse(String(repeating: "<a>", count: 10000) + String(repeating: "</a>", count: 10000)) } != nil)
    // Siblings are not depth.
    #expect(try XMLDOM.parse("<r>" + String(repeating: "<a/>", count: 10000) + "</r>").root?.children.count == 10000)
}
