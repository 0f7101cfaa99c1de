import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// A bound UDP socket of a plugin (a libuv `uv_udp_t`): datagrams are read many per system call
/// (`recvmmsg`) into the loop's read buffer; sends are tried at once and queued only when the socket
/// would block.
final class UDPSocket: LoopHandle {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let bound: mona_addr
    private unowned let reactor: Reactor
    /// Most bytes waiting in the send queue; datagrams past it are dropped (a peer, or the kernel,
    /// that cannot keep up costs bounded memory).
    static let maxQueuedBytes = 4 << 20

    init(handle: UInt64, owner: LoadedPlugin, context: UnsafeMutableRawPointer?, bound: mona_addr, reactor: Reactor) {
        self.handle = handle
        self.owner = owner
        self.context = context
        self.bound = bound
        self.reactor = reactor
    }

    private var udp: UnsafeMutablePointer<uv_udp_t> { raw.assumingMemoryBound(to: uv_udp_t.self) }

    /// Adopts the bound descriptor and starts reading; false (descriptor closed) when libuv refuses it.
    func start(descriptor: Int32) -> Bool {
        // No address family in the flags: libuv would create a socket of its own.
        guard uv_udp_init_ex(reactor.loop, udp, UInt32(UV_UDP_RECVMMSG.rawValue)) == 0 else {
            Glibc.close(descriptor)
            return false
        }
        opened()
        var status = uv_udp_open(udp, uv_os_sock_t(descriptor))
        if status != 0 { Glibc.close(descriptor) } else {
            status = uv_udp_recv_start(udp, { handle, _, buffer in
                let loop = uv_handle_get_loop(handle)
                buffer!.pointee = uv_buf_init(uv_loop_get_data(loop)!.assumingMemoryBound(to: CChar.self),
                                              UInt32(Reactor.udpReadSize))
            }, { handle, count, buffer, from, flags in
                // recvmmsg: one call per datagram, then one with MMSG_FREE (the buffer is the loop's).
                guard flags & UInt32(UV_UDP_MMSG_FREE.rawValue) == 0 else { return }
                let socket = LoopHandle.owner(handle, as: UDPSocket.self)
                if count < 0 {
                    socket.reactor.runtime.log(.debug, "\(socket.owner.section): UDP \(socket.bound.description): \(String(cString: uv_strerror(Int32(count))))")
                } else if let from {
                    socket.received(UnsafeRawBufferPointer(start: buffer!.pointee.base, count: count), from: from)
                }
            })
        }
        guard status == 0 else {
            reactor.runtime.log(.error, "\(owner.section): cannot use UDP \(bound.description): \(String(cString: uv_strerror(status)))")
            close()
            return false
        }
        return true
    }

    private func received(_ bytes: UnsafeRawBufferPointer, from address: UnsafePointer<sockaddr>) {
        guard !isClosing, owner.isLive, let onDatagram = owner.entry.udp_datagram else { return }
        var from = mona_addr(address)
        if !reactor.runtime.blacklist.isEmpty, let ip = from.ipText, reactor.runtime.blacklist.contains(ip) {
            reactor.runtime.log(.debug, "Data rejected because client \(ip) is banned")
            return
        }
        onDatagram(owner.instance, context, handle, &from, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// Sends one datagram: at once if the socket takes it, else queued (a copy), or dropped with
    /// MONA_E_IO past `maxQueuedBytes`.
    func send(to address: mona_addr, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard isOpen, !isClosing else { return MONA_E_CLOSED }
        let status: Int32? = address.withSockAddr { target, _ in
            var buffer = uv_buf_init(UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: CChar.self)),
                                     UInt32(bytes.count))
            let sent = uv_udp_try_send(udp, &buffer, 1, target)
            guard sent == UV_EAGAIN.rawValue else { return sent >= 0 ? 0 : sent }
            guard uv_udp_get_send_queue_size(udp) + bytes.count <= Self.maxQueuedBytes else { return UV_ENOBUFS.rawValue }
            return DatagramRequest(copying: bytes).submit(udp, to: target)
        }
        guard let status else { return MONA_E_INVAL }
        guard status == 0 else {
            reactor.runtime.log(.debug, "\(owner.section): UDP send to \(address.description): \(String(cString: uv_strerror(status)))")
            return MONA_E_IO
        }
        return MONA_OK
    }

}

/// A datagram a socket could not take at once: its copy and its libuv request.
final class DatagramRequest {
    private let request = UnsafeMutablePointer<uv_udp_send_t>.allocate(capacity: 1)
    private let copy: UnsafeMutableRawPointer
    private let size: Int

    init(copying bytes: UnsafeRawBufferPointer) {
        size = bytes.count
        copy = .allocate(byteCount: max(size, 1), alignment: 1)
        if let base = bytes.baseAddress, size > 0 { copy.copyMemory(from: base, byteCount: size) }
        request.initialize(to: uv_udp_send_t())
    }

    deinit {
        copy.deallocate()
        request.deallocate()
    }

    /// Queues the datagram to `target` (nil: the peer of a connected socket); libuv's status.
    func submit(_ udp: UnsafeMutablePointer<uv_udp_t>, to target: UnsafePointer<sockaddr>?) -> Int32 {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var buffer = uv_buf_init(copy.assumingMemoryBound(to: CChar.self), UInt32(size))
        let status = uv_udp_send(request, udp, &buffer, 1, target) { request, _ in
            Unmanaged<DatagramRequest>.fromOpaque(request!.pointee.data).release()
        }
        if status != 0 { Unmanaged<DatagramRequest>.fromOpaque(request.pointee.data).release() }
        return status
    }
}
