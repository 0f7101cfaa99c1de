/// Reassembles H.264 (RFC 6184: single NAL units, STAP-A, FU-A) or H.265 (RFC 7798: single NAL units,
/// AP, FU) access units from RTP: the units of one timestamp, complete on the marker bit or on the next
/// timestamp. A sequence gap drops the unit being assembled (a player would decode garbage): it
/// restarts on the next access unit.
struct NALDepacketizer {
    let hevc: Bool
    /// One access unit: its RTP timestamp and NAL units.
    struct AccessUnit: Equatable {
        let timestamp: UInt32
        let units: [[UInt8]]
    }

    private var timestamp: UInt32?
    private var units: [[UInt8]] = []
    private var fragment: [UInt8]?
    private var lastSequence: UInt16?
    private var broken = false
    /// Access units dropped because a packet was missing or malformed.
    private(set) var dropped = 0

    /// The access units this packet completes (zero, one, or two when it also ends its own).
    mutating func packet(_ header: RTPPacket, _ payload: UnsafeRawBufferPointer) -> [AccessUnit] {
        var completed: [AccessUnit] = []
        let gap = lastSequence.map { $0 &+ 1 != header.sequence } ?? false
        lastSequence = header.sequence
        if let current = timestamp, current != header.timestamp {
            if gap { broken = true } // the end of the open unit may be what is missing
            if let unit = finish() { completed.append(unit) }
        }
        if gap { broken = true }
        timestamp = header.timestamp
        if !add(payload) { broken = true }
        if header.marker, let unit = finish() { completed.append(unit) }
        return completed
    }

    init(hevc: Bool = false) { self.hevc = hevc }

    /// Adds a payload's NAL units; false when it is malformed.
    private mutating func add(_ payload: UnsafeRawBufferPointer) -> Bool {
        hevc ? addHEVC(payload) : addAVC(payload)
    }

    /// RFC 7798 §4.4: a single NAL unit (types 0-47), an aggregation packet (48), a fragmentation unit (49).
    private mutating func addHEVC(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count > 2 else { return false }
        switch (payload[0] >> 1) & 0x3F {
        case 0...47:
            units.append(Array(payload))
        case 48:
            return aggregated(payload, from: 2)
        case 49:
            guard payload.count > 3 else { return false }
            let header = payload[2]
            if header & 0x80 != 0 {
                fragment = [(payload[0] & 0x81) | ((header & 0x3F) << 1), payload[1]] + payload[3...]
            } else {
                guard fragment != nil else { return false }
                fragment! += payload[3...]
            }
            if header & 0x40 != 0, let whole = fragment {
                units.append(whole)
                fragment = nil
            }
        default:
            return false
        }
        return true
    }

    /// The units of an aggregation packet (STAP-A, AP) after its `from`-byte header, each with a 16-bit size.
    private mutating func aggregated(_ payload: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var offset = start
        while offset + 2 <= payload.count {
            let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
            offset += 2
            guard size > 0, offset + size <= payload.count else { return false }
            units.append(Array(payload[offset..<offset + size]))
            offset += size
        }
        return offset == payload.count
    }

    private mutating func addAVC(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard let first = payload.first else { return false }
        switch first & 0x1F {
        case 1...23:
            units.append(Array(payload))
        case 24: // STAP-A
            return aggregated(payload, from: 1)
        case 28: // FU-A
            guard payload.count > 2 else { return false }
            let header = payload[1]
            if header & 0x80 != 0 {
                fragment = [(first & 0xE0) | (header & 0x1F)] + payload[2...]
            } else {
                guard fragment != nil else { return false }
                fragment! += payload[2...]
            }
            if header & 0x40 != 0, let whole = fragment {
                units.append(whole)
                fragment = nil
            }
        default:
            return false
        }
        return true
    }

    /// Ends the current access unit: it, unless it is empty or broken.
    private mutating func finish() -> AccessUnit? {
        defer {
            units = []
            fragment = nil
            timestamp = nil
            broken = false
        }
        guard let timestamp, !units.isEmpty else { return nil }
        guard !broken, fragment == nil else {
            dropped += 1
            return nil
        }
        return AccessUnit(timestamp: timestamp, units: units)
    }
}
