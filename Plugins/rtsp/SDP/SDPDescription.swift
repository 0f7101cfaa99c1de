/// The SDP (RFC 4566) of a publication a player DESCRIBEs: H.264/H.265 and AAC tracks, with the
/// codec configurations players need before the first frame.
enum SDPDescription {
    /// The payload types and controls of the tracks: video first (trackID=0), then audio.
    static let videoPayloadType: UInt8 = 96
    static let audioPayloadType: UInt8 = 97

    static func text(name: String, sessionID: String, address: String, video: VideoConfig?, audio: AACConfig?) -> String {
        var lines = ["v=0", "o=- \(sessionID) 1 IN IP4 \(address)", "s=\(name.isEmpty ? "MonaServer" : name)",
                     "c=IN IP4 0.0.0.0", "t=0 0", "a=tool:MonaServer", "a=range:npt=0-", "a=control:*"]
        var track = 0
        if let video {
            lines += ["m=video 0 RTP/AVP \(videoPayloadType)", "a=rtpmap:\(videoPayloadType) \(video.hevc ? "H265" : "H264")/90000",
                      "a=fmtp:\(videoPayloadType) \(video.fmtp)", "a=control:trackID=\(track)"]
            track += 1
        }
        if let audio {
            lines += ["m=audio 0 RTP/AVP \(audioPayloadType)", "a=rtpmap:\(audioPayloadType) MPEG4-GENERIC/\(audio.sampleRate)/\(audio.channels)",
                      "a=fmtp:\(audioPayloadType) streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
                          + "indexdeltalength=3;config=\(Hex.encode(audio.bytes))",
                      "a=control:trackID=\(track)"]
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

/// One media track of an SDP a recorder ANNOUNCEs.
struct SDPTrack: Equatable {
    enum Codec: Equatable {
        /// H.264 with the sprop-parameter-sets, if given.
        case h264(AVCConfig?)
        /// H.265 with the sprop-vps, sprop-sps and sprop-pps given (maybe none).
        case h265([[UInt8]])
        /// AAC (mpeg4-generic) with its AudioSpecificConfig and AU header sizes.
        case aac(AACConfig, sizeLength: Int, indexLength: Int)
    }

    let video: Bool
    let payloadType: UInt8
    let clockRate: Int
    let codec: Codec
    /// The a=control value (the last segment of its SETUP URL), "" when absent.
    let control: String
}

/// Reads the tracks of an announced SDP.
enum SDPReader {
    enum Failure: Error, Equatable {
        /// Not an SDP (no v=0, a malformed m= line).
        case malformed(String)
        /// An SDP whose tracks are none this server records.
        case unsupported(String)
    }

    /// The H.264, H.265 and AAC tracks, in order; other tracks are left out.
    static func tracks(_ text: String) throws(Failure) -> [SDPTrack] {
        let lines = text.split { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }.map { String($0).trimmingWhitespace() }
        guard lines.first == "v=0" else { throw .malformed("the SDP does not start with v=0") }
        var sections: [[String]] = []
        for line in lines.dropFirst() {
            if line.hasPrefix("m=") { sections.append([line]) } else if !sections.isEmpty { sections[sections.count - 1].append(line) }
        }
        guard !sections.isEmpty else { throw .malformed("the SDP has no media") }
        var tracks: [SDPTrack] = []
        var skipped: [String] = []
        for section in sections {
            let media = section[0].dropFirst(2).split(separator: " ")
            guard media.count >= 4, let payloadType = UInt8(media[3]), payloadType < 128 else {
                throw .malformed("a malformed media line: \(section[0])")
            }
            var attributes: [String: String] = [:]
            for line in section.dropFirst() where line.hasPrefix("a=") {
                let attribute = line.dropFirst(2)
                let name = attribute.prefix { $0 != ":" }
                let value = attribute.dropFirst(name.count + 1)
                if name == "rtpmap" || name == "fmtp" {
                    let parts = value.split(separator: " ", maxSplits: 1)
                    guard parts.count == 2, UInt8(parts[0]) == payloadType else { continue }
                    attributes[String(name)] = String(parts[1])
                } else {
                    attributes[String(name)] = String(value)
                }
            }
            let rtpmap = (attributes["rtpmap"] ?? "").split(separator: "/")
            let encoding = rtpmap.first.map { $0.uppercased() } ?? ""
            let clock = rtpmap.count > 1 ? Int(rtpmap[1]) ?? 0 : 0
            let parameters = fmtp(attributes["fmtp"] ?? "")
            let control = attributes["control"] ?? ""
            switch (media[0], encoding) {
            case ("video", "H264"):
                guard clock > 0 else { throw .malformed("H264 without a clock rate") }
                var config: AVCConfig?
                if let sprop = parameters["sprop-parameter-sets"] {
                    let units = sprop.split(separator: ",").compactMap { Base64.decode($0) }.filter { !$0.isEmpty }
                    let sps = units.filter { $0[0] & 0x1F == 7 && $0.count >= 4 }, pps = units.filter { $0[0] & 0x1F == 8 }
                    if !sps.isEmpty, !pps.isEmpty { config = AVCConfig(sps: sps, pps: pps) }
                }
                tracks.append(SDPTrack(video: true, payloadType: payloadType, clockRate: clock, codec: .h264(config), control: control))
            case ("video", "H265"):
                guard clock > 0 else { throw .malformed("H265 without a clock rate") }
                let sets = ["sprop-vps", "sprop-sps", "sprop-pps"].flatMap { name in
                    (parameters[name] ?? "").split(separator: ",").compactMap { Base64.decode($0) }.filter { $0.count >= 2 }
                }
                tracks.append(SDPTrack(video: true, payloadType: payloadType, clockRate: clock, codec: .h265(sets), control: control))
            case ("audio", "MPEG4-GENERIC"):
                guard let hex = parameters["config"], let bytes = Hex.decode(Substring(hex)), let config = AACConfig(bytes) else {
                    throw .malformed("mpeg4-generic without a valid config")
                }
                let sizeLength = Int(parameters["sizelength"] ?? "") ?? 0
                let indexLength = Int(parameters["indexlength"] ?? "") ?? 0
                guard (1...16).contains(sizeLength), (0...8).contains(indexLength) else {
                    throw .malformed("mpeg4-generic with sizelength \(sizeLength), indexlength \(indexLength)")
                }
                tracks.append(SDPTrack(video: false, payloadType: payloadType, clockRate: clock > 0 ? clock : config.sampleRate,
                                       codec: .aac(config, sizeLength: sizeLength, indexLength: indexLength), control: control))
            default:
                skipped.append("\(media[0]) \(encoding.isEmpty ? "payload \(payloadType)" : encoding)")
            }
        }
        guard !tracks.isEmpty else { throw .unsupported("no H.264, H.265 nor AAC track (\(skipped.joined(separator: ", ")))") }
        return tracks
    }

    /// The key=value pairs of an fmtp value (keys in lower case).
    private static func fmtp(_ text: String) -> [String: String] {
        var pairs: [String: String] = [:]
        for item in text.split(separator: ";") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            pairs[parts[0].trimmingWhitespace().lowercased()] = parts[1].trimmingWhitespace()
        }
        return pairs
    }
}
