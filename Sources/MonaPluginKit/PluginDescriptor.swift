import MonaValues
import PluginABI

/// The instance behind a Swift plugin's C context: the plugin object and its host. A session object is
/// itself the session context handed to the host (retained from tcp_accepted or tcp_adopted until
/// tcp_closed or a handoff), so every callback finds it from the pointer the host passes back.
class PluginBox {
    let instance: any MonaPluginInstance
    let host: MonaHost
    /// The session contexts by connection, only to release them when a handoff ends one without tcp_closed.
    private var contexts: [mona_handle: UnsafeMutableRawPointer] = [:]

    init(_ instance: any MonaPluginInstance, host: MonaHost) {
        self.instance = instance
        self.host = host
    }

    /// Retains `session` as the context of `connection`.
    func adopt(_ session: AnyObject, connection: mona_handle) -> UnsafeMutableRawPointer {
        let context = Unmanaged.passRetained(session).toOpaque()
        contexts[connection] = context
        return context
    }

    /// Releases the context of `connection` (tcp_closed, or handed to another plugin).
    func forget(_ connection: mona_handle) {
        contexts.removeValue(forKey: connection).map { Unmanaged<AnyObject>.fromOpaque($0).release() }
    }

    // The TCP callbacks, with the session context; a SessionPluginBox gives them typed sessions.
    func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject? {
        instance.accepted(connection: connection, listener: listener, peer: peer, local: local)
    }

