import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Creates bound (and for TCP, listening) sockets synchronously, so that a plugin learns at once
/// whether its port is free; libuv then adopts the descriptor.
enum SocketFactory {
    /// A failure to create, bind or listen, with the errno text.
    struct Failure: Error {
        let code: Int32
        let errnoValue: Int32
        let step: String
        var text: String { "\(step): \(String(cString: strerror(errnoValue)))" }
    }

    /// Opens a non-blocking socket of `type` (SOCK_STREAM or SOCK_DGRAM) bound to host:port; listens
    /// if TCP. Returns the descriptor and the address actually bound.
    static func bound(type: Int32, host: String, port: UInt16) -> Result<(Int32, mona_addr), Failure> {
        guard let address = mona_addr(ip: host.isEmpty ? "0.0.0.0" : host, port: port) else {
            return .failure(Failure(code: MONA_E_INVAL, errnoValue: EINVAL, step: "'\(host)' is not an IP address"))
        }
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        if fd < 0 { return .failure(Failure(code: MONA_E_IO, errnoValue: errno, step: "socket")) }
        var one: Int32 = 1
        if type == Int32(SOCK_STREAM.rawValue) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bindResult = address.withSockAddr { pointer, size in bind(fd, pointer, size) } ?? -1
        if bindResult != 0 {
            let error = errno
            close(fd)
            return .failure(Failure(code: error == EADDRINUSE || error == EACCES ? MONA_E_ADDRINUSE : MONA_E_IO,
                                    errnoValue: error, step: "bind"))
        }
        if type == Int32(SOCK_STREAM.rawValue), listen(fd, 1024) != 0 {
            let error = errno
            close(fd)
            return .failure(Failure(code: MONA_E_IO, errnoValue: error, step: "listen"))
        }
        return .success((fd, localAddress(fd) ?? address))
    }

    /// The address a socket is bound to.
    static func localAddress(_ fd: Int32) -> mona_addr? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                getsockname(fd, pointer, &length) == 0 ? mona_addr(UnsafePointer(pointer)) : nil
            }
        }
    }
}
