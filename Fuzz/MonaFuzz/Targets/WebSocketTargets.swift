import MonaValues
@testable import WebSocketPlugin

/// The frame parser, fed in pieces, until it fails the connection.
func fuzzWebSocketFrames(_ input: [UInt8]) {
    var parser = WebSocketFrameParser(maxMessageSize: 1 << 16)
    for piece in FuzzSlices(input) {
        do {
            _ = try piece.withUnsafeBytes { bytes throws(WebSocketFailure) in try parser.feed(bytes) }
        } catch {
            return
        }
    }
}

/// The upgrade request as the HTTP plugin hands it over (MVS), then the handshake's decision on it.
func fuzzWebSocketHandshake(_ input: [UInt8]) {
    _ = Base64.decode(String(decoding: input, as: UTF8.self))
    guard let values = try? MVSReader.decode(input) else { return }
    for value in values {
        guard let request = WebSocketHandshake.Request(value) else { continue }
        if case .accept(let key, _) = WebSocketHandshake.decide(request, supported: ["chat"]) {
            _ = WebSocketHandshake.accept(key: key) { _ in [UInt8](repeating: 0, count: 20) }
        }
    }
}
