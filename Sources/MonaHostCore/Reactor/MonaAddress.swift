import NIOCore
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Conversions between the ABI's fixed-size `mona_addr` and socket addresses.
extension mona_addr {
    /// The empty address (family MONA_AF_NONE).
    static var none: mona_addr { mona_addr() }

    /// The address of an NIO socket address (unix sockets map to none).
    init(_ address: SocketAddress?) {
        self.init()
        switch address {
        case .v4(let v4)?:
            family = UInt16(MONA_AF_INET)
            port = UInt16(bigEndian: v4.address.sin_port)
            var ip = v4.address.sin_addr.s_addr
            withUnsafeBytes(of: &ip) { source in
                withUnsafeMutableBytes(of: &self.ip) { $0.copyMemory(from: source) }
            }
        case .v6(let v6)?:
            family = UInt16(MONA_AF_INET6)
            port = UInt16(bigEndian: v6.address.sin6_port)
            var ip = v6.address.sin6_addr
            withUnsafeBytes(of: &ip) { source in
                withUnsafeMutableBytes(of: &self.ip) { $0.copyMemory(from: source) }
            }
        default:
            break
        }
    }

    /// The NIO socket address, or nil for MONA_AF_NONE and unknown families.
    var socketAddress: SocketAddress? {
        var copy = self
        switch Int32(family) {
        case MONA_AF_INET:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { target in
                withUnsafeBytes(of: &copy.ip) { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<4])) }
            }
            return SocketAddress(sin, host: "")
        case MONA_AF_INET6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { target in
                withUnsafeBytes(of: &copy.ip) { target.copyMemory(from: $0) }
            }
            return SocketAddress(sin6, host: "")
        default:
            return nil
        }
    }

    /// `1.2.3.4:80` or `[::1]:80`.
    var description: String {
        guard let address = socketAddress else { return "none" }
        let ip = address.ipAddress ?? "?"
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
