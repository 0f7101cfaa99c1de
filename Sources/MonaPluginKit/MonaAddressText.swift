import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// A plugin's log lines print an address as the host's do (`1.2.3.4:80`, `[::1]:80`, `none`), never as
/// a dump of the C struct: `"\(peer)"` is enough in a Swift plugin.
extension mona_addr: @retroactive CustomStringConvertible {
    public var description: String {
        let family: Int32
        switch Int32(self.family) {
        case MONA_AF_INET: family = AF_INET
        case MONA_AF_INET6: family = AF_INET6
        default: return "none"
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard withUnsafeBytes(of: ip, { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }) != nil else { return "none" }
        let ip = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
