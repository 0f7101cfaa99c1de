/// The receiving side of one recorded track: RTP packets in, FLV tag bodies out on the publication's
/// timeline (milliseconds from RECORD), codec configuration first (from the SDP, or from parameter
/// sets found in band, again whenever they change). H.265 goes out with FLV codec id 12. Video frames
/// get decode times and composition offsets (DecodeTimes), 4 frames later.
struct RTSPInbound {
    /// A tag to push: video or audio, its time (ms) and its FLV body.
    struct Tag: Equatable {
        let video: Bool
        let time: UInt32
        let body: [UInt8]
    }

    let track: SDPTrack
    private var clock: RTPClock
    /// Where the track's first packet falls on the publication's timeline (ms).
    private var start: Int64?
    private var nal: NALDepacketizer
    /// The video track's parameter sets (H.264: SPS and PPS; H.265: VPS, SPS and PPS), from the SDP
    /// then from the stream, and the configuration record built from them.
    private var sets: [[UInt8]] = []
    private var record: [UInt8]?
    /// Decode times of the video frames (B-frames arrive before the frames they are shown after).
    private var decodeTimes = DecodeTimes<(key: Bool, config: [UInt8]?, payload: [UInt8])>(window: 4)
    private var configSent = false
    private var aacFragment: (timestamp: UInt32, bytes: [UInt8], size: Int)?

    init(track: SDPTrack) {
        self.track = track
        clock = RTPClock(rate: track.clockRate)
        switch track.codec {
        case .h264(let config):
            nal = NALDepacketizer(hevc: false)
            if let config { sets = config.sps + config.pps }
        case .h265(let given):
            nal = NALDepacketizer(hevc: true)
            sets = given
        case .aac:
            nal = NALDepacketizer(hevc: false)
        }
        record = Self.record(sets, hevc: hevc)
    }

    private var hevc: Bool {
        if case .h265 = track.codec { return true }
        return false
    }

    /// The configuration record of parameter sets, or nil when some are missing.
    private static func record(_ sets: [[UInt8]], hevc: Bool) -> [UInt8]? {
        if hevc { return HEVCRecord.build(sets) }
        let sps = sets.filter { $0[0] & 0x1F == 7 && $0.count >= 4 }, pps = sets.filter { $0[0] & 0x1F == 8 }
        return sps.isEmpty || pps.isEmpty ? nil : AVCConfig(sps: sps, pps: pps).record
    }

    /// The tags one RTP packet completes. `elapsed`: ms since RECORD when it arrived.
    mutating func packet(_ bytes: UnsafeRawBufferPointer, elapsed: Int64) -> [Tag] {
        guard let (header, payload) = RTPPacket.decode(bytes), header.payloadType == track.payloadType else { return [] }
        if start == nil { start = max(0, elapsed) }
        switch track.codec {
        case .h264, .h265:
            var tags: [Tag] = []
            for unit in nal.packet(header, payload) { tags += video(unit) }
            return tags
        case .aac(let config, let sizeLength, let indexLength):
            var tags: [Tag] = []
            if !configSent {
                configSent = true
                tags.append(Tag(video: false, time: time(header.timestamp), body: FLVMedia.audioTag(config: true, payload: config.bytes)))
            }
            return tags + audio(header, payload, sizeLength: sizeLength, indexLength: indexLength)
        }
    }

    /// The time (ms) of a timestamp on the publication's timeline (may be negative at the very start).
    private mutating func ms(_ timestamp: UInt32) -> Int64 { (start ?? 0) + clock.ms(timestamp) }

    private mutating func time(_ timestamp: UInt32) -> UInt32 { UInt32(truncatingIfNeeded: max(0, ms(timestamp))) }

    private mutating func video(_ unit: NALDepacketizer.AccessUnit) -> [Tag] {
        let hevc = hevc
        let type = { (nal: [UInt8]) -> UInt8 in hevc ? (nal[0] >> 1) & 0x3F : nal[0] & 0x1F }
        let inBand = unit.units.filter { hevc ? (32...34).contains(type($0)) && $0.count >= 2 : [7, 8].contains(type($0)) }
        if !inBand.isEmpty, inBand != sets, let built = Self.record(inBand, hevc: hevc) {
            sets = inBand
            if built != record { configSent = false }
            record = built
        }
        guard let record else { return [] } // nothing decodes before the parameter sets
        var config: [UInt8]?
        if !configSent {
            configSent = true
            config = record
        }
        let key = unit.units.contains { hevc ? (16...21).contains(type($0)) : type($0) == 5 }
        var payload: [UInt8] = []
        for nal in unit.units where type(nal) != (hevc ? 35 : 9) { // access unit delimiters are FLV's business
            payload.appendBigEndian(UInt32(nal.count))
            payload += nal
        }
        let codec = hevc ? FLVMedia.hevc : FLVMedia.avc
        var tags: [Tag] = []
        for frame in decodeTimes.push(pts: ms(unit.timestamp), (key, config, payload)) {
            let time = UInt32(truncatingIfNeeded: max(0, frame.dts))
            if let config = frame.item.config {
                tags.append(Tag(video: true, time: time, body: FLVMedia.videoTag(codec: codec, key: true, config: true, payload: config)))
            }
            let offset = Int32(clamping: frame.pts - max(0, frame.dts))
            tags.append(Tag(video: true, time: time, body: FLVMedia.videoTag(codec: codec, key: frame.item.key, config: false, offset: offset,
                                                                             payload: frame.item.payload)))
        }
        return tags
    }

    private mutating func audio(_ header: RTPPacket, _ payload: UnsafeRawBufferPointer, sizeLength: Int, indexLength: Int) -> [Tag] {
        guard let (units, announced) = AACPayload.units(payload, sizeLength: sizeLength, indexLength: indexLength) else {
            aacFragment = nil
            return []
        }
        if let announced { // one fragment of a large frame
            if var fragment = aacFragment, fragment.timestamp == header.timestamp {
                fragment.bytes += units[0]
                aacFragment = fragment
            } else {
                aacFragment = (header.timestamp, units[0], announced)
            }
            guard let fragment = aacFragment, fragment.bytes.count >= fragment.size else { return [] }
            aacFragment = nil
            return [Tag(video: false, time: time(fragment.timestamp), body: FLVMedia.audioTag(config: false, payload: Array(fragment.bytes.prefix(fragment.size))))]
        }
        aacFragment = nil
        return units.enumerated().map { index, unit in
            Tag(video: false, time: time(header.timestamp &+ UInt32(index * 1024)), body: FLVMedia.audioTag(config: false, payload: unit))
        }
    }
}
