import CMonaCrypto
import Testing
@testable import WebSocketPlugin

// Frames are built by hand from RFC 6455 §5; every case is also fed byte by byte.

/// A masked client frame.
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true,
                 mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D], lengthForm: Int? = nil) -> [UInt8] {
    var frame: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    switch lengthForm ?? (payload.count <= 125 ? 7 : payload.count <= 0xFFFF ? 16 : 64) {
    case 7: frame.append(maskBit | UInt8(payload.count))
    case 16: frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default:
        frame.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xFF)) }
    }
    if masked {
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    } else {
        frame += payload
    }
    return frame
}

/// What a parser makes of `bytes`: its events, or the failure's code.
private func outcome(_ bytes: [UInt8], split: Bool, max: Int = 1 << 20) -> ([WebSocketEvent], UInt16?) {
    var parser = WebSocketFrameParser(maxMessageSize: max)
    var events: [WebSocketEvent] = []
    let pieces = split ? bytes.map { [$0] } : [bytes]
    for piece in pieces {
        do throws(WebSocketFailure) {
            events += try piece.withUnsafeBytes { bytes in
                Result { () throws(WebSocketFailure) in try parser.feed(bytes) }
            }.get()
        } catch {
            return (events, error.code)
        }
    }
    return (events, nil)
}

/// One RFC case: the bytes a client sends, the events before the end, and the close code expected (nil: none).
struct FrameCase: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    let events: [WebSocketEvent]
    let failure: UInt16?
    var testDescription: String { name }
}

