import MonaPluginKit
import PluginABI

/// Recording a publication (FFmpeg `-f rtsp`, OBS and GStreamer RTSP outputs): ANNOUNCE with an SDP,
/// SETUP with mode=record over TCP interleaved or UDP, RECORD publishes the stream (onPublish may
/// refuse) and the RTP received becomes FLV frames pushed to the host's media model.
extension RTSPSession {
    func announce(_ request: RTSPRequest) {
        guard let url = RTSPURL(request.url) else { return answer(request, RTSPResponse(400, reason: "Bad URL")) }
        guard subscription == nil, publication == nil, sessionID == nil else { return answer(request, RTSPResponse(455)) }
        guard request.header("Content-Type")?.lowercased().hasPrefix("application/sdp") == true else {
            return answer(request, RTSPResponse(415, reason: "Unsupported Media Type (application/sdp expected)"))
        }
        guard openClient(request, url, trackURL: false) != nil else { return }
        let (_, name) = url.application()
        guard !name.isEmpty else { return answer(request, RTSPResponse(400, reason: "No stream name")) }
        do throws(SDPReader.Failure) {
            announced = (name, try SDPReader.tracks(String(decoding: request.body, as: UTF8.self)))
            answer(request, RTSPResponse(200))
        } catch {
            switch error {
            case .malformed(let reason):
                host.log(MONA_LOG_WARN, "client \(peer) announced a broken SDP: \(reason)")
                answer(request, RTSPResponse(400, reason: "Bad Request (SDP: \(reason))"))
            case .unsupported(let reason):
                answer(request, RTSPResponse(415, reason: "Unsupported Media Type (\(reason))"))
            }
        }
    }

    /// The announced track a SETUP URL names by its control (relative, or the whole URL).
    func recordedTrack(_ url: RTSPURL, _ tracks: [SDPTrack]) -> Int? {
        let last = url.segments.last ?? ""
        return tracks.firstIndex { track in
            guard !track.control.isEmpty, track.control != "*" else { return false }
            if let absolute = RTSPURL(track.control), track.control.lowercased().hasPrefix("rtsp://") {
                return absolute.segments == url.segments
            }
            return track.control == last
        } ?? (tracks.count == 1 && tracks[0].control.isEmpty ? 0 : nil)
    }

    func record(_ request: RTSPRequest) {
        guard sessionID != nil, let announced, !tracks.isEmpty, tracks.values.allSatisfy({ $0.inbound != nil }) else {
            return answer(request, RTSPResponse(455, reason: "Method Not Valid in This State (ANNOUNCE and SETUP first)"))
        }
        if publication == nil {
            guard let url = RTSPURL(request.url) else { return answer(request, RTSPResponse(400, reason: "Bad URL")) }
            // (A refusal without credentials closed the client: the retry with credentials opens it again.)
            guard let client = openClient(request, url, trackURL: false) else { return }
            switch host.publish(client: client, name: announced.name) {
            case .success(let handle):
                publication = handle
            case .failure(let refusal):
                guard refusal.status == MONA_E_REJECTED else {
                    return answer(request, RTSPResponse(403, reason: refusal.message.isEmpty ? nil : PeerText.withoutPaths(refusal.message)))
                }
                return refuse(request, url, refusal.message)
            }
            recordStart = host.monotonicMs
            host.log(MONA_LOG_INFO, "client \(peer) records \(announced.name)")
        }
        answer(request, RTSPResponse(200))
    }

    /// An RTP packet of a recorded track (interleaved or UDP): its frames go to the publication.
    func received(_ track: RTSPTrack, _ bytes: UnsafeRawBufferPointer) {
        guard let publication, track.inbound != nil else { return }
        let elapsed = host.monotonicMs - recordStart
        for tag in track.inbound!.packet(bytes, elapsed: elapsed) {
            tag.body.withUnsafeBytes {
                if tag.video { host.pushVideo(publication, time: tag.time, $0) } else { host.pushAudio(publication, time: tag.time, $0) }
            }
        }
    }
}
