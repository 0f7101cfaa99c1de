/// Cuts a live stream into segments kept in memory, fMP4 (and MPEG-TS when asked): a segment starts on a video key frame (on
/// any audio frame without video) once the current one lasts the target duration; a sliding window of
/// the last segments is kept, and the media playlist that lists them. With a part target (low-latency
/// HLS), the fMP4 of a segment is made as it goes, one fragment per part of at most that duration,
/// each part listed (`EXT-X-PART`) as soon as it is cut; the segment is its parts end to end. A value
/// type fed with FLV bodies on the subscriber's timeline (ms) and the wall clock of their arrival.
public struct HLSSegmenter {
    /// One segment of the window.
    public struct Segment {
        public let sequence: Int
        /// Duration in seconds.
        public let duration: Double
        /// Wall clock of its first frame (ms since 1970): EXT-X-PROGRAM-DATE-TIME.
        public let wallMs: Int64
        /// moof + mdat (empty once given up: `dropBytes`); with parts, their fragments end to end.
        public internal(set) var bytes: [UInt8]
        /// The same frames in MPEG-TS (empty without `withTS`, or once given up).
        public internal(set) var ts: [UInt8]
        /// Its parts (low-latency HLS), while the playlist lists them: the segments of the last three
        /// target durations; empty before and without parts.
        public internal(set) var parts: [Part]
    }

    /// One part of a segment (low-latency HLS): a fragment (moof + mdat) of the frames since the last part.
    public struct Part {
        /// Duration in seconds.
        public let duration: Double
        /// It starts with a key frame (or holds audio alone): a player may start there.
        public let independent: Bool
        public let bytes: [UInt8]
    }

    public let targetMs: UInt32
    /// The longest part (ms), 0: no parts (plain HLS).
    public let partTargetMs: UInt32
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
    /// The parts of segment `nextSequence`, being made.
    public private(set) var pendingParts: [Part] = []
    /// Counts the changes of the playlist (a part or a segment cut, the end).
    public private(set) var revision = 0

    private var videoConfig: (codec: FLVMedia.VideoCodec, record: [UInt8])?
    private var audioConfig: (bytes: [UInt8], aac: AACConfig)?
    private var video: FMP4.Track?
    private var audio: FMP4.Track?
    private var width = 0, height = 0

    /// Frames of the segment being made.
    private var videoFrames: [(time: UInt32, key: Bool, offset: Int32, data: ArraySlice<UInt8>)] = []
    private var audioFrames: [(time: UInt32, data: ArraySlice<UInt8>)] = []
    private var segmentStart: UInt32?
    /// Wall clock of the first frame of the segment being made (ms since 1970).
    public private(set) var segmentWallMs: Int64 = 0
    /// Where the part being made starts: its time and its first frames in `videoFrames` and `audioFrames`.
    private var partStart: UInt32?
    private var partVideoIndex = 0, partAudioIndex = 0
    /// The number of the last fragment made (mfhd: one more per fragment).
    private var fragments: UInt32 = 0
    /// The first audio frame while no video configuration came: audio alone starts the stream only
    /// after a target duration of it (a subscriber gets audio before the video configuration).
    private var audioWithoutVideo: UInt32?

    public init(targetMs: UInt32, windowSize: Int, withTS: Bool = false, partTargetMs: UInt32 = 0, firstSequence: Int = 0) {
        self.targetMs = max(targetMs, 100)
        self.partTargetMs = partTargetMs == 0 ? 0 : min(max(partTargetMs, 50), self.targetMs)
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
            } else if videoFrames.count > partVideoIndex, partDue(at: time, videoFrames.last?.time, videoFrames.dropLast().last?.time) {
                finishPart(endTime: time)
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
            } else if video == nil, audioFrames.count > partAudioIndex, partDue(at: time, audioFrames.last?.time, audioFrames.dropLast().last?.time) {
                finishPart(endTime: time)
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
        revision += 1
    }

    private mutating func begin(_ time: UInt32, _ wallMs: Int64) {
        guard segmentStart == nil else { return }
        segmentStart = time
        segmentWallMs = wallMs
        partStart = time
    }

