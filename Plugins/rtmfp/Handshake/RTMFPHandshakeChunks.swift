import PluginABI

// The handshake's chunks (RFC 7016 §2.3.2-2.3.8) and the options inside them (RFC 7016 §2.1.3,
// RFC 7425 §4.2-4.4). Parsers answer nil for anything truncated or malformed.

/// Chunk types of the handshake (all on session id 0, except FIHello which goes to the target's session).
enum RTMFPHandshakeChunkType {
    static let iHello: UInt8 = 0x30
    static let forwardedIHello: UInt8 = 0x0F
    static let rHello: UInt8 = 0x70
    static let redirect: UInt8 = 0x71
    static let iiKeying: UInt8 = 0x38
    static let riKeying: UInt8 = 0x78
}

/// Option types of the Flash profile (RFC 7425 §4.2-4.4).
enum RTMFPOptionType {
    // Endpoint discriminator.
    static let ancillaryData: UInt64 = 0x0A
    static let fingerprint: UInt64 = 0x0F
    // Certificate.
    static let acceptsAncillaryData: UInt64 = 0x0A
    static let extraRandomness: UInt64 = 0x0E
    static let supportedGroup: UInt64 = 0x15
    static let staticKey: UInt64 = 0x1D
    // Session key components.
    static let ephemeralKey: UInt64 = 0x0D
    static let groupSelect: UInt64 = 0x1D
    static let hmacNegotiation: UInt64 = 0x1A
    static let sequenceNegotiation: UInt64 = 0x1E
}

/// One option: `VLU length | VLU type | value`, the length covering type and value (0 is a marker).
struct RTMFPOption {
    let type: UInt64
    let value: ArraySlice<UInt8>

    /// The options of `bytes` before the first marker (the rest must still be well-formed); nil when an
    /// option is truncated.
    static func list(_ bytes: ArraySlice<UInt8>) -> [RTMFPOption]? {
        var reader = RTMFPReader(bytes)
        var options: [RTMFPOption] = []
        var markerSeen = false
        while !reader.atEnd {
            guard let length = reader.length(), let body = reader.bytes(length) else { return nil }
            guard !body.isEmpty else {
                markerSeen = true
                continue
            }
            var inner = RTMFPReader(body)
            guard let type = inner.vlu() else { return nil }
            if !markerSeen { options.append(RTMFPOption(type: type, value: inner.rest())) }
        }
        return options
    }