let hello = Array("Hello".utf8)
let frameCases: [FrameCase] = [
    FrameCase(name: "masked text", bytes: clientFrame(1, hello), events: [.text(hello)], failure: nil),
    FrameCase(name: "binary with a 16-bit length", bytes: clientFrame(2, [UInt8](repeating: 7, count: 300)),
              events: [.binary([UInt8](repeating: 7, count: 300))], failure: nil),
    FrameCase(name: "binary with a 64-bit length", bytes: clientFrame(2, [UInt8](repeating: 9, count: 70000)),
              events: [.binary([UInt8](repeating: 9, count: 70000))], failure: nil),
    FrameCase(name: "a short length in the 64-bit form", bytes: clientFrame(2, [1, 2], lengthForm: 64), events: [.binary([1, 2])], failure: nil),
    FrameCase(name: "empty text", bytes: clientFrame(1, []), events: [.text([])], failure: nil),
    FrameCase(name: "fragments with a ping between them",
              bytes: clientFrame(1, Array("Hel".utf8), fin: false) + clientFrame(9, [1]) + clientFrame(0, Array("lo".utf8)),
              events: [.ping([1]), .text(hello)], failure: nil),
    FrameCase(name: "many frames in one write", bytes: clientFrame(1, hello) + clientFrame(10, []) + clientFrame(2, [0]),
              events: [.text(hello), .pong([]), .binary([0])], failure: nil),
    FrameCase(name: "UTF-8 split across fragments", bytes: clientFrame(1, [0xE2, 0x82], fin: false) + clientFrame(0, [0xAC]),
              events: [.text([0xE2, 0x82, 0xAC])], failure: nil),
    FrameCase(name: "close with code and reason", bytes: clientFrame(8, [0x03, 0xE8] + Array("bye".utf8)),
              events: [.close(code: 1000, reason: "bye")], failure: nil),
    FrameCase(name: "empty close", bytes: clientFrame(8, []), events: [.close(code: nil, reason: "")], failure: nil),
    FrameCase(name: "bytes after a close are ignored", bytes: clientFrame(8, []) + [0xFF, 0xFF],
              events: [.close(code: nil, reason: "")], failure: nil),
    FrameCase(name: "unmasked client frame", bytes: clientFrame(1, hello, masked: false), events: [], failure: 1002),
    FrameCase(name: "reserved bit 1", bytes: clientFrame(1, hello, rsv: 4), events: [], failure: 1002),
    FrameCase(name: "reserved bits 2 and 3", bytes: clientFrame(1, hello, rsv: 3), events: [], failure: 1002),
    FrameCase(name: "opcode 3", bytes: clientFrame(3, []), events: [], failure: 1002),
    FrameCase(name: "opcode 0xB", bytes: clientFrame(0xB, []), events: [], failure: 1002),
    FrameCase(name: "fragmented ping", bytes: clientFrame(9, [1], fin: false), events: [], failure: 1002),
    FrameCase(name: "ping of 126 bytes", bytes: clientFrame(9, [UInt8](repeating: 0, count: 126)), events: [], failure: 1002),
    FrameCase(name: "continuation without a message", bytes: clientFrame(0, hello), events: [], failure: 1002),
    FrameCase(name: "a new message inside a fragmented one",
              bytes: clientFrame(1, hello, fin: false) + clientFrame(1, hello), events: [], failure: 1002),
    FrameCase(name: "invalid UTF-8 in text", bytes: clientFrame(1, [0x48, 0xC0, 0x80]), events: [], failure: 1007),
    FrameCase(name: "a surrogate in text", bytes: clientFrame(1, [0xED, 0xA0, 0x80]), events: [], failure: 1007),
    FrameCase(name: "invalid UTF-8 in the second fragment",
              bytes: clientFrame(1, hello, fin: false) + clientFrame(0, [0xFF]), events: [], failure: 1007),
    FrameCase(name: "text ending inside a sequence", bytes: clientFrame(1, [0x41, 0xE2, 0x82]), events: [], failure: 1007),
    FrameCase(name: "binary is not checked for UTF-8", bytes: clientFrame(2, [0xFF]), events: [.binary([0xFF])], failure: nil),
    FrameCase(name: "close with a 1-byte payload", bytes: clientFrame(8, [3]), events: [], failure: 1002),
    FrameCase(name: "close with code 1005", bytes: clientFrame(8, [0x03, 0xED]), events: [], failure: 1002),
    FrameCase(name: "close with code 999", bytes: clientFrame(8, [0x03, 0xE7]), events: [], failure: 1002),
    FrameCase(name: "close with code 2000", bytes: clientFrame(8, [0x07, 0xD0]), events: [], failure: 1002),
    FrameCase(name: "close with code 4999", bytes: clientFrame(8, [0x13, 0x87]), events: [.close(code: 4999, reason: "")], failure: nil),
    FrameCase(name: "close with an invalid UTF-8 reason", bytes: clientFrame(8, [0x03, 0xE8, 0xFF]), events: [], failure: 1007),
    FrameCase(name: "a frame over the maximum", bytes: clientFrame(2, [UInt8](repeating: 1, count: 2000)), events: [], failure: 1009),
    FrameCase(name: "fragments over the maximum together",
              bytes: clientFrame(2, [UInt8](repeating: 1, count: 600), fin: false) + clientFrame(0, [UInt8](repeating: 1, count: 600)),
              events: [], failure: 1009),
    FrameCase(name: "a 64-bit length with the high bit", bytes: [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
              events: [], failure: 1002),
]

@Suite struct FrameParserTests {
    @Test(arguments: frameCases)
    func rfcCase(_ item: FrameCase) {
        let max = item.name.contains("maximum") ? 1024 : 1 << 20
        for split in [false, true] {
            let (events, failure) = outcome(item.bytes, split: split, max: max)
            #expect(events == item.events, "\(item.name), split: \(split)")
            #expect(failure == item.failure, "\(item.name), split: \(split)")
        }
    }

    @Test func aPartMessageIsSeenUntilItsLastFragment() throws {
        var parser = WebSocketFrameParser(maxMessageSize: 1 << 20)
        func feed(_ bytes: [UInt8]) throws -> [WebSocketEvent] {
            try bytes.withUnsafeBytes { bytes in Result { () throws(WebSocketFailure) in try parser.feed(bytes) } }.get()
        }
        #expect(parser.isBetweenMessages)
        _ = try feed([0x01])
        #expect(!parser.isBetweenMessages, "a header byte")
        _ = try feed(Array(clientFrame(1, Array("ab".utf8), fin: false).dropFirst()))
        #expect(!parser.isBetweenMessages, "a first fragment")
        #expect(try feed(clientFrame(9, [])) == [.ping([])])
        #expect(!parser.isBetweenMessages, "a ping between fragments")
        #expect(try feed(clientFrame(0, Array("c".utf8))) == [.text(Array("abc".utf8))])
        #expect(parser.isBetweenMessages)
    }

    @Test func oversizeIsRefusedFromTheHeaderAlone() {
        var parser = WebSocketFrameParser(maxMessageSize: 1024)
        let header: [UInt8] = [0x82, 0xFF, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]
        #expect(throws: WebSocketFailure.self) { _ = try header.withUnsafeBytes { try parser.feed($0) } }
        #expect(parser.isDone)
    }

    @Test func serverFramesUseTheShortestLength() {
        #expect(WebSocketFrame.encode(.text, hello) == [0x81, 5] + hello)
        #expect(WebSocketFrame.encode(.binary, [UInt8](repeating: 0, count: 126)).prefix(4) == [0x82, 126, 0, 126])
        #expect(WebSocketFrame.encode(.binary, [UInt8](repeating: 0, count: 65536)).prefix(10) == [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
        #expect(WebSocketFrame.close(1000, reason: "ok") == [0x88, 4, 0x03, 0xE8, 0x6F, 0x6B])
        let long = WebSocketFrame.close(1001, reason: String(repeating: "é", count: 100))
        #expect(long.count <= 127 && long[1] <= 125, "a close payload fits a control frame")
        #expect(UTF8Validator.isValid(Array(long[4...])), "the reason is cut on a character boundary")
    }

    @Test func utf8Validator() {
        for valid: [UInt8] in [[], [0x41], [0xC2, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]] {
            #expect(UTF8Validator.isValid(valid), "\(valid)")
        }
        for invalid: [UInt8] in [[0x80], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xBF, 0xBF],
                                 [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xC2], [0xFE]] {
            #expect(!UTF8Validator.isValid(invalid), "\(invalid)")
        }
    }
}

