/// Low-latency fragmented MP4 for one viewer: the init segment once the stream's configurations and
/// first key frame are known, then one fragment (moof + mdat) per batch of frames the caller ends
/// (`fragment()`), so a player gets each frame as soon as it is published. A frame's duration is the
/// gap to the next one of its track; the last of a batch takes the previous gap. FLV bodies in, on
/// the viewer's timeline (ms).
public struct FMP4Fragmenter {
    private var videoConfig: (codec: FLVMedia.VideoCodec, record: [UInt8])?
    private var audioConfig: (bytes: [UInt8], aac: AACConfig)?
    private var video: FMP4.Track?
    private var audio: FMP4.Track?
    private var started = false
    private var sequence: UInt32 = 0
    private var videoFrames: [(time: UInt32, key: Bool, offset: Int32, data: [UInt8])] = []
    private var audioFrames: [(time: UInt32, data: [UInt8])] = []
    /// The last gap between two video frames (ms), for the last frame of a batch.
    private var videoGap: UInt32 = 40
    /// The next audio decode time (samples), to keep AAC frames back to back.
    private var audioNext: UInt64?
    /// The first audio frame while no video configuration came (a subscriber gets audio before the
    /// video configuration, which comes with the first key frame): audio alone starts the stream
    /// only after `audioOnlyAfter` ms of it.
    private var audioWithoutVideo: UInt32?
    static let audioOnlyAfter: UInt32 = 1000

    public init() {}

    /// The MIME type of the stream for Media Source Extensions, once started.
    public var mimeType: String? {
        guard started else { return nil }
        return "video/mp4; codecs=\"" + [video, audio].compactMap { $0?.codecString }.joined(separator: ",") + "\""
    }

    /// A video frame; the init segment when this frame starts the stream.
    public mutating func video(time: UInt32, body: [UInt8]) -> [UInt8]? {
        switch FLVMedia.video(body[...]) {
        case .videoConfig(let codec, let record):
            if !started { videoConfig = (codec, Array(record)) }
            return nil
        case .videoFrame(let codec, let key, let offset, let data):
            var initSegment: [UInt8]?
            if !started {
                guard key, let config = videoConfig, config.codec == codec else { return nil }
                initSegment = start()
            }
            videoFrames.append((time, key, offset, Array(data)))
            return initSegment
        default:
            return nil
        }
    }

    /// An audio frame; the init segment when this frame starts a stream without video.
    public mutating func audio(time: UInt32, body: [UInt8]) -> [UInt8]? {
        switch FLVMedia.audio(body[...]) {
        case .aacConfig(let config):
            if !started, let aac = AACConfig(config) { audioConfig = (Array(config), aac) }
            return nil
        case .aacFrame(let data):
            var initSegment: [UInt8]?
            if !started {
                guard videoConfig == nil, audioConfig != nil else { return nil } // video starts the stream
                let first = audioWithoutVideo ?? time
                audioWithoutVideo = first
                guard time &- first >= Self.audioOnlyAfter else { return nil }
                initSegment = start()
            }
            if audio != nil { audioFrames.append((time, Array(data))) }
            return initSegment
        default:
            return nil
        }
    }

    private mutating func start() -> [UInt8] {
        started = true
        if let config = videoConfig { video = FMP4.Track(id: 1, kind: .video(codec: config.codec, record: config.record, width: 0, height: 0)) }
        if let config = audioConfig { audio = FMP4.Track(id: 2, kind: .audio(config: config.bytes, aac: config.aac)) }
        return FMP4.initSegment([video, audio].compactMap { $0 })
    }

    /// The frames given since the last call as one fragment, nil when there are none.
    public mutating func fragment() -> [UInt8]? {
        var runs: [FMP4.Run] = []
        if let video, let first = videoFrames.first {
            var run = FMP4.Run(track: video, baseTime: UInt64(first.time), samples: [], data: [])
            for (index, frame) in videoFrames.enumerated() {
                if index + 1 < videoFrames.count {
                    let next = videoFrames[index + 1].time
                    videoGap = next > frame.time ? min(next - frame.time, 1000) : 1 // a publisher's clock may jump
                }
                run.samples.append(FMP4.Sample(duration: videoGap, size: UInt32(frame.data.count), key: frame.key, compositionOffset: frame.offset))
                run.data += frame.data
            }
            runs.append(run)
        }
        if let audio, let first = audioFrames.first {
            let rate = UInt64(audio.timescale)
            let computed = UInt64(first.time) * rate / 1000
            // Back to back unless the clock says otherwise by more than a frame (a gap in the stream).
            let base = audioNext.map { max($0, computed) &- computed < 1024 && computed &- min($0, computed) < 1024 ? $0 : computed } ?? computed
            var run = FMP4.Run(track: audio, baseTime: base, samples: [], data: [])
            for frame in audioFrames {
                run.samples.append(FMP4.Sample(duration: 1024, size: UInt32(frame.data.count), key: true, compositionOffset: 0))
                run.data += frame.data
            }
            audioNext = base + UInt64(audioFrames.count) * 1024
            runs.append(run)
        }
        videoFrames.removeAll(keepingCapacity: true)
        audioFrames.removeAll(keepingCapacity: true)
        guard !runs.isEmpty else { return nil }
        sequence &+= 1
        return FMP4.fragment(sequence: sequence, runs)
    }
}
