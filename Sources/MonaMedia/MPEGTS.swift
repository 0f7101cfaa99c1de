/// MPEG-2 transport stream (ISO 13818-1) for HLS players that do not read fMP4: a segment starts with
/// the PAT and the PMT; H.264/H.265 frames become Annex B access units (with an access unit delimiter,
/// and the parameter sets before each key frame), AAC frames get ADTS headers; each frame is one PES,
/// time-stamped at 90 kHz, the video PES carrying the PCR. The continuity counters run on from one
/// segment to the next, as players expect.
struct MPEGTSWriter {
    static let pmtPID: UInt16 = 0x1000
    static let videoPID: UInt16 = 0x100
    static let audioPID: UInt16 = 0x101

    private var counters: [UInt16: UInt8] = [:]
    /// The video codec and its parameter sets in Annex B, the NAL length size; AAC's ADTS fields.
    private let video: (codec: FLVMedia.VideoCodec, parameterSets: [UInt8], lengthSize: Int)?
    private let audio: (profile: Int, rateIndex: Int, channels: Int)?

    init(video: FMP4.Track?, audio: FMP4.Track?) {
        if case .video(let codec, let record, _, _)? = video?.kind {
            self.video = (codec, Self.parameterSets(codec, record), Self.lengthSize(codec, record))
        } else {
            self.video = nil
        }
        if case .audio(let config, let aac)? = audio?.kind, let first = config.first {
            let index = AACConfig.rates.firstIndex(of: aac.sampleRate) ?? 4
            // ADTS has two bits for the profile (object type - 1): types past 4 (HE-AAC's SBR and PS ride on
            // an LC stream) are announced as LC.
            let objectType = Int(first >> 3)
            self.audio = ((1...4).contains(objectType) ? objectType - 1 : 1, index & 0xF, aac.channels & 7)
        } else {
            self.audio = nil
        }
    }

    /// One frame of a segment, in decode order: video (length-prefixed NAL units) or AAC.
    enum Frame {
        case video(time: UInt32, key: Bool, compositionOffset: Int32, data: ArraySlice<UInt8>)
        case audio(time: UInt32, data: ArraySlice<UInt8>)
    }

    /// A segment: PAT, PMT, then the frames.
    mutating func segment(_ frames: [Frame]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(frames.count * 400)
        section(pid: 0, table: patTable(), into: &out)
        section(pid: Self.pmtPID, table: pmtTable(), into: &out)
        for frame in frames {
            switch frame {
            case .video(let time, let key, let offset, let data):
                guard let video else { continue }
                var payload: [UInt8] = video.codec == .h264 ? [0, 0, 0, 1, 0x09, 0xF0] : [0, 0, 0, 1, 0x46, 0x01, 0x50]
                if key { payload += video.parameterSets }
                Self.appendAnnexB(data, lengthSize: video.lengthSize, to: &payload)
                let dts = UInt64(time) * 90
                let pts = UInt64(max(Int64(time) + Int64(offset), 0)) * 90
                pes(pid: Self.videoPID, streamID: 0xE0, pts: pts, dts: dts, payload: payload, pcr: dts, into: &out)
            case .audio(let time, let data):
                guard let audio, data.count + 7 <= 0x1FFF else { continue } // ADTS frames are at most 8191 bytes
                let length = data.count + 7
                var payload: [UInt8] = [0xFF, 0xF1, UInt8(audio.profile << 6 | audio.rateIndex << 2 | audio.channels >> 2),
                                        UInt8((audio.channels & 3) << 6 | length >> 11), UInt8((length >> 3) & 0xFF),
                                        UInt8((length & 7) << 5 | 0x1F), 0xFC]
                payload += data
                let pts = UInt64(time) * 90
                pes(pid: Self.audioPID, streamID: 0xC0, pts: pts, dts: nil, payload: payload, pcr: video == nil ? pts : nil, into: &out)
            }
        }
        return out
    }

    // MARK: tables

    private func patTable() -> [UInt8] {
        [0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, UInt8(0xE0 | Self.pmtPID >> 8), UInt8(Self.pmtPID & 0xFF)]
    }

    private func pmtTable() -> [UInt8] {
        var streams: [UInt8] = []
        if let video { streams += [video.codec == .h264 ? 0x1B : 0x24, UInt8(0xE0 | Self.videoPID >> 8), UInt8(Self.videoPID & 0xFF), 0xF0, 0] }
        if audio != nil { streams += [0x0F, UInt8(0xE0 | Self.audioPID >> 8), UInt8(Self.audioPID & 0xFF), 0xF0, 0] }
        let pcrPID = video != nil ? Self.videoPID : Self.audioPID
        let length = 13 + streams.count
        return [0x02, UInt8(0xB0 | length >> 8), UInt8(length & 0xFF), 0, 1, 0xC1, 0, 0, UInt8(0xE0 | pcrPID >> 8), UInt8(pcrPID & 0xFF), 0xF0, 0]
            + streams
    }

