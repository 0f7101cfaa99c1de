import MonaPluginKit
import PluginABI

/// One NetStream of a session (an id from createStream): it publishes or plays, or does nothing yet.
/// Answers and status go on a flow of ours associated to the client's NetStream flow; a playing
/// stream writes audio, video and data on flows of their own (so that lost video never holds up audio,
/// as MonaServer does), all with the NetStream's signature. It is the sink context of its subscription.
final class RTMFPStream {
    /// The session owns its streams, and the host stops calling a stream's sink before it goes.
    unowned(unsafe) let session: RTMFPSession
    let id: UInt32
    /// The client's flow that last sent a command on this stream.
    var clientFlow: UInt64?
    /// Our flows: status and data, audio, video (opened on demand).
    private var statusFlow: UInt64?
    private var audioFlow: UInt64?
    private var videoFlow: UInt64?
    /// Publishing: the host's publication and its name.
    var publication: mona_handle?
    var publishedName = ""
    /// Playing: the host's subscription and the name played.
    var subscription: mona_handle?
    var playedName = ""
    /// While `subscribe` runs, media wait until Play.Start went out.
    var holding = false
    var held: [(track: Track, message: [UInt8])] = []

    /// Which of our flows a message takes.
    enum Track { case status, audio, video }

    /// Bytes waiting towards the client on one track past which its frames are skipped (video resumes on
    /// a key frame): a client that stops acknowledging costs bounded memory.
    static let congestion = 1 << 20

    init(session: RTMFPSession, id: UInt32) {
        self.session = session
        self.id = id
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RTMFPStream? {
        pointer.map { Unmanaged<RTMFPStream>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Our flow for a track, opened with the NetStream's signature on first use.
    private func flow(_ track: Track) -> UInt64 {
        // Associated to the client's NetConnection flow (RFC 7425 §5.3.5: a NetStream's flows from the
        // server are return flows of the client's control flow; rtmfp-cpp refuses others), the
        // signature naming the stream.
        func open() -> UInt64 {
            session.openSendFlow(signature: RTMFPFlowSignature.metadata(stream: id), associated: session.clientNetConnectionFlow ?? clientFlow)
        }
        switch track {
        case .status:
            if let statusFlow { return statusFlow }
            let opened = open()
            statusFlow = opened
            return opened
        case .audio:
            if let audioFlow { return audioFlow }
            let opened = open()
            audioFlow = opened
            return opened
        case .video:
            if let videoFlow { return videoFlow }
            let opened = open()
            videoFlow = opened
            return opened
        }
    }

    /// Bytes queued towards the client on a track.
    func queued(_ track: Track) -> Int {
        switch track {
        case .status: statusFlow.map { session.queuedBytes(on: $0) } ?? 0
        case .audio: audioFlow.map { session.queuedBytes(on: $0) } ?? 0
        case .video: videoFlow.map { session.queuedBytes(on: $0) } ?? 0
        }
    }

    /// A message for the client: held during subscribe, else written on its track's flow.
    func send(_ message: [UInt8], track: Track = .status, reliable: Bool = true) {
        if holding {
            held.append((track, message))
        } else {
            session.write(message, on: flow(track), reliable: reliable, now: session.plugin.now)
        }
    }

    /// A flow of ours failed (the client refused it or stopped acknowledging): the next message opens a
    /// new one (MonaServer replaces such writers too).
    func flowFailed(_ failed: UInt64) {
        if statusFlow == failed { statusFlow = nil }
        if audioFlow == failed { audioFlow = nil }
        if videoFlow == failed { videoFlow = nil }
    }

    /// onStatus on this stream.
    func status(_ code: String, _ description: String, level: String = "status") {
        let details = playedName.isEmpty ? publishedName : playedName
        send(session.command("onStatus", transaction: 0, [.nil, RTMFPSession.info(level: level, code: code, description: description, details: details)]))
    }

    /// Ends what the stream does (closeStream, deleteStream, the session closing).
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
                send(RTMFPFlashMessage.userControl(RTMFPStream.streamEOF, [id]))
            }
            for flow in [audioFlow, videoFlow].compactMap({ $0 }) { session.closeSendFlow(flow) }
            audioFlow = nil
            videoFlow = nil
        }
    }

    /// User control events of a stream (RTMP's).
    static let streamBegin: UInt16 = 0
    static let streamEOF: UInt16 = 1
}
