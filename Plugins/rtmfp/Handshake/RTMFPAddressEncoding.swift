import PluginABI

/// Where an address in a Redirect or FIHello comes from (RFC 7016 §2.1.5; MonaServer's names in
/// parentheses).
enum RTMFPAddressOrigin: UInt8, Sendable {
    /// Not said (unspecified).
    case unknown = 0
    /// An address the peer reported for its own interfaces (local).
    case local = 1
    /// The address the server saw the peer's packets come from (public).
    case observed = 2
    /// A relay or another server (redirect).
    case relay = 3
}

/// The wire form of an address: `flags | 4 or 16 address bytes | port (16 bits)`, the flags being
/// 0x80 for IPv6 and the origin in the two low bits. Read and written over `mona_addr`.
enum RTMFPAddressEncoding {
    /// The IPv6 bit of the flags.
    static let ipv6Flag: UInt8 = 0x80
    /// The origin bits of the flags.
    static let originMask: UInt8 = 0x03

    /// Appends `address` with `origin`; false (nothing appended) for an address that is neither IPv4 nor IPv6.
    @discardableResult
    static func append(_ address: mona_addr, origin: RTMFPAddressOrigin, to bytes: inout [UInt8]) -> Bool {
        let size: Int
        switch Int32(address.family) {
        case MONA_AF_INET: size = 4
        case MONA_AF_INET6: size = 16
        default: return false
        }
        bytes.append((size == 16 ? ipv6Flag : 0) | origin.rawValue)
        withUnsafeBytes(of: address.ip) { bytes.append(contentsOf: $0.prefix(size)) }
        bytes.appendU16(address.port)
        return true
    }

    /// Reads one address; nil when truncated (the reader is then left where it was).
    static func read(_ reader: inout RTMFPReader) -> (address: mona_addr, origin: RTMFPAddressOrigin)? {
        let start = reader
        guard let flags = reader.u8() else { return nil }
        let ipv6 = flags & ipv6Flag != 0
        guard let ip = reader.bytes(ipv6 ? 16 : 4), let port = reader.u16(),
              let origin = RTMFPAddressOrigin(rawValue: flags & originMask) else {
            reader = start
            return nil
        }
        var address = mona_addr()
        address.family = UInt16(ipv6 ? MONA_AF_INET6 : MONA_AF_INET)
        address.port = port
        withUnsafeMutableBytes(of: &address.ip) { $0.copyBytes(from: ip) }
        return (address, origin)
    }
}
