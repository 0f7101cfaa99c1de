#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address parsed from text, with the properties of MonaServer's IPAddress object.
struct IPAddressInfo {
    /// The canonical text (inet_ntop).
    let text: String
    let isIPv6: Bool
    /// 16 bytes for IPv6, 4 for IPv4.
    let bytes: [UInt8]

    init?(_ string: String) {
        var text = string
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            isIPv6 = false
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            isIPv6 = true
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
        var buffer = [CChar](repeating: 0, count: 64)
        var raw = bytes
        inet_ntop(isIPv6 ? AF_INET6 : AF_INET, &raw, &buffer, 64)
        self.text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The IPv4 bytes of an IPv4, IPv4-mapped or IPv4-compatible address.
    private var v4: [UInt8]? {
        if !isIPv6 { return bytes }
        if isIPv4Mapped || isIPv4Compatible { return Array(bytes[12..<16]) }
        return nil
    }
    private var isIPv4Mapped: Bool { isIPv6 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF }
    private var isIPv4Compatible: Bool {
        isIPv6 && bytes[0..<12].allSatisfy { $0 == 0 } && !(bytes[12..<15].allSatisfy { $0 == 0 } && bytes[15] <= 1)
    }

    /// The boolean properties, by MonaServer's names.
    var flags: [(String, Bool)] {
        let wildcard = bytes.allSatisfy { $0 == 0 }
        let multicast = isIPv6 ? bytes[0] == 0xFF : (bytes[0] & 0xF0) == 0xE0
        let loopback = isIPv6 ? (bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1) : bytes[0] == 127
        let broadcast = !isIPv6 && bytes.allSatisfy { $0 == 0xFF }
        let linkLocal = isIPv6 ? (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80) : (bytes[0] == 169 && bytes[1] == 254)
        let siteLocal = isIPv6
            ? (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0xC0) || (bytes[0] & 0xFE) == 0xFC
            : bytes[0] == 10 || (bytes[0] == 172 && (bytes[1] & 0xF0) == 16) || (bytes[0] == 192 && bytes[1] == 168)
        let scope = bytes[1] & 0x0F
        func v6Multicast(_ s: UInt8) -> Bool { isIPv6 && multicast && scope == s }
        let v4 = self.v4
        return [
            ("isIPv6", isIPv6), ("isWildcard", wildcard), ("isBroadcast", broadcast), ("isAnyBroadcast", broadcast || wildcard),
            ("isLoopback", loopback), ("isMulticast", multicast), ("isUnicast", !wildcard && !broadcast && !multicast),
            ("isLinkLocal", linkLocal), ("isSiteLocal", siteLocal), ("isIPv4Compatible", isIPv4Compatible),
            ("isIPv4Mapped", isIPv4Mapped),
            ("isWellKnownMC", isIPv6 ? v6Multicast(0) || (multicast && (bytes[1] & 0xF0) == 0) : v4.map { $0[0] == 224 && $0[1] == 0 && $0[2] == 0 } ?? false),
            ("isNodeLocalMC", v6Multicast(1)),
            ("isLinkLocalMC", isIPv6 ? v6Multicast(2) : (v4.map { $0[0] == 224 && $0[1] == 0 && $0[2] == 0 } ?? false)),
            ("isSiteLocalMC", isIPv6 ? v6Multicast(5) : (v4.map { $0[0] == 239 && $0[1] == 255 } ?? false)),
            ("isOrgLocalMC", isIPv6 ? v6Multicast(8) : (v4.map { $0[0] == 239 && ($0[1] & 0xFC) == 192 } ?? false)),
            ("isGlobalMC", isIPv6 ? v6Multicast(0xE) : (multicast && !(bytes[0] == 239))),
            ("isLocal", loopback || linkLocal || siteLocal),
        ]
    }
}
