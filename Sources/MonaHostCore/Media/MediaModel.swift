import MonaCodecs
import MonaValues
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The host's media model, shared by every protocol: publications by name, their publisher and
/// subscribers, and the relay of frames from one to the others. A late subscriber gets the metadata,
/// the audio configuration, then the video configuration right before the first key frame, on its own
/// timeline starting at 0. A subscriber whose plugin cannot keep up (a sink answers MONA_E_AGAIN) skips
/// video to the next key frame: its memory stays bounded and the others are not slowed.
/// Lua sees it all through the prelude (`mona.publications`, onPublish, onSubscribe…). On the loop.
final class MediaModel {
    unowned let host: HostRuntime
    private(set) var publications: [String: Publication] = [:]
    private var byHandle: [UInt64: Publication] = [:]
    /// The serial of the last frame pushed (every push draws the next: sink_frame.serial).
    private var frameSerial: UInt64 = 0
    private(set) var subscriptions: [UInt64: Subscription] = [:]

    init(host: HostRuntime) {
        self.host = host
    }

    /// A refusal: the MONA_E_* status, the mona_error kind and the message.
    struct Refusal: Error {
        let status: Int32
        let kind: Int32
        let message: String
    }

    private var lua: LuaRuntime? { host.lua }

    func publication(_ handle: UInt64) -> Publication? { byHandle[handle] }

    /// The publication of `name`, created (and shown to Lua) if needed.
    private func publication(named name: String) -> Publication {
        if let existing = publications[name] { return existing }
        let publication = Publication(handle: host.reactor.makeHandle(), name: name)
        publications[name] = publication
        byHandle[publication.handle] = publication
        lua?.mediaCreated(publication)
        return publication
    }

    /// Removes a publication nobody publishes nor subscribes to.
    private func collect(_ publication: Publication) {
        guard !publication.running, !publication.unpublishing, publication.subscriptions.isEmpty,
              publications[publication.name] === publication else { return }
        publications[publication.name] = nil
        byHandle[publication.handle] = nil
        lua?.mediaGone(publication)
    }

    // MARK: publishing

    /// Publishes `name` for `client` (0: the server, from Lua, without onPublish, for the script of
    /// the application `application`; a client publishes for its own).
    func publish(client: UInt64, name: String, application: String = "") throws(Refusal) -> UInt64 {
        guard let lua else { throw Refusal(status: MONA_E_CLOSED, kind: MONA_ERR_OTHER, message: "the server is stopping") }
        guard !name.isEmpty else { throw Refusal(status: MONA_E_INVAL, kind: MONA_ERR_OTHER, message: "a publication needs a name") }
        let publication = self.publication(named: name)
        guard !publication.running else {
            throw Refusal(status: MONA_E_EXISTS, kind: MONA_ERR_PERMISSION, message: "\(name) is already publishing")
        }
        if client != 0, let refusal = lua.mediaPublish(client: client, publication) {
            stopRecording(publication.handle)
            collect(publication)
            throw Refusal(status: MONA_E_REJECTED, kind: MONA_ERR_SCRIPT, message: refusal)
        }
        guard !publication.running else { // onPublish published the name itself
            throw Refusal(status: MONA_E_EXISTS, kind: MONA_ERR_PERMISSION, message: "\(name) is already publishing")
        }
        publication.reset()
        publication.publisher = client
        publication.application = client != 0 ? lua.clients[client]?.path ?? "" : application
        for subscription in publication.subscriptions { start(subscription) }
        if client != 0, publication.recorder == nil, let file = recordingFile(application: publication.application, name: name) {
            _ = record(publication.handle, path: file)
        }
        announce(publication, \.publication_started)
        return publication.handle
    }

    /// Ends the current publisher's run: onUnpublish, subscribers are told, caches are dropped.
    func unpublish(_ handle: UInt64) -> Int32 {
        guard let publication = byHandle[handle], let client = publication.publisher else { return MONA_E_INVAL }
        publication.publisher = nil
        stopRecording(handle)
        for subscription in publication.subscriptions {
            if subscription.started { _ = sink(subscription) { $0.sink_stop?($1, $2, publication.name, publication.name.utf8.count) } }
            subscription.restart()
        }
        publication.reset()
        // Kept (for onUnpublish) even if a plugin told of the end drops the last subscription.
        publication.unpublishing = true
        announce(publication, \.publication_ended)
        // Lua last: onUnpublish may publish the name again (a fallback stream) on a consistent state.
        if client != 0 { lua?.mediaUnpublish(client: client, publication) }
        publication.unpublishing = false
        if !publication.running { lua?.mediaProperties(publication) }
        collect(publication)
        return MONA_OK
    }

