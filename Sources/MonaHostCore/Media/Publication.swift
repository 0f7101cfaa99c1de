import MonaValues
import PluginABI

/// A named stream: at most one publisher (a client of a plugin, or the server itself through Lua's
/// `mona:publish`), any number of subscriptions, and what a late subscriber needs to start: the
/// metadata and the last audio and video codec configurations.
final class Publication {
    let handle: UInt64
    let name: String
    /// The publishing client (0: the server's own, from Lua), nil while nobody publishes.
    var publisher: UInt64?
    /// The application of the last publisher ("" or "/app"): the client's, or the script's for Lua's
    /// mona:publish (ABI 1.9 events give it).
    var application = ""
    /// Its publisher's end is being told (plugins, then onUnpublish): not collected meanwhile.
    var unpublishing = false
    /// The metadata (`@setDataFrame onMetaData …`), one OBJECT.
    var metadata: MonaValue?
    var audioConfig: [UInt8]?
    var videoConfig: [UInt8]?
    /// The time of the last frame pushed (ms, the publisher's clock).
    var lastTime: UInt32 = 0
    /// Frames not delivered to some subscriber (slow subscribers skip to the next key frame).
    var droppedFrames = 0
    var subscriptions: [Subscription] = []
    /// Lua hooks the script set on the publication object (onAudio, onVideo, onData, onFlush).
    var hooks: Set<String> = []
    /// Its recording (Lua's publication:record, or `[recording]`), while one runs.
    var recorder: Recorder?
    let audioQoS = MediaQoS(), videoQoS = MediaQoS(), dataQoS = MediaQoS()

    init(handle: UInt64, name: String) {
        self.handle = handle
        self.name = name
    }

    var running: Bool { publisher != nil }

    /// Forgets what belonged to the last publisher (metadata, codec configurations, rates).
    func reset() {
        metadata = nil
        audioConfig = nil
        videoConfig = nil
        for qos in [audioQoS, videoQoS, dataQoS] { qos.reset() }
    }
}

/// A subscriber of a publication: a client of a plugin whose sink receives the frames, rebased to its
/// own timeline, starting on a key frame after the cached configurations.
final class Subscription {
    let handle: UInt64
    let client: UInt64
    let plugin: LoadedPlugin
    let sink: UnsafeMutableRawPointer?
    unowned let publication: Publication
    var receiveAudio = true
    var receiveVideo = true
    /// The subscription ended (sink_released went out): nothing may reach its sink any more.
    var released = false
    var bufferTime = 0.0
    /// sink_start was sent for the current run of the publication.
    var started = false
    /// Video is skipped until a key frame (at start, and after the sink said it could not keep up).
    var waitingKeyFrame = true
    /// The first media of the current run went out (the audio configuration came first).
    var bootstrapped = false
    /// Timeline: the publisher's time of the first frame of this run, and where this run starts on
    /// the subscriber's timeline (after the last time sent in an earlier run, so it never goes back).
    var firstTime: UInt32 = 0
    var base: UInt32 = 0
    var lastSent: UInt32 = 0
    var hasSent = false
    let audioQoS = MediaQoS(), videoQoS = MediaQoS(), dataQoS = MediaQoS()

    init(handle: UInt64, client: UInt64, plugin: LoadedPlugin, sink: UnsafeMutableRawPointer?, publication: Publication) {
        self.handle = handle
        self.client = client
        self.plugin = plugin
        self.sink = sink
        self.publication = publication
    }

    /// Starts this run's timeline on the frame stamped `time` (after what an earlier run sent).
    func begin(at time: UInt32) {
        firstTime = time
        base = hasSent ? lastSent &+ 1 : 0
        bootstrapped = true
    }

    /// The subscriber's time of a frame stamped `time` by the publisher (a frame stamped before the
    /// first one, e.g. audio interleaved a little early, is put at the start).
    func rebase(_ time: UInt32) -> UInt32 {
        let delta = Int32(bitPattern: time &- firstTime)
        let rebased = base &+ UInt32(max(delta, 0))
        lastSent = max(lastSent, rebased)
        hasSent = true
        return rebased
    }

    /// A new run of the publication (a publisher starts): wait for a key frame again.
    func restart() {
        started = false
        bootstrapped = false
        waitingKeyFrame = true
    }
}

/// Byte rate and timing of one media kind (Lua's qualityOfService: lostRate, byteRate, latency,
/// lastSendingTime). Rates are measured over the last complete second.
final class MediaQoS {
    private(set) var byteRate = 0.0
    private(set) var lastSendingTime = 0.0
    private var windowStart = 0.0
    private var windowBytes = 0

    /// Counts `bytes` sent or received at `now` (ms since 1970).
    func count(_ bytes: Int, now: Double) {
        if now - windowStart >= 1000 {
            byteRate = now - windowStart < 2000 ? Double(windowBytes) * 1000 / (now - windowStart) : 0
            windowStart = now
            windowBytes = 0
        }
        windowBytes += bytes
        lastSendingTime = now
    }

    func reset() {
        byteRate = 0
        windowBytes = 0
        windowStart = 0
    }
}
