import MonaPluginKit
import PluginABI

/// What a subscription of this plugin delivers its media to (the sink context given to subscribe):
/// a viewer of HTTP-FLV (`FLVViewer`) or a publication's HLS packager (`HLSPackager`). The subscriber
/// keeps it alive until its subscription ends.
class LiveSink {
    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> LiveSink? {
        pointer.map { Unmanaged<LiveSink>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The publication runs (within subscribe when it already did).
    func started() -> Int32 { MONA_OK }
    /// The publication stopped.
    func stopped() -> Int32 { MONA_OK }
    func metadata(_ metadata: MonaValue) -> Int32 { MONA_OK }
    /// A frame (time rebased for this subscriber, flags MONA_MEDIA_*, serial as in sink_frame).
    func frame(video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32, serial: UInt64) -> Int32 { MONA_OK }
    func data(format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 { MONA_OK }
    /// The end of a batch of frames.
    func flush() {}
}

/// The sink of an HTTP-FLV response: what it receives goes to its session (HTTPSession+Live).
final class FLVViewer: LiveSink {
    /// The session ends the subscription before it goes (closed()).
    unowned(unsafe) let session: HTTPSession

    init(session: HTTPSession) { self.session = session }

    override func started() -> Int32 { session.liveStarted() }
    override func stopped() -> Int32 { session.liveStopped() }
    override func metadata(_ metadata: MonaValue) -> Int32 { session.liveMetadata(metadata) }
    override func frame(video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32, serial: UInt64) -> Int32 {
        session.liveFrame(video: video, time: time, bytes: bytes, flags: flags, serial: serial)
    }
    override func data(format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 { session.liveData(format: format, bytes: bytes) }
    override func flush() { session.flushLive() }
}
