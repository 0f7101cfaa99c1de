import NIOCore
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection and the plugin session it feeds.
///
/// Input the plugin leaves unconsumed is kept and passed again with the next bytes. Output is counted
/// until NIO reports it written, which is the back-pressure figure `tcp_send` returns.
final class TCPConnection: @unchecked Sendable {
    let handle: UInt64
    /// The plugin that receives the callbacks (changes on handoff).
    unowned var owner: LoadedPlugin
    let channel: Channel
    unowned let reactor: Reactor
    let listenerContext: UnsafeMutableRawPointer?
    /// The plugin's session context; nil until accepted or adopted.
    var session: UnsafeMutableRawPointer?
    /// True once the owner accepted the connection (it then gets tcp_closed).
    var accepted = false
    /// Bytes the owner left unconsumed.
    var input: ByteBuffer?
    /// A tcp_send returned a non-zero queue: tell the owner when it drains.
    var wantsWritable = false
    /// Inside a tcp_data callback (handoffs wait for it to return).
    var dispatching = false
    /// A handoff requested from inside tcp_data.
    var pendingHandoff: (target: LoadedPlugin, bytes: [UInt8], request: [UInt8])?
    /// Why the connection ends, once known (MONA_CLOSED_*).
    var closeReason: Int32?
    /// The plugin asked to close: further input is ignored.
    var closing = false
    var outputClosed = false
    private(set) var peer = mona_addr.none
    private(set) var local = mona_addr.none

    init(handle: UInt64, owner: LoadedPlugin, channel: Channel, reactor: Reactor,
         listenerContext: UnsafeMutableRawPointer?) {
        self.handle = handle
        self.owner = owner
        self.channel = channel
        self.reactor = reactor
        self.listenerContext = listenerContext
    }

    // MARK: events from the channel handler

    func becameActive() {
        peer = mona_addr(channel.remoteAddress)
        local = mona_addr(channel.localAddress)
        reactor.connections[handle] = self
        let plugin = owner
        if let ip = channel.remoteAddress?.ipAddress, reactor.runtime.blacklist.contains(ip) {
            reactor.runtime.log(.info, "Data rejected because client \(ip) is banned")
            closing = true
            channel.close(promise: nil)
            return
        }
        guard plugin.isLive, let accept = plugin.entry.tcp_accepted else {
            closing = true
            channel.close(promise: nil)
            return
        }
        session = accept(plugin.instance, listenerContext, handle, &peer, &local)
        if session == nil {
            closing = true
            channel.close(promise: nil)
            return
        }
        accepted = true
    }

    func received(_ buffer: inout ByteBuffer) {
        guard accepted, !closing else { return }
        if var pending = input {
            input = nil
            pending.writeBuffer(&buffer)
            dispatch(pending)
        } else {
            dispatch(buffer)
        }
    }

    func peerFinished() {
        guard accepted, !closing else { return }
        let plugin = owner
        if let eof = plugin.entry.tcp_eof {
            eof(plugin.instance, session, handle)
        } else {
            close(how: MONA_CLOSE_GRACEFUL)
        }
    }

    func failed(_ error: Error) {
        if closeReason == nil { closeReason = MONA_CLOSED_ERROR }
        reactor.runtime.log(.debug, "\(owner.section): connection \(peer.description) failed: \(error)")
        channel.close(promise: nil)
    }

    /// The channel is gone: the owner hears tcp_closed as a callback of its own.
    func becameInactive() {
        reactor.connections[handle] = nil
        guard accepted else { return }
        accepted = false
        let reason = closeReason ?? MONA_CLOSED_BY_PEER
        reactor.loop.execute { [self] in
            let plugin = owner
            guard plugin.isLive || plugin.state == .stopped else { return }
            plugin.entry.tcp_closed?(plugin.instance, session, handle, reason)
            session = nil
        }
    }

    // MARK: input dispatch

