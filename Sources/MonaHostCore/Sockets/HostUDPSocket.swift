import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// What a host-driven UDP socket tells its user.
protocol HostUDPSocketDelegate: AnyObject {
    /// A datagram arrived from `sender` (the bytes are the loop's: copy what is kept).
    func received(_ socket: HostUDPSocket, _ bytes: UnsafeRawBufferPointer, from sender: mona_addr)
}

/// A UDP socket the host drives for itself (Lua's UDP sockets): bound synchronously, read many
/// datagrams per system call into the loop's buffer, sent at once or queued (bounded, as the
/// plugins' `UDPSocket`). Datagrams from banned hosts are dropped. Loop thread only.
final class HostUDPSocket: LoopHandle {
    let handle: UInt64
    private unowned let reactor: Reactor
    weak var delegate: HostUDPSocketDelegate?
    /// The address it is bound to.
    private(set) var bound = mona_addr.none

    init(reactor: Reactor) {
        handle = reactor.makeHandle()
        self.reactor = reactor
    }

    private var udp: UnsafeMutablePointer<uv_udp_t> { raw.assumingMemoryBound(to: uv_udp_t.self) }

    /// Binds to host:port (port 0: one the system picks) and starts reading; nil on success, else why not.
    func open(host: String, port: UInt16, broadcast: Bool) -> String? {
        let descriptor: Int32
        switch SocketFactory.bound(type: Int32(SOCK_DGRAM.rawValue), host: host, port: port) {
        case .failure(let failure): return failure.text
        case .success(let (fd, address)):
            descriptor = fd
            bound = address
        }
        guard uv_udp_init_ex(reactor.loop, udp, UInt32(UV_UDP_RECVMMSG.rawValue)) == 0 else {
            Glibc.close(descriptor)
            return "cannot create a UDP socket"
        }
        opened()
        var status = uv_udp_open(udp, uv_os_sock_t(descriptor))
        if status != 0 { Glibc.close(descriptor) }
        if status == 0, broadcast { status = uv_udp_set_broadcast(udp, 1) }
        if status == 0 {
            status = uv_udp_recv_start(udp, { handle, _, buffer in
                let loop = uv_handle_get_loop(handle)
                buffer!.pointee = uv_buf_init(uv_loop_get_data(loop)!.assumingMemoryBound(to: CChar.self),
                                              UInt32(Reactor.udpReadSize))
            }, { handle, count, buffer, from, flags in
                // recvmmsg: one call per datagram, then one with MMSG_FREE (the buffer is the loop's).
                guard flags & UInt32(UV_UDP_MMSG_FREE.rawValue) == 0, count >= 0, let from else { return }
                LoopHandle.owner(handle, as: HostUDPSocket.self)
                    .received(UnsafeRawBufferPointer(start: buffer!.pointee.base, count: count), from: mona_addr(from))
            })
        }
        guard status == 0 else {
            close()
            return String(cString: uv_strerror(status))
        }
        return nil
    }

    private func received(_ bytes: UnsafeRawBufferPointer, from sender: mona_addr) {
        guard !isClosing, let delegate else { return }
        if !reactor.runtime.blacklist.isEmpty, let ip = sender.ipText, reactor.runtime.blacklist.contains(ip) { return }
        delegate.received(self, bytes, from: sender)
    }

    /// Only datagrams of `peer` are received and `send` needs no address; nil on success, else why not.
    func connect(to peer: mona_addr) -> String? {
        guard isOpen, !isClosing else { return "UDP socket closed" }
        _ = uv_udp_connect(udp, nil) // a connected socket must be disconnected before another connect
        let status = peer.withSockAddr { address, _ in uv_udp_connect(udp, address) } ?? UV_EINVAL.rawValue
        return status == 0 ? nil : String(cString: uv_strerror(status))
    }

    /// Undoes `connect`.
    func disconnect() {
        guard isOpen, !isClosing else { return }
        _ = uv_udp_connect(udp, nil)
    }

    /// The connected peer, or none.
    var peer: mona_addr {
        guard isOpen, !isClosing else { return .none }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                uv_udp_getpeername(udp, pointer, &length) == 0 ? mona_addr(UnsafePointer(pointer)) : .none
            }
        }
    }

    /// Sends one datagram to `target` (nil: the connected peer): at once if the socket takes it, else
    /// a queued copy, refused past `UDPSocket.maxQueuedBytes`. Nil on success, else why not.
    func send(_ bytes: UnsafeRawBufferPointer, to target: mona_addr?) -> String? {
        guard isOpen, !isClosing else { return "UDP socket closed" }
        let attempt: (UnsafePointer<sockaddr>?) -> Int32 = { [udp] address in
            var buffer = uv_buf_init(UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: CChar.self)),
                                     UInt32(bytes.count))
            let sent = uv_udp_try_send(udp, &buffer, 1, address)
            guard sent == UV_EAGAIN.rawValue else { return sent >= 0 ? 0 : sent }
            guard uv_udp_get_send_queue_size(udp) + bytes.count <= UDPSocket.maxQueuedBytes else { return UV_ENOBUFS.rawValue }
            return DatagramRequest(copying: bytes).submit(udp, to: address)
        }
        let status: Int32
        if let target {
            status = target.withSockAddr { address, _ in attempt(address) } ?? UV_EINVAL.rawValue
        } else {
            status = attempt(nil)
        }
        return status == 0 ? nil : String(cString: uv_strerror(status))
    }
}
