import Foundation
import MonaCodecs
import MonaValues
@testable import RTMPPlugin

/// A minimal RTMP client over `TestSocket` (simple handshake, AMF0 commands) for what packaged clients
/// cannot do on demand: remote calls, commands out of order, malformed messages.
final class RTMPTestClient {
    let socket: TestSocket
    private var encoder = RTMPChunkEncoder()
    private var decoder = RTMPChunkDecoder()
    private var pending: [RTMPMessage] = []

    /// Connects and performs the simple handshake (C1 with a zero version, so no digest).
    init(port: UInt16) throws {
        socket = try TestSocket(tcpPort: port)
        var c1 = [UInt8](repeating: 0, count: 1536)
        for index in 8..<1536 { c1[index] = UInt8.random(in: 0...255) }
        try socket.send([3] + c1)
        let answer = try socket.receive(count: 1 + 2 * 1536)
        guard answer[0] == 3, Array(answer[1537...]) == c1 else { throw TestFailure("unexpected S0/S2") }
        try socket.send(Array(answer[1..<1537]))
    }

    func send(_ message: RTMPMessage) throws { try socket.send(encoder.encode(message)) }

    /// A command (type 20, AMF0) on a message stream.
    func command(_ values: [MonaValue], stream: UInt32 = 0) throws {
        try send(RTMPMessage(csid: 3, typeID: 20, streamID: stream, payload: AMF.encode(values, mode: .amf0).bytes))
    }

    /// The next message from the server.
    func readMessage() throws -> RTMPMessage {
        while pending.isEmpty {
            guard let bytes = socket.receiveSome() else { throw TestFailure("time-out waiting for a message") }
            guard !bytes.isEmpty else { throw TestFailure("the server closed the connection") }
            pending += try decoder.feed(bytes)
        }
        return pending.removeFirst()
    }

    /// The values of the next command the server sends (other messages skipped).
    func readCommand() throws -> [MonaValue] {
        while true {
            let message = try readMessage()
            if message.typeID == 20 { return try AMF.decode(message.payload) }
        }
    }

    /// connect to rtmp://127.0.0.1:port/<app>; the server's answer (`_result` or `_error` …).
    func connect(app: String, port: UInt16, arguments: [MonaValue] = [], objectEncoding: Double? = nil) throws -> [MonaValue] {
        var fields = [MonaField("app", .string(app)), MonaField("tcUrl", .string("rtmp://127.0.0.1:\(port)/\(app)")),
                      MonaField("flashVer", .string("TEST 1,0,0,0"))]
        if let objectEncoding { fields.append(MonaField("objectEncoding", .number(objectEncoding))) }
        let object = MonaValue.object(type: "", fields: fields)
        try command([.string("connect"), .number(1), object] + arguments)
        return try readCommand()
    }
}
