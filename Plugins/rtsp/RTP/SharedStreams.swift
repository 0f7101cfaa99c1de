import MonaPluginKit
import PluginABI

/// What lets TCP players of one publication share whole `$` frames instead of writing headers each.
///
/// An RTP packet's bytes follow from its payload and the player's sender state (SSRC, sequence,
/// timestamp) and channel. Players are given the same state when they can have it: one SSRC per
/// publication and track kind (`ssrc`), and at PLAY one timestamp origin and first sequence number per
/// publication, kind and first key frame (`start`), so that players that start on the same key frame
/// go on in the same state. A frame's `$` frames are then made once for all the players found in one
/// state (`frames`): the second player in a state makes them, into a shared buffer of the host's, and
/// every later one names that buffer — one part per frame, where each player otherwise writes two
/// per packet. A player whose state differs (a slow one that skipped frames, one that started on
/// another key frame) gets no match and writes its own headers: sharing never changes a byte.
final class SharedStreams {
    /// The SSRC and start seeds, by publication and kind, and the key frames gone out per publication
    /// (bounded: emptied past `maxEntries`).
    private var ssrcs: [String: UInt32] = [:]
    private var starts: [String: [(key: StartKey, seed: [UInt8])]] = [:]
    /// Starts kept per publication track: players PLAYing on the last few key frames find theirs.
    static let startsKept = 4
    private var keyFrames: [String: (serial: UInt64, count: UInt64)] = [:]
    static let maxEntries = 4096

    /// The first key frame a player starts on.
    enum StartKey: Equatable {
        /// One held since the subscription started (PLAY sends it at once): its time and size.
        case held(time: UInt32, size: Int)
        /// The next one to go out, after this many went out.
        case next(after: UInt64)
    }

    /// The start of a player whose PLAY finds no key frame held: the next key frame of `name`.
    func nextStart(_ name: String) -> StartKey { .next(after: keyFrames[name]?.count ?? 0) }

    /// A key frame of `name` (the host's serial, the same for every player) goes out to its players.
    func keyFrame(_ name: String, serial: UInt64) {
        guard serial != 0, keyFrames[name]?.serial != serial else { return }
        if keyFrames.count >= Self.maxEntries, keyFrames[name] == nil { keyFrames = [:] }
        keyFrames[name] = (serial, (keyFrames[name]?.count ?? 0) &+ 1)
    }

    /// The SSRC of the publication `name`'s video or audio track for every player; `random` seeds a new one.
    func ssrc(_ name: String, video: Bool, random: () -> [UInt8]) -> UInt32 {
        let key = (video ? "v:" : "a:") + name
        if let known = ssrcs[key] { return known }
        if ssrcs.count >= Self.maxEntries { ssrcs = [:] }
        let bytes = random() + [0, 0, 0, 0]
        let ssrc = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        ssrcs[key] = ssrc
        return ssrc
    }

    /// The timestamp origin and first sequence number seed (6 bytes) of a player starting on `start`:
    /// the same for every player of `name`'s track that starts on that key frame.
    func start(_ name: String, video: Bool, on start: StartKey, random: () -> [UInt8]) -> [UInt8] {
        let key = (video ? "v:" : "a:") + name
        if let known = starts[key]?.first(where: { $0.key == start }) { return known.seed }
        if starts.count >= Self.maxEntries, starts[key] == nil { starts = [:] }
        let seed = Array((random() + [UInt8](repeating: 0, count: 6)).prefix(6))
        starts[key, default: []].append((start, seed))
        if starts[key]!.count > Self.startsKept { starts[key]!.removeFirst() }
        return seed
    }

    // MARK: the frames of one batch

    /// The state of a sender before a frame, and the channel: equal states give equal bytes.
    struct FrameKey: Hashable {
        let payloads: UInt64
        let channel: UInt8
        let payloadType: UInt8
        let ssrc: UInt32
        let sequence: UInt16
        let timestamp: UInt32
    }

    /// For the current frame of each kind: the states seen, with the frame's `$` frames once a second
    /// player came in that state.
    private var frames: [Bool: (payloads: UInt64, seen: [FrameKey: SharedBytes?])] = [:]

    /// The `$` frames of `key`'s frame in a shared buffer when another player was in that state before
    /// (made now, by `make`, if this is the second); nil for the first player in a state (it writes its
    /// own headers) or when the host has no shared buffers.
    func frame(video: Bool, _ key: FrameKey, make: () -> SharedBytes?) -> SharedBytes? {
        if frames[video]?.payloads != key.payloads { frames[video] = (key.payloads, [:]) }
        switch frames[video]!.seen[key] {
        case .none:
            frames[video]!.seen[key] = .some(nil)
            return nil
        case .some(.some(let shared)):
            return shared
        case .some(.none):
            let made = make()
            frames[video]!.seen[key] = .some(made)
            return made
        }
    }
}
