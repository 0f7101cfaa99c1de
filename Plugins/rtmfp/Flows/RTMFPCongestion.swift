// Retransmission timeout and congestion window of a send flow (RFC 7016 §3.5.2.2, §3.5.2, Appendix A).
// Times are milliseconds.

/// The retransmission timeout (RFC 7016 §3.5.2.2): the measured timeout MRTO = SRTT + 4·RTTVAR + 200 ms
/// (the receiver's delayed-acknowledgement allowance), SRTT/RTTVAR smoothed as in RFC 6298; the effective
/// timeout ERTO starts at 3 s, is MRTO clamped to 250 ms…10 s after each sample, and doubles (still at
/// most 10 s) on each timeout.
struct RTMFPRetransmissionTimeout: Equatable, Sendable {
    static let initial: UInt64 = 3000
    static let minimum: UInt64 = 250
    static let maximum: UInt64 = 10_000
    /// Added to the measured timeout for the receiver's delayed acknowledgements.
    static let delayedAckAllowance: Double = 200

    /// The smoothed round-trip time, once measured.
    private(set) var smoothedRTT: Double?
    private(set) var rttVariation: Double = 0
    /// ERTO: how long to wait for an acknowledgement before presuming everything in flight lost.
    private(set) var effective: UInt64 = Self.initial

    init() {}

    /// A round-trip time sample (Karn: only from a fragment sent once).
    mutating func observe(rtt: UInt64) {
        let sample = Double(min(rtt, Self.maximum * 6))
        if let smoothed = smoothedRTT {
            rttVariation = (3 * rttVariation + abs(smoothed - sample)) / 4
            smoothedRTT = (7 * smoothed + sample) / 8
        } else {
            smoothedRTT = sample
            rttVariation = sample / 2
        }
        let measured = (smoothedRTT ?? sample) + 4 * rttVariation + Self.delayedAckAllowance
        effective = min(max(UInt64(measured), Self.minimum), Self.maximum)
    }

    /// A timeout fired: wait twice as long next time (at most `maximum`).
    mutating func backOff() {
        effective = min(effective * 2, Self.maximum)
    }
}

/// The congestion window of a send flow: the bytes it may have in flight (besides the receiver's advertised
/// buffer). An AIMD scheme in the spirit of RFC 7016 §3.5.2 / Appendix A, simplified: slow start (the
/// window grows by what is acknowledged) up to a threshold, then congestion avoidance (one segment per
/// window acknowledged); a loss halves it (once per recovery episode, decided by the flow); a timeout
/// halves the threshold and restarts from two segments. The window only grows while at least half of it is
/// in use, so an application-limited flow does not build up a window it never tested.
struct RTMFPCongestionWindow: Equatable, Sendable {
    /// The typical fragment size: the unit of growth.
    let segmentSize: Int
    /// The window never exceeds this.
    let maximum: Int
    private(set) var size: Int
    private(set) var slowStartThreshold: Int
    /// Bytes acknowledged in congestion avoidance not yet turned into growth.
    private var avoidanceCredit = 0

    init(segmentSize: Int, maximum: Int) {
        self.segmentSize = max(1, segmentSize)
        self.maximum = max(maximum, 4 * self.segmentSize)
        size = 4 * self.segmentSize
        slowStartThreshold = self.maximum
    }

    /// `bytes` were newly acknowledged while `inFlight` bytes were outstanding (before the acknowledgement).
    mutating func acknowledged(bytes: Int, inFlight: Int) {
        guard bytes > 0, inFlight * 2 >= size else { return }
        if size < slowStartThreshold {
            size = min(size + min(bytes, 2 * segmentSize), maximum)
        } else {
            avoidanceCredit += bytes
            if avoidanceCredit >= size {
                avoidanceCredit -= size
                size = min(size + segmentSize, maximum)
            }
        }
    }

    /// A loss was detected (multiplicative decrease).
    mutating func lost() {
        slowStartThreshold = max(size / 2, 2 * segmentSize)
        size = slowStartThreshold
        avoidanceCredit = 0
    }

    /// The retransmission timer fired.
    mutating func timedOut() {
        slowStartThreshold = max(size / 2, 2 * segmentSize)
        size = 2 * segmentSize
        avoidanceCredit = 0
    }
}
