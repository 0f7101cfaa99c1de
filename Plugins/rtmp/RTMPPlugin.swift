import MonaPluginKit
import PluginABI

/// The RTMP/RTMPE protocol plugin: listens on `RTMP.port` (1935), speaks the handshake (simple, digest,
/// RTMPE) and the chunk stream, and maps NetConnection and NetStream commands onto the host's clients
/// and media model. Keys: `host`, `port`, `timeout` (60 s idle; the server pings every min(timeout, 30) s),
/// `writeDelay` (ms media may wait so that one system call carries several frames: a publisher is read
/// at most that often, a player's output gathers that much; 0 = at once).
final class RTMPPlugin: MonaPluginInstance {
    let host: MonaHost
    let section: String
    var timeout = 60
    /// Merged writes (RTMP.writeDelay, 50 ms by default).
    private(set) var merger: WriteMerger
    /// The chunked body of the last frame shared between players (all of them get it in one round).
    private var lastChunks: RTMPSharedChunks?
    /// Scratch list of parts for RTMPSession.flush (one loop thread: one list for all sessions).
    var parts: [mona_send_part] = []
    /// Bytes queued towards a player past which its video skips to the next key frame.
    static let congestion: Int64 = 2 << 20

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
        merger = WriteMerger(host: host, delay: 50)
    }

    func start() -> Int32 {
        host.declareDefaults(["port": "1935", "timeout": "\(timeout)"]) // MonaServer's
        let address = host.config("\(section).host") ?? host.config("host") ?? "0.0.0.0"
        guard let port = UInt16(host.config("\(section).port") ?? "1935") else {
            host.log(MONA_LOG_ERROR, "\(section).port is not a port number")
            return MONA_E_INVAL
        }
        if let text = host.config("\(section).timeout"), let value = Int(text) { timeout = max(0, value) }
        if let text = host.config("\(section).writeDelay"), let value = Int(text) { merger = WriteMerger(host: host, delay: value) }
        return host.listenTCP(host: address, port: port).status
    }

    func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject? {
        RTMPSession(plugin: self, connection: connection, peer: peer, local: local)
    }

    func received(session: AnyObject, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int {
        (session as? RTMPSession)?.receive(bytes)
        return bytes.count
    }

    func writable(session: AnyObject, connection: mona_handle) { (session as? RTMPSession)?.writable() }

    func closed(session: AnyObject, connection: mona_handle, reason: Int32) { (session as? RTMPSession)?.closed() }

    func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle) {
        if let session = RTMPSession.from(context) { session.timerFired(timer) } else if timer == merger.timer { merger.timerFired() }
    }

    // MARK: writers (the client's NetConnection)

    func writerInvoke(writer: UnsafeMutableRawPointer?, name: String, args: [MonaValue]) -> Int32 {
        guard let session = RTMPSession.from(writer), !session.closing else { return MONA_E_CLOSED }
        session.send(session.command(name, transaction: 0, on: 3, stream: 0, [.nil] + args))
        session.flush()
        return MONA_OK
    }

    /// writeMessage: a `_result` with transaction 0 (as 1.x: only an answer inside a call means
    /// something to the client); a late answer: the `_result` of the call that waited.
    func writerMessage(writer: UnsafeMutableRawPointer?, response: Int32, args: [MonaValue]) -> Int32 {
        guard let session = RTMPSession.from(writer), !session.closing else { return MONA_E_CLOSED }
        if response != 0 {
            // -token: the call failed (Int32.min has no positive token: nobody waits for it).
            guard response != Int32.min, let call = session.pendingCalls.removeValue(forKey: abs(response)) else {
                return MONA_OK // nobody waits
            }
            if response < 0 {
                let text: String = if case .string(let message)? = args.first { message } else { "call failed" }
                session.send(session.command("_error", transaction: call.transaction, on: call.csid, stream: call.stream,
                                             [.nil, RTMPSession.info(level: "error", code: "NetConnection.Call.Failed", description: text)]))
            } else {
                session.send(session.command("_result", transaction: call.transaction, on: call.csid, stream: call.stream, [.nil] + args))
            }
        } else {
            session.send(session.command("_result", transaction: 0, on: 3, stream: 0, [.nil] + args))
        }
        session.flush()
        return MONA_OK
    }

    func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32 {
        guard let session = RTMPSession.from(writer), !session.closing else { return MONA_E_CLOSED }
        if code > 0 {
            let reason = code == 1 ? "NetConnection.Connect.IdleTimeout" : "NetConnection.Connect.AppShutdown"
            session.send(session.command("_error", transaction: 0, on: 3, stream: 0,
                                         [.nil, RTMPSession.info(level: "error", code: reason, description: "Connection closed by the server")]))
        }
        session.close()
        return MONA_OK
    }

    // MARK: sinks (a playing NetStream)

    func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        guard let stream = RTMPStream.from(sink) else { return MONA_E_CLOSED }
        if !stream.holding {
            stream.send(RTMPControl.streamBegin(stream.id))
            stream.status("NetStream.Play.PublishNotify", "\(name) is now published")
        }
        return MONA_OK
    }

    func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        guard let stream = RTMPStream.from(sink) else { return MONA_E_CLOSED }
        stream.status("NetStream.Play.UnpublishNotify", "\(name) is now unpublished")
        stream.session.flush()
        return MONA_OK
    }

    /// Metadata as players expect it: `onMetaData` and an ECMA array.
    func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32 {
        guard let stream = RTMPStream.from(sink) else { return MONA_E_CLOSED }
        var fields: [MonaField] = []
        if case .object(_, let objectFields) = metadata { fields = objectFields }
        stream.send(stream.session.data([.string("onMetaData"), .mixed(dense: [], fields: fields)], stream: stream.id))
        return MONA_OK
    }

    func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        media(sink, typeID: 8, csid: RTMPStream.audioCSID, time: time, bytes: bytes, flags: flags, serial: 0)
    }

    func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        media(sink, typeID: 9, csid: RTMPStream.videoCSID, time: time, bytes: bytes, flags: flags, serial: 0)
    }

    func sinkFrame(sink: UnsafeMutableRawPointer?, video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32,
                   serial: UInt64) -> Int32 {
        media(sink, typeID: video ? 9 : 8, csid: video ? RTMPStream.videoCSID : RTMPStream.audioCSID, time: time, bytes: bytes,
              flags: flags, serial: serial)
    }

    /// The chunked body of frame `serial` for `csid` at `chunkSize`: the one of the last frame when it
    /// is the same, else a new one (nil: copy the frame instead).
    func sharedChunks(serial: UInt64, csid: UInt32, chunkSize: Int, payload: UnsafeRawBufferPointer) -> RTMPSharedChunks? {
        guard serial != 0, payload.count >= RTMPSharedChunks.minimumPayload else { return nil }
        if let last = lastChunks, last.serial == serial, last.csid == csid, last.chunkSize == chunkSize { return last }
        lastChunks = RTMPSharedChunks.encode(payload, serial: serial, csid: csid, chunkSize: chunkSize, host: host)
        return lastChunks
    }

    /// A frame for a player; a player too far behind (bytes piling up in the host) gets no frame but
    /// codec configurations until its queue drains: the host then restarts its video on a key frame.
    /// Its memory stays bounded whatever it does, and the other players are not slowed.
    private func media(_ sink: UnsafeMutableRawPointer?, typeID: UInt8, csid: UInt32, time: UInt32,
                       bytes: UnsafeRawBufferPointer, flags: UInt32, serial: UInt64) -> Int32 {
        guard let stream = RTMPStream.from(sink) else { return MONA_E_CLOSED }
        let session = stream.session
        guard !session.closing else { return MONA_E_CLOSED }
        if flags & MONA_MEDIA_CONFIG == 0, session.queued > Self.congestion { return MONA_E_AGAIN }
        if stream.holding {
            stream.send(RTMPMessage(csid: csid, timestamp: time, typeID: typeID, streamID: stream.id, payload: Array(bytes)))
        } else {
            session.sendMedia(csid: csid, timestamp: time, typeID: typeID, streamID: stream.id, payload: bytes, serial: serial)
        }
        return MONA_OK
    }

    /// A data message: AMF0 for RTMP players, converted from another format when needed.
    func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let stream = RTMPStream.from(sink) else { return MONA_E_CLOSED }
        if format == MONA_FORMAT_AMF0 {
            stream.send(RTMPMessage(csid: RTMPStream.dataCSID, typeID: 18, streamID: stream.id, payload: Array(bytes)))
        } else if let values = host.decode(bytes, format: format) {
            stream.send(stream.session.data(values, stream: stream.id))
        }
        return MONA_OK
    }

    func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32 {
        if let session = RTMPStream.from(sink)?.session { merger.batchEnded(session) }
        return MONA_OK
    }
}

nonisolated(unsafe) let rtmpDescriptor = monaMakeDescriptor(name: "rtmp", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(RTMPPlugin(host: host, section: String(cString: section)), host: host)
}

/// The RTMP plugin's entry symbol.
@_cdecl("mona_plugin_entry_rtmp")
public func monaPluginEntryRTMP(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? rtmpDescriptor : nil
}
