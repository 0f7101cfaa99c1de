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