    /// A part is made before a frame at `time` when that frame would take the part being made past the
    /// part target: parts last at most the target (a frame longer than it makes a part of its own). The
    /// frame's duration is guessed from the two frames before it (`last`, `previous`: the shorter
    /// interval, as times in whole milliseconds make 30 fps 33, 33 then 34 ms, which must not cut a part
    /// one frame early).
    private func partDue(at time: UInt32, _ last: UInt32?, _ previous: UInt32?) -> Bool {
        guard partTargetMs > 0, let start = partStart, let last, time >= last else { return false }
        var interval = time - last
        if let previous, last >= previous { interval = min(interval, last - previous) }
        return UInt64(time &- start) + UInt64(interval) > UInt64(partTargetMs)
    }

    /// Makes the part of the frames since the last one, which ends at `endTime` (the next part's start).
    private mutating func finishPart(endTime: UInt32) {
        guard let start = partStart else { return }
        let videoPart = videoFrames[partVideoIndex...], audioPart = audioFrames[partAudioIndex...]
        guard let bytes = fragment(video: videoPart, audio: audioPart, endTime: endTime) else { return }
        pendingParts.append(Part(duration: Double(endTime &- start) / 1000, independent: videoPart.first?.key ?? true, bytes: bytes))
        partVideoIndex = videoFrames.count
        partAudioIndex = audioFrames.count
        partStart = endTime
        revision += 1
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
        var bytes: [UInt8] = []
        var parts: [Part] = []
        if partTargetMs > 0 {
            if videoFrames.count > partVideoIndex || audioFrames.count > partAudioIndex { finishPart(endTime: endTime) }
            parts = pendingParts
            pendingParts = []
            bytes.reserveCapacity(parts.reduce(0) { $0 + $1.bytes.count })
            for part in parts { bytes += part.bytes }
        } else if let fragment = fragment(video: videoFrames[...], audio: audioFrames[...], endTime: endTime) {
            bytes = fragment
        }
        let frames = tsWriter == nil ? [] : tsFrames()
        let ts = tsWriter?.segment(frames) ?? []
        videoFrames.removeAll(keepingCapacity: true)
        audioFrames.removeAll(keepingCapacity: true)
        partVideoIndex = 0
        partAudioIndex = 0
        segmentStart = nil
        partStart = nil
        guard !bytes.isEmpty else { return false }
        segments.append(Segment(sequence: nextSequence, duration: Double(endTime &- start) / 1000, wallMs: segmentWallMs, bytes: bytes, ts: ts,
                                parts: parts))
        nextSequence += 1
        revision += 1
        if segments.count > windowSize { segments.removeFirst(segments.count - windowSize) }
        // The playlist lists the parts of the segments that start in the last three target durations
        // only (RFC 8216bis 4.4.4.9): older ones are given up.
        var after: UInt64 = 0
        for index in segments.indices.reversed() where !segments[index].parts.isEmpty {
            if after >= 3 * UInt64(targetMs) { segments[index].parts = [] }
            after += UInt64((segments[index].duration * 1000).rounded())
        }
        return true
    }

    /// moof + mdat of `video` and `audio` frames, the last video frame lasting until `endTime`; nil without frames.
    private mutating func fragment(video videoPart: ArraySlice<(time: UInt32, key: Bool, offset: Int32, data: ArraySlice<UInt8>)>,
                                   audio audioPart: ArraySlice<(time: UInt32, data: ArraySlice<UInt8>)>, endTime: UInt32) -> [UInt8]? {
        var runs: [FMP4.Run] = []
        if let video, let first = videoPart.first {
            var run = FMP4.Run(track: video, baseTime: UInt64(first.time), samples: [], data: [])
            for index in videoPart.indices {
                let frame = videoPart[index]
                let next = index + 1 < videoPart.endIndex ? videoPart[index + 1].time : max(endTime, frame.time &+ 1)
                run.samples.append(FMP4.Sample(duration: next > frame.time ? next - frame.time : 1, size: UInt32(frame.data.count), key: frame.key,
                                               compositionOffset: frame.offset))
                run.data += frame.data
            }
            runs.append(run)
        }
        if let audio, let first = audioPart.first {
            let rate = UInt64(audio.timescale)
            var run = FMP4.Run(track: audio, baseTime: UInt64(first.time) * rate / 1000, samples: [], data: [])
            for frame in audioPart {
                run.samples.append(FMP4.Sample(duration: 1024, size: UInt32(frame.data.count), key: true, compositionOffset: 0))
                run.data += frame.data
            }
            runs.append(run)
        }
        guard !runs.isEmpty else { return nil }
        fragments &+= 1
        return FMP4.fragment(sequence: fragments, runs)
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
}
