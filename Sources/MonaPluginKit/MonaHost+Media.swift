import MonaValues
import PluginABI

/// Media services of the host, in Swift terms.
extension MonaHost {
    private var ctx: OpaquePointer? { api.pointee.ctx }

    /// A call the host refused (a publication, a subscription, a method call): its status, kind
    /// (MONA_ERR_*) and message.
    public struct Refusal: Error {
        public let status: Int32
        public let kind: Int32
        public let message: String
    }

    /// publish: runs Lua onPublish; the publication's handle, or why not.
    public func publish(client: mona_handle, name: String) -> Result<mona_handle, Refusal> {
        var handle: mona_handle = 0
        var error = mona_error()
        var name = name
        let status = name.withUTF8 { text in
            text.withMemoryRebound(to: CChar.self) { api.pointee.publish(ctx, client, $0.baseAddress, $0.count, &handle, &error) }
        }
        return status == MONA_OK ? .success(handle) : .failure(Refusal(status: status, kind: error.kind, message: Self.message(error)))
    }

    /// The codec configurations the host caches for the publication `name` (FLV bodies, nil when it has
    /// none of that kind yet); nil when nobody publishes it, or when the host is older than ABI 1.7.
    public func publicationConfigs(_ name: String) -> (audio: [UInt8]?, video: [UInt8]?)? {
        let needed = MemoryLayout<mona_host_api>.offset(of: \mona_host_api.pub_configs)! + MemoryLayout<UnsafeRawPointer>.size
        guard Int(api.pointee.struct_size) >= needed else { return nil }
        var audio = mona_buffer(), video = mona_buffer()
        var name = name
        let status = name.withUTF8 { text in
            text.withMemoryRebound(to: CChar.self) { api.pointee.pub_configs(ctx, $0.baseAddress, $0.count, &audio, &video) }
        }
        let (audioBytes, videoBytes) = (take(&audio), take(&video))
        guard status == MONA_OK else { return nil }
        return (audioBytes.isEmpty ? nil : audioBytes, videoBytes.isEmpty ? nil : videoBytes)
    }

    public func unpublish(_ publication: mona_handle) {
        _ = api.pointee.unpublish(ctx, publication)
    }

    public func pushAudio(_ publication: mona_handle, time: UInt32, _ bytes: UnsafeRawBufferPointer) {
        _ = api.pointee.pub_audio(ctx, publication, time, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, 0)
    }

    public func pushVideo(_ publication: mona_handle, time: UInt32, _ bytes: UnsafeRawBufferPointer) {
        _ = api.pointee.pub_video(ctx, publication, time, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, 0)
    }

    public func pushData(_ publication: mona_handle, format: Int32, _ bytes: UnsafeRawBufferPointer) {
        _ = api.pointee.pub_data(ctx, publication, format, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    public func flush(publication: mona_handle) {
        _ = api.pointee.pub_flush(ctx, publication)
    }

    /// subscribe: runs Lua onSubscribe; the subscription's handle, or why not. Frames arrive through the
    /// instance's sink methods with `sink`.
    public func subscribe(client: mona_handle, name: String, query: String, sink: UnsafeMutableRawPointer?)
        -> Result<mona_handle, Refusal>
    {
        var handle: mona_handle = 0
        var error = mona_error()
        var name = name, query = query
        let status = name.withUTF8 { nameText in
            query.withUTF8 { queryText in
                nameText.withMemoryRebound(to: CChar.self) { n in
                    queryText.withMemoryRebound(to: CChar.self) { q in
                        api.pointee.subscribe(ctx, client, n.baseAddress, n.count, q.baseAddress, q.count, sink, &handle, &error)
                    }
                }
            }
        }
        return status == MONA_OK ? .success(handle) : .failure(Refusal(status: status, kind: error.kind, message: Self.message(error)))
    }

    public func unsubscribe(_ subscription: mona_handle) {
        _ = api.pointee.unsubscribe(ctx, subscription)
    }

    /// A subscription option: "receiveAudio", "receiveVideo" (booleans), "bufferTime" (ms).
    public func setOption(_ subscription: mona_handle, _ key: String, _ value: MonaValue) {
        let mvs = MVSWriter.encode([value])
        _ = mvs.withUnsafeBufferPointer { api.pointee.sub_set_option(ctx, subscription, key, $0.baseAddress, $0.count) }
    }
}
