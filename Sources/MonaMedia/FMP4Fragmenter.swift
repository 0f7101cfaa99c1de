/// Low-latency fragmented MP4 for one viewer: the init segment once the stream's configurations and
/// first key frame are known, then one fragment (moof + mdat) per batch of frames the caller ends
/// (`fragment()`), so a player gets each frame as soon as it is published. A frame's duration is the
/// gap to the next one of its track; the last of a batch takes the previous gap. FLV bodies in, on
/// the viewer's timeline (ms). A fragment depends only on its frames and on what the previous batch
/// left (the last video gap, the next audio time): viewers of one publication in step make the same
/// bytes, which `fragment(sharing:)` builds once (the `mfhd` sequence number is the batch's first
/// time, + 1, so that it is the same for all of them too).
public struct FMP4Fragmenter {
    /// A frame held until the end of its batch: its FLV body (shared with the other viewers when the
    /// caller passes the same array) and where the media data starts in it.
    struct Frame: Equatable {
        var time: UInt32
        var key: Bool
        var offset: Int32
        var body: [UInt8]
        var start: Int
    }

    /// What a fragment is made of: two viewers with equal inputs make equal fragments.
    struct Inputs: Equatable {
        var video: [Frame]
        var audio: [Frame]
        var videoGap: UInt32
        var audioNext: UInt64?
        var tracks: [UInt32]
    }

    private var videoConfig: (codec: FLVMedia.VideoCodec, record: [UInt8])?
    private var audioConfig: (bytes: [UInt8], aac: AACConfig)?
    private var video: FMP4.Track?
    private var audio: FMP4.Track?
    private var started = false
    private var videoFrames: [Frame] = []
    private var audioFrames: [Frame] = []
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
            videoFrames.append(Frame(time: time, key: key, offset: offset, body: body, start: data.startIndex))
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
            if audio != nil { audioFrames.append(Frame(time: time, key: true, offset: 0, body: body, start: data.startIndex)) }
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

    /// The frames given since the last call as one fragment, nil when there are none; with `shared`,
    /// the fragment the last viewer with the same inputs made, else made and left there.
    public mutating func fragment(sharing shared: FMP4SharedFragment? = nil) -> [UInt8]? {
        guard (video != nil && !videoFrames.isEmpty) || (audio != nil && !audioFrames.isEmpty) else {
            videoFrames.removeAll(keepingCapacity: true)
            audioFrames.removeAll(keepingCapacity: true)
            return nil
        }
        let inputs = Inputs(video: video == nil ? [] : videoFrames, audio: audio == nil ? [] : audioFrames, videoGap: videoGap,
                            audioNext: audioNext, tracks: [video?.id, audio?.id, audio?.timescale].compactMap { $0 })
        var runs: [FMP4.Run] = []
        var firstTime = UInt32.max
        if let video, let first = videoFrames.first {
            firstTime = first.time
            var run = FMP4.Run(track: video, baseTime: UInt64(first.time), samples: [], data: [])
            for (index, frame) in videoFrames.enumerated() {
                if index + 1 < videoFrames.count {
                    let next = videoFrames[index + 1].time
                    videoGap = next > frame.time ? min(next - frame.time, 1000) : 1 // a publisher's clock may jump
                }
                run.samples.append(FMP4.Sample(duration: videoGap, size: UInt32(frame.body.count - frame.start), key: frame.key,
                                               compositionOffset: frame.offset))
            }
            runs.append(run)
        }
        if let audio, let first = audioFrames.first {
            firstTime = min(firstTime, first.time)
            let rate = UInt64(audio.timescale)
            let computed = UInt64(first.time) * rate / 1000
            // Back to back unless the clock says otherwise by more than a frame (a gap in the stream).
            let base = audioNext.map { max($0, computed) &- computed < 1024 && computed &- min($0, computed) < 1024 ? $0 : computed } ?? computed
            var run = FMP4.Run(track: audio, baseTime: base, samples: [], data: [])
            for frame in audioFrames {
                run.samples.append(FMP4.Sample(duration: 1024, size: UInt32(frame.body.count - frame.start), key: true, compositionOffset: 0))
            }
            audioNext = base + UInt64(audioFrames.count) * 1024
            runs.append(run)
        }
        defer {
            videoFrames.removeAll(keepingCapacity: true)
            audioFrames.removeAll(keepingCapacity: true)
        }
        if let shared, let bytes = shared.bytes(for: inputs) { return bytes }
        // The media data only now, once per distinct fragment.
        for index in runs.indices {
            let frames = runs[index].track.isVideo ? videoFrames : audioFrames
            runs[index].data.reserveCapacity(frames.reduce(0) { $0 + $1.body.count - $1.start })
            for frame in frames { runs[index].data += frame.body[frame.start...] }
        }
        let bytes = FMP4.fragment(sequence: firstTime &+ 1, runs)
        shared?.keep(bytes, for: inputs)
        return bytes
    }
}

/// The last fragment made, with what it was made of, for the next viewer with the same inputs (one
/// per plugin: the loop thread only).
public final class FMP4SharedFragment {
    private var inputs: FMP4Fragmenter.Inputs?
    private var bytes: [UInt8] = []

    public init() {}

    func bytes(for inputs: FMP4Fragmenter.Inputs) -> [UInt8]? {
        self.inputs == inputs ? bytes : nil
    }

    func keep(_ bytes: [UInt8], for inputs: FMP4Fragmenter.Inputs) {
        self.inputs = inputs
        self.bytes = bytes
    }
}
