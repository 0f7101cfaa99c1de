/// An AAC AudioSpecificConfig (ISO 14496-3 §1.6.2.1): the sampling rate and channels an SDP announces
/// and the RTP clock of the track.
struct AACConfig: Equatable {
    let bytes: [UInt8]
    let sampleRate: Int
    let channels: Int

    private static let rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// The config's rate and channels, or nil when it is too short or names no rate.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        var reader = BitReader(bytes)
        var objectType = reader.read(5)
        if objectType == 31 { objectType = 32 + reader.read(6) }
        let index = reader.read(4)
        let rate: Int
        if index == 15 {
            rate = reader.read(24)
        } else {
            guard index < Self.rates.count else { return nil }
            rate = Self.rates[index]
        }
        let channels = reader.read(4)
        guard !reader.overrun, rate > 0, objectType > 0 else { return nil }
        self.bytes = bytes
        sampleRate = rate
        self.channels = channels == 0 ? 2 : (channels == 7 ? 8 : channels)
    }
}

/// Reads bits most significant first; reading past the end gives zeros and sets `overrun`.
struct BitReader {
    private let bytes: [UInt8]
    private var position = 0
    private(set) var overrun = false

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func read(_ count: Int) -> Int {
        var value = 0
        for _ in 0..<count {
            let index = position >> 3
            let bit: Int
            if index < bytes.count {
                bit = Int(bytes[index] >> (7 - UInt8(position & 7))) & 1
            } else {
                overrun = true
                bit = 0
            }
            value = value << 1 | bit
            position += 1
        }
        return value
    }
}
