/// Fragmented MP4 (ISO 14496-12, CMAF-shaped): an init segment describing the tracks, then fragments
/// (moof + mdat) of samples. Video is on a 1 ms timescale (the media model's), AAC on its sampling rate.
enum FMP4 {
    /// One track of the stream.
    struct Track: Equatable {
        enum Kind: Equatable {
            case video(codec: FLVMedia.VideoCodec, record: [UInt8], width: Int, height: Int)
            case audio(config: [UInt8], aac: AACConfig)
        }

        let id: UInt32
        let kind: Kind

        /// A track; a video size of 0×0 is read from the H.264 SPS when it can be.
        init(id: UInt32, kind: Kind) {
            self.id = id
            if case .video(.h264, let record, 0, 0) = kind, let size = H264SPS.size(record: record) {
                self.kind = .video(codec: .h264, record: record, width: size.width, height: size.height)
            } else {
                self.kind = kind
            }
        }

        var timescale: UInt32 {
            switch kind {
            case .video: 1000
            case .audio(_, let aac): UInt32(aac.sampleRate)
            }
        }

        var isVideo: Bool { if case .video = kind { true } else { false } }

        /// The RFC 6381 codecs string (for MSE and master playlists), e.g. "avc1.64001f", "mp4a.40.2".
        var codecString: String {
            switch kind {
            case .video(.h264, let record, _, _):
                guard record.count >= 4 else { return "avc1" }
                return "avc1." + record[1...3].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            case .video(.h265, _, _, _):
                return "hvc1.1.6.L93.B0"
            case .audio(let config, _):
                return "mp4a.40.\(config.first.map { Int($0 >> 3) } ?? 2)"
            }
        }
    }

    /// One sample of a fragment: its duration (track timescale), size, sync flag and composition offset.
    struct Sample: Equatable {
        var duration: UInt32
        var size: UInt32
        var key: Bool
        var compositionOffset: Int32
    }

    /// The samples of one track in a fragment, their data back to back.
    struct Run {
        let track: Track
        /// Decode time of the first sample (track timescale).
        let baseTime: UInt64
        var samples: [Sample]
        var data: [UInt8]
    }

