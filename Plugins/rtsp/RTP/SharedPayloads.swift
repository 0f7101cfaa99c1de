import MonaPluginKit
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The RTP payloads of the last audio and the last video frame, made once and reused by every player
/// the host hands the same frame to (a publication's players get it one after the other in one
/// batch): packetization — NAL unit split, parameter sets, aggregation and fragmentation — costs once
/// per frame, not once per player. A frame is the same when its kind, time, the parameter sets put
/// before it (a key frame's) and either its serial (the host's promise: equal serials, equal bytes)
/// or, without one, its bytes are; the bytes are never trusted by address.
final class SharedPayloads {
    private struct Entry {
        var time: UInt32
        var serial: UInt64
        var source: [UInt8]
        var sets: [[UInt8]]
        var maxPayload: Int
        var payloads: RTPPayloads
    }

    private var video: Entry?
    private var audio: Entry?
    /// The identity of the last payloads made (1, 2…): frames told apart without comparing bytes.
    private var lastID: UInt64 = 0

    /// The payloads of a frame: from the cache when it holds this frame, else made by `make` and kept.
    /// `serial` is the host's for the frame (0: none, the bytes are compared).
    func payloads(video isVideo: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, sets: [[UInt8]], maxPayload: Int,
                  serial: UInt64 = 0, make: () -> [[UInt8]]) -> RTPPayloads {
        if let entry = isVideo ? video : audio, entry.time == time, entry.maxPayload == maxPayload, entry.sets == sets,
           entry.source.count == bytes.count, !bytes.isEmpty {
            if serial != 0, entry.serial == serial { return entry.payloads }
            if entry.source.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) { return entry.payloads }
        }
        lastID &+= 1
        let entry = Entry(time: time, serial: serial, source: Array(bytes), sets: sets, maxPayload: maxPayload,
                          payloads: RTPPayloads(make(), id: lastID))
        if isVideo { video = entry } else { audio = entry }
        return entry.payloads
    }
}

/// The payloads of a frame back to back in one array, and where each one is: a player's loop reads
/// them without a reference count per packet. TCP players send them from a copy in a shared buffer
/// of the host's (made at the first such player), by reference: each player writes only its headers.
final class RTPPayloads {
    let bytes: [UInt8]
    let ranges: [Range<Int>]
    /// Different for every payloads SharedPayloads made; 0: made elsewhere (never shared as `$` frames).
    let id: UInt64
    private var sharedCopy: SharedBytes?
    private var sharingFailed = false

    init(_ payloads: [[UInt8]], id: UInt64 = 0) {
        self.id = id
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

    /// The payloads in a shared buffer of `host` (made once), or nil when the host has none to give.
    func shared(_ host: MonaHost) -> SharedBytes? {
        if sharedCopy == nil, !sharingFailed {
            sharedCopy = SharedBytes(host: host, bytes: bytes)
            sharingFailed = sharedCopy == nil
        }
        return sharedCopy
    }

    /// The payloads, as arrays (tests).
    var arrays: [[UInt8]] { ranges.map { Array(bytes[$0]) } }
}
