import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Addresses as RTMFP sessions compare and read them: equality (mobility, rendezvous) and the
/// "ip:port" / "[ipv6]:port" text of NetConnection.setPeerInfo.
enum RTMFPAddresses {
    static func same(_ a: mona_addr, _ b: mona_addr) -> Bool {
        guard a.family == b.family, a.port == b.port else { return false }
        return withUnsafeBytes(of: a.ip) { left in withUnsafeBytes(of: b.ip) { right in left.elementsEqual(right) } }
    }

    /// "1.2.3.4:5", "[::1]:5" (or "::1:5" is ambiguous: refused); nil for anything else.
    static func parse(_ text: String) -> mona_addr? {
        var host = Substring(text)
        guard let colon = host.lastIndex(of: ":"), let port = UInt16(host[host.index(after: colon)...]) else { return nil }
        host = host[..<colon]
        var address = mona_addr()
        address.port = port
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
            var ip = in6_addr()
            guard inet_pton(AF_INET6, String(host), &ip) == 1 else { return nil }
            address.family = UInt16(MONA_AF_INET6)
            withUnsafeBytes(of: ip) { source in withUnsafeMutableBytes(of: &address.ip) { $0.copyMemory(from: source) } }
            return address
        }
        var ip = in_addr()
        guard inet_pton(AF_INET, String(host), &ip) == 1 else { return nil }
        address.family = UInt16(MONA_AF_INET)
        withUnsafeBytes(of: ip) { source in
            withUnsafeMutableBytes(of: &address.ip) { UnsafeMutableRawBufferPointer(rebasing: $0[0..<4]).copyMemory(from: source) }
        }
        return address
    }
}
