import MonaValues
import PluginABI

/// The object model as the plugin sees it: clients it opens, the writers the host drives, and the
/// media model's publications and subscriptions. What Lua would decide, the test's closures decide
/// (`onOpen`, `onInvoke`, `onReadFile`, `onPublish`, `onSubscribe`).
extension FakeHost {
    /// A client the plugin opened (`client_open`).
    public final class Client {
        public let handle: mona_handle
        public let `protocol`: String
        public let path: String
        public let query: String?
        public let serverAddress: String?
        public let peer: mona_addr
        /// The properties object (MVS decoded), and onConnection's arguments.
        public let properties: [MonaValue]
        public let arguments: [MonaValue]
        /// The client's main writer.
        public let writer: mona_handle
        /// client.properties the plugin set (`client_set_property`), decoded.
        public internal(set) var setProperties: [String: [MonaValue]] = [:]
        public internal(set) var closed = false

        init(handle: mona_handle, info: mona_client_info, arguments: [MonaValue], writer: mona_handle) {
            self.handle = handle
            self.protocol = info.protocol.map { String(cString: $0) } ?? ""
            path = info.path.map { String(cString: $0) } ?? ""
            query = info.query.map { String(cString: $0) }
            serverAddress = info.server_address.map { String(cString: $0) }
            peer = info.peer
            properties = info.properties.map { (try? MVSReader.decode(Array(UnsafeBufferPointer(start: $0, count: info.properties_size)))) ?? [] } ?? []
            self.arguments = arguments
            self.writer = writer
        }
    }

    /// A writer of a client: the plugin's context, driven with `writerInvoke`, `writerMessage`, ...
    public final class Writer {
        public let handle: mona_handle
        public let client: mona_handle
        let context: UnsafeMutableRawPointer?
        /// True once the host released it (`writer_released` was called).
        public internal(set) var released = false
        /// The code given to `writer_closed` when the protocol closed it.
        public internal(set) var closedCode: Int32?

        init(handle: mona_handle, client: mona_handle, context: UnsafeMutableRawPointer?) {
            self.handle = handle
            self.client = client
            self.context = context
        }
    }

    /// A publication the plugin made (`publish`) and what it pushed.
    public final class Publication {
        public let handle: mona_handle
        public let name: String
        public let client: mona_handle
        /// Frames pushed: kind (MONA_MEDIA_AUDIO/VIDEO), time, bytes, flags.
        public internal(set) var frames: [(kind: Int32, time: UInt32, bytes: [UInt8], flags: UInt32)] = []
        /// Data messages pushed, with their format.
        public internal(set) var data: [(format: Int32, bytes: [UInt8])] = []
        public internal(set) var metadata: [MonaValue]?
        public internal(set) var flushes = 0
        public internal(set) var unpublished = false

        init(handle: mona_handle, name: String, client: mona_handle) {
            self.handle = handle
            self.name = name
            self.client = client
        }
    }

    /// A subscription the plugin made (`subscribe`): push media to it with `sink…`.
    public final class Subscription {
        public let handle: mona_handle
        public let client: mona_handle
        public let name: String
        public let query: String
        let context: UnsafeMutableRawPointer?
        /// Options set with `sub_set_option`, decoded.
        public internal(set) var options: [String: [MonaValue]] = [:]
        public internal(set) var ended = false

        init(handle: mona_handle, client: mona_handle, name: String, query: String, context: UnsafeMutableRawPointer?) {
            self.handle = handle
            self.client = client
            self.name = name
            self.query = query
            self.context = context
        }
    }

    // MARK: driving writers (what Lua's client.writer does)

    /// writer:writeInvocation(name, args...).
    @discardableResult
    public func writerInvoke(_ writer: mona_handle, _ name: String, _ args: [MonaValue]) -> Int32 {
        guard let record = writers[writer], let invoke = entry.writer_invoke else { return MONA_E_UNSUPPORTED }
        let mvs = MVSWriter.encode(args)
        return drive {
            name.withCString { text in
                mvs.withUnsafeBufferPointer { invoke(instance, record.context, text, name.utf8.count, $0.baseAddress, $0.count) }
            }
        }
    }

    /// writer:writeMessage(args...) (response 0), or the late answer of a pending call (response = token,
    /// or -token for a failure whose args are one STRING).
    @discardableResult
    public func writerMessage(_ writer: mona_handle, response: Int32 = 0, _ args: [MonaValue]) -> Int32 {
        guard let record = writers[writer], let message = entry.writer_message else { return MONA_E_UNSUPPORTED }
        let mvs = MVSWriter.encode(args)
        return drive { mvs.withUnsafeBufferPointer { message(instance, record.context, response, $0.baseAddress, $0.count) } }
    }

    /// writer:writeRaw(bytes).
    @discardableResult
    public func writerRaw(_ writer: mona_handle, _ bytes: [UInt8]) -> Int32 {
        guard let record = writers[writer], let raw = entry.writer_raw else { return MONA_E_UNSUPPORTED }
        return drive { bytes.withUnsafeBufferPointer { raw(instance, record.context, $0.baseAddress, $0.count) } }
    }

