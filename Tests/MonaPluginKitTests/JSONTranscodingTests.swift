import MonaCodecs
import MonaPluginKit
import MonaValues
import Testing

/// The plugin-side JSON readers and writers give what the host's codecs give, byte for byte, or
/// leave the text to the host (nil).
@Suite struct JSONTranscodingTests {
    /// The host's answer: value_decode(JSON) is MonaCodecs' JSON.decode written as MVS.
    private func hostStream(_ json: String) -> [UInt8]? {
        guard let values = try? JSON.decode(Array(json.utf8)) else { return nil }
        return MVSWriter.encode(values)
    }

    private func transcoded(_ json: String) -> [UInt8]? {
        Array(json.utf8).withUnsafeBytes { JSONArguments.transcode($0) }
    }

    @Test(arguments: [
        #"["echo", 1, "payload"]"#, "[]", "", "  \n", "12", "-0", "-12.5e3", "1E+2", "123456789012345",
        "1234567890123456789", "0.1", #""text""#, "true", "FALSE", "Null", #"[true, false, null, TRUE]"#,
        #"{"a": 1, "b": [1, 2, {"c": "d"}], "a": 2}"#, "{}", "[[], {}, [[]]]",
        #"["a\"b\\c\/d\b\f\n\r\t"]"#, #"["é", "日本", "😀"]"#, "\u{FEFF}[1]",
        #"["__raw"]"#, #"{"x__raw": 1, "_raw": 2}"#,
        "[" + (0..<200).map(String.init).joined(separator: ",") + "]",
        "{" + (0..<130).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}",
    ])
    func sameStreamAsTheHost(_ json: String) throws {
        let mine = try #require(transcoded(json), "left to the host: \(json)")
        #expect(mine == hostStream(json), "\(json)")
    }

    @Test(arguments: [
        // what the host decides: special objects, \u escapes, deep nesting, malformed text
        #"{"__raw": "AAE="}"#, #"{"__time": 5}"#, #"{"__type": "T", "a": 1}"#, #"["\u00e9"]"#,
        String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
        "[1,]", "[1 2]", "{\"a\" 1}", "01", "1.", "-", "1e", "[tru]", "\"open", "[1] x", "[\"\\x\"]", "{1: 2}",
    ])
    func leftToTheHost(_ json: String) {
        #expect(transcoded(json) == nil, "\(json)")
    }

    @Test func invalidUTF8IsLeftToTheHost() {
        let bytes: [UInt8] = [0x5B, 0x22, 0xC3, 0x28, 0x22, 0x5D] // ["\xC3("]
        #expect(bytes.withUnsafeBytes { JSONArguments.transcode($0) } == nil)
    }

    /// Random documents of the kinds RPC messages hold: the same stream as the host, always.
    @Test func randomDocumentsMatchTheHost() throws {
        var generator = SplitMix(seed: 0x5EED)
        for _ in 0..<1000 {
            let json = "[" + (0..<Int(generator.next() % 5)).map { _ in randomJSON(&generator, depth: 0) }.joined(separator: ", ") + "]"
            let mine = try #require(transcoded(json), "left to the host: \(json)")
            #expect(mine == hostStream(json), "\(json)")
        }
    }

    /// JSONReply (MVS → JSON in the plugin) writes what the host's JSON writer writes.
    @Test func repliesMatchTheHostWriter() throws {
        var generator = SplitMix(seed: 0xBEEF)
        for _ in 0..<1000 {
            let json = "[" + (0..<Int(generator.next() % 5)).map { _ in randomJSON(&generator, depth: 0) }.joined(separator: ", ") + "]"
            let values = try JSON.decode(Array(json.utf8))
            let stream = MVSWriter.encode(values)
            let mine = try #require(stream.withUnsafeBytes { JSONReply.transcode(mvs: $0) })
            #expect(mine == JSON.encode(values).bytes, "\(json)")
        }
    }

    private func randomJSON(_ generator: inout SplitMix, depth: Int) -> String {
        switch generator.next() % (depth < 4 ? 9 : 6) {
        case 0: return ["true", "false", "null"][Int(generator.next() % 3)]
        case 1: return String(Int64(bitPattern: generator.next()) % 1_000_000)
        case 2: return String(Double(Int64(bitPattern: generator.next()) % 100_000) / 64)
        case 3: return "1e\(Int(generator.next() % 40))"
        case 4, 5:
            let pieces = ["a", "é", "\\n", "\\\"", "x y", "😀", "\\\\", "\\t", "0"]
            return "\"" + (0..<Int(generator.next() % 6)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined() + "\""
        case 6, 7:
            return "[" + (0..<Int(generator.next() % 4)).map { _ in randomJSON(&generator, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{" + (0..<Int(generator.next() % 4)).map { index in "\"k\(index)\": " + randomJSON(&generator, depth: depth + 1) }
                .joined(separator: ",") + "}"
        }
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
