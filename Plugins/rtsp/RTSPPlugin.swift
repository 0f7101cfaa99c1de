import MonaPluginKit
import MonaValues
import PluginABI

/// The RTSP protocol plugin: listens on `RTSP.port` (554) and serves publications to RTSP players
/// (DESCRIBE/SETUP/PLAY, RTP over the connection or over UDP port pairs) and records RTSP sources into
/// publications (ANNOUNCE/SETUP/RECORD). Keys: `host`, `port`, `timeout` (60 s without a request nor an
/// RTCP packet), `describeTimeout` (ms a DESCRIBE waits for a fresh publication's codec
/// configurations, 5000), `mtu` (largest RTP packet, 1472 bytes: 1500 less IP and UDP headers),
/// `writeDelay` (ms a TCP player's RTP may wait to go out with the next frames in one system call, 50;
/// 0: at every batch).
final class RTSPPlugin: MonaPluginInstance {
    let host: MonaHost
    let section: String
    var timeout = 60
    var describeTimeout = 5000
    /// The largest RTP payload (the MTU less the RTP header).
    var maxPayload = 1460
    /// Where the RTSP listener and the RTP sockets bind.
    var address = "0.0.0.0"
    let parser = RTSPRequestParser()
    /// The last frames' RTP payloads, shared by their players.
    let sharedPayloads = SharedPayloads()
    /// One SSRC, and one start per first key frame, for a publication's players; their shared `$` frames.
    let sharedStreams = SharedStreams()
    /// The datagrams of one run being sent over UDP (reused: the loop is single-threaded).
    var datagrams: [UInt8] = []
    /// Merged writes towards TCP players (RTSP.writeDelay).
    private(set) var merger: WriteMerger
    /// The parts of one session's send (reused).
    var sendParts: [mona_send_part] = []

    static let methods = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER, ANNOUNCE, RECORD"
    /// Bytes queued towards a TCP player past which its video skips to the next key frame (as RTMP).
    static let congestion: Int64 = 2 << 20
    /// A TCP client with more than this queued (it reads nothing) is dropped.
    static let queueLimit: Int64 = 32 << 20
    /// Milliseconds between sender reports (and idle checks).
    static let reportPeriod: UInt64 = 5000

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
        merger = WriteMerger(host: host, delay: 50)
    }

    func start() -> Int32 {
        host.declareDefaults(["port": "554", "timeout": "\(timeout)", "describeTimeout": "\(describeTimeout)", "mtu": "1472", "writeDelay": "50"])
        address = host.config("\(section).host") ?? host.config("host") ?? "0.0.0.0"
        guard let port = UInt16(host.config("\(section).port") ?? "554") else {
            host.log(MONA_LOG_ERROR, "\(section).port is not a port number")
            return MONA_E_INVAL
        }
        if let text = host.config("\(section).timeout"), let value = Int(text) { timeout = max(0, value) }
        if let text = host.config("\(section).describeTimeout"), let value = Int(text) { describeTimeout = max(0, value) }
        if let text = host.config("\(section).mtu"), let value = Int(text) { maxPayload = min(max(value, 256), 65507) - 12 }
        if let text = host.config("\(section).writeDelay"), let value = Int(text) { merger = WriteMerger(host: host, delay: value) }
        return host.listenTCP(host: address, port: port).status
    }

    func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject? {
        RTSPSession(plugin: self, connection: connection, peer: peer, local: local)
    }

    func received(session: AnyObject, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int {
        (session as? RTSPSession)?.receive(bytes)
        return bytes.count
    }

    func writable(session: AnyObject, connection: mona_handle) { (session as? RTSPSession)?.writable() }

    func closed(session: AnyObject, connection: mona_handle, reason: Int32) { (session as? RTSPSession)?.closed() }

    func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle) {
        if let session = RTSPSession.from(context) { session.timerFired(timer) } else if timer == merger.timer { merger.timerFired() }
    }

    func datagram(socket: UnsafeMutableRawPointer?, udp: mona_handle, from: mona_addr, bytes: UnsafeRawBufferPointer) {
        guard let port = RTSPUDPPort.from(socket) else { return }
        port.session.datagram(port, bytes)
    }

    // MARK: writers (RTSP has no channel for Lua's messages: the writer can only close)

    func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32 {
        guard let session = RTSPSession.from(writer), !session.closing else { return MONA_E_CLOSED }
        session.close()
        return MONA_OK
    }

    // MARK: sinks (a player's subscription)

    func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        RTSPSession.from(sink)?.publicationStarted()
        return MONA_OK
    }

    func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32 {
        RTSPSession.from(sink)?.publicationStopped()
        return MONA_OK
    }

    func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32 {
        RTSPSession.from(sink)?.metadata(metadata)
        return MONA_OK
    }

    func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        sinkFrame(sink: sink, video: false, time: time, bytes: bytes, flags: flags, serial: 0)
    }

    func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 {
        sinkFrame(sink: sink, video: true, time: time, bytes: bytes, flags: flags, serial: 0)
    }

    /// A frame with the host's serial: its players share its RTP payloads without comparing its bytes.
    func sinkFrame(sink: UnsafeMutableRawPointer?, video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32,
                   serial: UInt64) -> Int32 {
        RTSPSession.from(sink)?.media(video: video, time: time, bytes: bytes, flags: flags, serial: serial) ?? MONA_E_CLOSED
    }

    func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 { MONA_OK }

    /// A batch of frames ended: a TCP player's RTP waits for the next ones (merged writes), answers and
    /// UDP never wait.
    func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32 {
        if let session = RTSPSession.from(sink) { merger.batchEnded(session) }
        return MONA_OK
    }
}

nonisolated(unsafe) let rtspDescriptor = monaMakeDescriptor(name: "rtsp", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(RTSPPlugin(host: host, section: String(cString: section)), host: host)
}

/// The RTSP plugin's entry symbol.
@_cdecl("mona_plugin_entry_rtsp")
public func monaPluginEntryRTSP(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? rtspDescriptor : nil
}