@Suite struct HandshakeTests {
    static func request(_ headers: [(String, String)], method: String = "GET") -> WebSocketHandshake.Request {
        WebSocketHandshake.Request(method: method, path: "/", query: "", headers: headers)
    }

    static let good = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
                       ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]

    @Test func theAcceptValueOfRFC6455() {
        let accept = WebSocketHandshake.accept(key: "dGhlIHNhbXBsZSBub25jZQ==") { bytes in
            var digest = [UInt8](repeating: 0, count: 20)
            mona_crypto_sha1(bytes, bytes.count, &digest)
            return digest
        }
        #expect(accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func decisions() {
        #expect(WebSocketHandshake.decide(Self.request(Self.good), supported: nil) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocol: nil))
        let offered = Self.good + [("Sec-WebSocket-Protocol", "chat, superchat")]
        #expect(WebSocketHandshake.decide(Self.request(offered), supported: nil) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocol: "chat"))
        #expect(WebSocketHandshake.decide(Self.request(offered), supported: ["superchat"]) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocol: "superchat"))
        #expect(WebSocketHandshake.decide(Self.request(offered), supported: ["mqtt"]) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocol: nil))
        func status(_ headers: [(String, String)], method: String = "GET") -> Int? {
            if case .refuse(let status, _, _) = WebSocketHandshake.decide(Self.request(headers, method: method), supported: nil) { return status }
            return nil
        }
        #expect(status(Self.good.map { $0.0 == "Sec-WebSocket-Version" ? ($0.0, "8") : $0 }) == 426)
        #expect(status(Self.good.filter { $0.0 != "Sec-WebSocket-Version" }) == 426)
        #expect(status(Self.good.filter { $0.0 != "Sec-WebSocket-Key" }) == 400)
        #expect(status(Self.good.map { $0.0 == "Sec-WebSocket-Key" ? ($0.0, "c2hvcnQ=") : $0 }) == 400, "a key that is not 16 bytes")
        #expect(status(Self.good.filter { $0.0 != "Connection" }) == 400)
        #expect(status(Self.good, method: "POST") == 405)
    }

    @Test func answers() {
        let switching = String(decoding: WebSocketHandshake.switching(accept: "abc=", subprotocol: "chat", cookies: ["a=1"]), as: UTF8.self)
        #expect(switching == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: abc=\r\nServer: Mona\r\nSec-WebSocket-Protocol: chat\r\nSet-Cookie: a=1\r\n\r\n")
        let refusal = String(decoding: WebSocketHandshake.refusal(status: 426, headers: ["Sec-WebSocket-Version: 13"], message: "no"), as: UTF8.self)
        #expect(refusal.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n") && refusal.contains("\r\nSec-WebSocket-Version: 13\r\n"))
        #expect(refusal.hasSuffix("Content-Length: 3\r\n\r\nno\n"))
    }

    @Test func base64() {
        for (bytes, text) in [([UInt8](), ""), (Array("f".utf8), "Zg=="), (Array("fo".utf8), "Zm8="), (Array("foo".utf8), "Zm9v"),
                              (Array("foobar".utf8), "Zm9vYmFy"), ([0xFF, 0xFE], "//4=")] {
            #expect(Base64.encode(bytes) == text)
            #expect(Base64.decode(text) == bytes)
        }
        for bad in ["Zg=", "Z===", "Zg=a", "Zm9v!A==", "=Zg="] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }
}
