import MonaPluginKit
import PluginABI

/// One NetStream of a connection (a message stream id from createStream): it publishes or plays, or
/// does nothing yet. A playing stream is the sink context of its subscription.
final class RTMPStream {
    /// The session owns its streams (`streams`), and the host stops calling a stream's sink before the
    /// session goes (sink_released): no reference count traffic on the per-frame path.
    unowned(unsafe) let session: RTMPSession
    let id: UInt32
    /// The chunk stream its commands came on (status answers go back on it).
    var commandCSID: UInt32 = 3
    /// Publishing: the host's publication and its name.
    var publication: mona_handle?
    var publishedName = ""
    /// Playing: the host's subscription and the name played.
    var subscription: mona_handle?
    var playedName = ""
    /// While `subscribe` runs, sink calls are held until Play.Start went out.
    var holding = false
    var held: [RTMPMessage] = []

    /// The chunk streams of this stream's media and data (distinct from the commands').
    static let dataCSID: UInt32 = 5
    static let audioCSID: UInt32 = 6
    static let videoCSID: UInt32 = 7

    init(session: RTMPSession, id: UInt32) {
        self.session = session
        self.id = id
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RTMPStream? {
        pointer.map { Unmanaged<RTMPStream>.fromOpaque($0).takeUnretainedValue() }
    }

    /// A message for the client on this stream: held during subscribe, else sent.
    func send(_ message: RTMPMessage) {
        if holding { held.append(message) } else { session.send(message) }
    }

    /// onStatus on this stream.
    func status(_ code: String, _ description: String, level: String = "status") {
        send(session.command("onStatus", transaction: 0, on: commandCSID, stream: id,
                             [.nil, RTMPSession.info(level: level, code: code, description: description, details: playedName.isEmpty ? publishedName : playedName)]))
    }

    /// Ends what the stream does (closeStream, deleteStream, the connection closing).
    func stop(notify: Bool) {
        let host = session.host
        if let publication {
            host.unpublish(publication)
            self.publication = nil
            if notify { status("NetStream.Unpublish.Success", "\(publishedName) is now unpublished") }
        }
        if let subscription {
            host.unsubscribe(subscription)
            self.subscription = nil
            if notify {
                status("NetStream.Play.Stop", "Stopped playing \(playedName)")
                send(RTMPControl.streamEOF(id))
            }
        }
    }
}
