import Testing
@testable import RTSPPlugin

@Suite("RTSP requests: framing, limits, URLs, transports, SDP")
struct RequestTests {
    let parser = RTSPRequestParser()

    func units(_ text: String) -> [RTSPInput] {
        var bytes = Array(text.utf8)[...]
        var found: [RTSPInput] = []
        while let (unit, consumed) = parser.next(bytes) {
            found.append(unit)
            bytes = bytes.dropFirst(consumed)
        }
        return found
    }

    @Test func pipelinedRequestsWithBodies() throws {
        let found = units("OPTIONS rtsp://h/a/s RTSP/1.0\r\nCSeq: 1\r\n\r\nANNOUNCE rtsp://h/a/s RTSP/1.0\r\nCSeq: 2\r\n"
                          + "Content-Length: 4\r\n\r\nv=0\nGET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\n\r\n")
        #expect(found.count == 3)
        guard case .request(let announce) = found[1] else { Issue.record("no ANNOUNCE"); return }
        #expect(announce.method == "ANNOUNCE" && announce.body == Array("v=0\n".utf8) && announce.cseq == "2")
        // Incomplete: more bytes needed.
        #expect(parser.next(Array("DESCRIBE rtsp://h/a/s RTSP/1.0\r\nCSeq: 4\r\n".utf8)[...]) == nil)
    }

    @Test func badInputIsRefusedOrClosed() {
        if case .malformed(let status, _)? = units("\u{1}\u{2}garbage\r\n\r\n").first { #expect(status == 400) } else { Issue.record("garbage") }
        if case .refused(let status, _, _)? = units("OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n").first { #expect(status == 505) } else { Issue.record("2.0") }
        if case .refused(let status, _, _)? = units("OPTIONS * RTSP/1.0\r\n\r\n").first { #expect(status == 400) } else { Issue.record("CSeq") }
        let long = "OPTIONS * RTSP/1.0\r\nX: " + String(repeating: "a", count: 9000)
        if case .malformed(let status, _)? = units(long).first { #expect(status == 431) } else { Issue.record("long head") }
        if case .malformed(let status, _)? = units("ANNOUNCE * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 999999\r\n\r\n").first {
            #expect(status == 413)
        } else { Issue.record("big body") }
        let frame: [UInt8] = [0x24, 0, 0x40, 0x01]
        if case .malformed? = parser.next(frame[...])?.input { #expect(Bool(true)) } else { Issue.record("oversized frame") }
        if case .interleaved(let channel, let payload)? = parser.next([0x24, 3, 0, 2, 9, 8][...])?.input {
            #expect(channel == 3 && payload == [9, 8])
        } else { Issue.record("frame") }
    }

    @Test func urlsNameApplicationStreamAndTrack() throws {
        let url = try #require(RTSPURL("rtsp://bob:s%40cret@127.0.0.1:8554/live/sub/cam?token=1/trackID=0"))
        #expect(url.user == "bob" && url.password == "s@cret" && url.server == "127.0.0.1:8554" && url.query == "token=1")
        #expect(url.application(dropping: 1) == ("/live/sub", "cam"))
        #expect(try #require(RTSPURL("rtsp://h/cam")).application() == ("", "cam"))
        #expect(RTSPURL("http://h/cam") == nil && RTSPURL("rtsp://h/../etc") == nil)
    }

    @Test func transportsPickTheFirstSupportedChoice() {
        #expect(RTSPTransport.parse("RTP/AVP/TCP;unicast;interleaved=2-3")! == (.interleaved(2), false))
        #expect(RTSPTransport.parse("RTP/AVP;multicast,RTP/AVP;unicast;client_port=5000-5001;mode=record")! == (.udp(clientRTP: 5000, clientRTCP: 5001), true))
        #expect(RTSPTransport.parse("RAW/RAW/UDP;unicast") == nil)
    }

    @Test func announcedSDPGivesTracks() throws {
        let sdp = """
        v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAHtoCgL/l,aM48gA==; profile-level-id=42C01E\r\na=control:streamid=0\r
        m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r
        a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=121056E500\r\na=control:streamid=1\r
        m=application 0 RTP/AVP 98\r\na=rtpmap:98 x-data/1000\r\n
        """
        let tracks = try SDPReader.tracks(sdp)
        #expect(tracks.count == 2)
        #expect(tracks[0].codec == .h264(AVCConfig(sps: [CodecTests.sps], pps: [CodecTests.pps])) && tracks[0].control == "streamid=0")
        guard case .aac(let config, 13, 3) = tracks[1].codec else { Issue.record("no AAC"); return }
        #expect(config.sampleRate == 44100 && tracks[1].clockRate == 44100)
        #expect(throws: SDPReader.Failure.self) { try SDPReader.tracks("garbage") }
        #expect(throws: SDPReader.Failure.self) { try SDPReader.tracks("v=0\r\nm=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n") }
        #expect(throws: SDPReader.Failure.self) { try SDPReader.tracks("v=0\r\nm=video x\r\n") }
    }
}
