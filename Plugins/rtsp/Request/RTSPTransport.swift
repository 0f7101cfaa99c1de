/// A Transport header (RFC 2326 §12.39): the first unicast RTP/AVP choice this server supports, TCP
/// interleaved or UDP, and what the answer says back.
enum RTSPTransport: Equatable {
    /// RTP/AVP/TCP;interleaved=rtp-rtcp (nil: the server picks the channels).
    case interleaved(UInt8?)
    /// RTP/AVP[/UDP];unicast;client_port=rtp-rtcp.
    case udp(clientRTP: UInt16, clientRTCP: UInt16)

    /// The first supported choice of a Transport header and whether it asks to record, or nil.
    static func parse(_ header: String) -> (transport: RTSPTransport, record: Bool)? {
        for choice in header.split(separator: ",") {
            let fields = choice.split(separator: ";").map { $0.trimmingWhitespace() }
            guard let profile = fields.first?.uppercased(), !fields.contains(where: { $0.lowercased() == "multicast" }) else { continue }
            let record = fields.contains { $0.lowercased() == "mode=record" || $0.lowercased() == "mode=\"record\"" }
            let value = { (name: String) -> String? in
                fields.first { $0.lowercased().hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
            }
            if profile == "RTP/AVP/TCP" {
                guard let channels = value("interleaved") else { return (.interleaved(nil), record) }
                guard let first = UInt8(channels.split(separator: "-").first ?? ""), first < 255 else { continue }
                return (.interleaved(first), record)
            }
            if profile == "RTP/AVP" || profile == "RTP/AVP/UDP", let ports = value("client_port") {
                let numbers = ports.split(separator: "-").compactMap { UInt16($0) }
                guard let rtp = numbers.first, rtp > 0 else { continue }
                let rtcp = numbers.count > 1 ? numbers[1] : rtp &+ 1
                return (.udp(clientRTP: rtp, clientRTCP: rtcp), record)
            }
        }
        return nil
    }
}
