import CLibUV
import CMonaSystem
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// A bound UDP socket of a plugin (a libuv `uv_udp_t`): datagrams are read many per system call
/// (`recvmmsg`) into the loop's read buffer; sends are tried at once and queued only when the socket
/// would block; a run of datagrams to one address goes out in one system call (UDP_SEGMENT).
final class UDPSocket: LoopHandle {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let bound: mona_addr
    private unowned let reactor: Reactor
    /// Most bytes waiting in the send queue; datagrams past it are dropped (a peer, or the kernel,
    /// that cannot keep up costs bounded memory).
    static let maxQueuedBytes = 4 << 20
    /// Most datagrams, and bytes, in one segmented send (Linux takes 64 segments, and an IP packet's
    /// worth of payload, at most).
    static let maxSegments = 64
    static let maxSegmentedBytes = 65_000
    /// The descriptor libuv polls; -1 until started.
    private var descriptor: Int32 = -1
    /// False once the system refused to segment (no UDP_SEGMENT, or a route without checksum offload):
    /// runs then go one datagram per call.
    private var segmentationWorks = true

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
            self.descriptor = descriptor
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
        owner.counters.pointee.receivedBytes &+= UInt64(bytes.count)
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
        owner.counters.pointee.sentBytes &+= UInt64(bytes.count) // sent, or queued (libuv sends it in order)
        return MONA_OK
    }

    /// Sends a run of datagrams held back to back (each `segmentSize` bytes but the last) to one
    /// address: in segmented system calls while the system takes them and nothing waits in the queue
    /// (order is kept), else one by one through `send(to:_:)`, which queues what would block.
    func send(to address: mona_addr, _ bytes: UnsafeRawBufferPointer, segmentSize: Int) -> Int32 {
        guard isOpen, !isClosing else { return MONA_E_CLOSED }
        guard let base = bytes.baseAddress, segmentSize > 0 else { return bytes.isEmpty ? MONA_OK : MONA_E_INVAL }
        let perCall = max(1, min(Self.maxSegments, Self.maxSegmentedBytes / segmentSize)) * segmentSize
        var offset = 0
        while offset < bytes.count {
            let run = min(bytes.count - offset, perCall)
            if run > segmentSize, segmentationWorks, descriptor >= 0, uv_udp_get_send_queue_count(udp) == 0 {
                let result = address.withSockAddr { target, length in
                    mona_system_udp_send_segments(descriptor, target, UInt32(length), base + offset, run, UInt16(segmentSize))
                } ?? -Int(EINVAL)
                if result == run {
                    owner.counters.pointee.sentBytes &+= UInt64(run)
                    offset += run
                    continue
                }
                if [EIO, EINVAL, ENOPROTOOPT, EOPNOTSUPP].contains(Int32(-result)) {
                    segmentationWorks = false
                    reactor.runtime.log(.debug, "\(owner.section): UDP \(bound.description): no segmentation (\(String(cString: strerror(Int32(-result))))), datagrams one by one")
                }
            }
            var position = offset
            while position < offset + run {
                let size = min(segmentSize, offset + run - position)
                let status = send(to: address, UnsafeRawBufferPointer(start: base + position, count: size))
                guard status == MONA_OK else { return status }
                position += size
            }
            offset += run
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
