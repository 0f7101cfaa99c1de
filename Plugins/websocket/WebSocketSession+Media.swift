import MonaPluginKit
import PluginABI

/// MonaServer's publish and play over WebSocket: `["__publish", name]` makes the client the publisher
/// of `name` (its other JSON arrays become data messages of the publication), `["__play", name]` makes
/// it a listener (it receives `["__publishing", name]`, `["__unpublishing", name]`, the metadata as
/// `["onMetaData", {…}]` and data messages: JSON as text frames, raw bytes as binary frames; audio and
/// video are not carried, as in 1.x). `__closePublish` and `__closePlay` end them; a refusal answers
/// `["__error", "__publish" | "__play", message]`.
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

    func stopPublishing() {
        guard let publication else { return }
        self.publication = nil
        host.unpublish(publication)
    }

    func stopPlaying() {
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
            write(WebSocketFrame.encode(.binary, Array(bytes)))
        default:
            if let values = host.decode(bytes, format: format) { sendJSON(values) }
        }
    }
}
