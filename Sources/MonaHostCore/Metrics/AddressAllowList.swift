import PluginABI

/// Who may read the metrics: loopback peers always (127.0.0.0/8, ::1), and the addresses and networks
/// of `metrics.allow`, a list of IPv4 and IPv6 addresses and CIDR blocks separated by commas, semicolons
/// or blanks ("10.0.0.0/8, 192.0.2.7 fd00::/8"). IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d),
/// so that an IPv4 entry also matches the same peer seen by a dual-stack socket.
struct AddressAllowList: Equatable {
    /// One network: its first `prefix` bits.
    struct Network: Equatable {
        /// The address as 16 bytes (IPv4 mapped).
        let bytes: [UInt8]
        /// Bits that must match, 0...128.
        let prefix: Int
    }

    /// The networks the list holds, loopback first.
    private(set) var networks: [Network]
    /// Entries of the text that are neither an address nor a CIDR block (ignored).
    private(set) var invalid: [String] = []

    /// Loopback peers.
    static let loopback = [Network(bytes: mapped([127, 0, 0, 0]), prefix: 104), Network(bytes: Array(repeating: 0, count: 15) + [1], prefix: 128)]

    /// Loopback and the entries of `text` (nil or empty: loopback alone).
    init(_ text: String?) {
        networks = Self.loopback
        let separators: Set<Character> = [",", ";", " ", "\t"]
        for entry in (text ?? "").split(whereSeparator: { separators.contains($0) }).map(String.init) {
            if let network = Self.network(entry) { networks.append(network) } else { invalid.append(entry) }
        }
    }

    /// "a.b.c.d", "a.b.c.d/n", an IPv6 literal or "v6/n"; nil when it is none of them.
    static func network(_ entry: String) -> Network? {
        let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = mona_addr(ip: String(parts[0]), port: 0) else { return nil }
        let v6 = address.isIPv6
        let width = v6 ? 128 : 32
        var prefix = width
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let bits = Int(parts[1]), bits <= width else { return nil }
            prefix = bits
        }
        let bytes = Self.bytes(address)
        return Network(bytes: bytes, prefix: v6 ? prefix : prefix + 96)
    }

    /// True when `address` is loopback or in one of the networks.
    func allows(_ address: mona_addr) -> Bool {
        guard address.family == UInt16(MONA_AF_INET) || address.family == UInt16(MONA_AF_INET6) else { return false }
        let bytes = Self.bytes(address)
        return networks.contains { Self.matches(bytes, $0) }
    }

    private static func matches(_ bytes: [UInt8], _ network: Network) -> Bool {
        let whole = network.prefix / 8
        guard bytes[..<whole] == network.bytes[..<whole] else { return false }
        let rest = network.prefix % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xFF) << (8 - rest)
        return bytes[whole] & mask == network.bytes[whole] & mask
    }

    /// An address as 16 bytes, IPv4 mapped.
    private static func bytes(_ address: mona_addr) -> [UInt8] {
        let all = withUnsafeBytes(of: address.ip) { Array($0) }
        return address.isIPv6 ? all : mapped(Array(all[0..<4]))
    }

    private static func mapped(_ v4: [UInt8]) -> [UInt8] {
        Array(repeating: 0, count: 10) + [0xFF, 0xFF] + v4
    }
}