    private func dispatch(_ data: ByteBuffer) {
        var data = data
        let plugin = owner
        guard let onData = plugin.entry.tcp_data else { return }
        dispatching = true
        let consumed = data.withUnsafeReadableBytes { raw in
            onData(plugin.instance, session, handle, raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        dispatching = false
        if let handoff = pendingHandoff {
            pendingHandoff = nil
            perform(handoff: handoff)
            return
        }
        guard accepted, !closing else { return }
        data.moveReaderIndex(forwardBy: min(consumed, data.readableBytes))
        guard data.readableBytes > 0 else { return }
        if data.readableBytes > Int(MONA_TCP_MAX_UNCONSUMED) {
            reactor.runtime.log(.error, "\(plugin.section): \(peer.description) left \(data.readableBytes) bytes unconsumed, over the host's limit; connection closed")
            closeReason = MONA_CLOSED_LIMIT
            close(how: MONA_CLOSE_ABORT)
            return
        }
        if data.readerIndex > 65536 { data.discardReadBytes() }
        input = data
    }

    // MARK: host services

    func send(_ bytes: UnsafeRawBufferPointer) -> Int64 {
        guard !closing, !outputClosed, channel.isActive else { return Int64(MONA_E_CLOSED) }
        if bytes.count > 0 {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            // On the loop NIO writes at once; what the kernel did not take stays buffered.
            channel.writeAndFlush(buffer, promise: nil)
        }
        return queueAfterSend()
    }

    /// Queues parts in order: borrowed bytes are copied (into one buffer), ranges of shared buffers are
    /// written by reference. Nothing is queued when a part is invalid.
    func send(parts: UnsafeBufferPointer<mona_send_part>, shared: [mona_handle: ByteBuffer]) -> Int64 {
        guard !closing, !outputClosed, channel.isActive else { return Int64(MONA_E_CLOSED) }
        var copied = 0
        for part in parts {
            // size_t arrives as Int: a size or offset of 2^63 or more is negative here.
            guard part.size >= 0, part.offset >= 0 else { return Int64(MONA_E_INVAL) }
            if part.shared == 0 {
                guard part.size == 0 || part.data != nil else { return Int64(MONA_E_INVAL) }
                let (total, overflow) = copied.addingReportingOverflow(part.size)
                guard !overflow else { return Int64(MONA_E_INVAL) }
                copied = total
            } else {
                guard let buffer = shared[part.shared], part.offset <= buffer.readableBytes,
                      part.size <= buffer.readableBytes - part.offset
                else { return Int64(MONA_E_INVAL) }
            }
        }
        var borrowed = channel.allocator.buffer(capacity: copied)
        for part in parts where part.shared == 0 && part.size > 0 {
            borrowed.writeBytes(UnsafeRawBufferPointer(start: part.data, count: part.size))
        }
        var wrote = false
        for part in parts where part.size > 0 {
            let slice: ByteBuffer?
            if part.shared == 0 {
                slice = borrowed.readSlice(length: part.size)
            } else if let buffer = shared[part.shared] {
                slice = buffer.getSlice(at: buffer.readerIndex + part.offset, length: part.size)
            } else {
                slice = nil
            }
            guard let slice else { continue }
            channel.write(slice, promise: nil)
            wrote = true
        }
        if wrote { channel.flush() }
        return queueAfterSend()
    }

    /// What tcp_send answers after queuing.
    private func queueAfterSend() -> Int64 {
        // Writable (high water mark 1 byte) means at most one byte waits: report it as drained, the
        // cheap common case; otherwise report the real figure and ask for tcp_writable.
        guard !channel.isWritable else {
            wantsWritable = false
            return 0
        }
        wantsWritable = true
        return Int64(max(queued, 1))
    }

    /// Bytes handed to NIO and not yet written to the kernel.
    var queued: Int {
        (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
    }

    /// The channel's writability changed; with a high water mark of 1 byte, "writable" means the
    /// queue is empty.
    func writabilityChanged(_ writable: Bool) {
        guard writable, wantsWritable else { return }
        // Not from inside a host call (a tcp_send may drain the queue): as a callback of its own.
        reactor.loop.execute { [self] in notifyWritable() }
    }

    private func notifyWritable() {
        guard wantsWritable, queued == 0, accepted, !closing else { return }
        wantsWritable = false
        let plugin = owner
        plugin.entry.tcp_writable?(plugin.instance, session, handle)
    }

    /// Pauses or resumes reading (on the loop: the option is set at once, no future; a plugin that
    /// batches a publisher's reads toggles it every few tens of milliseconds).
    func setReading(_ enabled: Bool) {
        guard let options = channel.syncOptions else {
            channel.setOption(ChannelOptions.autoRead, value: enabled).whenSuccess { [self] in
                if enabled { channel.read() }
            }
            return
        }
        guard (try? options.setOption(ChannelOptions.autoRead, value: enabled)) != nil else { return }
        if enabled { channel.read() }
    }

    func close(how: Int32) {
        if closeReason == nil { closeReason = MONA_CLOSED_BY_PLUGIN }
        switch how {
        case MONA_CLOSE_WRITE:
            guard !outputClosed else { return }
            outputClosed = true
            channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { [self] _ in
                channel.close(mode: .output, promise: nil)
            }
        case MONA_CLOSE_ABORT:
            closing = true
            channel.close(promise: nil)
        default:
            guard !closing else { return }
            closing = true
            channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { [self] _ in
                channel.close(promise: nil)
            }
        }
    }

    /// Closes because the server or the plugin stops.
    func shutdown() -> EventLoopFuture<Void> {
        if closeReason == nil { closeReason = MONA_CLOSED_SHUTDOWN }
        closing = true
        return channel.close().recover { _ in }
    }

    func addresses() -> (peer: mona_addr, local: mona_addr) { (peer, local) }

    func handoff(to target: LoadedPlugin, bytes: [UInt8], request: [UInt8]) {
        if dispatching {
            pendingHandoff = (target, bytes, request)
        } else {
            perform(handoff: (target, bytes, request))
        }
    }

    private func perform(handoff: (target: LoadedPlugin, bytes: [UInt8], request: [UInt8])) {
        let target = handoff.target
        owner = target
        session = nil
        accepted = false
        wantsWritable = false
        input = nil
        if !handoff.bytes.isEmpty {
            var buffer = channel.allocator.buffer(capacity: handoff.bytes.count)
            buffer.writeBytes(handoff.bytes)
            input = buffer
        }
        setReading(true)
        guard target.isLive, let adopt = target.entry.tcp_adopted else {
            closing = true
            channel.close(promise: nil)
            return
        }
        session = handoff.request.withUnsafeBufferPointer { request in
            adopt(target.instance, handle, &peer, &local, request.baseAddress, request.count)
        }
        guard session != nil else {
            closing = true
            channel.close(promise: nil)
            return
        }
        accepted = true
        reactor.runtime.log(.debug, "connection \(peer.description) handed over to \(target.section)")
        if let pending = input {
            input = nil
            dispatch(pending)
        }
    }
}

/// Feeds one channel's events to its `TCPConnection`.
final class TCPConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let connection: TCPConnection

    init(_ connection: TCPConnection) { self.connection = connection }

    func channelActive(context: ChannelHandlerContext) { connection.becameActive() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        connection.received(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { connection.peerFinished() }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { connection.failed(error) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) { connection.becameInactive() }
}
