/// H.264 (RFC 6184, packetization-mode 1) and H.265 (RFC 7798) payloads of one access unit: small NAL
/// units aggregated (STAP-A / AP), large ones fragmented (FU-A / FU) under `maxPayload`, the marker on
/// the last packet.
struct NALPacketizer {
    let hevc: Bool
    let maxPayload: Int

    /// The RTP payloads of an access unit, in order (the last one carries the marker).
    func payloads(_ units: [[UInt8]]) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        var group: [[UInt8]] = []
        var groupSize = headerSize
        func closeGroup() {
            if group.count == 1 { payloads.append(group[0]) } else if group.count > 1 { payloads.append(aggregate(group)) }
            group = []
            groupSize = headerSize
        }
        for unit in units where unit.count > headerSize {
            if unit.count > maxPayload {
                closeGroup()
                payloads += fragments(unit)
                continue
            }
            if groupSize + 2 + unit.count > maxPayload { closeGroup() }
            group.append(unit)
            groupSize += 2 + unit.count
        }
        closeGroup()
        return payloads
    }

    private var headerSize: Int { hevc ? 2 : 1 }

    /// STAP-A (type 24) or AP (type 48): the header, then each unit with its 16-bit size.
    private func aggregate(_ units: [[UInt8]]) -> [UInt8] {
        var payload: [UInt8]
        if hevc {
            // F and layer/TID from the first unit (RFC 7798 §4.4.2: the lowest of the aggregated units').
            payload = [(units[0][0] & 0x81) | (48 << 1), units[0][1]]
        } else {
            let nri = units.map { $0[0] & 0x60 }.max() ?? 0
            payload = [nri | 24]
        }
        for unit in units {
            payload.appendBigEndian16(unit.count)
            payload += unit
        }
        return payload
    }

    /// FU-A (type 28) or FU (type 49) fragments of a unit too large for one packet.
    private func fragments(_ unit: [UInt8]) -> [[UInt8]] {
        let type = hevc ? (unit[0] >> 1) & 0x3F : unit[0] & 0x1F
        let indicator: [UInt8] = hevc ? [(unit[0] & 0x81) | (49 << 1), unit[1]] : [(unit[0] & 0xE0) | 28]
        let room = maxPayload - indicator.count - 1
        var fragments: [[UInt8]] = []
        var offset = headerSize
        while offset < unit.count {
            let end = min(unit.count, offset + room)
            var header = type
            if offset == headerSize { header |= 0x80 }
            if end == unit.count { header |= 0x40 }
            fragments.append(indicator + [header] + unit[offset..<end])
            offset = end
        }
        return fragments
    }
}
