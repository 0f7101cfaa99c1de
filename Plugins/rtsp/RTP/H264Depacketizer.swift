/// Reassembles H.264 access units from RTP (RFC 6184: single NAL units, STAP-A, FU-A): the units of
/// one timestamp, complete on the marker bit or on the next timestamp. A sequence gap drops the unit
/// being assembled (a player would decode garbage): it restarts on the next access unit.
struct H264Depacketizer {
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

    /// Adds a payload's NAL units; false when it is malformed.
    private mutating func add(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard let first = payload.first else { return false }
        switch first & 0x1F {
        case 1...23:
            fragment = nil
            units.append(Array(payload))
        case 24: // STAP-A
            var offset = 1
            while offset + 2 <= payload.count {
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                offset += 2
                guard size > 0, offset + size <= payload.count else { return false }
                units.append(Array(payload[offset..<offset + size]))
                offset += size
            }
            return offset == payload.count
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

/// Extends 32-bit RTP timestamps of one track to a monotonic 64-bit count (wrap-around and small steps
/// back allowed) and turns them into milliseconds from the track's first packet.
struct RTPClock {
    let rate: Int
    private var last: UInt32?
    private var extended: Int64 = 0

    init(rate: Int) { self.rate = max(1, rate) }

    /// Milliseconds since the first timestamp.
    mutating func ms(_ timestamp: UInt32) -> Int64 {
        if let last { extended += Int64(Int32(bitPattern: timestamp &- last)) }
        last = timestamp
        return extended * 1000 / Int64(rate)
    }
}
