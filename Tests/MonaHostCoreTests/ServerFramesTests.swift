@testable import MonaHostCore
import Testing

/// MonaServer 1.x's server-to-server frames, byte for byte: lengths, handler names then references,
/// control messages, and the bytes that are not frames.
@Suite struct ServerFramesTests {
    private func read(_ bytes: [UInt8], with reader: inout ServerFrameReader) throws -> (used: Int, messages: [ServerMessage]) {
        var messages: [ServerMessage] = []
        let used = try bytes.withUnsafeBytes { bytes throws(ServerFrameError) in try reader.read(bytes) { messages.append($0) } }
        return (used, messages)
    }

    @Test func handlerNamesGoOnceThenTheirReference() throws {
        var writer = ServerFrameWriter()
        let first = writer.message("ping", payload: [9, 8])
        #expect(first == [0, 0, 0, 7, 4] + Array("ping".utf8) + [9, 8])
        #expect(writer.message("ping", payload: [7]) == [0, 0, 0, 3, 0, 1, 7], "the name's reference (1), once sent")
        #expect(writer.message("pong", payload: []) == [0, 0, 0, 5, 4] + Array("pong".utf8))
        #expect(writer.message("pong", payload: []) == [0, 0, 0, 2, 0, 2])

        var reader = ServerFrameReader()
        var fresh = ServerFrameWriter()
        let stream = fresh.message("ping", payload: [9, 8]) + fresh.message("ping", payload: [7]) + fresh.message("pong", payload: [1])
        let (used, messages) = try read(stream, with: &reader)
        #expect(used == stream.count)
        #expect(messages == [.message(handler: "ping", payload: [9, 8]), .message(handler: "ping", payload: [7]),
                             .message(handler: "pong", payload: [1])])
    }

    @Test func referencesPast127AreVarints() throws {
        var writer = ServerFrameWriter()
        var reader = ServerFrameReader()
        for index in 1...200 { _ = try read(writer.message("h\(index)", payload: []), with: &reader) }
        let frame = writer.message("h200", payload: [])
        #expect(frame == [0, 0, 0, 3, 0, 0xC8, 0x01], "200 = 0x48 | 0x80, then 1")
        #expect(try read(frame, with: &reader).messages == [.message(handler: "h200", payload: [])])
    }

    @Test func helloAndReject() throws {
        let writer = ServerFrameWriter()
        let hello = writer.hello([ServerConfigPair(key: "a", value: "1"), ServerConfigPair(key: "HTTP.port", value: "")])
        #expect(hello == [0, 0, 0, 18, 0, 0, 1, 1] + Array("a".utf8) + [1] + Array("1".utf8) + [9] + Array("HTTP.port".utf8) + [0])
        let reject = writer.reject("no")
        #expect(reject == [0, 0, 0, 6, 0, 0, 0, 2] + Array("no".utf8))
        var reader = ServerFrameReader()
        #expect(try read(hello + reject, with: &reader).messages == [
            .hello([ServerConfigPair(key: "a", value: "1"), ServerConfigPair(key: "HTTP.port", value: "")]), .reject("no"),
        ])
        #expect(try ServerFrameReader.strings(ServerFrameWriter.applications(["", "/a/b"])) == ["", "/a/b"])
    }

    @Test func partialFramesWaitAndBadBytesAreRefused() throws {
        var writer = ServerFrameWriter()
        let frame = writer.message("ping", payload: [1, 2, 3])
        var reader = ServerFrameReader()
        #expect(try read(Array(frame.prefix(6)), with: &reader).used == 0, "half a frame waits for the rest")
        #expect(try read(frame + [0, 0], with: &reader).used == frame.count)

        func refused(_ bytes: [UInt8], _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            var fresh = ServerFrameReader()
            #expect(throws: ServerFrameError(text: text), sourceLocation: sourceLocation) { try read(bytes, with: &fresh) }
        }
        refused([0, 0, 0, 2, 0, 1], "an unknown handler reference 1")
        refused([0, 0, 0, 3, 0, 0, 7], "an unknown control message 7")
        refused([0, 0, 0, 3, 5, 1, 2], "a frame cut short")
        refused([0, 0, 0, 0], "an empty frame")
        refused([0x7F, 0, 0, 0], "a frame of \(0x7F00_0000) bytes, over \(ServerFrameReader.maxFrameSize)")
        refused([0, 0, 0, 7, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "a number longer than 5 bytes")
    }

    @Test func targetsParse() {
        var invalid: [String] = []
        let targets = ServerMesh.parseTargets(" 10.0.0.1:1936 ; edge.example:1937?role=edge&x ;[::1]:5;nope", invalid: { invalid.append($0) })
        #expect(targets.map(\.host) == ["10.0.0.1", "edge.example", "::1"])
        #expect(targets.map(\.port) == [1936, 1937, 5])
        #expect(targets[1].properties == [ServerConfigPair(key: "role", value: "edge"), ServerConfigPair(key: "x", value: "")])
        #expect(invalid == ["nope"])
    }
}
