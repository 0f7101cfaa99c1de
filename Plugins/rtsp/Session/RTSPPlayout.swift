import MonaValues
import PluginABI

/// What a player's subscription learnt of the publication before PLAY: the codec configurations the SDP
/// needs (the host sends them with the first frames: the audio one at once, the video one before the
/// next key frame), which kinds to expect (from the metadata and the frames seen), and the frames since
/// the last key frame, so that PLAY starts at once on a key frame.
struct RTSPPlayout {
    /// A frame held until PLAY.
    struct Frame {
        let video: Bool
        let time: UInt32
        let bytes: [UInt8]
        let flags: UInt32
    }

    private(set) var video: VideoConfig?
    private(set) var audio: AACConfig?
    private(set) var expectsVideo = false
    private(set) var expectsAudio = false
    /// The metadata named the codecs: the kinds to expect are known.
    private var kindsKnown = false
    private(set) var held: [Frame] = []
    private var heldBytes = 0
    /// The time of the newest frame seen (ms, on the subscription's timeline).
    private(set) var latest: UInt32 = 0
    /// Most bytes held: past it the frames are dropped and holding waits for the next key frame.
    static let maxHeld = 8 << 20

    /// True when the SDP can be written: every kind expected has its configuration. Without metadata
    /// naming the codecs, video is expected (an audio-only publication waits for the time-out).
    var ready: Bool {
        (video != nil || !(expectsVideo || !kindsKnown)) && (audio != nil || !expectsAudio) && (video != nil || audio != nil)
    }

    /// The publication's metadata: FFmpeg and OBS name their codecs there.
    mutating func metadata(_ value: MonaValue) {
        guard case .object(_, let fields) = value else { return }
        for field in fields {
            if field.key == "videocodecid" { expectsVideo = true }
            if field.key == "audiocodecid" { expectsAudio = true }
        }
        kindsKnown = expectsVideo || expectsAudio
    }

    /// A frame: configurations are kept; `hold` keeps media until PLAY.
    mutating func frame(video isVideo: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32, hold: Bool) {
        latest = max(latest, time)
        if isVideo {
            expectsVideo = true
            if let parsed = FLVMedia.video(bytes), parsed.config {
                video = VideoConfig(codec: parsed.codec, record: parsed.payload) ?? video
                return
            }
        } else {
            expectsAudio = true
            if let parsed = FLVMedia.audio(bytes), parsed.config {
                audio = AACConfig(Array(parsed.payload)) ?? audio
                return
            }
        }
        guard hold else { return }
        if isVideo, flags & MONA_MEDIA_KEY != 0 {
            held = []
            heldBytes = 0
        } else if held.isEmpty {
            return // a start on a key frame only
        }
        guard heldBytes + bytes.count <= Self.maxHeld else {
            held = []
            heldBytes = 0
            return
        }
        held.append(Frame(video: isVideo, time: time, bytes: Array(bytes), flags: flags))
        heldBytes += bytes.count
    }

    /// The held frames, given up (PLAY sends them).
    mutating func takeHeld() -> [Frame] {
        defer {
            held = []
            heldBytes = 0
        }
        return held
    }
}
