import MonaValues
import PluginABI

/// The instance behind a Swift plugin's C context: the plugin object, its host and its sessions.
final class PluginBox {
    let instance: any MonaPluginInstance
    let host: MonaHost
    var sessions: [mona_handle: AnyObject] = [:]

    init(_ instance: any MonaPluginInstance, host: MonaHost) {
        self.instance = instance
        self.host = host
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> PluginBox {
        Unmanaged<PluginBox>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// The live boxes by their host context (on the loop thread only): a handoff makes its box forget
    /// the connection, since no tcp_closed follows for the plugin that gave it away.
    nonisolated(unsafe) static var byContext: [OpaquePointer: Unmanaged<PluginBox>] = [:]

    /// The non-NULL session context handed to the host for a connection of this plugin.
    var sessionToken: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
}

/// True when a host's ABI version has the major this plugin was built for.
public func monaAccepts(hostABI: UInt32) -> Bool { hostABI >> 16 == MONA_ABI_VERSION >> 16 }

/// Wraps a plugin instance as the context `create` returns (retained until `destroy`).
public func monaBox(_ instance: any MonaPluginInstance, host: MonaHost) -> UnsafeMutableRawPointer {
    let box = Unmanaged.passRetained(PluginBox(instance, host: host))
    if let ctx = host.api.pointee.ctx { PluginBox.byContext[ctx] = box }
    return box.toOpaque()
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
        guard let session = box.instance.accepted(connection: connection, listener: listener, peer: peer!.pointee,
                                                  local: local!.pointee) else { return nil }
        box.sessions[connection] = session
        return box.sessionToken
    }
    table.tcp_data = { plugin, _, connection, data, size in
        let box = PluginBox.from(plugin)
        guard let session = box.sessions[connection] else { return size }
        return box.instance.received(session: session, connection: connection,
                                     bytes: UnsafeRawBufferPointer(start: data, count: size))
    }
    table.tcp_writable = { plugin, _, connection in
        let box = PluginBox.from(plugin)
        guard let session = box.sessions[connection] else { return }
        box.instance.writable(session: session, connection: connection)
    }
    table.tcp_eof = { plugin, _, connection in
        let box = PluginBox.from(plugin)
        guard let session = box.sessions[connection] else { return }
        if !box.instance.peerFinished(session: session, connection: connection) { box.host.close(connection) }
    }
    table.tcp_closed = { plugin, _, connection, reason in
        let box = PluginBox.from(plugin)
        guard let session = box.sessions.removeValue(forKey: connection) else { return }
        box.instance.closed(session: session, connection: connection, reason: reason)
    }
    table.tcp_adopted = { plugin, connection, peer, local, request, size in
        let box = PluginBox.from(plugin)
        guard let session = box.instance.adopted(connection: connection, peer: peer!.pointee, local: local!.pointee,
                                                 request: UnsafeRawBufferPointer(start: request, count: size))
        else { return nil }
        box.sessions[connection] = session
        return box.sessionToken
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
    let pointer = UnsafeMutablePointer<mona_plugin>.allocate(capacity: 1)
    pointer.initialize(to: table)
    return UnsafePointer(pointer)
}

/// UTF-8 text of a (pointer, length) pair.
private func text(_ pointer: UnsafePointer<CChar>?, _ size: Int) -> String {
    pointer.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
}
