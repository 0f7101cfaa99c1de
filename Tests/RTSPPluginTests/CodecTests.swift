import Testing
@testable import RTSPPlugin

@Suite("RTSP codecs: parameter sets, AAC config, base64")
struct CodecTests {
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5]
    static let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]

    @Test func avcRecordRoundTrips() throws {
        let config = AVCConfig(sps: [Self.sps], pps: [Self.pps])
        let parsed = try #require(AVCConfig(record: config.record[...]))
        #expect(parsed.sps == [Self.sps] && parsed.pps == [Self.pps] && parsed.lengthSize == 4)
        #expect(config.profileLevelID == "42c01e")
        #expect(config.spropParameterSets == "Z0LAHtoCgL/l,aM48gA==")
        #expect(AVCConfig(record: [1, 0x42, 0, 0x1E, 0xFF, 0xE1, 0, 40, 0x67][...]) == nil)
    }

    @Test func aacConfigGivesRateAndChannels() throws {
        let config = try #require(AACConfig([0x12, 0x10]))
        #expect(config.sampleRate == 44100 && config.channels == 2)
        let mono48 = try #require(AACConfig([0x11, 0x88]))
        #expect(mono48.sampleRate == 48000 && mono48.channels == 1)
        #expect(AACConfig([0x12]) == nil)
    }

    @Test func base64AndHexRoundTrip() {
        for size in 0..<8 {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 77 + 3) }
            #expect(Base64.decode(Base64.encode(bytes)[...]) == bytes)
            #expect(Hex.decode(Hex.encode(bytes)[...]) == bytes)
        }
        #expect(Base64.encode(Array("user:pass".utf8)) == "dXNlcjpwYXNz")
        #expect(Base64.decode("d$==") == nil)
        #expect(Hex.decode("abc") == nil)
    }
}
