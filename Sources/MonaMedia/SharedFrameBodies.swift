#if canImport(Glibc)
import Glibc
#endif

/// The last audio and the last video frame a plugin copied, handed to every viewer the host gives
/// the same frame (a publication's viewers get it one after the other): one copy per frame instead
/// of one per viewer, and one array that later comparisons find identical at once. A frame is the
/// same when its kind, time and bytes are; the bytes are compared, never trusted by address.
public final class SharedFrameBodies {
    private var video: (time: UInt32, body: [UInt8])?
    private var audio: (time: UInt32, body: [UInt8])?

    public init() {}

    /// The bytes of a frame as an array: the kept one when it holds the same frame.
    public func body(video isVideo: Bool, time: UInt32, bytes: UnsafeRawBufferPointer) -> [UInt8] {
        if let kept = isVideo ? video : audio, kept.time == time, kept.body.count == bytes.count,
           bytes.isEmpty || kept.body.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) {
            return kept.body
        }
        let body = Array(bytes)
        if isVideo { video = (time, body) } else { audio = (time, body) }
        return body
    }
}
