import MonaMedia
import MonaPluginKit
import PluginABI

/// The HLS packager of one publication: a subscriber of its own (a client of protocol "HLS" of the
/// application first asked for it, onConnection and onSubscribe running as for any client) that
/// segments the stream in memory for every HLS viewer. It outlives the publication's end by
/// `HTTPPlugin.hlsLinger` so that players get the last segments and the end of the playlist.
final class HLSPackager: LiveSink {
    let name: String
    private let host: MonaHost
    private(set) var segmenter: HLSSegmenter
    private(set) var client: mona_handle = 0
    private(set) var subscription: mona_handle = 0
    /// The publication runs.
    private(set) var running = false
    /// When the publication ended (monotonic ms), nil while it runs.
    private(set) var endedAt: Int64?
    /// Sessions waiting for the first segment.
    private var waiters: [Waiter] = []

    /// A session waiting, not kept alive by the wait.
    private struct Waiter {
        weak var session: HTTPSession?
    }

    private init(name: String, host: MonaHost, segmenter: HLSSegmenter) {
        self.name = name
        self.host = host
        self.segmenter = segmenter
    }

    /// A packager for the publication `name` if it runs (opened as a client of `application`), else nil.
    static func open(name: String, application: String, for session: HTTPSession, segmenter: HLSSegmenter) -> HLSPackager? {
        let host = session.host
        let packager = HLSPackager(name: name, host: host, segmenter: segmenter)
        guard case .opened(let client, _) = host.openClient(protocol: "HLS", peer: session.peer, local: session.local, serverAddress: nil,
                                                            path: application, query: nil, properties: nil, args: [], writer: nil)
        else { return nil }
        packager.client = client
        guard case .success(let subscription) = host.subscribe(client: client, name: name, query: "", sink: packager.context),
              packager.running else {
            host.closeClient(client) // ends a subscription it made
            return nil
        }
        packager.subscription = subscription
        return packager
    }

    /// Ends the subscription and the client.
    func close() {
        guard client != 0 else { return }
        host.closeClient(client)
        client = 0
        wakeWaiters()
    }

    /// Answers `session`'s waiting request once there is a segment (or the stream ended).
    func wait(_ session: HTTPSession) { waiters.append(Waiter(session: session)) }

    private func wakeWaiters() {
        let woken = waiters
        waiters = []
        for waiter in woken { waiter.session?.hlsReady(self) }
    }

    override func started() -> Int32 {
        if endedAt != nil { // a new publisher: a new stream, numbered after the last one
            segmenter = HLSSegmenter(targetMs: segmenter.targetMs, windowSize: segmenter.windowSize, withTS: segmenter.withTS,
                                     firstSequence: segmenter.nextSequence)
        }
        running = true
        endedAt = nil
        return MONA_OK
    }

    override func stopped() -> Int32 {
        running = false
        endedAt = host.monotonicMs
        segmenter.end()
        wakeWaiters()
        return MONA_OK
    }

    override func metadata(_ metadata: MonaValue) -> Int32 {
        guard case .object(_, let fields) = metadata else { return MONA_OK }
        func number(_ key: String) -> Int {
            guard case .number(let value)? = fields.first(where: { $0.key == key })?.value, value >= 0, value < 65536 else { return 0 }
            return Int(value)
        }
        segmenter.setSize(width: number("width"), height: number("height"))
        return MONA_OK
    }

    override func frame(video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32, serial: UInt64) -> Int32 {
        let now = host.timeMs
        let cut = video ? segmenter.video(time: time, body: Array(bytes), wallMs: now) : segmenter.audio(time: time, body: Array(bytes), wallMs: now)
        if cut { wakeWaiters() }
        return MONA_OK
    }
}
