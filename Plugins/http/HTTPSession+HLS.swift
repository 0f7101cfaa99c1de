import MonaMedia
import MonaPluginKit
import PluginABI

/// HLS: for a file that does not exist, `GET /app/<name>.m3u8` answers the media playlist of the
/// publication `name`, `<name>.init.mp4` its fMP4 init segment, `<name>.<n>.m4s` its segments and
/// `<name>.<n>.p<k>.m4s` their parts (low-latency HLS), (MPEG-TS: `<name>.ts.m3u8` and `<name>.<n>.ts`,
/// `HLS.ts`), all made in memory by the publication's packager (HLSPackager, opened when the
/// publication started, else by this first request: HTTPPlugin+HLS). The viewer's client runs
/// onSubscribe once per name (a refusal is a 403); a name not publishing is a 404. A request waits
/// for what it names when it is coming: a playlist before the first segment (until the idle
/// time-out), a blocking playlist reload (`_HLS_msn`, `_HLS_part`) and the next part (for three
/// target durations, then 503).
extension HTTPSession {
    /// What an HLS request asks for.
    enum HLSRequest: Equatable {
        case playlist
        case initSegment
        case segment(Int)
        /// Part `part` of segment `sequence` (low-latency HLS).
        case part(Int, Int)
        /// The MPEG-TS variant.
        case tsPlaylist
        case tsSegment(Int)
    }

    /// Most publication names a connection remembers as accepted by onSubscribe.
    static let maxHLSAllowed = 64

    /// An HLS request that waits for the stream.
    struct HLSWait {
        let head: HTTPRequestHead
        let name: String
        let request: HLSRequest
        /// What a blocking playlist reload asks for: segment `msn` (and its part `part`).
        let reload: (msn: Int, part: Int?)?
        /// When it is answered anyway (monotonic ms), `Int64.max`: at the idle time-out.
        let deadline: Int64
    }

    /// The publication and the part of it a file name asks for: "cam.m3u8", "cam.init.mp4", "cam.12.m4s",
    /// "cam.12.p3.m4s"; MPEG-TS: "cam.ts.m3u8", "cam.12.ts".
    static func hlsRequest(_ file: String) -> (name: String, request: HLSRequest)? {
        let lower = file.lowercased()
        /// The number after the last dot of `text` (digits only), and the text before that dot.
        func number(_ text: Substring, prefix: String = "") -> (Substring, Int)? {
            guard let dot = text.lastIndex(of: "."), text[text.index(after: dot)...].hasPrefix(prefix) else { return nil }
            let digits = text[text.index(dot, offsetBy: 1 + prefix.count)...]
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let value = Int(digits) else { return nil }
            return (text[..<dot], value)
        }
        let found: (Substring, HLSRequest)?
        if lower.hasSuffix(".ts.m3u8") {
            found = (file.dropLast(8), .tsPlaylist)
        } else if lower.hasSuffix(".m3u8") {
            found = (file.dropLast(5), .playlist)
        } else if lower.hasSuffix(".init.mp4") {
            found = (file.dropLast(9), .initSegment)
        } else if lower.hasSuffix(".m4s") {
            if let (rest, part) = number(file.dropLast(4), prefix: "p"), let (name, sequence) = number(rest) {
                found = (name, .part(sequence, part))
            } else {
                found = number(file.dropLast(4)).map { ($0.0, .segment($0.1)) }
            }
        } else if lower.hasSuffix(".ts") {
            found = number(file.dropLast(3)).map { ($0.0, .tsSegment($0.1)) }
        } else {
            found = nil
        }
        guard let (name, request) = found, !name.isEmpty else { return nil }
        return (String(name), request)
    }

    /// What a playlist query says of a blocking reload.
    enum HLSReloadQuery: Equatable {
        case none
        /// Values that are no numbers, or a part without a segment.
        case invalid
        case asks(msn: Int, part: Int?)
    }

    /// The blocking playlist reload a query asks for (`_HLS_msn=<n>` and `_HLS_part=<k>`).
    static func hlsReload(_ query: String) -> HLSReloadQuery {
        var msn: String?, part: String?
        for pair in query.split(separator: "&") {
            let (key, value) = pair.firstIndex(of: "=").map { (pair[..<$0], String(pair[pair.index(after: $0)...])) } ?? (pair, "")
            if key == "_HLS_msn" { msn = value } else if key == "_HLS_part" { part = value }
        }
        guard msn != nil || part != nil else { return .none }
        guard let msn, let sequence = Int(msn), sequence >= 0 else { return .invalid }
        guard let part else { return .asks(msn: sequence, part: nil) }
        guard let index = Int(part), index >= 0 else { return .invalid }
        return .asks(msn: sequence, part: index)
    }

