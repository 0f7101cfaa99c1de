// The digest ("FP9") handshake's packet layouts: where the 32-byte HMAC-SHA256 digest and the 128-byte
// Diffie-Hellman public key sit in a 1536-byte C1 or S1, and the Adobe keys the digests are made with.
// Both positions derive from sums of 4 bytes of the packet, which never overlap the digest or the key.

/// One of the two layouts of a digest packet; the server answers a client in the client's layout.
enum RTMPDigestScheme: CaseIterable, Sendable {
    /// Digest in the first half (position from bytes 8...11), key in the second (from 1532...1535).
    case a
    /// Key in the first half (position from bytes 768...771), digest in the second (from 772...775).
    case b

    /// "Genuine Adobe Flash Player 001": the key of a client's digest.
    static let playerKey = Array("Genuine Adobe Flash Player 001".utf8)
    /// "Genuine Adobe Flash Media Server 001" and 32 constant bytes: the first 36 bytes key S1's digest,
    /// the 68 bytes key the hash of the client's digest that keys S2's signature.
    static let serverKey = Array("Genuine Adobe Flash Media Server 001".utf8) + [
        0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
        0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
    ]
    /// The length of the text part of `serverKey`.
    static let serverKeyTextLength = 36
    /// The length of a digest (an HMAC-SHA256).
    static let digestLength = 32
    /// The length of a Diffie-Hellman public key of group 2.
    static let publicKeyLength = 128

    /// Where the digest starts in a 1536-byte packet.
    func digestOffset(_ packet: [UInt8]) -> Int {
        switch self {
        case .a: 12 + Self.sum(packet, from: 8) % 728
        case .b: 776 + Self.sum(packet, from: 772) % 728
        }
    }

    /// Where the Diffie-Hellman public key starts in a 1536-byte packet (RTMPE).
    func publicKeyOffset(_ packet: [UInt8]) -> Int {
        switch self {
        case .a: 772 + Self.sum(packet, from: 1532) % 632
        case .b: 8 + Self.sum(packet, from: 768) % 632
        }
    }

    /// The digest `packet` should carry in this layout: the HMAC of the packet without its digest slot.
    func digest(of packet: [UInt8], key: [UInt8], crypto: some RTMPCrypto) -> [UInt8] {
        let offset = digestOffset(packet)
        return crypto.hmacSHA256(key: key, data: Array(packet[..<offset] + packet[(offset + Self.digestLength)...]))
    }

    /// True if `packet` carries, in this layout, the digest made with `key`.
    func validates(_ packet: [UInt8], key: [UInt8], crypto: some RTMPCrypto) -> Bool {
        let offset = digestOffset(packet)
        return packet[offset..<(offset + Self.digestLength)].elementsEqual(digest(of: packet, key: key, crypto: crypto))
    }

    /// Writes the digest made with `key` into the packet's digest slot (after everything else is in place).
    func sign(_ packet: inout [UInt8], key: [UInt8], crypto: some RTMPCrypto) {
        let offset = digestOffset(packet)
        packet.replaceSubrange(offset..<(offset + Self.digestLength), with: digest(of: packet, key: key, crypto: crypto))
    }

    private static func sum(_ packet: [UInt8], from start: Int) -> Int {
        packet[start..<(start + 4)].reduce(0) { $0 + Int($1) }
    }
}