    /// writer:close(code).
    @discardableResult
    public func writerClose(_ writer: mona_handle, code: Int32 = 0) -> Int32 {
        guard let record = writers[writer], let close = entry.writer_close else { return MONA_E_UNSUPPORTED }
        return drive { close(instance, record.context, code) }
    }

    /// The host forgets a client (it closed): its writers are released, as after client_close.
    func release(client: Client) {
        client.closed = true
        for writer in writers.values.sorted(by: { $0.handle < $1.handle }) where writer.client == client.handle && !writer.released {
            writer.released = true
            deferred.append { [unowned self] in entry.writer_released?(instance, writer.context) }
        }
        for subscription in subscriptions.values where subscription.client == client.handle && !subscription.ended {
            end(subscription)
        }
        for publication in publications.values where publication.client == client.handle { publication.unpublished = true }
    }

    // MARK: driving sinks (what the media model pushes)

    /// The publication starts for this subscriber (sink_start).
    @discardableResult
    public func sinkStart(_ subscription: Subscription) -> Int32 {
        drive { subscription.name.withCString { entry.sink_start?(instance, subscription.context, $0, subscription.name.utf8.count) ?? MONA_OK } }
    }

    /// One frame for this subscriber: sink_frame when the plugin has it (with `serial`), else
    /// sink_audio/sink_video.
    @discardableResult
    public func sinkFrame(_ subscription: Subscription, kind: Int32, time: UInt32, _ bytes: [UInt8], flags: UInt32 = 0,
                          serial: UInt64 = 0) -> Int32 {
        drive {
            bytes.withUnsafeBufferPointer { buffer in
                if let frameSink = entry.sink_frame {
                    var frame = mona_media_frame(abi_version: MONA_ABI_VERSION, struct_size: UInt32(MemoryLayout<mona_media_frame>.size),
                                                 kind: kind, flags: flags, time_ms: time, data: buffer.baseAddress,
                                                 size: buffer.count, serial: serial)
                    return frameSink(instance, subscription.context, &frame)
                }
                let sink = kind == MONA_MEDIA_AUDIO ? entry.sink_audio : entry.sink_video
                return sink?(instance, subscription.context, time, buffer.baseAddress, buffer.count, flags) ?? MONA_E_UNSUPPORTED
            }
        }
    }

    /// The publication's metadata for this subscriber (sink_metadata, one OBJECT in MVS).
    @discardableResult
    public func sinkMetadata(_ subscription: Subscription, _ metadata: MonaValue) -> Int32 {
        let mvs = MVSWriter.encode([metadata])
        return drive { mvs.withUnsafeBufferPointer { entry.sink_metadata?(instance, subscription.context, $0.baseAddress, $0.count) ?? MONA_E_UNSUPPORTED } }
    }

    /// A data message for this subscriber (sink_data).
    @discardableResult
    public func sinkData(_ subscription: Subscription, format: Int32, _ bytes: [UInt8]) -> Int32 {
        drive { bytes.withUnsafeBufferPointer { entry.sink_data?(instance, subscription.context, format, $0.baseAddress, $0.count) ?? MONA_E_UNSUPPORTED } }
    }

    /// The end of a batch (sink_flush).
    @discardableResult
    public func sinkFlush(_ subscription: Subscription) -> Int32 {
        drive { entry.sink_flush?(instance, subscription.context) ?? MONA_OK }
    }

    /// The publication stopped (sink_stop).
    @discardableResult
    public func sinkStop(_ subscription: Subscription) -> Int32 {
        drive { subscription.name.withCString { entry.sink_stop?(instance, subscription.context, $0, subscription.name.utf8.count) ?? MONA_OK } }
    }

    // MARK: driving publication events (ABI 1.9)

    /// A publication of `application` ("" or "/app") started (publication_started), as the media model
    /// tells every plugin whose table has it; false when the plugin's table has no such field. Add the
    /// name to `running` first: a subscribe made in the callback then starts at once.
    @discardableResult
    public func publicationStarted(application: String, name: String) -> Bool {
        guard let started = entry.publication_started else { return false }
        drive { application.withCString { path in name.withCString { started(instance, path, application.utf8.count, $0, name.utf8.count) } } }
        return true
    }

    /// The publication's publisher left (publication_ended); remove the name from `running` first (and
    /// tell its subscriptions with `sinkStop`, as the media model does before this call).
    @discardableResult
    public func publicationEnded(application: String, name: String) -> Bool {
        guard let ended = entry.publication_ended else { return false }
        drive { application.withCString { path in name.withCString { ended(instance, path, application.utf8.count, $0, name.utf8.count) } } }
        return true
    }

    /// The subscription ends (sink_released follows, as a callback of its own).
    func end(_ subscription: Subscription) {
        guard !subscription.ended else { return }
        subscription.ended = true
        deferred.append { [unowned self] in entry.sink_released?(instance, subscription.context) }
    }
}
