import CMonaCrypto
import MonaHostCore
import MonaValues
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The fake's `mona_host_api`: every function records its name in `calls` and forwards to the
/// `FakeHost` its `ctx` points at. Crypto and value codecs are the real host's.
enum FakeHostTable {
    static func make() -> mona_host_api {
        var api = mona_host_api()
        api.abi_version = MONA_ABI_VERSION
        api.struct_size = UInt32(MemoryLayout<mona_host_api>.size)
        core(&api)
        sockets(&api)
        timersAndWork(&api)
        services(&api)
        clients(&api)
        media(&api)
        return api
    }

    /// The fake, with the call recorded.
    static func host(_ ctx: OpaquePointer?, _ call: String) -> FakeHost {
        let host = FakeHost.from(ctx)
        host.calls.append(call)
        return host
    }

    static func text(_ pointer: UnsafePointer<CChar>?, _ size: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: size), as: UTF8.self)
    }

    static func bytes(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let pointer, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: size))
    }

    static func fill(_ out: UnsafeMutablePointer<mona_buffer>?, _ bytes: [UInt8]) {
        guard let out else { return }
        out.pointee = mona_buffer()
        guard !bytes.isEmpty, let memory = malloc(bytes.count) else { return }
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        out.pointee.data = memory.assumingMemoryBound(to: UInt8.self)
        out.pointee.size = bytes.count
    }

    static func fill(_ err: UnsafeMutablePointer<mona_error>?, _ kind: Int32, _ message: String) {
        guard let err else { return }
        err.pointee.kind = kind
        withUnsafeMutableBytes(of: &err.pointee.message) { raw in
            let utf8 = Array(message.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: utf8 + [0])
        }
    }

    private static func core(_ api: inout mona_host_api) {
        api.log = { ctx, level, _, _, message, size in
            let host = FakeHost.from(ctx) // not recorded in calls: logging is not behaviour
            host.logs.append((level, FakeHostTable.text(message, size)))
        }
        api.log_level = { _ in MONA_LOG_TRACE }
        api.config_get = { ctx, key, buffer, capacity in
            let host = FakeHostTable.host(ctx, "config_get")
            guard let key, let value = host.config[String(cString: key)] else { return -1 }
            let utf8 = Array(value.utf8)
            if let buffer, capacity > 0 {
                utf8.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: min(capacity, utf8.count)) }
            }
            return Int64(utf8.count)
        }
        api.config_iterate = { ctx, prefix, visit, user in
            let host = FakeHostTable.host(ctx, "config_iterate")
            let start = prefix.map { String(cString: $0) } ?? ""
            for key in host.config.keys.sorted() where key.hasPrefix(start) {
                let value = host.config[key]!
                key.withCString { k in value.withCString { v in visit?(user, k, strlen(k), v, strlen(v)) } }
            }
        }
        api.config_default = { ctx, key, value in
            let host = FakeHostTable.host(ctx, "config_default")
            guard let key, let value else { return MONA_E_INVAL }
            let name = "\(host.section).\(String(cString: key))"
            if host.config[name] == nil { host.config[name] = String(cString: value) }
            return MONA_OK
        }
        api.time_ms = { ctx in FakeHost.from(ctx).wallMs }
        api.monotonic_ns = { ctx in FakeHost.from(ctx).nowNs }
        api.buffer_free = { _, buffer in
            guard let buffer else { return }
            free(buffer.pointee.data)
            buffer.pointee = mona_buffer()
        }
        api.metrics_text = { ctx, peer, text in
            let host = FakeHostTable.host(ctx, "metrics_text")
            FakeHostTable.fill(text, [])
            guard let peer, text != nil else { return MONA_E_INVAL }
            let answer = host.onMetrics(peer.pointee)
            if answer.status == MONA_OK { FakeHostTable.fill(text, Array(answer.text.utf8)) }
            return answer.status
        }
    }

    private static func sockets(_ api: inout mona_host_api) {
        api.tcp_listen = { ctx, address, port, context, handle, bound in
            let host = FakeHostTable.host(ctx, "tcp_listen")
            let listener = FakeHost.Listener(handle: host.makeHandle(), host: address.map { String(cString: $0) } ?? "",
                                             port: port == 0 ? 40_000 + UInt16(host.lastHandle % 1000) : port, context: context)
            host.listeners[listener.handle] = listener
            handle?.pointee = listener.handle
            bound?.pointee = .loopback(listener.port)
            return MONA_OK
        }
        api.tcp_unlisten = { ctx, handle in
            FakeHostTable.host(ctx, "tcp_unlisten").listeners.removeValue(forKey: handle) == nil ? MONA_E_INVAL : MONA_OK
        }
        api.tcp_send = { ctx, handle, data, size in
            let host = FakeHostTable.host(ctx, "tcp_send")
            guard let connection = host.connections[handle] else { return Int64(MONA_E_INVAL) }
            return host.send(connection, UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
        }
        api.tcp_send_parts = { ctx, handle, parts, count in
            let host = FakeHostTable.host(ctx, "tcp_send_parts")
            guard let connection = host.connections[handle] else { return Int64(MONA_E_INVAL) }
            var joined: [UInt8] = []
            for part in UnsafeBufferPointer(start: parts, count: parts == nil ? 0 : count) {
                guard part.size >= 0, part.offset >= 0 else { return Int64(MONA_E_INVAL) }
                if part.shared == 0 {
                    joined += FakeHostTable.bytes(part.data, part.size)
                } else {
                    guard let memory = host.sharedMemory[part.shared], let size = host.sharedSizes[part.shared],
                          part.offset <= size, part.size <= size - part.offset else { return Int64(MONA_E_INVAL) }
                    joined += UnsafeBufferPointer(start: memory + part.offset, count: part.size)
                }
            }
            return joined.withUnsafeBytes { host.send(connection, $0) }
        }
        api.shared_create = { ctx, size, data in
            let host = FakeHostTable.host(ctx, "shared_create")
            data?.pointee = nil
            guard let data, size > 0 else { return 0 }
            let handle = host.makeHandle()
            let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            memory.initialize(repeating: 0, count: size)
            host.sharedMemory[handle] = memory
            host.sharedSizes[handle] = size
            data.pointee = memory
            return handle
        }
        api.shared_release = { ctx, handle in
            let host = FakeHostTable.host(ctx, "shared_release")
            host.sharedMemory.removeValue(forKey: handle)?.deallocate()
            host.sharedSizes[handle] = nil
        }
        api.tcp_set_reading = { ctx, handle, enabled in
            guard let connection = FakeHostTable.host(ctx, "tcp_set_reading").connections[handle] else { return MONA_E_INVAL }
            connection.reading = enabled != 0
            return MONA_OK
        }
        api.tcp_close = { ctx, handle, how in
            let host = FakeHostTable.host(ctx, "tcp_close")
            guard let connection = host.connections[handle] else { return MONA_E_INVAL }
            host.close(connection, how: how)
            return MONA_OK
        }
        api.tcp_addresses = { ctx, handle, peer, local in
            guard let connection = FakeHostTable.host(ctx, "tcp_addresses").connections[handle] else { return MONA_E_INVAL }
            peer?.pointee = connection.peer
            local?.pointee = connection.local
            return MONA_OK
        }
        api.tcp_handoff = { ctx, handle, section, data, size, request, requestSize in
            let host = FakeHostTable.host(ctx, "tcp_handoff")
            guard let connection = host.connections[handle], let section else { return MONA_E_INVAL }
            connection.handoff = (String(cString: section), FakeHostTable.bytes(data, size), FakeHostTable.bytes(request, requestSize))
            connection.ended = true // the plugin hears nothing more of it
            return MONA_OK
        }
        api.udp_bind = { ctx, _, port, context, handle, bound in
            let host = FakeHostTable.host(ctx, "udp_bind")
            let socket = FakeHost.UDPEndpoint(handle: host.makeHandle(), port: port == 0 ? 41_000 : port, context: context)
            host.udpSockets[socket.handle] = socket
            handle?.pointee = socket.handle
            bound?.pointee = .loopback(socket.port)
            return MONA_OK
        }
        api.udp_send = { ctx, handle, to, data, size in
            let host = FakeHostTable.host(ctx, "udp_send")
            guard let socket = host.udpSockets[handle], !socket.closed, let to, size <= 65507 else { return MONA_E_INVAL }
            socket.sent.append((to.pointee, FakeHostTable.bytes(data, size)))
            return MONA_OK
        }
        api.udp_send_segments = { ctx, handle, to, data, size, segmentSize in
            let host = FakeHostTable.host(ctx, "udp_send_segments")
            guard let socket = host.udpSockets[handle], !socket.closed, let to, segmentSize > 0, segmentSize <= 65507
            else { return MONA_E_INVAL }
            let bytes = FakeHostTable.bytes(data, size)
            var datagrams = 0
            for start in stride(from: 0, to: bytes.count, by: segmentSize) {
                socket.sent.append((to.pointee, Array(bytes[start..<min(start + segmentSize, bytes.count)])))
                datagrams += 1
            }
            socket.runs.append(datagrams)
            return MONA_OK
        }
        api.udp_close = { ctx, handle in
            guard let socket = FakeHostTable.host(ctx, "udp_close").udpSockets[handle] else { return MONA_E_INVAL }
            socket.closed = true
            return MONA_OK
        }
    }

    private static func timersAndWork(_ api: inout mona_host_api) {
        api.timer_start = { ctx, delay, period, context, handle in
            let host = FakeHostTable.host(ctx, "timer_start")
            let timer = FakeHost.Timer(handle: host.makeHandle(), due: host.nowNs + delay * 1_000_000, periodMs: period,
                                       context: context)
            host.timers[timer.handle] = timer
            handle?.pointee = timer.handle
            return MONA_OK
        }
        api.timer_cancel = { ctx, handle in
            FakeHostTable.host(ctx, "timer_cancel").timers.removeValue(forKey: handle) == nil ? MONA_E_INVAL : MONA_OK
        }
        api.run_blocking = { ctx, work, context in
            let host = FakeHostTable.host(ctx, "run_blocking")
            guard let work else { return MONA_E_INVAL }
            host.pendingWork.append((work, context))
            return MONA_OK
        }
    }

    private static func services(_ api: inout mona_host_api) {
        StatelessCrypto.fill(&api)
        api.rc4_new = { ctx, key, keySize, handle in
            let host = FakeHostTable.host(ctx, "rc4_new")
            guard let key, let handle,
                  let made = host.crypto.makeRC4(owner: host, key: UnsafeBufferPointer(start: key, count: keySize))
            else { return MONA_E_INVAL }
            handle.pointee = made
            return MONA_OK
        }
        api.rc4_apply = { ctx, handle, data, size in
            let host = FakeHost.from(ctx)
            guard let state = host.crypto.rc4(handle, owner: host), data != nil || size == 0 else { return MONA_E_INVAL }
            mona_crypto_rc4_apply(state, data, size)
            return MONA_OK
        }
        api.rc4_free = { ctx, handle in
            let host = FakeHostTable.host(ctx, "rc4_free")
            return host.crypto.free(handle, owner: host) ? MONA_OK : MONA_E_INVAL
        }
        api.dh_new = { ctx, group, handle, publicKey, capacity, publicSize in
            let host = FakeHostTable.host(ctx, "dh_new")
            return host.crypto.newDH(owner: host, group: group, handle: handle, publicKey: publicKey, capacity: capacity,
                                     publicSize: publicSize)
        }
        api.dh_secret = { ctx, handle, peer, peerSize, secret, capacity, secretSize in
            let host = FakeHostTable.host(ctx, "dh_secret")
            guard let dh = host.crypto.dh(handle, owner: host), let peer, let secret, let secretSize else { return MONA_E_INVAL }
            return mona_crypto_dh_secret(dh, peer, peerSize, secret, capacity, secretSize) == 0 ? MONA_OK : MONA_E_INVAL
        }
        api.dh_free = { ctx, handle in
            let host = FakeHostTable.host(ctx, "dh_free")
            return host.crypto.free(handle, owner: host) ? MONA_OK : MONA_E_INVAL
        }
        api.value_encode = { ctx, format, data, size, out in
            _ = FakeHostTable.host(ctx, "value_encode")
            switch ValueCodecs.encode(format: format, mvs: FakeHostTable.bytes(data, size)) {
            case .success(let encoded):
                FakeHostTable.fill(out, encoded)
                return MONA_OK
            case .failure(let code):
                return code
            }
        }
        api.value_decode = { ctx, format, data, size, out in
            _ = FakeHostTable.host(ctx, "value_decode")
            switch ValueCodecs.decode(format: format, data: FakeHostTable.bytes(data, size)) {
            case .success(let decoded):
                FakeHostTable.fill(out, decoded)
                return MONA_OK
            case .failure(let code):
                return code
            }
        }
    }
}