    /// Tells the started plugins that want it (ABI 1.9: publication_started or publication_ended, NULL
    /// beyond a shorter table) that the publication started or ended, in load order.
    private func announce(_ publication: Publication,
                          _ event: KeyPath<mona_plugin, (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int,
                                                                         UnsafePointer<CChar>?, Int) -> Void)?>) {
        let (application, name) = (publication.application, publication.name)
        for plugin in host.plugins where plugin.state == .started {
            guard let call = plugin.entry[keyPath: event] else { continue }
            application.withCString { path in
                name.withCString { call(plugin.instance, path, application.utf8.count, $0, name.utf8.count) }
            }
        }
    }

    /// One audio or video frame from the publisher. `flags` (MONA_MEDIA_*) add to what the host reads in
    /// the FLV tag itself: a frame flagged CONFIG is cached as the codec configuration, one flagged KEY
    /// starts a subscriber waiting for a key frame, RELIABLE is passed on; other bits are ignored.
    func push(_ handle: UInt64, video: Bool, time: UInt32, data: UnsafeRawBufferPointer, flags: UInt32 = 0) -> Int32 {
        guard let publication = byHandle[handle], publication.running else { return MONA_E_INVAL }
        let now = LuaNatives.nowMs()
        frameSerial &+= 1
        let serial = frameSerial
        publication.lastTime = time
        let known = MONA_MEDIA_RELIABLE | MONA_MEDIA_CONFIG | (video ? MONA_MEDIA_KEY : 0)
        var frameFlags = (video ? FLVTag.videoFlags(data) : FLVTag.audioFlags(data)) | (flags & known)
        if frameFlags & MONA_MEDIA_CONFIG != 0, video { frameFlags |= MONA_MEDIA_KEY }
        if frameFlags & (MONA_MEDIA_CONFIG | MONA_MEDIA_KEY) != 0 { frameFlags |= MONA_MEDIA_RELIABLE } // as the host's own
        let isConfig = frameFlags & MONA_MEDIA_CONFIG != 0
        if isConfig {
            if video { publication.videoConfig = Array(data) } else { publication.audioConfig = Array(data) }
        }
        (video ? publication.videoQoS : publication.audioQoS).count(data.count, now: now)
        publication.recorder?.frame(video: video, time: time, data: data, flags: frameFlags)
        if !publication.hooks.isEmpty, publication.hooks.contains(video ? "onVideo" : "onAudio") {
            lua?.mediaHook(publication, video ? "onVideo" : "onAudio", time: time, packet: data)
        }
        for subscription in publication.subscriptions where subscription.started {
            if video {
                deliverVideo(subscription, time: time, data: data, serial: serial, flags: frameFlags, now: now)
            } else {
                deliverAudio(subscription, time: time, data: data, serial: serial, flags: frameFlags, now: now)
            }
        }
        return MONA_OK
    }

    /// A data message in `format`: `@setDataFrame` sets the metadata, `@clearDataFrame` clears it,
    /// anything else goes to the subscribers (and Lua's onData). MVS that does not decode and an unknown
    /// format are refused with MONA_E_INVAL (`refused` gets the reason); AMF, JSON or XML-RPC the host
    /// cannot read is still relayed, the Lua hook seeing no values.
    func pushData(_ handle: UInt64, format: Int32, data: [UInt8], refused: (String) -> Void = { _ in }) -> Int32 {
        guard let publication = byHandle[handle], publication.running else { return MONA_E_INVAL }
        let values: [MonaValue]
        switch format {
        case MONA_FORMAT_AMF0, MONA_FORMAT_AMF3:
            values = (try? AMF.decode(data)) ?? []
        case MONA_FORMAT_JSON:
            values = (try? JSON.decode(data)) ?? []
        case MONA_FORMAT_MVS:
            do {
                values = try MVSReader.decode(data)
            } catch {
                refused("malformed MVS data (\(data.count) bytes): \(error)")
                return MONA_E_INVAL
            }
        case MONA_FORMAT_RAW, MONA_FORMAT_XMLRPC, MONA_FORMAT_QUERY:
            values = [.bytes(data)]
        default:
            refused("unknown format \(format)")
            return MONA_E_INVAL
        }
        if case .string("@setDataFrame")? = values.first {
            let rest = values.dropFirst()
            let object = rest.first { if case .string = $0 { return false } else { return true } }
            return setMetadata(handle, object.map(Self.object) ?? .object(type: "", fields: []))
        }
        if case .string("@clearDataFrame")? = values.first { return clearMetadata(handle) }
        let now = LuaNatives.nowMs()
        publication.dataQoS.count(data.count, now: now)
        if !publication.hooks.isEmpty, publication.hooks.contains("onData") { lua?.mediaHook(publication, "onData", values) }
        for subscription in publication.subscriptions where subscription.started {
            subscription.dataQoS.count(data.count, now: now)
            _ = sink(subscription) { entry, instance, sink in
                data.withUnsafeBufferPointer { entry.sink_data?(instance, sink, format, $0.baseAddress, $0.count) }
            }
        }
        return MONA_OK
    }

    /// Metadata as an OBJECT: an AMF0 ECMA array (mixed) or an array become fields.
    static func object(_ value: MonaValue) -> MonaValue {
        switch value {
        case .object(_, let fields): return .object(type: "", fields: fields)
        case .mixed(let dense, let fields):
            return .object(type: "", fields: dense.enumerated().map { MonaField(String($0.offset + 1), $0.element) } + fields)
        case .array(let items): return .object(type: "", fields: items.enumerated().map { MonaField(String($0.offset + 1), $0.element) })
        default: return .object(type: "", fields: [])
        }
    }

    func setMetadata(_ handle: UInt64, _ metadata: MonaValue) -> Int32 {
        guard let publication = byHandle[handle], publication.running else { return MONA_E_INVAL }
        publication.metadata = Self.object(metadata)
        publication.recorder?.metadata(publication.metadata!)
        let mvs = MVSWriter.encode([publication.metadata!])
        for subscription in publication.subscriptions where subscription.started {
            _ = sink(subscription) { entry, instance, sink in
                mvs.withUnsafeBufferPointer { entry.sink_metadata?(instance, sink, $0.baseAddress, $0.count) }
            }
        }
        lua?.mediaProperties(publication)
        return MONA_OK
    }

    func clearMetadata(_ handle: UInt64) -> Int32 {
        guard let publication = byHandle[handle], publication.running else { return MONA_E_INVAL }
        publication.metadata = nil
        lua?.mediaProperties(publication)
        return MONA_OK
    }

    /// The end of a batch: every subscriber writes once.
    func flush(_ handle: UInt64) -> Int32 {
        guard let publication = byHandle[handle] else { return MONA_E_INVAL }
        for subscription in publication.subscriptions where subscription.started {
            _ = sink(subscription) { $0.sink_flush?($1, $2) }
        }
        if !publication.hooks.isEmpty, publication.hooks.contains("onFlush") { lua?.mediaHook(publication, "onFlush", []) }
        return MONA_OK
    }

    // MARK: recording

    /// Records a publication into `path` (absolute, or relative to `recording.folder`, itself relative
    /// to the server's folder: `data` by default; ".." is refused), replacing a recording that runs;
    /// in onPublish, from the publisher's first frame. The recording ends with the publisher. Nil, or why not.
    func record(_ handle: UInt64, path: String) -> String? {
        guard Recorder.format(of: path) != nil else { return "a recording is a .flv or .mp4 file" }
        guard !path.split(separator: "/").contains("..") else { return "a recording path has no \"..\"" }
        guard let publication = byHandle[handle] else { return "no such publication" }
        let full = path.hasPrefix("/") ? path : host.layout.resolve(host.config["recording.folder"] ?? "data") + "/" + path
        stopRecording(handle)
        let runtime = host
        publication.recorder = Recorder(path: full, metadata: publication.metadata, audioConfig: publication.audioConfig,
                                        videoConfig: publication.videoConfig) { error, message in
            runtime.log(error ? .error : .info, "recording \(message)")
        }
        host.log(.info, "recording \(publication.name) into \(full)")
        return nil
    }

    /// Ends the recording of a publication, if one runs.
    func stopRecording(_ handle: UInt64) {
        guard let publication = byHandle[handle], let recorder = publication.recorder else { return }
        publication.recorder = nil
        recorder.stop()
    }

    /// The server stops: every recording ends, its file complete when this returns (the only wait for
    /// a recording's queue, once the loop has nothing else to do).
    func finishRecordings() {
        for publication in byHandle.values {
            guard let recorder = publication.recorder else { continue }
            publication.recorder = nil
            recorder.stop()
            recorder.waitUntilWritten()
        }
    }

    /// The file `[recording]` asks for a publication of `application` ("" or "/app"): `apps` lists the
    /// applications whose publications are all recorded ("/live, /tv"; "/" for the root), `format` is
    /// flv or mp4 (the default); files are `<name>-<UTC date and time>.<format>` in `folder`.
    func recordingFile(application: String, name: String) -> String? {
        guard let apps = host.config["recording.apps"] else { return nil }
        let asked = application.isEmpty ? "/" : application
        guard apps.split(separator: ",").contains(where: { $0.filter { $0 != " " } == asked }) else { return nil }
        let format = host.config["recording.format"]?.lowercased() == "flv" ? "flv" : "mp4"
        var seconds = time_t(Int(LuaNatives.nowMs() / 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let stamp = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))-\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
        let safe = name.map { $0 == "/" || $0 == "\\" ? "_" : $0 }
        return "\(String(safe))-\(stamp).\(format)"
    }

    // MARK: subscribing

    /// Subscribes `client` of `plugin` to `name`; onSubscribe may refuse.
    func subscribe(plugin: LoadedPlugin, client: UInt64, name: String, query: String,
                   sink: UnsafeMutableRawPointer?) throws(Refusal) -> UInt64 {
        guard let lua else { throw Refusal(status: MONA_E_CLOSED, kind: MONA_ERR_OTHER, message: "the server is stopping") }
        guard !name.isEmpty else { throw Refusal(status: MONA_E_INVAL, kind: MONA_ERR_OTHER, message: "a publication needs a name") }
        let publication = self.publication(named: name)
        guard !publication.subscriptions.contains(where: { $0.client == client }) else {
            throw Refusal(status: MONA_E_EXISTS, kind: MONA_ERR_PERMISSION, message: "\(name) is already played by this client")
        }
        let subscription = Subscription(handle: host.reactor.makeHandle(), client: client, plugin: plugin, sink: sink,
                                        publication: publication)
        // Known before onSubscribe, which may set listener.receiveAudio/receiveVideo; no frame reaches it
        // until it joins the publication's subscribers below.
        subscriptions[subscription.handle] = subscription
        if let refusal = lua.mediaSubscribe(subscription, query: query) {
            subscriptions[subscription.handle] = nil
            subscription.released = true
            collect(publication)
            throw Refusal(status: MONA_E_REJECTED, kind: MONA_ERR_SCRIPT, message: refusal)
        }
        publication.subscriptions.append(subscription)
        if publication.running { start(subscription) }
        return subscription.handle
    }

    /// Ends a subscription: onUnsubscribe, then sink_released.
    func unsubscribe(_ handle: UInt64) -> Int32 {
        guard let subscription = subscriptions.removeValue(forKey: handle) else { return MONA_E_INVAL }
        let publication = subscription.publication
        publication.subscriptions.removeAll { $0 === subscription }
        subscription.released = true // a delivery loop still holding it must not call its sink again
        lua?.mediaUnsubscribe(subscription)
        if subscription.plugin.isLive { subscription.plugin.entry.sink_released?(subscription.plugin.instance, subscription.sink) }
        collect(publication)
        return MONA_OK
    }

    func setOption(_ handle: UInt64, key: String, value: MonaValue) -> Int32 {
        guard let subscription = subscriptions[handle] else { return MONA_E_INVAL }
        switch (key, value) {
        case ("receiveAudio", .boolean(let on)): subscription.receiveAudio = on
        case ("receiveVideo", .boolean(let on)):
            if on, !subscription.receiveVideo { subscription.waitingKeyFrame = true }
            subscription.receiveVideo = on
        case ("bufferTime", .number(let ms)): subscription.bufferTime = ms
        default: return MONA_E_INVAL
        }
        return MONA_OK
    }

    /// A client leaves: its publications end and its subscriptions too (what its plugin did not close).
    func clientClosed(_ client: UInt64) {
        for publication in Array(byHandle.values) where publication.publisher == client && client != 0 { _ = unpublish(publication.handle) }
        for subscription in Array(subscriptions.values) where subscription.client == client { _ = unsubscribe(subscription.handle) }
    }

    // MARK: delivery

    /// Calls a sink entry of the subscription's plugin with (entry, instance, sink context).
    private func sink(_ subscription: Subscription,
                      _ call: (mona_plugin, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32?) -> Int32 {
        guard !subscription.released, subscription.plugin.isLive else { return MONA_E_CLOSED }
        return call(subscription.plugin.entry, subscription.plugin.instance, subscription.sink) ?? MONA_E_UNSUPPORTED
    }

    /// The publication runs: the subscriber learns it, then gets the metadata.
    private func start(_ subscription: Subscription) {
        let publication = subscription.publication
        subscription.restart()
        subscription.started = true
        _ = sink(subscription) { $0.sink_start?($1, $2, publication.name, publication.name.utf8.count) }
        if let metadata = publication.metadata {
            let mvs = MVSWriter.encode([metadata])
            _ = sink(subscription) { entry, instance, sink in
                mvs.withUnsafeBufferPointer { entry.sink_metadata?(instance, sink, $0.baseAddress, $0.count) }
            }
        }
    }

    /// The first media of a run: the timeline starts, the audio configuration goes first.
    private func bootstrap(_ subscription: Subscription, time: UInt32) {
        subscription.begin(at: time)
        if let config = subscription.publication.audioConfig, subscription.receiveAudio {
            _ = config.withUnsafeBytes { send(subscription, video: false, time: time, data: $0, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_RELIABLE) }
        }
    }

    private func deliverAudio(_ subscription: Subscription, time: UInt32, data: UnsafeRawBufferPointer, serial: UInt64,
                              flags: UInt32, now: Double) {
        let isConfig = flags & MONA_MEDIA_CONFIG != 0
        if isConfig && !subscription.bootstrapped { return } // sent by the bootstrap
        guard subscription.receiveAudio || isConfig else { return }
        if !subscription.bootstrapped { bootstrap(subscription, time: time) }
        let status = send(subscription, video: false, time: time, data: data, flags: flags, serial: serial)
        if status == MONA_E_AGAIN { subscription.publication.droppedFrames += 1 } else { subscription.audioQoS.count(data.count, now: now) }
    }

    private func deliverVideo(_ subscription: Subscription, time: UInt32, data: UnsafeRawBufferPointer, serial: UInt64,
                              flags: UInt32, now: Double) {
        let isConfig = flags & MONA_MEDIA_CONFIG != 0
        if isConfig && subscription.waitingKeyFrame { return } // sent right before the key frame
        guard subscription.receiveVideo || isConfig else { return }
        if subscription.waitingKeyFrame {
            guard flags & MONA_MEDIA_KEY != 0 else {
                subscription.publication.droppedFrames += 1
                return
            }
            if !subscription.bootstrapped { bootstrap(subscription, time: time) }
            if let config = subscription.publication.videoConfig {
                _ = config.withUnsafeBytes {
                    send(subscription, video: true, time: time, data: $0, flags: MONA_MEDIA_CONFIG | MONA_MEDIA_KEY | MONA_MEDIA_RELIABLE)
                }
            }
            subscription.waitingKeyFrame = false
        }
        // (Bootstrapped by now: a run starts waiting for a key frame.)
        let status = send(subscription, video: true, time: time, data: data, flags: flags, serial: serial)
        if status == MONA_E_AGAIN {
            subscription.waitingKeyFrame = true
            subscription.publication.droppedFrames += 1
        } else {
            subscription.videoQoS.count(data.count, now: now)
        }
    }

    /// One frame to a subscriber's sink at the subscriber's time of `time`; `serial` is the pushed
    /// frame's (0: this subscriber's own, e.g. a cached configuration).
    @discardableResult
    private func send(_ subscription: Subscription, video: Bool, time: UInt32, data: UnsafeRawBufferPointer, flags: UInt32,
                      serial: UInt64 = 0) -> Int32 {
        sink(subscription) { entry, instance, sink in
            let frame = data.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let time = subscription.rebase(time)
            if let sinkFrame = entry.sink_frame {
                var media = mona_media_frame(abi_version: MONA_ABI_VERSION, struct_size: UInt32(MemoryLayout<mona_media_frame>.size),
                                             kind: video ? MONA_MEDIA_VIDEO : MONA_MEDIA_AUDIO, flags: flags, time_ms: time,
                                             data: frame, size: data.count, serial: serial)
                return sinkFrame(instance, sink, &media)
            }
            return video ? entry.sink_video?(instance, sink, time, frame, data.count, flags)
                : entry.sink_audio?(instance, sink, time, frame, data.count, flags)
        }
    }
}