    /// A PSI section (pointer field, table, CRC) in one packet.
    private mutating func section(pid: UInt16, table: [UInt8], into out: inout [UInt8]) {
        var payload: [UInt8] = [0] + table
        let crc = Self.crc32(table)
        payload += [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        payload += [UInt8](repeating: 0xFF, count: 184 - payload.count)
        out += [0x47, UInt8(0x40 | pid >> 8), UInt8(pid & 0xFF), 0x10 | nextCounter(pid)]
        out += payload
    }

    // MARK: PES

    private mutating func pes(pid: UInt16, streamID: UInt8, pts: UInt64, dts: UInt64?, payload: [UInt8], pcr: UInt64?,
                              into out: inout [UInt8]) {
        let headerData = dts != nil ? 10 : 5
        var head: [UInt8] = [0, 0, 1, streamID]
        let length = 3 + headerData + payload.count
        let declared = streamID == 0xE0 || length > 0xFFFF ? 0 : length // video: unbounded
        head += [UInt8(declared >> 8), UInt8(declared & 0xFF), 0x80, dts != nil ? 0xC0 : 0x80, UInt8(headerData)]
        Self.appendTimestamp(pts, marker: dts != nil ? 0x3 : 0x2, to: &head)
        if let dts { Self.appendTimestamp(dts, marker: 0x1, to: &head) }
        let data = head + payload
        var at = 0
        var first = true
        while at < data.count {
            // The adaptation field (after its length byte): the PCR on the first packet, stuffing on the last.
            var adaptation: [UInt8]?
            if first, let pcr {
                let base = pcr & 0x1_FFFF_FFFF
                adaptation = [0x10, UInt8(base >> 25), UInt8((base >> 17) & 0xFF), UInt8((base >> 9) & 0xFF), UInt8((base >> 1) & 0xFF),
                              UInt8((base & 1) << 7 | 0x7E), 0]
            }
            let capacity = 184 - (adaptation.map { 1 + $0.count } ?? 0)
            let take = min(capacity, data.count - at)
            if take < capacity {
                let total = 184 - take // adaptation bytes, its length byte included
                var body = adaptation ?? (total >= 2 ? [0x00] : [])
                body += [UInt8](repeating: 0xFF, count: total - 1 - body.count)
                adaptation = body
            }
            out += [0x47, UInt8((first ? 0x40 : 0) | pid >> 8), UInt8(pid & 0xFF), (adaptation != nil ? 0x30 : 0x10) | nextCounter(pid)]
            if let adaptation {
                out.append(UInt8(adaptation.count))
                out += adaptation
            }
            out += data[at..<(at + take)]
            at += take
            first = false
        }
    }

    private mutating func nextCounter(_ pid: UInt16) -> UInt8 {
        let counter = counters[pid, default: 0]
        counters[pid] = (counter + 1) & 0x0F
        return counter
    }

    static func appendTimestamp(_ value: UInt64, marker: UInt8, to out: inout [UInt8]) {
        let v = value & 0x1_FFFF_FFFF
        out.append(marker << 4 | UInt8((v >> 29) & 0x0E) | 1)
        out.append(UInt8((v >> 22) & 0xFF))
        out.append(UInt8((v >> 14) & 0xFE) | 1)
        out.append(UInt8((v >> 7) & 0xFF))
        out.append(UInt8((v << 1) & 0xFE) | 1)
    }

    // MARK: codecs

    /// Length-prefixed NAL units as start-code-prefixed ones.
    static func appendAnnexB(_ data: ArraySlice<UInt8>, lengthSize: Int, to out: inout [UInt8]) {
        var at = data.startIndex
        while data.endIndex - at >= lengthSize {
            var length = 0
            for index in 0..<lengthSize { length = length << 8 | Int(data[at + index]) }
            at += lengthSize
            guard length <= data.endIndex - at else { break }
            out += [0, 0, 0, 1]
            out += data[at..<(at + length)]
            at += length
        }
    }

    /// The NAL length size a decoder configuration record states (4 when unreadable).
    static func lengthSize(_ codec: FLVMedia.VideoCodec, _ record: [UInt8]) -> Int {
        let at = codec == .h264 ? 4 : 21
        return record.count > at ? Int(record[at] & 3) + 1 : 4
    }

    /// The parameter sets of a decoder configuration record (SPS/PPS; HEVC: VPS/SPS/PPS), Annex B.
    static func parameterSets(_ codec: FLVMedia.VideoCodec, _ record: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var at: Int
        func nalu() -> Bool {
            guard record.count - at >= 2 else { return false }
            let length = Int(record[at]) << 8 | Int(record[at + 1])
            at += 2
            guard record.count - at >= length else { return false }
            out += [0, 0, 0, 1] + record[at..<(at + length)]
            at += length
            return true
        }
        if codec == .h264 {
            guard record.count >= 6 else { return [] }
            at = 6
            for _ in 0..<Int(record[5] & 0x1F) where !nalu() { return out }
            guard at < record.count else { return out }
            let count = Int(record[at])
            at += 1
            for _ in 0..<count where !nalu() { return out }
        } else {
            guard record.count >= 23 else { return [] }
            let arrays = Int(record[22])
            at = 23
            for _ in 0..<arrays {
                guard record.count - at >= 3 else { return out }
                let count = Int(record[at + 1]) << 8 | Int(record[at + 2])
                at += 3
                for _ in 0..<count where !nalu() { return out }
            }
        }
        return out
    }

    /// CRC-32/MPEG-2.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? crc << 1 ^ 0x04C1_1DB7 : crc << 1 }
        }
        return crc
    }
}
