import MonaPluginKit
import PluginABI

/// One track a client SETUP: where its RTP and RTCP go (channels on the RTSP connection, or a UDP port
/// pair of the server's towards the client's), and its sending or receiving state.
final class RTSPTrack {
    /// Its position in the SDP (trackID=N of a described publication, the announced order of a recorder).
    let index: Int
    let video: Bool
    /// TCP interleaved: the RTP channel (RTCP on the next one).
    var channel: UInt8?
    /// UDP: the server's sockets and the client's ports.
    var rtp: RTSPUDPPort?
    var rtcp: RTSPUDPPort?
    var clientRTP = mona_addr()
    var clientRTCP = mona_addr()
    /// Playing: the RTP sender (SSRC, sequence, timestamps) and the last audio timestamp (smoothing).
    var sender: RTPSender?
    var lastAudioTimestamp: UInt32?
    /// Recording: the depacketizer of this track.
    var inbound: RTSPInbound?

    init(index: Int, video: Bool) {
        self.index = index
        self.video = video
    }

    /// The Transport header of the SETUP answer.
    func transportText(record: Bool) -> String {
        var text: String
        if let channel {
            text = "RTP/AVP/TCP;unicast;interleaved=\(channel)-\(channel + 1)"
        } else {
            text = "RTP/AVP;unicast;client_port=\(clientRTP.port)-\(clientRTCP.port);server_port=\(rtp?.port ?? 0)-\(rtcp?.port ?? 0)"
        }
        if let sender { text += ";ssrc=" + Hex.encode([UInt8(sender.ssrc >> 24), UInt8((sender.ssrc >> 16) & 0xFF),
                                                         UInt8((sender.ssrc >> 8) & 0xFF), UInt8(sender.ssrc & 0xFF)]).uppercased() }
        return record ? text + ";mode=record" : text
    }

    /// Closes its UDP sockets (no datagram reaches it afterwards).
    func close(_ host: MonaHost) {
        for port in [rtp, rtcp].compactMap({ $0 }) { host.closeUDP(port.handle) }
        rtp = nil
        rtcp = nil
    }
}

/// A UDP socket of a track: the context of its datagrams.
final class RTSPUDPPort {
    unowned(unsafe) let session: RTSPSession
    let track: Int
    let isRTCP: Bool
    var handle: mona_handle = 0
    var port: UInt16 = 0

    init(session: RTSPSession, track: Int, isRTCP: Bool) {
        self.session = session
        self.track = track
        self.isRTCP = isRTCP
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RTSPUDPPort? {
        pointer.map { Unmanaged<RTSPUDPPort>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Binds an even/odd pair of free ports for `track` (RFC 3550 §11), or nil after a few tries.
    static func bindPair(_ host: MonaHost, address: String, session: RTSPSession, track: Int) -> (RTSPUDPPort, RTSPUDPPort)? {
        for _ in 0..<16 {
            let rtp = RTSPUDPPort(session: session, track: track, isRTCP: false)
            let first = host.bindUDP(host: address, port: 0, context: rtp.context)
            guard first.status == MONA_OK else { return nil }
            rtp.handle = first.socket
            rtp.port = first.bound.port
            guard rtp.port % 2 == 0, rtp.port < 65535 else {
                host.closeUDP(rtp.handle)
                continue
            }
            let rtcp = RTSPUDPPort(session: session, track: track, isRTCP: true)
            let second = host.bindUDP(host: address, port: rtp.port + 1, context: rtcp.context)
            guard second.status == MONA_OK else {
                host.closeUDP(rtp.handle)
                continue
            }
            rtcp.handle = second.socket
            rtcp.port = second.bound.port
            return (rtp, rtcp)
        }
        return nil
    }
}
