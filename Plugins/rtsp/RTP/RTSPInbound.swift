/// The receiving side of one recorded track: RTP packets in, FLV tag bodies out on the publication's
/// timeline (milliseconds from RECORD), codec configuration first (from the SDP, or from parameter
/// sets found in band, again whenever they change).
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
    private var h264 = H264Depacketizer()
    private var avc: AVCConfig?
    private var configSent = false
    private var aacFragment: (timestamp: UInt32, bytes: [UInt8], size: Int)?

    init(track: SDPTrack) {
        self.track = track
        clock = RTPClock(rate: track.clockRate)
        if case .h264(let config) = track.codec { avc = config }
    }

    /// Access units dropped for missing packets (video).
    var dropped: Int { h264.dropped }

    /// The tags one RTP packet completes. `elapsed`: ms since RECORD when it arrived.
    mutating func packet(_ bytes: UnsafeRawBufferPointer, elapsed: Int64) -> [Tag] {
        guard let (header, payload) = RTPPacket.decode(bytes), header.payloadType == track.payloadType else { return [] }
        if start == nil { start = max(0, elapsed) }
        switch track.codec {
        case .h264:
            var tags: [Tag] = []
            for unit in h264.packet(header, payload) { tags += video(unit) }
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

    private mutating func time(_ timestamp: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: max(0, (start ?? 0) + clock.ms(timestamp)))
    }

    private mutating func video(_ unit: H264Depacketizer.AccessUnit) -> [Tag] {
        let sps = unit.units.filter { $0[0] & 0x1F == 7 && $0.count >= 4 }, pps = unit.units.filter { $0[0] & 0x1F == 8 }
        var tags: [Tag] = []
        let time = time(unit.timestamp)
        if !sps.isEmpty, !pps.isEmpty, AVCConfig(sps: sps, pps: pps) != avc || !configSent {
            avc = AVCConfig(sps: sps, pps: pps)
            configSent = false
        }
        guard let avc else { return [] } // nothing decodes before the parameter sets
        if !configSent {
            configSent = true
            tags.append(Tag(video: true, time: time, body: FLVMedia.videoTag(codec: FLVMedia.avc, key: true, config: true, payload: avc.record)))
        }
        let key = unit.units.contains { $0[0] & 0x1F == 5 }
        var payload: [UInt8] = []
        for nal in unit.units where nal[0] & 0x1F != 9 { // access unit delimiters are FLV's business
            payload.appendBigEndian(UInt32(nal.count))
            payload += nal
        }
        return tags + [Tag(video: true, time: time, body: FLVMedia.videoTag(codec: FLVMedia.avc, key: key, config: false, payload: payload))]
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
