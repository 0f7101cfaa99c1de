import MonaCodecs
import MonaValues

/// AMF0 (with its switch to AMF3), then the values re-encoded.
func fuzzAMF0(_ input: [UInt8]) {
    guard let values = try? AMF.decode(input) else { return }
    _ = AMF.encode(values, mode: .amf0)
}

/// AMF3, then the values re-encoded.
func fuzzAMF3(_ input: [UInt8]) {
    guard let values = try? AMF.decodeAMF3(input) else { return }
    _ = AMF.encode(values, mode: .amf3Switching)
}

/// JSON, then the values re-encoded.
func fuzzJSON(_ input: [UInt8]) {
    guard let values = try? JSON.decode(input) else { return }
    _ = JSON.encode(values)
}

/// XML-RPC, then the values re-encoded.
func fuzzXMLRPC(_ input: [UInt8]) {
    guard let values = try? XMLRPC.decode(input) else { return }
    _ = XMLRPC.encode(values)
}

/// The XML DOM, then the document serialized.
func fuzzXML(_ input: [UInt8]) {
    guard let document = try? XMLDOM.parse(input) else { return }
    _ = XMLDOM.serialize(document)
}

/// Query strings (any bytes decode: bad escapes stay text), then the values re-encoded.
func fuzzQuery(_ input: [UInt8]) {
    _ = Query.encode(Query.decode(input))
}

/// MVS, then the values re-encoded.
func fuzzMVS(_ input: [UInt8]) {
    _ = MVSReader.leadingString(of: input)
    guard let values = try? MVSReader.decode(input) else { return }
    _ = MVSWriter.encode(values)
}
