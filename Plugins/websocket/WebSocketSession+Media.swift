import MonaMedia
import MonaPluginKit
import PluginABI

/// MonaServer's publish and play over WebSocket: `["__publish", name]` makes the client the publisher
/// of `name` (its other JSON arrays become data messages of the publication), `["__play", name]` makes
/// it a listener (it receives `["__publishing", name]`, `["__unpublishing", name]`, the metadata as
/// `["onMetaData", {…}]` and data messages: JSON as text frames, raw bytes as binary frames; audio and
/// video are not carried, as in 1.x). `["__play", name, "fmp4"]` adds them for Media Source Extensions:
/// `["__media", "video/mp4; codecs=…"]`, then the init segment and one fragment per batch of frames
/// as binary frames (raw data messages are then not relayed). `__closePublish` and `__closePlay` end
/// them; a refusal answers `["__error", "__publish" | "__play", message]`.
extension WebSocketSession {
    func media(_ command: String, _ arguments: [MonaValue]) {
        switch command {
        case "__publish":
            guard case .string(let name)? = arguments.first, !name.isEmpty else {
                return sendJSON([.string("__error"), .string(command), .string("a publication needs a name")])
            }
            stopPublishing()
            switch host.publish(client: client, name: name) {
            case .success(let handle): publication = handle
            case .failure(let refusal): sendJSON([.string("__error"), .string(command), .string(PeerText.withoutPaths(refusal.message))])
            }
        case "__play":
            guard case .string(let full)? = arguments.first, !full.isEmpty else {
                return sendJSON([.string("__error"), .string(command), .string("play needs a name")])
            }
            stopPlaying()
            if arguments.count > 1, case .string("fmp4") = arguments[1] { fragmenter = FMP4Fragmenter() }
            let parts = full.split(separator: "?", maxSplits: 1)
            switch host.subscribe(client: client, name: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "", sink: context) {
            case .success(let handle): subscription = handle
            case .failure(let refusal): sendJSON([.string("__error"), .string(command), .string(PeerText.withoutPaths(refusal.message))])
            }
        case "__closePublish":
            stopPublishing()
        default:
            stopPlaying()
        }
    }

    /// A new run of the played publication `name` (sink_start): a new init segment. A viewer that joins
    /// mid-GOP gets audio first and the video configuration only with the next key frame: the cached
    /// configurations (pub_configs) tell the fragmenter that video will come, so it waits for it.
    func restartFragmenter(_ name: String) {
        guard fragmenter != nil else { return }
        fragmenter = FMP4Fragmenter()
        guard let configs = host.publicationConfigs(name) else { return }
        if let audio = configs.audio { _ = fragmenter?.audio(time: 0, body: audio) }
        if let video = configs.video { _ = fragmenter?.video(time: 0, body: video) }
    }

    func stopPublishing() {
        guard let publication else { return }
        self.publication = nil
        host.unpublish(publication)
    }

    func stopPlaying() {
        fragmenter = nil
        guard let subscription else { return }
        self.subscription = nil
        host.unsubscribe(subscription)
    }

    /// A data message of the played publication: JSON text as it is, other formats converted to JSON,
    /// raw bytes in a binary frame.
    func relay(format: Int32, bytes: UnsafeRawBufferPointer) {
        switch format {
        case MONA_FORMAT_JSON:
            write(WebSocketFrame.encode(.text, Array(bytes)))
        case MONA_FORMAT_RAW:
            if fragmenter == nil { write(WebSocketFrame.encode(.binary, Array(bytes))) } // binary frames are media
        default:
            if let values = host.decode(bytes, format: format) { sendJSON(values) }
        }
    }

    /// Bytes queued towards a viewer past which its frames are refused (video skips to the next key frame).
    static let mediaCongestion: Int64 = 2 << 20

    /// An audio or video frame for an fMP4 viewer: the init segment goes out when it starts the stream.
    func media(video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        guard fragmenter != nil else { return MONA_OK } // audio and video are not carried (1.x)
        if flags & MONA_MEDIA_CONFIG == 0, queued > Self.mediaCongestion { return MONA_E_AGAIN }
        let body = plugin.frameBodies.body(video: video, time: time, bytes: bytes)
        guard let initSegment = video ? fragmenter?.video(time: time, body: body) : fragmenter?.audio(time: time, body: body) else {
            return MONA_OK
        }
        if let mime = fragmenter?.mimeType { sendJSON([.string("__media"), .string(mime)]) }
        return write(WebSocketFrame.encode(.binary, initSegment))
    }

    /// The end of a batch: its frames as one fragment, made and framed once for the viewers in step.
    func flushMedia() {
        guard let fragment = fragmenter?.fragment(sharing: plugin.sharedFragment) else { return }
        if fragment != plugin.lastFragment.fragment { // the same array when shared: found at once
            plugin.lastFragment = (fragment, WebSocketFrame.encode(.binary, fragment))
        }
        write(plugin.lastFragment.frame)
    }
}
