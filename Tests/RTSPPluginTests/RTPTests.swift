import Testing
@testable import RTSPPlugin

@Suite("RTP: H.264 and AAC payloads both ways, RTCP")
struct RTPTests {
    /// RTP packets of `payloads` for one access unit at `timestamp`.
    static func packets(_ payloads: [[UInt8]], sender: inout RTPSender, timestamp: UInt32) -> [[UInt8]] {
        payloads.enumerated().map { sender.packet(payload: $1, timestamp: timestamp, marker: $0 == payloads.count - 1) }
    }

    @Test func h264UnitsAggregateFragmentAndReassemble() throws {
        let sps = CodecTests.sps, pps = CodecTests.pps
        let idr: [UInt8] = [0x65] + (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
        let small: [UInt8] = [0x06, 1, 2, 3]
        let payloads = NALPacketizer(hevc: false, maxPayload: 1400).payloads([sps, pps, small, idr])
        // SPS, PPS and the SEI in one STAP-A; the IDR in FU-As of at most 1400 bytes.
        #expect(payloads[0][0] & 0x1F == 24)
        #expect(payloads.dropFirst().allSatisfy { $0[0] & 0x1F == 28 && $0.count <= 1400 })
        #expect(payloads.count == 1 + 4)
        var sender = RTPSender(payloadType: 96, clockRate: 90000, random: [1, 2, 3, 4, 0, 0, 0, 9, 0xFF, 0xFE])
        let packets = Self.packets(payloads, sender: &sender, timestamp: 9000)
        var depacketizer = NALDepacketizer()
        var units: [NALDepacketizer.AccessUnit] = []
        for packet in packets {
            packet.withUnsafeBytes { bytes in
                let (header, payload) = RTPPacket.decode(bytes)!
                units += depacketizer.packet(header, payload)
            }
        }
        #expect(units == [NALDepacketizer.AccessUnit(timestamp: 9000, units: [sps, pps, small, idr])])
        #expect(sender.sequence == 0xFFFE &+ 5) // wrapped around
    }

    @Test func aLostFragmentDropsTheAccessUnitOnly() {
        let idr: [UInt8] = [0x65] + [UInt8](repeating: 7, count: 3000)
        let slice: [UInt8] = [0x41, 9, 9]
        var sender = RTPSender(payloadType: 96, clockRate: 90000, random: [UInt8](repeating: 0, count: 10))
        var packets = Self.packets(NALPacketizer(hevc: false, maxPayload: 1400).payloads([idr]), sender: &sender, timestamp: 0)
        packets.remove(at: 1)
        packets += Self.packets([slice], sender: &sender, timestamp: 3000)
        var depacketizer = NALDepacketizer()
        var units: [NALDepacketizer.AccessUnit] = []
        for packet in packets {
            packet.withUnsafeBytes { units += depacketizer.packet(RTPPacket.decode($0)!.header, RTPPacket.decode($0)!.payload) }
        }
        #expect(units == [NALDepacketizer.AccessUnit(timestamp: 3000, units: [slice])])
        #expect(depacketizer.dropped == 1)
    }

    @Test func aacFramesTravelWithAUHeaders() throws {
        let frame = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        let payloads = frame.withUnsafeBytes { AACPayload.payloads($0, maxPayload: 1400) }
        #expect(payloads == [[0, 16, UInt8(300 >> 5), UInt8((300 & 0x1F) << 3)] + frame])
        let parsed = try #require(payloads[0].withUnsafeBytes { AACPayload.units($0, sizeLength: 13, indexLength: 3) })
        #expect(parsed.units == [frame] && parsed.announced == nil)
        // Two units in one packet (FFmpeg aggregates them).
        let two: [UInt8] = [0, 32, 0, 2 << 3, 0, 3 << 3, 0xA, 0xB, 1, 2, 3]
        #expect(two.withUnsafeBytes { AACPayload.units($0, sizeLength: 13, indexLength: 3) }?.units == [[0xA, 0xB], [1, 2, 3]])
        // Headers that announce more than there is.
        let short: [UInt8] = [0, 32, 0, 9 << 3, 0, 3 << 3, 1]
        #expect(short.withUnsafeBytes { AACPayload.units($0, sizeLength: 13, indexLength: 3) } == nil)
    }

    @Test func senderReportsMapNTPToRTP() throws {
        let report = RTCP.senderReport(ssrc: 0x01020304, wallMs: 1_000_500, rtpTime: 777, packets: 3, octets: 99, cname: "Mona")
        let types = try #require(report.withUnsafeBytes { RTCP.packetTypes($0) })
        #expect(types == [200, 202])
        let seconds = UInt32(report[8]) << 24 | UInt32(report[9]) << 16 | UInt32(report[10]) << 8 | UInt32(report[11])
        #expect(UInt64(seconds) == 1000 + RTCP.ntpOffset)
        let fraction = UInt32(report[12]) << 24 | UInt32(report[13]) << 16 | UInt32(report[14]) << 8 | UInt32(report[15])
        #expect(fraction == UInt32(UInt64(1) << 31))
        #expect(report[16..<20].elementsEqual([0, 0, 3, 9]))
        #expect([UInt8]([0x80, 201, 0, 5, 0]).withUnsafeBytes { RTCP.packetTypes($0) } == nil)
    }

    @Test func h265UnitsAggregateFragmentAndReassemble() throws {
        let vps: [UInt8] = [0x40, 0x01, 0x0C, 0x01], sps: [UInt8] = [0x42, 0x01, 0x01, 0x01], pps: [UInt8] = [0x44, 0x01, 0xC1, 0x72]
        let idr: [UInt8] = [0x26, 0x01] + (0..<4000).map { UInt8(truncatingIfNeeded: $0 * 3) }
        let payloads = NALPacketizer(hevc: true, maxPayload: 1400).payloads([vps, sps, pps, idr])
        #expect((payloads[0][0] >> 1) & 0x3F == 48) // AP
        #expect(payloads.dropFirst().allSatisfy { ($0[0] >> 1) & 0x3F == 49 && $0.count <= 1400 }) // FUs
        var sender = RTPSender(payloadType: 96, clockRate: 90000, random: [UInt8](repeating: 3, count: 10))
        var depacketizer = NALDepacketizer(hevc: true)
        var units: [NALDepacketizer.AccessUnit] = []
        for packet in Self.packets(payloads, sender: &sender, timestamp: 1) {
            packet.withUnsafeBytes { units += depacketizer.packet(RTPPacket.decode($0)!.header, RTPPacket.decode($0)!.payload) }
        }
        #expect(units == [NALDepacketizer.AccessUnit(timestamp: 1, units: [vps, sps, pps, idr])])
    }

    @Test func hevcRecordCarriesTheParameterSetsAndTheSDPNamesThem() throws {
        // An SPS: NAL header, then VPS id/sub-layers/nesting, then 12 bytes of profile_tier_level (with an
        // emulation prevention byte inside).
        let sps: [UInt8] = [0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5D, 0xA0]
        let vps: [UInt8] = [0x40, 0x01, 0x0C], pps: [UInt8] = [0x44, 0x01, 0xC1]
        let record = try #require(HEVCRecord.build([vps, sps, pps]))
        #expect(record[1] == 0x01 && record[2] == 0x60 && record[12] == 0x5D) // profile, compatibility, level
        let config = try #require(record.withUnsafeBytes { VideoConfig(codec: FLVMedia.hevc, record: $0) })
        #expect(config.hevc && config.sets == [vps, sps, pps] && config.lengthSize == 4)
        #expect(config.fmtp == "sprop-vps=QAEM;sprop-sps=\(Base64.encode(sps));sprop-pps=RAHB")
        #expect(HEVCRecord.build([vps, pps]) == nil)
    }

    @Test func decodeTimesOfBFramesAreMonotonicWithOffsets() {
        // A pyramid of B-frames in decode order (presentation times in frames of 40 ms): I0 P4 B2 b1 b3 P8 B6 b5 b7.
        var times = DecodeTimes<Int>(window: 4)
        var out: [DecodeTimes<Int>.Timed] = []
        for (index, frame) in [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11].enumerated() { out += times.push(pts: Int64(frame * 40), index) }
        #expect(out.map(\.item) == Array(0..<9))
        #expect(zip(out, out.dropFirst()).allSatisfy { $0.dts < $1.dts })
        #expect(out.allSatisfy { $0.pts >= $0.dts } && out.map(\.pts) == [0, 4, 2, 1, 3, 8, 6, 5, 7].map { Int64($0 * 40) })
        #expect(out.first?.dts == -80) // two frames of reordering
        // Without B-frames decode times are the presentation times.
        var plain = DecodeTimes<Int>(window: 4)
        var flat: [DecodeTimes<Int>.Timed] = []
        for frame in 0..<8 { flat += plain.push(pts: Int64(frame * 40), frame) }
        #expect(flat.map(\.dts) == [0, 40, 80, 120] && flat.allSatisfy { $0.dts == $0.pts })
    }
}

@Suite("RTP payloads shared by the players of a frame")
struct SharedPayloadsTests {
    @Test func aFrameIsPacketizedOnceAndOnlyTheSameBytesReuseIt() {
        let shared = SharedPayloads()
        var made = 0
        func payloads(_ frame: [UInt8], time: UInt32, video: Bool = true, sets: [[UInt8]] = [[0x67, 1]]) -> [[UInt8]] {
            frame.withUnsafeBytes { bytes in
                shared.payloads(video: video, time: time, bytes: bytes, sets: sets, maxPayload: 1400) {
                    made += 1
                    return [frame, [UInt8(made)]]
                }.arrays
            }
        }
        let frame: [UInt8] = [0x17, 1, 0, 0, 0, 9, 9, 9]
        let first = payloads(frame, time: 40)
        // A second, third player of the same frame: the same payloads, made once.
        #expect(payloads(frame, time: 40) == first)
        #expect(payloads(Array(frame), time: 40) == first)
        #expect(made == 1)
        // Same time and size but other bytes, another time, other parameter sets: made again.
        var other = frame
        other[7] = 8
        _ = payloads(other, time: 40)
        _ = payloads(other, time: 80)
        _ = payloads(other, time: 80, sets: [[0x67, 2]])
        #expect(made == 4)
        // Audio and video are kept apart: an audio frame does not evict the video one.
        _ = payloads(frame, time: 80, video: false, sets: [])
        _ = payloads(other, time: 80, sets: [[0x67, 2]])
        #expect(made == 5)
    }

    @Test func aSerialStandsForTheBytes() {
        let shared = SharedPayloads()
        var made = 0
        func payloads(_ frame: [UInt8], time: UInt32, serial: UInt64) -> [[UInt8]] {
            frame.withUnsafeBytes { bytes in
                shared.payloads(video: true, time: time, bytes: bytes, sets: [], maxPayload: 1400, serial: serial) {
                    made += 1
                    return [frame]
                }.arrays
            }
        }
        let frame: [UInt8] = [0x27, 1, 0, 0, 0, 9, 9, 9]
        #expect(payloads(frame, time: 40, serial: 7) == [frame])
        #expect(payloads(frame, time: 40, serial: 7) == [frame] && made == 1)
        // Another serial of the same bytes (the same frame pushed again): the bytes decide, still once.
        #expect(payloads(frame, time: 40, serial: 8) == [frame] && made == 1)
        // A frame of one player (serial 0) with other bytes: made again.
        var other = frame
        other[7] = 1
        #expect(payloads(other, time: 40, serial: 0) == [other] && made == 2)
    }
}
