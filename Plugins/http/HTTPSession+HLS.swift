import MonaMedia
import MonaPluginKit
import PluginABI

/// HLS: for a file that does not exist, `GET /app/<name>.m3u8` answers the media playlist of the
/// publication `name`, `<name>.init.mp4` its fMP4 init segment and `<name>.<n>.m4s` its segments,
/// (MPEG-TS: `<name>.ts.m3u8` and `<name>.<n>.ts`, `HLS.ts`), all made in memory by the publication's packager
/// (HLSPackager, opened when the publication started, else by this first request: HTTPPlugin+HLS). The
/// viewer's client runs onSubscribe once per name (a refusal is a 403); a name not publishing is a
/// 404. A playlist asked for before the first segment is answered when it is cut.
extension HTTPSession {
    /// What an HLS request asks for.
    enum HLSRequest: Equatable {
        case playlist
        case initSegment
        case segment(Int)
        /// The MPEG-TS variant.
        case tsPlaylist
        case tsSegment(Int)
    }

    /// The publication and the part of it a file name asks for: "cam.m3u8", "cam.init.mp4", "cam.12.m4s";
    /// MPEG-TS: "cam.ts.m3u8", "cam.12.ts".
    static func hlsRequest(_ file: String) -> (name: String, request: HLSRequest)? {
        let lower = file.lowercased()
        let found: (Int, HLSRequest)?
        if lower.hasSuffix(".ts.m3u8") {
            found = (8, .tsPlaylist)
        } else if lower.hasSuffix(".m3u8") {
            found = (5, .playlist)
        } else if lower.hasSuffix(".init.mp4") {
            found = (9, .initSegment)
        } else if let extensionSize = lower.hasSuffix(".m4s") ? 4 : lower.hasSuffix(".ts") ? 3 : nil,
                  let dot = file.dropLast(extensionSize).lastIndex(of: "."),
                  let sequence = Int(file[file.index(after: dot)..<file.index(file.endIndex, offsetBy: -extensionSize)]), sequence >= 0 {
            found = (file.distance(from: dot, to: file.endIndex), extensionSize == 4 ? .segment(sequence) : .tsSegment(sequence))
        } else {
            found = nil
        }
        guard let (suffix, request) = found, file.count > suffix else { return nil }
        return (String(file.dropLast(suffix)), request)
    }

    /// Answers an HLS request for a missing file; false when the file is not one (or HLS is off).
    func playHLS(_ head: HTTPRequestHead, _ location: HTTPPath) -> Bool {
        guard plugin.hls.enabled, let (name, request) = Self.hlsRequest(location.file) else { return false }
        if case .tsPlaylist = request, !plugin.hls.ts { return false }
        if case .tsSegment = request, !plugin.hls.ts { return false }
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
            hlsAllowed.insert(name)
        }
        guard let packager = plugin.packager(name, application: location.application) else {
            fail(head, status: 404, message: "\(name) is not publishing")
            return true
        }
        let segmenter = packager.segmenter
        switch request {
        case .playlist, .tsPlaylist:
            let ts = request == .tsPlaylist
            guard !segmenter.segments.isEmpty || segmenter.ended else {
                hlsWaiting = (head, name, ts)
                packager.wait(self)
                return true
            }
            answerPlaylist(head, packager, name: name, ts: ts)
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

    private func answerPlaylist(_ head: HTTPRequestHead, _ packager: HLSPackager, name: String, ts: Bool) {
        respond(head, status: 200, extra: [("Content-Type", "application/vnd.apple.mpegurl"), ("Cache-Control", "no-cache")],
                body: packager.playlist(name: name, ts: ts))
    }

    /// The packager this session waits for has a segment, or its stream ended.
    func hlsReady(_ packager: HLSPackager) {
        guard let (head, name, ts) = hlsWaiting, name == packager.name, !closing else { return }
        hlsWaiting = nil
        if packager.segmenter.segments.isEmpty {
            fail(head, status: 404, message: "\(name) ended before its first segment")
        } else {
            answerPlaylist(head, packager, name: name, ts: ts)
        }
        process()
    }
}
