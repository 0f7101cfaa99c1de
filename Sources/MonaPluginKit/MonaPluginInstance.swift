import MonaValues
import PluginABI

/// What a Swift plugin implements. The kit turns the C entry points into these calls and keeps one
/// session object per connection. Every method but `start` has a default, so a plugin writes only
/// what its protocol uses.
public protocol MonaPluginInstance: AnyObject {
    /// Reads the configuration, listens, binds. A negative MONA_E_* fails the plugin's start.
    func start() -> Int32
    /// The server stops.
    func stop()
    /// A connection was accepted: return its session object, or nil to refuse it.
    func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject?
    /// Bytes arrived (with what was left unconsumed before): return how many were consumed.
    func received(session: AnyObject, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int
    /// The send queue drained after a send left bytes queued.
    func writable(session: AnyObject, connection: mona_handle)
    /// The peer half-closed: return true if handled; false (the default) closes gracefully.
    func peerFinished(session: AnyObject, connection: mona_handle) -> Bool
    /// The connection is over (MONA_CLOSED_*).
    func closed(session: AnyObject, connection: mona_handle, reason: Int32)
    /// A connection handed over by another plugin: return its session object, or nil to refuse it.
    func adopted(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> AnyObject?
    /// A datagram arrived.
    func datagram(socket: UnsafeMutableRawPointer?, udp: mona_handle, from: mona_addr, bytes: UnsafeRawBufferPointer)
    /// A timer fired.
    func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle)
    /// Lua's writer:writeInvocation(name, …) on a writer of this plugin (args: MVS).
    func writerInvoke(writer: UnsafeMutableRawPointer?, name: String, args: [MonaValue]) -> Int32
    /// Lua's writer:writeMessage(…) (response 0), or the late results of the RPC whose invoke gave
    /// `.pending(token: response)` (args empty when the method returned nothing); response −token: that
    /// call failed, args holds the message.
    func writerMessage(writer: UnsafeMutableRawPointer?, response: Int32, args: [MonaValue]) -> Int32
    /// Lua's writer:writeRaw(bytes).
    func writerRaw(writer: UnsafeMutableRawPointer?, bytes: UnsafeRawBufferPointer) -> Int32
    /// Lua's writer:close(code).
    func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32
    /// Lua's client.properties(key, value[, options]) (args: the value, then an options object if given).
    func writerSetProperty(writer: UnsafeMutableRawPointer?, key: String, args: [MonaValue]) -> Int32
    /// Lua's writer.reliable = value (RTMFP: whether lost messages are sent again).
    func writerSetReliable(writer: UnsafeMutableRawPointer?, reliable: Bool) -> Int32
    /// The host forgot this writer context.
    func writerReleased(writer: UnsafeMutableRawPointer?)
    /// A `runBlocking` work item finished (on the loop).
    func workDone(context: UnsafeMutableRawPointer?)
    /// Media for a subscription (the `sink` given to `MonaHost.subscribe`): the publication starts or stops,
    /// its metadata (one OBJECT), frames (time rebased for this subscriber; flags MONA_MEDIA_*), data, the
    /// end of a batch. MONA_E_AGAIN from sinkVideo/sinkAudio: cannot take more now (video skips to the next
    /// key frame).
    func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32
    func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32
    func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32
    func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32
    func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32
    /// A frame with its serial (equal for every subscriber of one pushed frame, 0: this subscriber's
    /// own): a plugin that can encode a frame once for all its subscribers implements it; by default it
    /// goes to sinkAudio/sinkVideo.
    func sinkFrame(sink: UnsafeMutableRawPointer?, video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32,
                   serial: UInt64) -> Int32
    func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32
    func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32
    /// The host forgot this sink (the subscription ended).
    func sinkReleased(sink: UnsafeMutableRawPointer?)
    /// A publication of the server started (ABI 1.9; any publisher, this plugin's included):
    /// `application` is its publisher's ("" or "/app"), `name` what `subscribe` takes. A subscribe made
    /// here gets every frame.
    func publicationStarted(application: String, name: String)
    /// The publication's publisher left (before Lua's onUnpublish); subscriptions stay until ended.
    func publicationEnded(application: String, name: String)
}

extension MonaPluginInstance {
    public func stop() {}
    public func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject? { nil }
    public func received(session: AnyObject, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int { bytes.count }
    public func writable(session: AnyObject, connection: mona_handle) {}
    public func peerFinished(session: AnyObject, connection: mona_handle) -> Bool { false }
    public func closed(session: AnyObject, connection: mona_handle, reason: Int32) {}
    public func adopted(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> AnyObject? { nil }
    public func datagram(socket: UnsafeMutableRawPointer?, udp: mona_handle, from: mona_addr, bytes: UnsafeRawBufferPointer) {}
    public func timerFired(context: UnsafeMutableRawPointer?, timer: mona_handle) {}
    public func writerInvoke(writer: UnsafeMutableRawPointer?, name: String, args: [MonaValue]) -> Int32 { MONA_E_UNSUPPORTED }
    public func writerMessage(writer: UnsafeMutableRawPointer?, response: Int32, args: [MonaValue]) -> Int32 { MONA_E_UNSUPPORTED }
    public func writerRaw(writer: UnsafeMutableRawPointer?, bytes: UnsafeRawBufferPointer) -> Int32 { MONA_E_UNSUPPORTED }
    public func writerClose(writer: UnsafeMutableRawPointer?, code: Int32) -> Int32 { MONA_E_UNSUPPORTED }
    public func writerSetProperty(writer: UnsafeMutableRawPointer?, key: String, args: [MonaValue]) -> Int32 { MONA_E_UNSUPPORTED }
    public func writerSetReliable(writer: UnsafeMutableRawPointer?, reliable: Bool) -> Int32 { MONA_E_UNSUPPORTED }
    public func writerReleased(writer: UnsafeMutableRawPointer?) {}
    public func workDone(context: UnsafeMutableRawPointer?) {}
    public func sinkStart(sink: UnsafeMutableRawPointer?, name: String) -> Int32 { MONA_E_UNSUPPORTED }
    public func sinkStop(sink: UnsafeMutableRawPointer?, name: String) -> Int32 { MONA_E_UNSUPPORTED }
    public func sinkMetadata(sink: UnsafeMutableRawPointer?, metadata: MonaValue) -> Int32 { MONA_E_UNSUPPORTED }
    public func sinkAudio(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 { MONA_E_UNSUPPORTED }
    public func sinkVideo(sink: UnsafeMutableRawPointer?, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32) -> Int32 { MONA_E_UNSUPPORTED }
    public func sinkFrame(sink: UnsafeMutableRawPointer?, video: Bool, time: UInt32, bytes: UnsafeRawBufferPointer, flags: UInt32,
                          serial: UInt64) -> Int32 {
        video ? sinkVideo(sink: sink, time: time, bytes: bytes, flags: flags) : sinkAudio(sink: sink, time: time, bytes: bytes, flags: flags)
    }
    public func sinkData(sink: UnsafeMutableRawPointer?, format: Int32, bytes: UnsafeRawBufferPointer) -> Int32 { MONA_E_UNSUPPORTED }
    public func sinkFlush(sink: UnsafeMutableRawPointer?) -> Int32 { MONA_OK }
    public func sinkReleased(sink: UnsafeMutableRawPointer?) {}
    public func publicationStarted(application: String, name: String) {}
    public func publicationEnded(application: String, name: String) {}
}
