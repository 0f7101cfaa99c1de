import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// A TCP handle that reads its stream into the loop's buffer (Lua's `HostTCPConnection`; the plugins'
/// `TCPConnection` reads the same way, with its TLS path in between).
protocol LoopStreamReader: LoopHandle {
    /// Bytes read, in the loop's one read buffer: valid during the call only.
    func received(_ bytes: UnsafeRawBufferPointer)
    /// The peer finished sending.
    func endOfInput()
    /// Reading (or writing) failed with a libuv status.
    func failed(_ status: Int32)
}

/// A listening TCP handle: the plugins' (`TCPListener`) and Lua's (`HostTCPListener`).
protocol LoopStreamListener: LoopHandle {
    /// A connection waits to be accepted (status 0), or listening failed.
    func incoming(_ status: Int32)
}

extension LoopStreamReader {
    /// Starts reading into the loop's read buffer (the loop's data): a read is handed on before the
    /// next one starts, so one buffer serves every connection.
    func startReadingStream() {
        uv_read_start(uvStream, { handle, _, buffer in
            let loop = uv_handle_get_loop(handle)
            buffer!.pointee = uv_buf_init(uv_loop_get_data(loop)!.assumingMemoryBound(to: CChar.self),
                                          UInt32(Reactor.tcpReadSize))
        }, { stream, count, buffer in
            guard let reader = LoopHandle.owner(stream, as: LoopHandle.self) as? LoopStreamReader else { return }
            if count > 0 {
                reader.received(UnsafeRawBufferPointer(start: buffer!.pointee.base, count: count))
            } else if count == Int(UV_EOF.rawValue) {
                reader.endOfInput()
            } else if count < 0 {
                reader.failed(Int32(count))
            }
        })
    }
}

extension LoopStreamListener {
    /// Adopts a bound descriptor and listens on it: 0, or the libuv status (the descriptor is then
    /// closed, or owned by the handle, which the caller closes).
    func listen(descriptor: Int32, on loop: UnsafeMutablePointer<uv_loop_t>) -> Int32 {
        let tcp = raw.assumingMemoryBound(to: uv_tcp_t.self)
        uv_tcp_init(loop, tcp)
        opened()
        var status = uv_tcp_open(tcp, uv_os_sock_t(descriptor))
        if status != 0 {
            Glibc.close(descriptor)
        } else {
            status = uv_listen(uvStream, 1024) { server, status in
                (LoopHandle.owner(server, as: LoopHandle.self) as? LoopStreamListener)?.incoming(status)
            }
        }
        return status
    }
}
