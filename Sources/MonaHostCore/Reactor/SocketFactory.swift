import NIOCore
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Creates bound (and for TCP, listening) sockets synchronously, so that a plugin learns at once
/// whether its port is free; NIO then adopts the descriptor.
enum SocketFactory {
    /// A failure to create, bind or listen, with the errno text.
    struct Failure: Error {
        let code: Int32
        let errnoValue: Int32
        let step: String
        var text: String { "\(step): \(String(cString: strerror(errnoValue)))" }
    }

    /// Opens a socket of `type` (SOCK_STREAM or SOCK_DGRAM) bound to host:port; listens if TCP.
    /// Returns the descriptor and the address actually bound.
    static func bound(type: Int32, host: String, port: UInt16) -> Result<(Int32, mona_addr), Failure> {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: host.isEmpty ? "0.0.0.0" : host, port: Int(port))
        } catch {
            return .failure(Failure(code: MONA_E_INVAL, errnoValue: EINVAL, step: "'\(host)' is not an IP address"))
        }
        let family = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        if fd < 0 { return .failure(Failure(code: MONA_E_IO, errnoValue: errno, step: "socket")) }
        var one: Int32 = 1
        if type == Int32(SOCK_STREAM.rawValue) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bindResult = address.withSockAddr { pointer, size in bind(fd, pointer, socklen_t(size)) }
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
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var bound = mona_addr(try? SocketAddress(ipAddress: address.ipAddress ?? "0.0.0.0", port: Int(port)))
        if named == 0 {
            let family = storage.ss_family
            let actual: SocketAddress? = withUnsafeBytes(of: &storage) { raw in
                if family == sa_family_t(AF_INET6) {
                    return SocketAddress(raw.load(as: sockaddr_in6.self), host: "")
                }
                return SocketAddress(raw.load(as: sockaddr_in.self), host: "")
            }
            bound = mona_addr(actual)
        }
        return .success((fd, bound))
    }
}
