#if canImport(Glibc)
import Glibc
#endif

/// Cuts a live stream into segments kept in memory, fMP4 (and MPEG-TS when asked): a segment starts on a video key frame (on
/// any audio frame without video) once the current one lasts the target duration; a sliding window of
/// the last segments is kept, and the media playlist that lists them. A value type fed with FLV
/// bodies on the subscriber's timeline (ms) and the wall clock of their arrival.
public struct HLSSegmenter {
    /// One segment of the window.
    public struct Segment {
        public let sequence: Int
        /// Duration in seconds.
        public let duration: Double
        /// Wall clock of its first frame (ms since 1970): EXT-X-PROGRAM-DATE-TIME.
        public let wallMs: Int64
        /// moof + mdat (empty once given up: `dropBytes`).
        public internal(set) var bytes: [UInt8]
        /// The same frames in MPEG-TS (empty without `withTS`, or once given up).
        public internal(set) var ts: [UInt8]
    }

    public let targetMs: UInt32
    public let windowSize: Int
    /// MPEG-TS segments are made too.
    public let withTS: Bool
    private var tsWriter: MPEGTSWriter?
    /// ftyp + moov, known from the first frame (the codec configurations arrive before it).
    public private(set) var initSegment: [UInt8]?
    public private(set) var segments: [Segment] = []
    /// The stream ended: the playlist says so (EXT-X-ENDLIST).
    public private(set) var ended = false
    /// The sequence number of the next segment.
    public private(set) var nextSequence = 0

    private var videoConfig: (codec: FLVMedia.VideoCodec, record: [UInt8])?
    private var audioConfig: (bytes: [UInt8], aac: AACConfig)?
    private var video: FMP4.Track?
    private var audio: FMP4.Track?
    private var width = 0, height = 0

    /// Frames of the segment being made.
    private var videoFrames: [(time: UInt32, key: Bool, offset: Int32, data: ArraySlice<UInt8>)] = []
    private var audioFrames: [(time: UInt32, data: ArraySlice<UInt8>)] = []
    private var segmentStart: UInt32?
    private var segmentWallMs: Int64 = 0
    /// The first audio frame while no video configuration came: audio alone starts the stream only
    /// after a target duration of it (a subscriber gets audio before the video configuration).
    private var audioWithoutVideo: UInt32?

    public init(targetMs: UInt32, windowSize: Int, withTS: Bool = false, firstSequence: Int = 0) {
        self.targetMs = max(targetMs, 100)
        self.windowSize = max(windowSize, 2)
        self.withTS = withTS
        nextSequence = firstSequence
    }