    func adopted(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> AnyObject? {
        instance.adopted(connection: connection, peer: peer, local: local, request: request)
    }

    func received(_ context: UnsafeMutableRawPointer, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int {
        instance.received(session: Self.object(context), connection: connection, bytes: bytes)
    }

    func writable(_ context: UnsafeMutableRawPointer, connection: mona_handle) {
        instance.writable(session: Self.object(context), connection: connection)
    }

    func peerFinished(_ context: UnsafeMutableRawPointer, connection: mona_handle) -> Bool {
        instance.peerFinished(session: Self.object(context), connection: connection)
    }

    func closed(_ context: UnsafeMutableRawPointer, connection: mona_handle, reason: Int32) {
        instance.closed(session: Self.object(context), connection: connection, reason: reason)
    }

    private static func object(_ context: UnsafeMutableRawPointer) -> AnyObject {
        Unmanaged<AnyObject>.fromOpaque(context).takeUnretainedValue()
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> PluginBox {
        Unmanaged<PluginBox>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// The live boxes by their host context (on the loop thread only): a handoff makes its box forget
    /// the connection, since no tcp_closed follows for the plugin that gave it away.
    nonisolated(unsafe) static var byContext: [OpaquePointer: Unmanaged<PluginBox>] = [:]

}

/// True when a host's ABI version has the major this plugin was built for.
public func monaAccepts(hostABI: UInt32) -> Bool { hostABI >> 16 == MONA_ABI_VERSION >> 16 }

/// Wraps a plugin instance as the context `create` returns (retained until `destroy`).
/// A `MonaSessionPlugin` gets typed sessions.
public func monaBox(_ instance: any MonaPluginInstance, host: MonaHost) -> UnsafeMutableRawPointer {
    if let sessions = instance as? any MonaSessionPlugin { return monaRegister(sessionBox(sessions, host: host)) }
    return monaRegister(PluginBox(instance, host: host))
}

/// Retains `box` until `destroy` and records it by its host context.
func monaRegister(_ box: PluginBox) -> UnsafeMutableRawPointer {
    let retained = Unmanaged.passRetained(box)
    if let ctx = box.host.api.pointee.ctx { PluginBox.byContext[ctx] = retained }
    return retained.toOpaque()
}

/// Builds the static `mona_plugin` table of a Swift plugin. `create` is the plugin's own C-compatible
/// factory (a closure that captures nothing), typically `{ api, section in monaBox(MyPlugin(...), host: ...) }`;
/// every other entry point is the kit's, forwarding to `MonaPluginInstance`.
public func monaMakeDescriptor(
    name: StaticString, version: StaticString,
    create: @escaping @convention(c) (UnsafePointer<mona_host_api>?, UnsafePointer<CChar>?) -> UnsafeMutableRawPointer?
) -> UnsafePointer<mona_plugin> {
    var table = mona_plugin()
    table.abi_version = MONA_ABI_VERSION
    table.struct_size = UInt32(MemoryLayout<mona_plugin>.size)
    table.name = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
    table.version = UnsafeRawPointer(version.utf8Start).assumingMemoryBound(to: CChar.self)
    table.create = create
    table.start = { PluginBox.from($0).instance.start() }
    table.stop = { PluginBox.from($0).instance.stop() }
    table.destroy = { pointer in
        let box = Unmanaged<PluginBox>.fromOpaque(pointer!)
        if let ctx = box.takeUnretainedValue().host.api.pointee.ctx { PluginBox.byContext[ctx] = nil }
        box.release()
    }
    table.tcp_accepted = { plugin, listener, connection, peer, local in
        let box = PluginBox.from(plugin)
        guard let session = box.accepted(connection: connection, listener: listener, peer: peer!.pointee, local: local!.pointee)
        else { return nil }
        return box.adopt(session, connection: connection)
    }
    table.tcp_data = { plugin, session, connection, data, size in
        guard let session else { return size }
        return PluginBox.from(plugin).received(session, connection: connection, bytes: UnsafeRawBufferPointer(start: data, count: size))
    }
    table.tcp_writable = { plugin, session, connection in
        guard let session else { return }
        PluginBox.from(plugin).writable(session, connection: connection)
    }
    table.tcp_eof = { plugin, session, connection in
        guard let session else { return }
        let box = PluginBox.from(plugin)
        if !box.peerFinished(session, connection: connection) { box.host.close(connection) }
    }
    table.tcp_closed = { plugin, session, connection, reason in
        guard let session else { return }
        let box = PluginBox.from(plugin)
        let retained = Unmanaged<AnyObject>.fromOpaque(session).retain() // alive through the call
        box.forget(connection)
        box.closed(session, connection: connection, reason: reason)
        retained.release()
    }
    table.tcp_adopted = { plugin, connection, peer, local, request, size in
        let box = PluginBox.from(plugin)
        guard let session = box.adopted(connection: connection, peer: peer!.pointee, local: local!.pointee,
                                        request: UnsafeRawBufferPointer(start: request, count: size))
        else { return nil }
        return box.adopt(session, connection: connection)
    }
    table.udp_datagram = { plugin, socket, udp, from, data, size in
        PluginBox.from(plugin).instance.datagram(socket: socket, udp: udp, from: from!.pointee,
                                                 bytes: UnsafeRawBufferPointer(start: data, count: size))
    }
    table.timer_fired = { plugin, context, timer in
        PluginBox.from(plugin).instance.timerFired(context: context, timer: timer)
    }
    table.writer_invoke = { plugin, writer, name, nameSize, args, size in
        let text = name.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: nameSize), as: UTF8.self) } ?? ""
        let values = (try? MVSReader.decode(Array(UnsafeBufferPointer(start: args, count: args == nil ? 0 : size)))) ?? []
        return PluginBox.from(plugin).instance.writerInvoke(writer: writer, name: text, args: values)
    }
    table.writer_message = { plugin, writer, response, args, size in
        let values = (try? MVSReader.decode(Array(UnsafeBufferPointer(start: args, count: args == nil ? 0 : size)))) ?? []
        return PluginBox.from(plugin).instance.writerMessage(writer: writer, response: response, args: values)
    }
    table.writer_raw = { plugin, writer, data, size in
        PluginBox.from(plugin).instance.writerRaw(writer: writer, bytes: UnsafeRawBufferPointer(start: data, count: size))
    }
    table.writer_flush = { _, _, _ in MONA_OK }
    table.work_done = { plugin, context in PluginBox.from(plugin).instance.workDone(context: context) }
    table.writer_close = { plugin, writer, code in PluginBox.from(plugin).instance.writerClose(writer: writer, code: code) }
    table.writer_set_reliable = { plugin, writer, reliable in
        PluginBox.from(plugin).instance.writerSetReliable(writer: writer, reliable: reliable != 0)
    }
    table.writer_released = { plugin, writer in PluginBox.from(plugin).instance.writerReleased(writer: writer) }
    table.writer_set_property = { plugin, writer, key, keySize, args, size in
        let text = key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: keySize), as: UTF8.self) } ?? ""
        guard let values = try? MVSReader.decode(Array(UnsafeBufferPointer(start: args, count: args == nil ? 0 : size))) else {
            return MONA_E_INVAL
        }
        return PluginBox.from(plugin).instance.writerSetProperty(writer: writer, key: text, args: values)
    }
    table.sink_start = { plugin, sink, name, size in
        PluginBox.from(plugin).instance.sinkStart(sink: sink, name: text(name, size))
    }
    table.sink_stop = { plugin, sink, name, size in
        PluginBox.from(plugin).instance.sinkStop(sink: sink, name: text(name, size))
    }
    table.sink_metadata = { plugin, sink, mvs, size in
        guard let value = (try? MVSReader.decode(Array(UnsafeBufferPointer(start: mvs, count: mvs == nil ? 0 : size))))?.first else {
            return MONA_E_INVAL
        }
        return PluginBox.from(plugin).instance.sinkMetadata(sink: sink, metadata: value)
    }
    table.sink_audio = { plugin, sink, time, data, size, flags in
        PluginBox.from(plugin).instance.sinkAudio(sink: sink, time: time, bytes: UnsafeRawBufferPointer(start: data, count: size), flags: flags)
    }
    table.sink_video = { plugin, sink, time, data, size, flags in
        PluginBox.from(plugin).instance.sinkVideo(sink: sink, time: time, bytes: UnsafeRawBufferPointer(start: data, count: size), flags: flags)
    }
    table.sink_frame = { plugin, sink, frame in
        guard let frame = frame?.pointee else { return MONA_E_INVAL }
        return PluginBox.from(plugin).instance.sinkFrame(sink: sink, video: frame.kind == MONA_MEDIA_VIDEO, time: frame.time_ms,
                                                         bytes: UnsafeRawBufferPointer(start: frame.data, count: frame.size),
                                                         flags: frame.flags, serial: frame.serial)
    }
    table.sink_data = { plugin, sink, format, data, size in
        PluginBox.from(plugin).instance.sinkData(sink: sink, format: format, bytes: UnsafeRawBufferPointer(start: data, count: size))
    }
    table.sink_flush = { plugin, sink in PluginBox.from(plugin).instance.sinkFlush(sink: sink) }
    table.sink_released = { plugin, sink in PluginBox.from(plugin).instance.sinkReleased(sink: sink) }
    table.publication_started = { plugin, path, pathSize, name, nameSize in
        PluginBox.from(plugin).instance.publicationStarted(application: text(path, pathSize), name: text(name, nameSize))
    }
    table.publication_ended = { plugin, path, pathSize, name, nameSize in
        PluginBox.from(plugin).instance.publicationEnded(application: text(path, pathSize), name: text(name, nameSize))
    }
    let pointer = UnsafeMutablePointer<mona_plugin>.allocate(capacity: 1)
    pointer.initialize(to: table)
    return UnsafePointer(pointer)
}

/// UTF-8 text of a (pointer, length) pair.
private func text(_ pointer: UnsafePointer<CChar>?, _ size: Int) -> String {
    pointer.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
}