    /// Answers an HLS request for a missing file; false when the file is not one (or HLS is off).
    func playHLS(_ head: HTTPRequestHead, _ location: HTTPPath) -> Bool {
        guard plugin.hls.enabled, let (name, request) = Self.hlsRequest(location.file) else { return false }
        if case .tsPlaylist = request, !plugin.hls.ts { return false }
        if case .tsSegment = request, !plugin.hls.ts { return false }
        var reload: (msn: Int, part: Int?)?
        if request == .playlist, plugin.hls.partMs > 0 { // only a playlist that says CAN-BLOCK-RELOAD blocks
            switch Self.hlsReload(head.query) {
            case .invalid:
                fail(head, status: 400, message: "_HLS_msn and _HLS_part must be numbers, _HLS_part with _HLS_msn")
                return true
            case .asks(let msn, let part):
                reload = (msn, part)
            case .none:
                break
            }
        }
        if !hlsAllowed.contains(name) {
            // The viewer's onSubscribe decides, as for any subscriber (its listener goes at once).
            switch host.subscribe(client: client, name: name, query: head.query, sink: nil) {
            case .failure(let refusal):
                let refused = refusal.status == MONA_E_REJECTED
                fail(head, status: refused ? 403 : 500, message: refused ? PeerText.withoutPaths(refusal.message) : PeerText.applicationFailure)
                return true
            case .success(let subscription):
                host.unsubscribe(subscription)
            }
            // A peer naming ever new publications on one connection must not grow the set: past the
            // bound it starts again (onSubscribe then runs again for a name asked before).
            if hlsAllowed.count >= Self.maxHLSAllowed { hlsAllowed.removeAll() }
            hlsAllowed.insert(name)
        }
        guard let packager = plugin.packager(name, application: location.application) else {
            fail(head, status: 404, message: "\(name) is not publishing")
            return true
        }
        let blocking = reload != nil || { if case .part = request { return true } else { return false } }()
        let wait = HLSWait(head: head, name: name, request: request, reload: reload,
                           deadline: blocking ? host.monotonicMs + 3 * Int64(plugin.hls.segmentMs) : .max)
        if !answerHLS(wait, packager) {
            hlsWaiting = wait
            plugin.hold(self, on: packager, until: wait.deadline)
        }
        return true
    }

    /// Answers `wait`'s request if the stream has what it names, or if it never will; false when it
    /// is coming (the request waits).
    private func answerHLS(_ wait: HLSWait, _ packager: HLSPackager) -> Bool {
        let (head, name) = (wait.head, wait.name)
        let segmenter = packager.segmenter
        switch wait.request {
        case .playlist, .tsPlaylist:
            let ts = wait.request == .tsPlaylist
            guard !segmenter.segments.isEmpty || segmenter.ended else { return false }
            if let reload = wait.reload {
                switch segmenter.reload(msn: reload.msn, part: reload.part) {
                case .ready:
                    break
                case .wait:
                    return false
                case .tooFar:
                    fail(head, status: 400, message: "Segment \(reload.msn) of \(name) is too far ahead (the next is \(segmenter.nextSequence))")
                    return true
                }
            }
            respond(head, status: 200, extra: [("Content-Type", "application/vnd.apple.mpegurl"), ("Cache-Control", "no-cache")],
                    body: packager.playlist(name: name, ts: ts))
        case .initSegment:
            guard let bytes = segmenter.initSegment else {
                fail(head, status: 404, message: "\(name) has no segment yet")
                return true
            }
            respond(head, status: 200, extra: [("Content-Type", "video/mp4"), ("Cache-Control", "no-cache")], body: bytes)
        case .segment(let sequence):
            guard let segment = segmenter.segment(sequence) else {
                fail(head, status: 404, message: "Segment \(sequence) of \(name) is not in the window")
                return true
            }
            respondSegment(head, packager, segment, ts: false, type: "video/iso.segment")
        case .tsSegment(let sequence):
            guard let segment = segmenter.segment(sequence) else {
                fail(head, status: 404, message: "Segment \(sequence) of \(name) is not in the window")
                return true
            }
            respondSegment(head, packager, segment, ts: true, type: "video/mp2t")
        case .part(let sequence, let index):
            if let shared = packager.part(sequence, index) { // HEAD: its length, no body
                respond(head, status: 200, extra: [("Content-Type", "video/iso.segment"), ("Cache-Control", "max-age=60")], body: [],
                        contentLength: shared.count, sharedBody: shared)
                return true
            }
            if segmenter.part(sequence, index).comingNext { return false }
            fail(head, status: 404, message: "Part \(index) of segment \(sequence) of \(name) is not listed")
        }
        return true
    }

    /// A segment's bytes, from the packager's shared copy when the host has shared buffers.
    private func respondSegment(_ head: HTTPRequestHead, _ packager: HLSPackager, _ segment: HLSSegmenter.Segment, ts: Bool, type: String) {
        let extra = [("Content-Type", type), ("Cache-Control", "max-age=60")]
        if let shared = packager.sharedSegment(segment.sequence, ts: ts) { // HEAD: its length, no body
            respond(head, status: 200, extra: extra, body: [], contentLength: shared.count, sharedBody: shared)
        } else {
            respond(head, status: 200, extra: extra, body: ts ? segment.ts : segment.bytes)
        }
    }

    /// The stream of the packager this session waits for changed, or the wait's deadline may be past:
    /// the request is answered, or waits again.
    func hlsReady(_ packager: HLSPackager) {
        guard let wait = hlsWaiting, wait.name == packager.name, !closing else { return }
        hlsWaiting = nil
        if !answerHLS(wait, packager) {
            guard host.monotonicMs >= wait.deadline else {
                hlsWaiting = wait
                plugin.hold(self, on: packager, until: wait.deadline)
                return
            }
            hlsTimedOut(wait)
        }
        process()
    }

    /// A waiting HLS request that was not answered in time: a playlist that has no segment yet is a
    /// 404; a blocking reload or the next part that did not come, a 503 (the player asks again).
    func hlsTimedOut(_ wait: HLSWait) {
        if wait.deadline == .max {
            fail(wait.head, status: 404, message: "\(wait.name) has no segment yet")
        } else {
            fail(wait.head, status: 503, message: "What the request names of \(wait.name) was not made in time")
        }
    }
}