    /// The options of `type` whose value starts with a VLU (a DH group), in order: that group and what
    /// follows it (a key, or nothing for a group select).
    static func grouped(_ options: [RTMFPOption], type: UInt64) -> [(group: UInt64, rest: ArraySlice<UInt8>)] {
        options.compactMap { option in
            guard option.type == type else { return nil }
            var reader = RTMFPReader(option.value)
            guard let group = reader.vlu() else { return nil }
            return (group, reader.rest())
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends an option: `VLU length | VLU type | value`.
    mutating func appendOption(type: UInt64, value: some Collection<UInt8>) {
        appendVLU(UInt64(RTMFPVLU.size(type) + value.count))
        appendVLU(type)
        append(contentsOf: value)
    }
}

/// IHello (0x30): `VLU epdLength | endpoint discriminator | tag`.
struct RTMFPInitiatorHello {
    /// Whom the initiator wants.
    enum Target: Equatable {
        /// This server, by the URL of the connection (option 0x0A, ancillary data).
        case server(url: String)
        /// A peer, by its 32-byte peer id (option 0x0F, fingerprint): a rendezvous.
        case peer(id: [UInt8])
    }

    /// The longest tag accepted (Flash's are 16 bytes): tags are remembered, so they are bounded.
    static let maxTagSize = 64
    /// Size of a peer id.
    static let peerIDSize = 32

    let target: Target
    let tag: [UInt8]

    /// Parses a chunk value; nil when malformed, when the discriminator names neither a URL (UTF-8) nor
    /// a 32-byte peer id, or when the tag is empty or longer than `maxTagSize`.
    init?(_ value: ArraySlice<UInt8>) {
        var reader = RTMFPReader(value)
        guard let epdLength = reader.length(), let epd = reader.bytes(epdLength), let options = RTMFPOption.list(epd) else {
            return nil
        }
        let tag = reader.rest()
        guard !tag.isEmpty, tag.count <= Self.maxTagSize else { return nil }
        if let fingerprint = options.first(where: { $0.type == RTMFPOptionType.fingerprint }) {
            guard fingerprint.value.count == Self.peerIDSize else { return nil }
            target = .peer(id: Array(fingerprint.value))
        } else if let ancillary = options.first(where: { $0.type == RTMFPOptionType.ancillaryData }) {
            guard !ancillary.value.isEmpty, let url = String(validating: ancillary.value, as: UTF8.self) else { return nil }
            target = .server(url: url)
        } else {
            return nil
        }
        self.tag = Array(tag)
    }
}

/// IIKeying (0x38): `initiator session id (32) | VLU cookieLength | cookie | VLU certLength |
/// certificate | VLU skicLength | session key initiator component | signature`.
struct RTMFPInitiatorKeying {
    /// The session id the initiator wants in our packets.
    let sessionID: UInt32
    let cookie: ArraySlice<UInt8>
    let certificate: ArraySlice<UInt8>
    /// The session key initiator component (skic).
    let skic: ArraySlice<UInt8>

    /// Parses a chunk value; nil when truncated. The signature (the rest) is not used by the Flash profile.
    init?(_ value: ArraySlice<UInt8>) {
        var reader = RTMFPReader(value)
        guard let sessionID = reader.u32(),
              let cookieLength = reader.length(), let cookie = reader.bytes(cookieLength),
              let certificateLength = reader.length(), let certificate = reader.bytes(certificateLength),
              let skicLength = reader.length(), let skic = reader.bytes(skicLength) else { return nil }
        self.sessionID = sessionID
        self.cookie = cookie
        self.certificate = certificate
        self.skic = skic
    }
}

/// RHello (0x70): `VLU tagLength | tag echo | VLU cookieLength | cookie | responder certificate`.
enum RTMFPResponderHello {
    static func encode(tag: [UInt8], cookie: [UInt8], certificate: [UInt8]) -> [UInt8] {
        var value: [UInt8] = []
        value.reserveCapacity(tag.count + cookie.count + certificate.count + 4)
        value.appendVLUPrefixed(tag)
        value.appendVLUPrefixed(cookie)
        value.append(contentsOf: certificate)
        return value
    }
}

/// RIKeying (0x78): `responder session id (32) | VLU skrcLength | skrc | signature`.
enum RTMFPResponderKeying {
    /// The signature the Flash profile puts after the skrc (MonaServer's and Flash's single byte).
    static let signature: [UInt8] = [0x58]

    static func encode(sessionID: UInt32, skrc: [UInt8]) -> [UInt8] {
        var value: [UInt8] = []
        value.reserveCapacity(skrc.count + 8)
        value.appendU32(sessionID)
        value.appendVLUPrefixed(skrc)
        value.append(contentsOf: signature)
        return value
    }
}

/// Redirect (0x71): `VLU tagLength | tag echo | addresses` (RTMFPAddressEncoding).
enum RTMFPRedirect {
    /// The chunk value; addresses that are neither IPv4 nor IPv6 are left out.
    static func encode(tag: [UInt8], addresses: [(address: mona_addr, origin: RTMFPAddressOrigin)]) -> [UInt8] {
        var value: [UInt8] = []
        value.appendVLUPrefixed(tag)
        for entry in addresses { RTMFPAddressEncoding.append(entry.address, origin: entry.origin, to: &value) }
        return value
    }

    /// The tag and addresses of a chunk value; nil when truncated.
    static func decode(_ value: ArraySlice<UInt8>) -> (tag: [UInt8], addresses: [(address: mona_addr, origin: RTMFPAddressOrigin)])? {
        var reader = RTMFPReader(value)
        guard let tagLength = reader.length(), let tag = reader.bytes(tagLength) else { return nil }
        var addresses: [(address: mona_addr, origin: RTMFPAddressOrigin)] = []
        while !reader.atEnd {
            guard let address = RTMFPAddressEncoding.read(&reader) else { return nil }
            addresses.append(address)
        }
        return (Array(tag), addresses)
    }
}

/// FIHello (0x0F), sent to a rendezvous target on its session: `VLU epdLength | endpoint discriminator
/// (the target's peer id as option 0x0F) | reply address | tag`.
enum RTMFPForwardedHello {
    static func encode(peerID: [UInt8], replyAddress: mona_addr, origin: RTMFPAddressOrigin, tag: [UInt8]) -> [UInt8] {
        var epd: [UInt8] = []
        epd.appendOption(type: RTMFPOptionType.fingerprint, value: peerID)
        var value: [UInt8] = []
        value.appendVLUPrefixed(epd)
        RTMFPAddressEncoding.append(replyAddress, origin: origin, to: &value)
        value.append(contentsOf: tag)
        return value
    }

    /// The peer id, reply address and tag of a chunk value; nil when malformed.
    static func decode(_ value: ArraySlice<UInt8>) -> (peerID: [UInt8], replyAddress: mona_addr, origin: RTMFPAddressOrigin, tag: [UInt8])? {
        var reader = RTMFPReader(value)
        guard let epdLength = reader.length(), let epd = reader.bytes(epdLength), let options = RTMFPOption.list(epd),
              let fingerprint = options.first(where: { $0.type == RTMFPOptionType.fingerprint }),
              let address = RTMFPAddressEncoding.read(&reader) else { return nil }
        return (Array(fingerprint.value), address.address, address.origin, Array(reader.rest()))
    }
}
