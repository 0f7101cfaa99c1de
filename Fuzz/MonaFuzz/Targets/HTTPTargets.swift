@testable import HTTPPlugin

/// The HTTP/1.1 request parser, fed in pieces, until it refuses the stream.
func fuzzHTTPParser(_ input: [UInt8]) {
    var parser = HTTPRequestParser()
    for piece in FuzzSlices(input) {
        do {
            _ = try piece.withUnsafeBytes { bytes throws(HTTPParseError) in try parser.feed(bytes) }
        } catch {
            return
        }
    }
}
