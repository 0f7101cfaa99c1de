import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Conversions between the ABI's fixed-size `mona_addr`, socket addresses and IP text.
extension mona_addr {
    /// The empty address (family MONA_AF_NONE).
    static var none: mona_addr { mona_addr() }

    /// The address in a `sockaddr_in`/`sockaddr_in6` (other families map to none).
    init(_ address: UnsafePointer<sockaddr>) {
        self.init()
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let sin = UnsafeRawPointer(address).load(as: sockaddr_in.self)
            family = UInt16(MONA_AF_INET)
            port = UInt16(bigEndian: sin.sin_port)
            withUnsafeBytes(of: sin.sin_addr) { source in
                withUnsafeMutableBytes(of: &ip) { $0.copyMemory(from: source) }
            }
        case AF_INET6:
            let sin6 = UnsafeRawPointer(address).load(as: sockaddr_in6.self)
            family = UInt16(MONA_AF_INET6)
            port = UInt16(bigEndian: sin6.sin6_port)
            withUnsafeBytes(of: sin6.sin6_addr) { source in
                withUnsafeMutableBytes(of: &ip) { $0.copyMemory(from: source) }
            }
        default:
            break
        }
    }

    /// The address of an IP literal (IPv4 dotted or IPv6) and a port, or nil when `text` is not one.
    init?(ip text: String, port: UInt16) {
        self.init()
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            family = UInt16(MONA_AF_INET)
            withUnsafeBytes(of: v4) { source in withUnsafeMutableBytes(of: &ip) { $0.copyMemory(from: source) } }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            family = UInt16(MONA_AF_INET6)
            withUnsafeBytes(of: v6) { source in withUnsafeMutableBytes(of: &ip) { $0.copyMemory(from: source) } }
        } else {
            return nil
        }
        self.port = port
    }

    /// Calls `body` with the socket address (and its length), or returns nil for MONA_AF_NONE and
    /// unknown families.
    func withSockAddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) rethrows -> T? {
        var storage = sockaddr_storage()
        let length: Int
        switch Int32(family) {
        case MONA_AF_INET:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeBytes(of: ip) { source in
                withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<4])) }
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin, as: sockaddr_in.self) }
            length = MemoryLayout<sockaddr_in>.size
        case MONA_AF_INET6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeBytes(of: ip) { source in
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyMemory(from: source) }
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
            length = MemoryLayout<sockaddr_in6>.size
        default:
            return nil
        }
        return try withUnsafePointer(to: &storage) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(length)) }
        }
    }

    /// True for IPv6.
    var isIPv6: Bool { Int32(family) == MONA_AF_INET6 }

    /// The IP as text (`1.2.3.4`, `::1`), or nil for MONA_AF_NONE.
    var ipText: String? {
        let addressFamily: Int32
        switch Int32(family) {
        case MONA_AF_INET: addressFamily = AF_INET
        case MONA_AF_INET6: addressFamily = AF_INET6
        default: return nil
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let done = withUnsafeBytes(of: ip) { inet_ntop(addressFamily, $0.baseAddress, &text, socklen_t(text.count)) }
        guard done != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `1.2.3.4:80` or `[::1]:80`.
    var description: String {
        guard let ip = ipText else { return "none" }
        return isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
