@testable import RTSPPlugin

/// The RTSP framing (requests, `$` frames), fed in pieces as a connection's input grows: each unit found
/// is consumed, the rest waits for the next piece.
func fuzzRTSPRequests(_ input: [UInt8]) {
    let parser = RTSPRequestParser(maxHead: 1024, maxBody: 4096, maxFrame: 2048)
    var buffer: [UInt8] = []
    for piece in FuzzSlices(input) {
        buffer += piece
        while let (unit, consumed) = parser.next(buffer[...]) {
            buffer.removeFirst(min(consumed, buffer.count))
            switch unit {
            case .request(let request):
                _ = RTSPURL(request.url)?.application(dropping: 1)
                _ = request.header("Transport").map(RTSPTransport.parse)
            case .malformed: return
            case .interleaved, .refused, .skipped: break
            }
        }
    }
}

/// An announced SDP, then its tracks' configurations as a DESCRIBE would write them again.
func fuzzRTSPSDP(_ input: [UInt8]) {
    guard let tracks = try? SDPReader.tracks(String(decoding: input, as: UTF8.self)) else { return }
    for track in tracks {
        switch track.codec {
        case .h264(let config): _ = config.map { ($0.record, $0.profileLevelID, $0.spropParameterSets) }
        case .h265(let sets): _ = HEVCRecord.build(sets)
        case .aac(let config, _, _): _ = SDPDescription.text(name: "x", sessionID: "1", address: "0.0.0.0", video: nil, audio: config)
        }
    }
}

/// RTP packets of a recorder (lengths from the input: 2 bytes each, then the packet) through the H.264,
/// H.265 and AAC depacketizers into FLV tags; and FLV video bodies through the player's side.
func fuzzRTSPRTP(_ input: [UInt8]) {
    let aac = AACConfig([0x12, 0x10])!
    var inbounds = [
        RTSPInbound(track: SDPTrack(video: true, payloadType: 96, clockRate: 90000, codec: .h264(nil), control: "")),
        RTSPInbound(track: SDPTrack(video: true, payloadType: 96, clockRate: 90000, codec: .h265([]), control: "")),
        RTSPInbound(track: SDPTrack(video: false, payloadType: 96, clockRate: 44100, codec: .aac(aac, sizeLength: 13, indexLength: 3), control: "")),
    ]
    var rest = input[...]
    var elapsed: Int64 = 0
    while rest.count >= 2 {
        let size = min(Int(rest[rest.startIndex]) << 8 | Int(rest[rest.startIndex + 1]), rest.count - 2)
        let packet = Array(rest.dropFirst(2).prefix(size))
        rest = rest.dropFirst(2 + size)
        elapsed += 20
        for index in inbounds.indices { _ = packet.withUnsafeBytes { inbounds[index].packet($0, elapsed: elapsed) } }
        packet.withUnsafeBytes { body in
            guard let video = FLVMedia.video(body) else { return }
            if video.config {
                _ = VideoConfig(codec: video.codec, record: video.payload)?.fmtp
            } else {
                let units = FLVMedia.nalUnits(video.payload, lengthSize: 4).map { Array($0) }
                _ = NALPacketizer(hevc: video.codec == FLVMedia.hevc, maxPayload: 300).payloads(units)
            }
        }
    }
}
