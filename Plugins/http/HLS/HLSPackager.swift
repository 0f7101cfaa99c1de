import MonaMedia
import MonaPluginKit
import PluginABI

/// The HLS packager of one publication: a subscriber of its own (a client of protocol "HLS" of the
/// publisher's application, opened when the publication starts — or of the application first asked
/// for it, when the start was missed — onConnection and onSubscribe running as for any client) that
/// segments the stream in memory for every HLS viewer. It outlives the publication's end by the
/// plugin's linger so that players get the last segments and the end of the playlist.
final class HLSPackager: LiveSink {
    let name: String
    private let host: MonaHost
    private(set) var segmenter: HLSSegmenter
    private(set) var client: mona_handle = 0
    /// The publication runs.
    private(set) var running = false
    /// When the publication ended (monotonic ms), nil while it runs.
    private(set) var endedAt: Int64?
    /// Sessions whose request waits for the stream: a first segment, a part or segment a blocking
    /// playlist reload names, the next part.
    private var waiters: [Waiter] = []
    /// The length of `waiters` at which entries of closed sessions are dropped.
    private var pruneAt = 64
    /// The timer that answers the waits past their deadline (HTTPPlugin+HLS): its handle and when it fires.
    var check: (timer: mona_handle, at: Int64)?
    /// Segments moved into host shared buffers as they are cut (key: sequence × 2, + 1 for MPEG-TS):
    /// every viewer's send names the same bytes, which the host writes without copying them (sendfile
    /// from its in-memory file); dropped as they leave the window. The segmenter keeps no copy of a
    /// segment moved whole.
    private var sharedSegments: [Int: SharedBytes] = [:]
    /// The newest segment moved.
    private var lastShared: Int?
    /// Parts in host shared buffers as asked for (key: sequence, part), dropped with their segment's parts.
    private var sharedParts: [PartKey: SharedBytes] = [:]
    /// The playlists' bytes (key: MPEG-TS), made once per change of the window: every viewer's poll
    /// asks for the same text.
    private var playlists: [Bool: (name: String, bytes: [UInt8])] = [:]

    /// A session waiting, not kept alive by the wait.
    private struct Waiter {
        weak var session: HTTPSession?
    }

    /// A part of a segment.
    private struct PartKey: Hashable {
        let sequence: Int
        let index: Int
    }

    /// Why no packager was opened.
    enum OpenFailure: Error {
        /// The publication does not run.
        case notPublishing
        /// The application refused the packager's client (onConnection) or its subscription (onSubscribe).
        case refused(String)
    }

    private init(name: String, host: MonaHost, segmenter: HLSSegmenter) {
        self.name = name
        self.host = host
        self.segmenter = segmenter
    }

    /// A packager for the publication `name` if it runs: a client of `application` whose peer and
    /// local addresses are `address` (the server's own: where the plugin listens).
    static func open(name: String, application: String, host: MonaHost, address: mona_addr,
                     segmenter: HLSSegmenter) -> Result<HLSPackager, OpenFailure> {
        let packager = HLSPackager(name: name, host: host, segmenter: segmenter)
        switch host.openClient(protocol: "HLS", peer: address, local: address, serverAddress: nil, path: application, query: nil,
                               properties: nil, args: [], writer: nil) {
        case .refused(_, _, let message):
            return .failure(.refused(message))
        case .opened(let client, _):
            packager.client = client
        }
        let subscribed = host.subscribe(client: packager.client, name: name, query: "", sink: packager.context)
        if case .success = subscribed, packager.running { return .success(packager) }
        host.closeClient(packager.client) // ends a subscription it made
        if case .failure(let refusal) = subscribed, refusal.status == MONA_E_REJECTED { return .failure(.refused(refusal.message)) }
        return .failure(.notPublishing)
    }

