import CMonaCrypto
import MonaValues
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Builds the `mona_host_api` table: C function pointers (closures that capture nothing) that find the
/// calling plugin through `ctx` and forward to the host's services.
enum HostAPITable {
    static func make() -> mona_host_api {
        var api = mona_host_api()
        api.abi_version = MONA_ABI_VERSION
        api.struct_size = UInt32(MemoryLayout<mona_host_api>.size)
        fillCore(&api)
        fillTCP(&api)
        fillUDPAndTimers(&api)
        fillCrypto(&api)
        fillValues(&api)
        ObjectModelAPI.fill(&api)
        fillMetrics(&api)
        return api
    }

    // MARK: core

    private static func fillCore(_ api: inout mona_host_api) {
        api.log = { ctx, level, file, line, message, size in
            let plugin = LoadedPlugin.fromAnyThread(ctx)
            let text = message.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
            let mona = MonaLogLevel(rawValue: min(max(level, 1), 8)) ?? .info
            plugin.runtime.sink.log(mona, "\(plugin.section): \(text)", file: file.map { String(cString: $0) } ?? plugin.path,
                                    line: Int(line))
        }
        api.log_level = { ctx in LoadedPlugin.fromAnyThread(ctx).runtime.sink.maxLevel }
        api.config_get = { ctx, key, buffer, capacity in
            guard let key, let value = LoadedPlugin.from(ctx).runtime.config[String(cString: key)] else { return -1 }
            return HostAPITable.copyOut(value, buffer, capacity)
        }
        api.config_default = { ctx, key, value in
            let plugin = LoadedPlugin.from(ctx)
            guard let key, key.pointee != 0, let value else { return plugin.refuse("config_default", "a NULL or empty key, or a NULL value") }
            plugin.runtime.declareDefault("\(plugin.section).\(String(cString: key))", String(cString: value))
            return MONA_OK
        }
        api.config_iterate = { ctx, prefix, visit, user in
            guard let visit else { return }
            let config = LoadedPlugin.from(ctx).runtime.config
            for key in config.keys(withPrefix: prefix.map { String(cString: $0) } ?? "") {
                let value = config[key] ?? ""
                key.withCString { k in value.withCString { v in visit(user, k, strlen(k), v, strlen(v)) } }
            }
        }
        api.time_ms = { _ in
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000)
        }
        api.monotonic_ns = { _ in
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        }
        api.buffer_free = { _, buffer in
            guard let buffer else { return }
            free(buffer.pointee.data)
            buffer.pointee = mona_buffer()
        }
    }

    /// Copies text into a C buffer without NUL; returns the full length.
    static func copyOut(_ value: String, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int64 {
        var value = value
        return value.withUTF8 { bytes in
            if let buffer, capacity > 0 {
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress!, byteCount: min(capacity, bytes.count))
            }
            return Int64(bytes.count)
        }
    }

    /// Fills a host-owned mona_buffer with bytes (malloc'd; freed by buffer_free).
    static func fill(_ out: UnsafeMutablePointer<mona_buffer>?, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { fill(out, $0) }
    }

    /// The same for the UTF-8 of a text (no intermediate array).
    static func fill(_ out: UnsafeMutablePointer<mona_buffer>?, text: String) {
        var text = text
        text.withUTF8 { fill(out, UnsafeRawBufferPointer($0)) }
    }

    private static func fill(_ out: UnsafeMutablePointer<mona_buffer>?, _ bytes: UnsafeRawBufferPointer) {
        guard let out else { return }
        out.pointee = mona_buffer()
        guard let start = bytes.baseAddress, !bytes.isEmpty, let memory = malloc(bytes.count) else { return }
        memory.copyMemory(from: start, byteCount: bytes.count)
        out.pointee.data = memory.assumingMemoryBound(to: UInt8.self)
        out.pointee.size = bytes.count
    }

    /// metrics_text (ABI 1.8): the metrics' text for a peer that may read them (Metrics/HostMetrics).
    private static func fillMetrics(_ api: inout mona_host_api) {
        api.metrics_text = { ctx, peer, text in
            text?.pointee = mona_buffer()
            let plugin = LoadedPlugin.from(ctx)
            guard let peer, let text else { return plugin.refuse("metrics_text", "a NULL peer or text") }
            switch plugin.runtime.metrics.text(for: peer.pointee, plugin.runtime) {
            case .success(let rendered):
                HostAPITable.fill(text, Array(rendered.utf8))
                return MONA_OK
            case .failure(let refusal):
                return refusal.status
            }
        }
    }

    // MARK: TCP

    private static func fillTCP(_ api: inout mona_host_api) {
        api.tcp_listen = { ctx, host, port, listenerContext, handle, bound in
            let plugin = LoadedPlugin.from(ctx)
            return plugin.runtime.listen(plugin, host: host.map { String(cString: $0) } ?? "", port: port,
                                         context: listenerContext, handle: handle, bound: bound)
        }
        api.tcp_unlisten = { ctx, handle in
            let reactor = LoadedPlugin.from(ctx).runtime.reactor!
            let listener = reactor.listeners[handle]
            if let refused = ObjectModelAPI.check(LoadedPlugin.from(ctx), owner: listener?.owner, handle, "tcp_unlisten") { return refused }
            guard let listener else { return MONA_E_INVAL }
            reactor.listeners[handle] = nil
            listener.close(then: {})
            if let companion = listener.companion { // the TLS listener opened beside it
                reactor.listeners[companion.handle] = nil
                companion.close(then: {})
            }
            return MONA_OK
        }
        api.tcp_send = { ctx, handle, data, size in
            guard let connection = HostAPITable.ownedConnection(ctx, handle, "tcp_send"), size >= 0 else { return Int64(MONA_E_INVAL) }
            return connection.send(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
        }
        api.tcp_send_parts = { ctx, handle, parts, count in
            guard let connection = HostAPITable.ownedConnection(ctx, handle, "tcp_send_parts") else { return Int64(MONA_E_INVAL) }
            return connection.send(parts: UnsafeBufferPointer(start: parts, count: parts == nil ? 0 : count),
                                   shared: LoadedPlugin.from(ctx).sharedBuffers)
        }
        api.shared_create = { ctx, size, data in
            data?.pointee = nil
            guard let data, size > 0, size <= HostAPITable.maxSharedSize else { return 0 }
            let plugin = LoadedPlugin.from(ctx)
            guard let block = SharedBlock(size: size) else { return 0 }
            data.pointee = block.bytes.assumingMemoryBound(to: UInt8.self) // the plugin fills the bytes
            let handle = plugin.runtime.reactor.makeHandle()
            plugin.sharedBuffers[handle] = block
            return handle
        }
        api.shared_release = { ctx, handle in
            LoadedPlugin.from(ctx).sharedBuffers[handle] = nil
        }
        api.tcp_set_reading = { ctx, handle, enabled in
            guard let connection = HostAPITable.ownedConnection(ctx, handle, "tcp_set_reading") else { return MONA_E_INVAL }
            connection.setReading(enabled != 0)
            return MONA_OK
        }
        api.tcp_close = { ctx, handle, how in
            guard let connection = HostAPITable.ownedConnection(ctx, handle, "tcp_close") else { return MONA_E_INVAL }
            connection.close(how: how)
            return MONA_OK
        }
        api.tcp_addresses = { ctx, handle, peer, local in
            guard let connection = HostAPITable.ownedConnection(ctx, handle, "tcp_addresses") else { return MONA_E_INVAL }
            let addresses = connection.addresses()
            peer?.pointee = addresses.peer
            local?.pointee = addresses.local
            return MONA_OK
        }
        api.tcp_handoff = { ctx, handle, section, bytes, bytesSize, request, requestSize in
            let plugin = LoadedPlugin.from(ctx)
            guard let connection = HostAPITable.ownedConnection(ctx, handle, "tcp_handoff"), let section else { return MONA_E_INVAL }
            guard ObjectModelAPI.values(request, requestSize) != nil else {
                return plugin.refuse("tcp_handoff", "malformed MVS request (\(requestSize) bytes)")
            }
            guard let target = plugin.runtime.plugin(section: String(cString: section)), target.isLive,
                  target.entry.tcp_adopted != nil, target !== plugin
            else { return MONA_E_NOTFOUND }
            connection.handoff(to: target,
                               bytes: Array(UnsafeBufferPointer(start: bytes, count: bytes == nil ? 0 : bytesSize)),
                               request: Array(UnsafeBufferPointer(start: request, count: request == nil ? 0 : requestSize)))
            return MONA_OK
        }
    }

    /// The largest shared buffer a plugin may create (a frame is at most 16 MiB in RTMP).
    static let maxSharedSize = 1 << 30

    /// The connection `handle` if the calling plugin owns it (else nil, logged as ObjectModelAPI.check does).
    static func ownedConnection(_ ctx: OpaquePointer?, _ handle: mona_handle, _ function: String) -> TCPConnection? {
        let plugin = LoadedPlugin.from(ctx)
        let connection = plugin.runtime.reactor.connections[handle]
        guard ObjectModelAPI.check(plugin, owner: connection?.owner, handle, function) == nil else { return nil }
        return connection
    }

    // MARK: UDP, timers, work

    private static func fillUDPAndTimers(_ api: inout mona_host_api) {
        api.udp_bind = { ctx, host, port, udpContext, handle, bound in
            let plugin = LoadedPlugin.from(ctx)
            return plugin.runtime.bindUDP(plugin, host: host.map { String(cString: $0) } ?? "", port: port,
                                          context: udpContext, handle: handle, bound: bound)
        }
        api.udp_send = { ctx, handle, to, data, size in
            let plugin = LoadedPlugin.from(ctx)
            let found = plugin.runtime.reactor.udpSockets[handle]
            if let refused = ObjectModelAPI.check(plugin, owner: found?.owner, handle, "udp_send") { return refused }
            guard let socket = found, let address = to?.pointee, size >= 0, size <= 65507, data != nil || size == 0
            else { return MONA_E_INVAL }
            return socket.send(to: address, UnsafeRawBufferPointer(start: data, count: size))
        }
        api.udp_send_segments = { ctx, handle, to, data, size, segmentSize in
            let plugin = LoadedPlugin.from(ctx)
            let found = plugin.runtime.reactor.udpSockets[handle]
            if let refused = ObjectModelAPI.check(plugin, owner: found?.owner, handle, "udp_send_segments") { return refused }
            guard let socket = found, let address = to?.pointee, segmentSize > 0, segmentSize <= 65507, data != nil || size == 0
            else { return MONA_E_INVAL }
            return socket.send(to: address, UnsafeRawBufferPointer(start: data, count: size), segmentSize: segmentSize)
        }
        api.udp_close = { ctx, handle in
            let plugin = LoadedPlugin.from(ctx)
            let reactor = plugin.runtime.reactor!
            if let refused = ObjectModelAPI.check(plugin, owner: reactor.udpSockets[handle]?.owner, handle, "udp_close") { return refused }
            guard let socket = reactor.udpSockets[handle] else { return MONA_E_INVAL }
            reactor.udpSockets[handle] = nil
            socket.close(then: {})
            return MONA_OK
        }
        api.timer_start = { ctx, delay, period, timerContext, handle in
            let plugin = LoadedPlugin.from(ctx)
            guard plugin.entry.timer_fired != nil else { return MONA_E_UNSUPPORTED }
            let reactor = plugin.runtime.reactor!
            let timer = PluginTimer(handle: reactor.makeHandle(), owner: plugin, context: timerContext, delayMs: delay,
                                    periodMs: period, reactor: reactor)
            reactor.timers[timer.handle] = timer
            handle?.pointee = timer.handle
            return MONA_OK
        }
        api.timer_cancel = { ctx, handle in
            let plugin = LoadedPlugin.from(ctx)
            let reactor = plugin.runtime.reactor!
            if let refused = ObjectModelAPI.check(plugin, owner: reactor.timers[handle]?.owner, handle, "timer_cancel") { return refused }
            guard let timer = reactor.timers[handle] else { return MONA_E_INVAL }
            reactor.timers[handle] = nil
            timer.cancel()
            return MONA_OK
        }
        api.run_blocking = { ctx, work, workContext in
            let plugin = LoadedPlugin.from(ctx)
            guard let work, plugin.entry.work_done != nil else { return MONA_E_UNSUPPORTED }
            plugin.runtime.runBlocking(plugin, work: work, context: workContext)
            return MONA_OK
        }
    }

    // MARK: crypto

    private static func fillCrypto(_ api: inout mona_host_api) {
        StatelessCrypto.fill(&api)
        api.rc4_new = { ctx, key, keySize, handle in
            guard let key, let handle else { return MONA_E_INVAL }
            let plugin = LoadedPlugin.from(ctx)
            guard let made = plugin.runtime.crypto.makeRC4(owner: plugin, key: UnsafeBufferPointer(start: key, count: keySize))
            else { return MONA_E_INVAL }
            handle.pointee = made
            return MONA_OK
        }
        api.rc4_apply = { ctx, handle, data, size in
            let plugin = LoadedPlugin.from(ctx)
            guard let state = plugin.runtime.crypto.rc4(handle, owner: plugin), data != nil || size == 0 else { return MONA_E_INVAL }
            mona_crypto_rc4_apply(state, data, size)
            return MONA_OK
        }
        api.rc4_free = { ctx, handle in
            let plugin = LoadedPlugin.from(ctx)
            return plugin.runtime.crypto.free(handle, owner: plugin) ? MONA_OK : MONA_E_INVAL
        }
        api.dh_new = { ctx, group, handle, publicKey, capacity, publicSize in
            let plugin = LoadedPlugin.from(ctx)
            return plugin.runtime.crypto.newDH(owner: plugin, group: group, handle: handle, publicKey: publicKey,
                                               capacity: capacity, publicSize: publicSize)
        }
        api.dh_secret = { ctx, handle, peer, peerSize, secret, capacity, secretSize in
            let plugin = LoadedPlugin.from(ctx)
            guard let dh = plugin.runtime.crypto.dh(handle, owner: plugin), let peer, let secret, let secretSize
            else { return MONA_E_INVAL }
            return mona_crypto_dh_secret(dh, peer, peerSize, secret, capacity, secretSize) == 0 ? MONA_OK : MONA_E_INVAL
        }
        api.dh_free = { ctx, handle in
            let plugin = LoadedPlugin.from(ctx)
            return plugin.runtime.crypto.free(handle, owner: plugin) ? MONA_OK : MONA_E_INVAL
        }
    }

    // MARK: values

    private static func fillValues(_ api: inout mona_host_api) {
        api.value_encode = { ctx, format, data, size, out in
            out?.pointee = mona_buffer()
            guard data != nil || size == 0 else { return LoadedPlugin.fromAnyThread(ctx).refuse("value_encode", "NULL data with \(size) bytes") }
            switch ValueCodecs.encode(format: format, mvs: Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))) {
            case .success(let encoded):
                HostAPITable.fill(out, encoded)
                return MONA_OK
            case .failure(let code):
                let reason = code == MONA_E_UNSUPPORTED ? "unknown format" : "malformed MVS, or RAW not given one BYTES or STRING value"
                return LoadedPlugin.fromAnyThread(ctx).refuse("value_encode", "to format \(format): \(reason)", status: code)
            }
        }
        api.value_decode = { ctx, format, data, size, out in
            out?.pointee = mona_buffer()
            guard data != nil || size == 0 else { return LoadedPlugin.fromAnyThread(ctx).refuse("value_decode", "NULL data with \(size) bytes") }
            switch ValueCodecs.decode(format: format, data: Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))) {
            case .success(let decoded):
                HostAPITable.fill(out, decoded)
                return MONA_OK
            case .failure(let code):
                // Usually a peer's bytes (a WebSocket message): a debug line, not a warning per message.
                let reason = code == MONA_E_UNSUPPORTED ? "unknown format" : "bytes that do not decode in that format"
                return LoadedPlugin.fromAnyThread(ctx).refuse("value_decode", "from format \(format): \(reason)", status: code, level: .debug)
            }
        }
    }
}

/// The host's stateless crypto functions (random, SHA, HMAC, AES), the same for every plugin and
/// thread-safe. Public for hosts of tests (MonaPluginTesting's FakeHost serves plugins with them).
public enum StatelessCrypto {
    /// Fills random_bytes, sha1, sha256, hmac_sha256 and aes128_cbc.
    public static func fill(_ api: inout mona_host_api) {
        api.random_bytes = { _, out, size in
            guard let out else { return size == 0 ? MONA_OK : MONA_E_INVAL }
            return mona_crypto_random(out, size) == 0 ? MONA_OK : MONA_E_IO
        }
        api.sha1 = { _, data, size, out in mona_crypto_sha1(data, size, out) }
        api.sha256 = { _, data, size, out in mona_crypto_sha256(data, size, out) }
        api.hmac_sha256 = { _, key, keySize, data, size, out in mona_crypto_hmac_sha256(key, keySize, data, size, out) }
        api.aes128_cbc = { _, encrypt, key, iv, data, size in
            guard let key, data != nil || size == 0 else { return MONA_E_INVAL }
            return mona_crypto_aes128_cbc(encrypt, key, iv, data, size) == 0 ? MONA_OK : MONA_E_INVAL
        }
    }
}
