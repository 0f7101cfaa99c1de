import Foundation

/// A raw WebSocket client over `TestSocket` for the RFC cases a real client library refuses to produce:
/// it performs the handshake, sends frames exactly as given and reads the server's frames.
final class WebSocketTestClient {
    let socket: TestSocket
    /// The 101 (or error) response head, lines without their CRLF.
    private(set) var responseHead: [String] = []

    /// Connects and sends an upgrade request for `path` with `headers` added (or replacing the defaults).
    init(port: UInt16, path: String = "/", headers: [String: String] = [:], timeout: TimeInterval = 5) throws {
        socket = try TestSocket(tcpPort: port, timeout: timeout)
        var fields = ["Host": "127.0.0.1:\(port)", "Upgrade": "websocket", "Connection": "Upgrade",
                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"]
        fields.merge(headers) { $1 }
        var request = "GET \(path) HTTP/1.1\r\n"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) where !value.isEmpty { request += "\(name): \(value)\r\n" }
        try socket.send(request + "\r\n")
        while true {
            let line = try socket.readLine()
            if line == "\r" || line.isEmpty { break }
            responseHead.append(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        }
    }

    /// The status code of the response.
    var status: Int { Int(responseHead.first?.split(separator: " ").dropFirst().first ?? "") ?? 0 }

    /// The body of an error response (Content-Length bytes).
    func body() throws -> String {
        let length = responseHead.first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        return String(decoding: try socket.receive(count: length), as: UTF8.self)
    }

    /// A masked frame (see `clientFrame` in the plugin's tests for the same layout).
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count <= 125 {
            frame.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xFF)) }
        }
        guard masked else { return frame + payload }
        let mask: [UInt8] = [0xA1, 0x5B, 0x07, 0xE3]
        return frame + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    }

    func send(_ bytes: [UInt8]) throws { try socket.send(bytes) }

    func sendText(_ text: String) throws { try socket.send(Self.frame(1, Array(text.utf8))) }

    /// The next server frame: opcode and payload (server frames are never masked).
    func readFrame() throws -> (opcode: UInt8, payload: [UInt8]) {
        let head = try socket.receive(count: 2)
        guard head[1] & 0x80 == 0 else { throw TestFailure("a masked server frame") }
        var length = Int(head[1] & 0x7F)
        if length == 126 {
            let bytes = try socket.receive(count: 2)
            length = Int(bytes[0]) << 8 | Int(bytes[1])
        } else if length == 127 {
            length = try socket.receive(count: 8).reduce(0) { $0 << 8 | Int($1) }
        }
        return (head[0] & 0x0F, length == 0 ? [] : try socket.receive(count: length))
    }

    /// The next text frame's text, skipping pings.
    func readText() throws -> String {
        while true {
            let frame = try readFrame()
            if frame.opcode == 9 { continue }
            guard frame.opcode == 1 else { throw TestFailure("opcode \(frame.opcode) instead of text") }
            return String(decoding: frame.payload, as: UTF8.self)
        }
    }

    /// Reads frames until a close frame; returns its code (nil for an empty one).
    func readClose() throws -> UInt16? {
        while true {
            let frame = try readFrame()
            guard frame.opcode == 8 else { continue }
            return frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
        }
    }
}