    /// The bytes of segment `sequence` (fMP4, or MPEG-TS) in a host shared buffer; nil when it is not
    /// in the window or the host cannot share buffers.
    func sharedSegment(_ sequence: Int, ts: Bool) -> SharedBytes? {
        let key = sequence &* 2 &+ (ts ? 1 : 0)
        if let bytes = sharedSegments[key] { return bytes }
        guard let segment = segmenter.segment(sequence), !(ts ? segment.ts : segment.bytes).isEmpty,
              let bytes = SharedBytes(host: host, bytes: ts ? segment.ts : segment.bytes)
        else { return nil }
        if let oldest = segmenter.segments.first?.sequence {
            sharedSegments = sharedSegments.filter { $0.key / 2 >= oldest }
        }
        sharedSegments[key] = bytes
        return bytes
    }

    /// The bytes of part `index` of segment `sequence` in a host shared buffer (a copy when the host
    /// cannot share); nil when the playlist does not list it.
    func part(_ sequence: Int, _ index: Int) -> SharedBytes? {
        let key = PartKey(sequence: sequence, index: index)
        if let bytes = sharedParts[key] { return bytes }
        guard let bytes = segmenter.part(sequence, index).bytes, let shared = SharedBytes(host: host, bytes: bytes) else { return nil }
        sharedParts[key] = shared
        return shared
    }

    /// Moves the segments cut since the last call into shared buffers (kept by the segmenter when the
    /// host cannot share: they are copied when asked for).
    private func shareNewSegments() {
        for segment in segmenter.segments where segment.sequence > (lastShared ?? Int.min) {
            lastShared = segment.sequence
            let mp4 = sharedSegment(segment.sequence, ts: false)
            let ts = segment.ts.isEmpty ? nil : sharedSegment(segment.sequence, ts: true)
            if mp4 != nil, ts != nil || segment.ts.isEmpty { segmenter.dropBytes(segment.sequence) }
        }
    }

    /// The media playlist of the window as it is (fMP4, or MPEG-TS), its segments named after `name`.
    func playlist(name: String, ts: Bool) -> [UInt8] {
        if let cached = playlists[ts], cached.name == name { return cached.bytes }
        let bytes = Array(segmenter.playlist(name: name, ts: ts).utf8)
        playlists[ts] = (name, bytes)
        return bytes
    }

    /// Ends the subscription and the client.
    func close() {
        sharedSegments = [:]
        sharedParts = [:]
        guard client != 0 else { return }
        host.closeClient(client)
        client = 0
        wakeWaiters()
    }

    /// Tells `session` (`hlsReady`) at the next change of the stream: a part or a segment cut, the end;
    /// or when the plugin's check finds its wait past its deadline.
    func wait(_ session: HTTPSession) {
        waiters.append(Waiter(session: session))
        // Sessions that closed while waiting leave an empty entry until the next wake, which a stalled
        // stream may not bring: pruned when the list doubled since the last pruning.
        if waiters.count >= pruneAt {
            waiters.removeAll { $0.session == nil }
            pruneAt = max(64, waiters.count * 2)
        }
    }

    /// Tells every waiting session, which answers or waits again.
    func wakeWaiters() {
        let woken = waiters
        waiters = []
        for waiter in woken { waiter.session?.hlsReady(self) }
    }

    override func started() -> Int32 {
        if endedAt != nil { // a new publisher: a new stream, numbered after the last one
            segmenter = HLSSegmenter(targetMs: segmenter.targetMs, windowSize: segmenter.windowSize, withTS: segmenter.withTS,
                                     partTargetMs: segmenter.partTargetMs, firstSequence: segmenter.nextSequence)
        }
        running = true
        endedAt = nil
        playlists = [:]
        return MONA_OK
    }

    override func stopped() -> Int32 {
        running = false
        endedAt = host.monotonicMs
        segmenter.end()
        shareNewSegments()
        playlists = [:]
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
        let now = host.timeMs, revision = segmenter.revision
        let cut = video ? segmenter.video(time: time, body: Array(bytes), wallMs: now) : segmenter.audio(time: time, body: Array(bytes), wallMs: now)
        if cut {
            shareNewSegments()
            let listed = segmenter.segments.last { $0.parts.isEmpty }.map { $0.sequence + 1 } ?? Int.min
            sharedParts = sharedParts.filter { $0.key.sequence >= listed }
        }
        if segmenter.revision != revision { // a part or a segment
            playlists = [:]
            wakeWaiters()
        }
        return MONA_OK
    }
}
