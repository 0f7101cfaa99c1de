/// The sending side of one track: its SSRC, sequence numbers, the random origin of its timestamps and
/// what an RTCP sender report counts (RFC 3550 §5.1, §6.4.1).
struct RTPSender {
    let payloadType: UInt8
    let clockRate: Int
    let ssrc: UInt32
    /// The RTP timestamp of media time 0.
    let origin: UInt32
    private(set) var sequence: UInt16
    private(set) var packets: UInt32 = 0
    private(set) var octets: UInt32 = 0

    init(payloadType: UInt8, clockRate: Int, random: [UInt8]) {
        self.payloadType = payloadType
        self.clockRate = clockRate
        let bytes = random + [UInt8](repeating: 0, count: max(0, 10 - random.count))
        ssrc = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        origin = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        sequence = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
    }

    /// A sender of `ssrc` whose timestamp origin and first sequence number come from `seed` (6 bytes).
    init(payloadType: UInt8, clockRate: Int, ssrc: UInt32, seed: [UInt8]) {
        self.payloadType = payloadType
        self.clockRate = clockRate
        self.ssrc = ssrc
        let bytes = seed + [UInt8](repeating: 0, count: max(0, 6 - seed.count))
        origin = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        sequence = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
    }

    /// Counts `count` packets of `octets` payload bytes that went out from shared `$` frames (made by
    /// another sender in the same state).
    mutating func advance(packets count: Int, octets payload: Int) {
        sequence &+= UInt16(truncatingIfNeeded: count)
        packets &+= UInt32(truncatingIfNeeded: count)
        octets &+= UInt32(truncatingIfNeeded: payload)
    }

    /// The RTP timestamp of media time `ms` (milliseconds; may be fractional for audio).
    func timestamp(ms: Double) -> UInt32 {
        origin &+ UInt32(truncatingIfNeeded: Int64((ms * Double(clockRate) / 1000).rounded()))
    }

    /// One packet with the next sequence number.
    mutating func packet(payload: [UInt8], timestamp: UInt32, marker: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + payload.count)
        payload.withUnsafeBytes { append(payload: $0, timestamp: timestamp, marker: marker, to: &bytes) }
        return bytes
    }

    /// Appends the next packet (its 12-byte header, then `payload`) to `bytes`: nothing allocated but
    /// what `bytes` needs to grow.
    mutating func append(payload: UnsafeRawBufferPointer, timestamp: UInt32, marker: Bool, to bytes: inout [UInt8]) {
        appendHeader(payloadSize: payload.count, timestamp: timestamp, marker: marker, channel: nil, to: &bytes)
        bytes.append(contentsOf: payload)
    }

    /// Appends the header of the next packet — `$`, `channel` and the length first when interleaved —
    /// whose payload of `payloadSize` bytes the caller sends right after it.
    mutating func appendHeader(payloadSize: Int, timestamp: UInt32, marker: Bool, channel: UInt8?, to bytes: inout [UInt8]) {
        let header = RTPPacket(marker: marker, payloadType: payloadType, sequence: sequence, timestamp: timestamp, ssrc: ssrc)
        header.appendHeader(to: &bytes, channel: channel, payloadSize: payloadSize)
        sequence &+= 1
        packets &+= 1
        octets &+= UInt32(truncatingIfNeeded: payloadSize)
    }
}
