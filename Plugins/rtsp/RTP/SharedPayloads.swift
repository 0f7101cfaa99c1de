#if canImport(Glibc)
import Glibc
#endif

/// The RTP payloads of the last audio and the last video frame, made once and reused by every player
/// the host hands the same frame to (a publication's players get it one after the other in one
/// batch): packetization — NAL unit split, parameter sets, aggregation and fragmentation — costs once
/// per frame, not once per player. A frame is the same when its kind, time, bytes and (video) the
/// parameter sets put before a key frame are; the bytes are compared, never trusted by address.
final class SharedPayloads {
    private struct Entry {
        var time: UInt32
        var source: [UInt8]
        var sets: [[UInt8]]
        var maxPayload: Int
        var payloads: RTPPayloads
    }

    private var video: Entry?
    private var audio: Entry?

    /// The payloads of a frame: from the cache when it holds this frame, else made by `make` and kept.
    func payloads(video isVideo: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, sets: [[UInt8]], maxPayload: Int,
                  make: () -> [[UInt8]]) -> RTPPayloads {
        if let entry = isVideo ? video : audio, entry.time == time, entry.maxPayload == maxPayload, entry.sets == sets,
           entry.source.count == bytes.count, !bytes.isEmpty,
           entry.source.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) {
            return entry.payloads
        }
        let entry = Entry(time: time, source: Array(bytes), sets: sets, maxPayload: maxPayload, payloads: RTPPayloads(make()))
        if isVideo { video = entry } else { audio = entry }
        return entry.payloads
    }
}

/// The payloads of a frame back to back in one array, and where each one is: a player's loop reads
/// them without a reference count per packet.
struct RTPPayloads {
    let bytes: [UInt8]
    let ranges: [Range<Int>]

    init(_ payloads: [[UInt8]]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(payloads.reduce(0) { $0 + $1.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(payloads.count)
        for payload in payloads {
            ranges.append(bytes.count..<bytes.count + payload.count)
            bytes += payload
        }
        self.bytes = bytes
        self.ranges = ranges
    }

    /// The payloads, as arrays (tests).
    var arrays: [[UInt8]] { ranges.map { Array(bytes[$0]) } }
}
