import PluginABI

/// A Swift view of the host services one plugin received (`mona_host_api`), with Swift types at the
/// edges. Valid until the plugin is destroyed; use it on the loop thread (logging excepted).
public struct MonaHost: @unchecked Sendable {
    /// The raw table.
    public let api: UnsafePointer<mona_host_api>

    public init(_ api: UnsafePointer<mona_host_api>) { self.api = api }

    private var ctx: OpaquePointer? { api.pointee.ctx }

    // MARK: core

    /// Logs at a MonaServer level (MONA_LOG_*).
    public func log(_ level: Int32, _ message: String, file: StaticString = #fileID, line: UInt = #line) {
        guard level <= api.pointee.log_level(ctx) else { return }
        var message = message
        message.withUTF8 { bytes in
            // A StaticString literal is NUL-terminated.
            api.pointee.log(ctx, level, UnsafeRawPointer(file.utf8Start).assumingMemoryBound(to: CChar.self),
                            Int32(line), UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self),
                            bytes.count)
        }
    }

    /// The text of a configuration key, or nil.
    public func config(_ key: String) -> String? {
        let length = api.pointee.config_get(ctx, key, nil, 0)
        guard length >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: Int(length))
        _ = buffer.withUnsafeMutableBufferPointer { raw in
            raw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) {
                api.pointee.config_get(ctx, key, $0, raw.count)
            }
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Declares the plugin's defaults (keys relative to its section, e.g. "port"): the configuration,
    /// and so Lua's mona.configs, shows them unless the ini set them. A host before ABI 1.4 has no
    /// config_default: nothing is declared and the plugin's own fallbacks apply.
    public func declareDefaults(_ defaults: KeyValuePairs<String, String>) {
        let needed = MemoryLayout<mona_host_api>.offset(of: \mona_host_api.config_default)! + MemoryLayout<UnsafeRawPointer>.size
        guard Int(api.pointee.struct_size) >= needed else { return }
        for (key, value) in defaults { _ = api.pointee.config_default(ctx, key, value) }
    }

    // MARK: TCP

    /// Listens; returns the status, the listener handle and the bound address.
    public func listenTCP(host: String, port: UInt16, context: UnsafeMutableRawPointer? = nil)
        -> (status: Int32, listener: mona_handle, bound: mona_addr)
    {
        var handle: mona_handle = 0
        var bound = mona_addr()
        let status = api.pointee.tcp_listen(ctx, host, port, context, &handle, &bound)
        return (status, handle, bound)
    }

    /// Queues bytes; returns what stays queued in the host, or a negative MONA_E_*.
    @discardableResult
    public func send(_ connection: mona_handle, _ bytes: UnsafeRawBufferPointer) -> Int64 {
        api.pointee.tcp_send(ctx, connection, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count)
    }

    /// True when the host offers shared buffers and gathered sends (ABI 1.3).
    public var sharesBuffers: Bool {
        Int(api.pointee.struct_size) >= MemoryLayout<mona_host_api>.offset(of: \mona_host_api.tcp_send_parts)!
            + MemoryLayout<UnsafeRawPointer>.size
    }

    /// A shared buffer of `size` bytes to fill once and then send to many connections without copies;
    /// nil when the host cannot (older host, no memory).
    public func createShared(size: Int) -> (handle: mona_handle, memory: UnsafeMutableRawBufferPointer)? {
        guard sharesBuffers, size > 0 else { return nil }
        var data: UnsafeMutablePointer<UInt8>?
        let handle = api.pointee.shared_create(ctx, size, &data)
        guard handle != 0, let data else { return nil }
        return (handle, UnsafeMutableRawBufferPointer(start: data, count: size))
    }

    /// Gives a shared buffer back (sends already queued keep its bytes).
    public func releaseShared(_ handle: mona_handle) {
        guard sharesBuffers else { return }
        api.pointee.shared_release(ctx, handle)
    }

    /// Queues parts (borrowed bytes, ranges of shared buffers) as one send; the same answer as `send`.
    @discardableResult
    public func send(_ connection: mona_handle, parts: UnsafeBufferPointer<mona_send_part>) -> Int64 {
        guard sharesBuffers else { return Int64(MONA_E_UNSUPPORTED) }
        return api.pointee.tcp_send_parts(ctx, connection, parts.baseAddress, parts.count)
    }

    /// Pauses or resumes reading a connection.
    public func setReading(_ connection: mona_handle, _ enabled: Bool) {
        _ = api.pointee.tcp_set_reading(ctx, connection, enabled ? 1 : 0)
    }

    /// Closes a connection (MONA_CLOSE_*).
    public func close(_ connection: mona_handle, how: Int32 = MONA_CLOSE_GRACEFUL) {
        _ = api.pointee.tcp_close(ctx, connection, how)
    }

    // MARK: UDP

    /// Binds a UDP socket; returns the status, the socket handle and the bound address.
    public func bindUDP(host: String, port: UInt16, context: UnsafeMutableRawPointer? = nil)
        -> (status: Int32, socket: mona_handle, bound: mona_addr)
    {
        var handle: mona_handle = 0
        var bound = mona_addr()
        let status = api.pointee.udp_bind(ctx, host, port, context, &handle, &bound)
        return (status, handle, bound)
    }

    /// Sends one datagram.
    @discardableResult
    public func send(udp: mona_handle, to address: mona_addr, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var address = address
        return api.pointee.udp_send(ctx, udp, &address, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count)
    }

    /// True when the host sends runs of datagrams in one call (ABI 1.6).
    public var sendsSegments: Bool {
        Int(api.pointee.struct_size) >= MemoryLayout<mona_host_api>.offset(of: \mona_host_api.udp_send_segments)!
            + MemoryLayout<UnsafeRawPointer>.size
    }

    /// Sends the datagrams held back to back in `bytes`, each `segmentSize` bytes but the last, to one
    /// address: in one host call from ABI 1.6, one call per datagram before.
    @discardableResult
    public func send(udp: mona_handle, to address: mona_addr, segments bytes: UnsafeRawBufferPointer, segmentSize: Int) -> Int32 {
        guard segmentSize > 0, let base = bytes.baseAddress else { return bytes.isEmpty ? MONA_OK : MONA_E_INVAL }
        if sendsSegments, let sendSegments = api.pointee.udp_send_segments {
            var address = address
            return sendSegments(ctx, udp, &address, base.assumingMemoryBound(to: UInt8.self), bytes.count, segmentSize)
        }
        var start = 0
        while start < bytes.count {
            let status = send(udp: udp, to: address, UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + segmentSize, bytes.count)]))
            guard status == MONA_OK else { return status }
            start += segmentSize
        }
        return MONA_OK
    }

    /// Closes a UDP socket (no datagram arrives for it afterwards).
    public func closeUDP(_ udp: mona_handle) {
        _ = api.pointee.udp_close(ctx, udp)
    }

    // MARK: timers

    /// Starts a timer; returns its handle, or nil.
    public func startTimer(delayMs: UInt64, periodMs: UInt64 = 0, context: UnsafeMutableRawPointer? = nil) -> mona_handle? {
        var handle: mona_handle = 0
        return api.pointee.timer_start(ctx, delayMs, periodMs, context, &handle) == MONA_OK ? handle : nil
    }

    /// Runs `work(context)` on the host's blocking pool; `workDone(context:)` follows on the loop.
    /// `work` must touch nothing of the loop's (it runs on another thread).
    public func runBlocking(_ work: @escaping @convention(c) (UnsafeMutableRawPointer?) -> Void,
                            context: UnsafeMutableRawPointer?) -> Int32 {
        api.pointee.run_blocking(ctx, work, context)
    }

    /// Cancels a timer.
    public func cancelTimer(_ timer: mona_handle) {
        _ = api.pointee.timer_cancel(ctx, timer)
    }

    /// The host's monotonic clock in milliseconds (for time-outs: never jumps with the wall clock).
    public var monotonicMs: Int64 { Int64(api.pointee.monotonic_ns(ctx) / 1_000_000) }

    // MARK: crypto

    /// SHA-1 of `bytes` (20 bytes).
    public func sha1(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 20)
        bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { api.pointee.sha1(ctx, input.baseAddress, input.count, $0.baseAddress) }
        }
        return digest
    }
}
