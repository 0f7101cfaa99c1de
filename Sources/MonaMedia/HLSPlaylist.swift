#if canImport(Glibc)
import Glibc
#endif

/// The media playlists of an `HLSSegmenter`'s window, and where a blocking playlist reload
/// (`_HLS_msn`, `_HLS_part`: RFC 8216bis 6.2.5.2) stands against it.
extension HLSSegmenter {
    /// The media playlist of the window: fMP4 (HLS version 7), segments "<name>.<sequence>.m4s" next to
    /// it and the init segment "<name>.init.mp4"; or MPEG-TS (`ts`, version 3), "<name>.<sequence>.ts".
    /// With parts (fMP4 only): the server control (blocking reload, a hold-back of three parts), the
    /// parts of the last segments and of the one being made ("<name>.<sequence>.p<part>.m4s") and the
    /// hint of the next part, which a player may ask for before it is made.
    public func playlist(name: String, ts: Bool = false) -> String {
        let parts = !ts && partTargetMs > 0
        let target = Int((segments.map(\.duration).max() ?? Double(targetMs) / 1000).rounded(.up))
        var text = "#EXTM3U\n#EXT-X-VERSION:\(ts ? 3 : 7)\n#EXT-X-TARGETDURATION:\(max(target, 1))\n"
        if parts {
            text += "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=\(Self.seconds(3 * Int(partTargetMs)))\n"
            text += "#EXT-X-PART-INF:PART-TARGET=\(Self.seconds(Int(partTargetMs)))\n"
        }
        text += "#EXT-X-MEDIA-SEQUENCE:\(segments.first?.sequence ?? nextSequence)\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        if !ts { text += "#EXT-X-MAP:URI=\"\(name).init.mp4\"\n" }
        for segment in segments {
            text += "#EXT-X-PROGRAM-DATE-TIME:\(Self.isoDate(segment.wallMs))\n"
            if parts { Self.list(segment.parts, of: segment.sequence, name: name, into: &text) }
            text += "#EXTINF:\(Self.seconds(Int((segment.duration * 1000).rounded()))),\n\(name).\(segment.sequence).\(ts ? "ts" : "m4s")\n"
        }
        if ended {
            text += "#EXT-X-ENDLIST\n"
        } else if parts {
            if !pendingParts.isEmpty {
                text += "#EXT-X-PROGRAM-DATE-TIME:\(Self.isoDate(segmentWallMs))\n"
                Self.list(pendingParts, of: nextSequence, name: name, into: &text)
            }
            text += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"\(name).\(nextSequence).p\(pendingParts.count).m4s\"\n"
        }
        return text
    }

    private static func list(_ parts: [Part], of sequence: Int, name: String, into text: inout String) {
        for (index, part) in parts.enumerated() {
            text += "#EXT-X-PART:DURATION=\(seconds(Int((part.duration * 1000).rounded()))),URI=\"\(name).\(sequence).p\(index).m4s\""
            text += part.independent ? ",INDEPENDENT=YES\n" : "\n"
        }
    }

    /// Where a blocking playlist reload for segment `msn` (and its part `part`) stands.
    public enum Reload: Equatable {
        /// The playlist holds it (or the stream ended): answer now.
        case ready
        /// Not made yet: hold the request until it is.
        case wait
        /// Further than the next segment's: answer 400 at once (a player must not block that far).
        case tooFar
    }

    /// Where a blocking reload for segment `msn` (and its part `part`) stands: a segment is in the
    /// playlist once complete, a part once cut; a part past the end of its completed segment is in
    /// the playlist with that segment.
    public func reload(msn: Int, part: Int?) -> Reload {
        if ended || msn < nextSequence { return .ready }
        if msn > nextSequence + 1 { return .tooFar }
        if msn == nextSequence, let part, part < pendingParts.count { return .ready }
        return .wait
    }

    /// The bytes of part `index` of segment `sequence` while the playlist lists it, nil otherwise;
    /// `comingNext`: it is the next part of the segment being made (the playlist's hint), worth waiting for.
    public func part(_ sequence: Int, _ index: Int) -> (bytes: [UInt8]?, comingNext: Bool) {
        if sequence == nextSequence, !ended {
            return index < pendingParts.count ? (pendingParts[index].bytes, false) : (nil, index == pendingParts.count)
        }
        guard let segment = segment(sequence), index < segment.parts.count else {
            // The hinted part when the segment was cut before it: the segment ends there, so does the wait.
            return (nil, false)
        }
        return (segment.parts[index].bytes, false)
    }

    /// `ms` milliseconds in seconds with three decimals: 2000 → "2.000".
    static func seconds(_ ms: Int) -> String { "\(ms / 1000).\(digits(ms % 1000, 3))" }

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