    /// Size hints from the metadata (width, height), written into the video track.
    public mutating func setSize(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// A video frame; true when it completed a segment.
    @discardableResult
    public mutating func video(time: UInt32, body: [UInt8], wallMs: Int64) -> Bool {
        switch FLVMedia.video(body[...]) {
        case .videoConfig(let codec, let record):
            videoConfig = (codec, Array(record))
            return false
        case .videoFrame(let codec, let key, let offset, let data):
            if video == nil {
                guard key, let config = videoConfig, config.codec == codec else { return false } // wait for a start
                startTracks()
            }
            guard video != nil else { return false }
            var cut = false
            if key, let start = segmentStart, time &- start >= targetMs, !videoFrames.isEmpty {
                cut = finishSegment(endTime: time)
            }
            begin(time, wallMs)
            videoFrames.append((time, key, offset, data))
            return cut
        default:
            return false
        }
    }

    /// An audio frame; true when it completed a segment (audio-only streams).
    @discardableResult
    public mutating func audio(time: UInt32, body: [UInt8], wallMs: Int64) -> Bool {
        switch FLVMedia.audio(body[...]) {
        case .aacConfig(let config):
            if let aac = AACConfig(config) { audioConfig = (Array(config), aac) }
            return false
        case .aacFrame(let data):
            if audio == nil, video == nil {
                guard videoConfig == nil, audioConfig != nil else { return false } // video starts the stream
                let first = audioWithoutVideo ?? time
                audioWithoutVideo = first
                guard time &- first >= targetMs else { return false }
                startTracks()
            }
            // With video, audio joins the segment a key frame started.
            guard audio != nil, segmentStart != nil || video == nil else { return false }
            var cut = false
            if video == nil, let start = segmentStart, time &- start >= targetMs, !audioFrames.isEmpty {
                cut = finishSegment(endTime: time)
            }
            begin(time, wallMs)
            audioFrames.append((time, data))
            return cut
        default:
            return false
        }
    }

    /// The stream ended: what was being made becomes the last segment.
    public mutating func end() {
        guard !ended else { return }
        ended = true
        let last = max(videoFrames.last.map { $0.time &+ 40 } ?? 0, audioFrames.last.map { $0.time &+ 23 } ?? 0)
        if !videoFrames.isEmpty || !audioFrames.isEmpty { finishSegment(endTime: last) }
    }

    private mutating func begin(_ time: UInt32, _ wallMs: Int64) {
        guard segmentStart == nil else { return }
        segmentStart = time
        segmentWallMs = wallMs
    }

    private mutating func startTracks() {
        var tracks: [FMP4.Track] = []
        if let config = videoConfig {
            video = FMP4.Track(id: 1, kind: .video(codec: config.codec, record: config.record, width: width, height: height))
            tracks.append(video!)
        }
        if let config = audioConfig {
            audio = FMP4.Track(id: 2, kind: .audio(config: config.bytes, aac: config.aac))
            tracks.append(audio!)
        }
        initSegment = FMP4.initSegment(tracks)
        if withTS { tsWriter = MPEGTSWriter(video: video, audio: audio) }
    }

    /// Makes the segment of the frames gathered, which ends at `endTime` (the next segment's start).
    @discardableResult
    private mutating func finishSegment(endTime: UInt32) -> Bool {
        guard let start = segmentStart else { return false }
        var runs: [FMP4.Run] = []
        if let video, !videoFrames.isEmpty {
            var run = FMP4.Run(track: video, baseTime: UInt64(videoFrames[0].time), samples: [], data: [])
            for (index, frame) in videoFrames.enumerated() {
                let next = index + 1 < videoFrames.count ? videoFrames[index + 1].time : max(endTime, frame.time &+ 1)
                run.samples.append(FMP4.Sample(duration: next > frame.time ? next - frame.time : 1, size: UInt32(frame.data.count), key: frame.key,
                                               compositionOffset: frame.offset))
                run.data += frame.data
            }
            runs.append(run)
        }
        if let audio, !audioFrames.isEmpty {
            let rate = UInt64(audio.timescale)
            var run = FMP4.Run(track: audio, baseTime: UInt64(audioFrames[0].time) * rate / 1000, samples: [], data: [])
            for frame in audioFrames {
                run.samples.append(FMP4.Sample(duration: 1024, size: UInt32(frame.data.count), key: true, compositionOffset: 0))
                run.data += frame.data
            }
            runs.append(run)
        }
        let frames = tsWriter == nil ? [] : tsFrames()
        let ts = tsWriter?.segment(frames) ?? []
        videoFrames.removeAll(keepingCapacity: true)
        audioFrames.removeAll(keepingCapacity: true)
        segmentStart = nil
        guard !runs.isEmpty else { return false }
        let bytes = FMP4.fragment(sequence: UInt32(truncatingIfNeeded: nextSequence + 1), runs)
        segments.append(Segment(sequence: nextSequence, duration: Double(endTime &- start) / 1000, wallMs: segmentWallMs, bytes: bytes, ts: ts))
        nextSequence += 1
        if segments.count > windowSize { segments.removeFirst(segments.count - windowSize) }
        return true
    }

    /// The frames gathered, video and audio interleaved in time order.
    private func tsFrames() -> [MPEGTSWriter.Frame] {
        var frames: [MPEGTSWriter.Frame] = []
        frames.reserveCapacity(videoFrames.count + audioFrames.count)
        var audioIndex = 0
        for frame in videoFrames {
            while audioIndex < audioFrames.count, audioFrames[audioIndex].time <= frame.time {
                frames.append(.audio(time: audioFrames[audioIndex].time, data: audioFrames[audioIndex].data))
                audioIndex += 1
            }
            frames.append(.video(time: frame.time, key: frame.key, compositionOffset: frame.offset, data: frame.data))
        }
        for frame in audioFrames[audioIndex...] { frames.append(.audio(time: frame.time, data: frame.data)) }
        return frames
    }

    /// The segment numbered `sequence`, if still in the window.
    public func segment(_ sequence: Int) -> Segment? {
        guard let first = segments.first, sequence >= first.sequence, sequence - first.sequence < segments.count else { return nil }
        return segments[sequence - first.sequence]
    }

    /// Gives up the bytes of segment `sequence` (the caller keeps a copy): the window still lists it.
    public mutating func dropBytes(_ sequence: Int) {
        guard let first = segments.first, sequence >= first.sequence, sequence - first.sequence < segments.count else { return }
        segments[sequence - first.sequence].bytes = []
        segments[sequence - first.sequence].ts = []
    }

    /// The media playlist of the window: fMP4 (HLS version 7), segments "<name>.<sequence>.m4s" next to
    /// it and the init segment "<name>.init.mp4"; or MPEG-TS (`ts`, version 3), "<name>.<sequence>.ts".
    public func playlist(name: String, ts: Bool = false) -> String {
        let target = Int((segments.map(\.duration).max() ?? Double(targetMs) / 1000).rounded(.up))
        var text = "#EXTM3U\n#EXT-X-VERSION:\(ts ? 3 : 7)\n#EXT-X-TARGETDURATION:\(max(target, 1))\n"
        text += "#EXT-X-MEDIA-SEQUENCE:\(segments.first?.sequence ?? nextSequence)\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        if !ts { text += "#EXT-X-MAP:URI=\"\(name).init.mp4\"\n" }
        for segment in segments {
            text += "#EXT-X-PROGRAM-DATE-TIME:\(Self.isoDate(segment.wallMs))\n"
            let ms = Int((segment.duration * 1000).rounded())
            text += "#EXTINF:\(ms / 1000).\(Self.digits(ms % 1000, 3)),\n\(name).\(segment.sequence).\(ts ? "ts" : "m4s")\n"
        }
        if ended { text += "#EXT-X-ENDLIST\n" }
        return text
    }

    /// ISO 8601 UTC with milliseconds, e.g. 2026-12-05T08:00:00.040Z.
    static func isoDate(_ ms: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return "\(digits(Int(parts.tm_year) + 1900, 4))-\(digits(Int(parts.tm_mon) + 1, 2))-\(digits(Int(parts.tm_mday), 2))T"
            + "\(digits(Int(parts.tm_hour), 2)):\(digits(Int(parts.tm_min), 2)):\(digits(Int(parts.tm_sec), 2)).\(digits(Int(ms % 1000), 3))Z"
    }

    /// `value` in decimal, zero-padded to `width` digits.
    static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(width - text.count, 0)) + text
    }
}