    static let identity: [UInt32] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]

    /// ftyp + moov for `tracks`.
    static func initSegment(_ tracks: [Track]) -> [UInt8] {
        var out = MP4Writer()
        out.box("ftyp") { w in
            w.fourCC("iso6")
            w.u32(0)
            for brand: StaticString in ["iso6", "cmfc", "isom", "mp41"] { w.fourCC(brand) }
        }
        out.box("moov") { w in
            w.fullBox("mvhd") { w in
                w.u32(0); w.u32(0) // creation, modification
                w.u32(1000); w.u32(0) // timescale, duration
                w.u32(0x0001_0000); w.u16(0x0100); w.zeros(10)
                for value in identity { w.u32(value) }
                w.zeros(24)
                w.u32((tracks.map(\.id).max() ?? 0) + 1)
            }
            for track in tracks { trak(track, into: &w) }
            w.box("mvex") { w in
                for track in tracks {
                    w.fullBox("trex") { w in
                        w.u32(track.id); w.u32(1); w.u32(0); w.u32(0); w.u32(0)
                    }
                }
            }
        }
        return out.bytes
    }

    private static func trak(_ track: Track, into w: inout MP4Writer) {
        w.box("trak") { w in
            w.fullBox("tkhd", flags: 3) { w in
                w.u32(0); w.u32(0); w.u32(track.id); w.u32(0); w.u32(0) // times, id, reserved, duration
                w.zeros(8); w.u16(0); w.u16(0) // reserved, layer, alternate group
                w.u16(track.isVideo ? 0 : 0x0100); w.u16(0)
                for value in identity { w.u32(value) }
                if case .video(_, _, let width, let height) = track.kind {
                    w.u32(UInt32(width) << 16); w.u32(UInt32(height) << 16)
                } else {
                    w.u32(0); w.u32(0)
                }
            }
            w.box("mdia") { w in
                w.fullBox("mdhd") { w in
                    w.u32(0); w.u32(0); w.u32(track.timescale); w.u32(0)
                    w.u16(0x55C4); w.u16(0) // "und"
                }
                w.fullBox("hdlr") { w in
                    w.u32(0)
                    w.fourCC(track.isVideo ? "vide" : "soun")
                    w.zeros(12)
                    w.append(Array((track.isVideo ? "VideoHandler" : "SoundHandler").utf8) + [0])
                }
                w.box("minf") { w in
                    if track.isVideo {
                        w.fullBox("vmhd", flags: 1) { $0.zeros(8) }
                    } else {
                        w.fullBox("smhd") { $0.zeros(4) }
                    }
                    w.box("dinf") { w in
                        w.fullBox("dref") { w in
                            w.u32(1)
                            w.fullBox("url ", flags: 1) { _ in }
                        }
                    }
                    w.box("stbl") { w in
                        w.fullBox("stsd") { w in
                            w.u32(1)
                            sampleEntry(track, into: &w)
                        }
                        w.fullBox("stts") { $0.u32(0) }
                        w.fullBox("stsc") { $0.u32(0) }
                        w.fullBox("stsz") { $0.u32(0); $0.u32(0) }
                        w.fullBox("stco") { $0.u32(0) }
                    }
                }
            }
        }
    }

    private static func sampleEntry(_ track: Track, into w: inout MP4Writer) {
        switch track.kind {
        case .video(let codec, let record, let width, let height):
            let body: (inout MP4Writer) -> Void = { w in
                w.zeros(6); w.u16(1) // reserved, data reference index
                w.zeros(16) // pre-defined, reserved
                w.u16(UInt16(clamping: width)); w.u16(UInt16(clamping: height))
                w.u32(0x0048_0000); w.u32(0x0048_0000); w.u32(0); w.u16(1)
                w.zeros(32) // compressor name
                w.u16(0x0018); w.u16(0xFFFF)
                if codec == .h264 { w.box("avcC") { $0.append(record) } } else { w.box("hvcC") { $0.append(record) } }
            }
            if codec == .h264 { w.box("avc1", body) } else { w.box("hvc1", body) }
        case .audio(let config, let aac):
            w.box("mp4a") { w in
                w.zeros(6); w.u16(1)
                w.zeros(8)
                w.u16(UInt16(clamping: aac.channels)); w.u16(16); w.zeros(4)
                w.u32(UInt32(clamping: aac.sampleRate) << 16)
                w.fullBox("esds") { w in
                    let specific = [5, UInt8(config.count)] + config
                    let decoder: [UInt8] = [4, UInt8(13 + specific.count), 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + specific
                    let sl: [UInt8] = [6, 1, 2]
                    w.append([3, UInt8(3 + decoder.count + sl.count), 0, 0, 0] + decoder + sl)
                }
            }
        }
    }

    /// moof + mdat carrying `runs` (one per track), fragment number `sequence`.
    static func fragment(sequence: UInt32, _ runs: [Run]) -> [UInt8] {
        var out = MP4Writer()
        var offsetFields: [Int] = []
        out.box("moof") { w in
            w.fullBox("mfhd") { $0.u32(sequence) }
            for run in runs {
                w.box("traf") { w in
                    w.fullBox("tfhd", flags: 0x02_0000) { $0.u32(run.track.id) } // default-base-is-moof
                    w.fullBox("tfdt", version: 1) { $0.u64(run.baseTime) }
                    let video = run.track.isVideo
                    // data offset, durations, sizes (+ flags and composition offsets for video)
                    let flags: UInt32 = video ? 0x000F01 : 0x000301
                    w.fullBox("trun", version: 1, flags: flags) { w in
                        w.u32(UInt32(run.samples.count))
                        offsetFields.append(w.count)
                        w.u32(0)
                        for sample in run.samples {
                            w.u32(sample.duration)
                            w.u32(sample.size)
                            if video {
                                w.u32(sample.key ? 0x0200_0000 : 0x0101_0000)
                                w.u32(UInt32(bitPattern: sample.compositionOffset))
                            }
                        }
                    }
                }
            }
        }
        // Each trun points at its run's data in the mdat (offsets from the start of the moof).
        var dataOffset = out.count + 8
        for (field, run) in zip(offsetFields, runs) {
            out.patch(UInt32(dataOffset), at: field)
            dataOffset += run.data.count
        }
        out.box("mdat") { w in
            for run in runs { w.append(run.data) }
        }
        return out.bytes
    }
}
