// The test client's handshake messages (RFC 7016 §2.3.2-2.3.7 and §3.5.1, RFC 7425 §4.2-4.3):
// builders for what an initiator sends, parsers for what a responder answers.

extension RTMFPTestClient {
    /// A socket address as Redirect and FIHello carry it (RFC 7016 §2.3.5): a flags byte (0x80 IPv6,
    /// low two bits the origin: 0 unknown, 1 local, 2 public, 3 relay), the address, the port.
    struct Address: Equatable, CustomStringConvertible {
        /// 4 or 16 address bytes.
        var ip: [UInt8]
        /// The UDP port.
        var port: UInt16
        /// The origin bits.
        var origin: UInt8

        /// Creates an address.
        init(ip: [UInt8], port: UInt16, origin: UInt8) {
            self.ip = ip
            self.port = port
            self.origin = origin
        }

        /// Reads one address; nil when truncated.
        static func read(_ reader: inout Reader) -> Address? {
            guard let flags = reader.u8(), let ip = reader.bytes(flags & 0x80 != 0 ? 16 : 4), let port = reader.u16() else {
                return nil
            }
            return Address(ip: ip, port: port, origin: flags & 0x03)
        }

        /// The wire form.
        var encoded: [UInt8] {
            [(ip.count == 16 ? 0x80 : 0) | origin & 0x03] + ip + Wire.u16(port)
        }

        /// "a.b.c.d:port" (IPv6 as hexadecimal groups in brackets).
        var description: String {
            if ip.count == 4 { return ip.map(String.init).joined(separator: ".") + ":\(port)" }
            let groups = stride(from: 0, to: ip.count, by: 2).map { String(UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]), radix: 16) }
            return "[" + groups.joined(separator: ":") + "]:\(port)"
        }
    }

    /// How the client presents its Diffie-Hellman key (RFC 7425 §4.3).
    enum KeyLayout: Equatable {
        /// Flash Player's: a static key (option 0x1D) alone in the certificate, a group select
        /// (0x1D) and extra randomness (0x0E) in the skic.
        case flashStatic
        /// A certificate that advertises groups (0x15) and an ephemeral key (0x0D) in the skic.
        case ephemeral
    }

    /// Option codes of the Flash profile (RFC 7425 §4.2-4.3).
    enum OptionCode {
        static let ancillaryData: UInt64 = 0x0A
        static let fingerprint: UInt64 = 0x0F
        static let acceptsAncillaryData: UInt64 = 0x0A
        static let extraRandomness: UInt64 = 0x0E
        static let supportedGroup: UInt64 = 0x15
        static let staticKey: UInt64 = 0x1D
        static let ephemeralKey: UInt64 = 0x0D
        static let groupSelect: UInt64 = 0x1D
        static let hmacNegotiation: UInt64 = 0x1A
        static let sequenceNegotiation: UInt64 = 0x1E
        /// The "request" bit of the HMAC and session-sequence negotiation flags.
        static let negotiationRequest: UInt8 = 0x01
        /// The "send on request" bit.
        static let negotiationSendOnRequest: UInt8 = 0x02
    }

    /// RHello (0x70): `VLU tagLength | tag | VLU cookieLength | cookie | responder certificate`.
    struct ResponderHello: Equatable {
        var tag: [UInt8]
        var cookie: [UInt8]
        var certificate: [UInt8]

        /// Parses a chunk value; nil when truncated.
        init?(_ value: [UInt8]) {
            var reader = Reader(value)
            guard let tag = reader.vluPrefixed(), let cookie = reader.vluPrefixed() else { return nil }
            self.tag = tag
            self.cookie = cookie
            certificate = reader.rest()
        }
    }

    /// Redirect (0x71): `VLU tagLength | tag | addresses`.
    struct Redirect: Equatable {
        var tag: [UInt8]
        var addresses: [Address]

        /// Parses a chunk value; nil when truncated.
        init?(_ value: [UInt8]) {
            var reader = Reader(value)
            guard let tag = reader.vluPrefixed() else { return nil }
            var addresses: [Address] = []
            while !reader.atEnd {
                guard let address = Address.read(&reader) else { return nil }
                addresses.append(address)
            }
            self.tag = tag
            self.addresses = addresses
        }
    }

    /// FIHello (0x0F), a rendezvous introduction: `VLU epdLength | EPD | reply address | tag`.
    struct ForwardedHello: Equatable {
        var endpointDiscriminator: [UInt8]
        var replyAddress: Address
        var tag: [UInt8]

        /// Parses a chunk value; nil when truncated.
        init?(_ value: [UInt8]) {
            var reader = Reader(value)
            guard let epd = reader.vluPrefixed(), let address = Address.read(&reader) else { return nil }
            endpointDiscriminator = epd
            replyAddress = address
            tag = reader.rest()
        }
    }

    /// RIKeying (0x78): `responder session ID (32) | VLU skrcLength | skrc | signature`.
    struct ResponderKeying: Equatable {
        var sessionID: UInt32
        var skrc: [UInt8]
        var signature: [UInt8]

        /// Parses a chunk value; nil when truncated.
        init?(_ value: [UInt8]) {
            var reader = Reader(value)
            guard let sessionID = reader.u32(), let skrc = reader.vluPrefixed() else { return nil }
            self.sessionID = sessionID
            self.skrc = skrc
            signature = reader.rest()
        }
    }

    /// What a responder certificate says (RFC 7425 §4.2).
    struct ResponderCertificate: Equatable {
        /// The groups offered for ephemeral keys (options 0x15), in order.
        var supportedGroups: [Int] = []
        /// Static public keys by group (options 0x1D).
        var staticKeys: [Int: [UInt8]] = [:]
        /// True when option 0x0A (accepts ancillary data) is present.
        var acceptsAncillaryData = false

        /// Parses a certificate; nil when an option is malformed.
        init?(_ bytes: [UInt8]) {
            guard let options = Option.list(bytes) else { return nil }
            for option in options {
                var reader = Reader(option.value)
                switch option.type {
                case OptionCode.acceptsAncillaryData:
                    acceptsAncillaryData = true
                case OptionCode.supportedGroup:
                    guard let group = reader.vlu(), group <= 0xFFFF else { return nil }
                    supportedGroups.append(Int(group))
                case OptionCode.staticKey:
                    guard let group = reader.vlu(), group <= 0xFFFF else { return nil }
                    staticKeys[Int(group)] = reader.rest()
                default:
                    break
                }
            }
        }
    }

    /// The handshake messages an initiator sends.
    enum Handshake {
        /// An endpoint discriminator naming a server by URL (option 0x0A, ancillary data).
        static func endpointDiscriminator(url: String) -> [UInt8] {
            Option(type: OptionCode.ancillaryData, value: Array(url.utf8)).encoded
        }

        /// An endpoint discriminator naming a peer by its 32-byte ID (option 0x0F, fingerprint).
        static func endpointDiscriminator(peerID: [UInt8]) -> [UInt8] {
            Option(type: OptionCode.fingerprint, value: peerID).encoded
        }

        /// IHello (0x30): `VLU epdLength | EPD | tag`.
        static func iHello(endpointDiscriminator: [UInt8], tag: [UInt8]) -> Chunk {
            Chunk(ChunkType.iHello, Wire.vluPrefixed(endpointDiscriminator) + tag)
        }

        /// IIKeying (0x38): `initiator session ID | VLU cookie | VLU certificate | VLU skic | signature`.
        static func iiKeying(sessionID: UInt32, cookie: [UInt8], certificate: [UInt8], skic: [UInt8],
                             signature: [UInt8]) -> Chunk {
            Chunk(ChunkType.iiKeying, Wire.u32(sessionID) + Wire.vluPrefixed(cookie) + Wire.vluPrefixed(certificate)
                + Wire.vluPrefixed(skic) + signature)
        }

        /// The group an initiator picks: `forced` if given, else 14 when offered, else 2 when offered.
        static func chooseGroup(offered: [Int], forced: Int?) -> Int? {
            if let forced { return forced }
            if offered.contains(14) { return 14 }
            return offered.contains(2) ? 2 : nil
        }

        /// The initiator certificate for `layout` around `keyPair`.
        static func certificate(layout: KeyLayout, keyPair: KeyPair) -> [UInt8] {
            switch layout {
            case .flashStatic:
                return Option(type: OptionCode.staticKey, value: Wire.vlu(UInt64(keyPair.group)) + keyPair.publicKey).encoded
            case .ephemeral:
                return Option(type: OptionCode.acceptsAncillaryData, value: []).encoded
                    + Option(type: OptionCode.extraRandomness, value: Crypto.random(64)).encoded
                    + Option(type: OptionCode.supportedGroup, value: Wire.vlu(2)).encoded
                    + Option(type: OptionCode.supportedGroup, value: Wire.vlu(14)).encoded
            }
        }

        /// The session key initiator component (skic) for `layout`; with `negotiation`, HMAC and
        /// session-sequence negotiation options saying "send on request, not requested" follow.
        static func initiatorComponent(layout: KeyLayout, keyPair: KeyPair, negotiation: Bool) -> [UInt8] {
            var skic: [UInt8]
            switch layout {
            case .flashStatic:
                skic = Option(type: OptionCode.groupSelect, value: Wire.vlu(UInt64(keyPair.group))).encoded
                    + Option(type: OptionCode.extraRandomness, value: Crypto.random(64)).encoded
            case .ephemeral:
                skic = Option(type: OptionCode.ephemeralKey, value: Wire.vlu(UInt64(keyPair.group)) + keyPair.publicKey).encoded
            }
            if negotiation {
                skic += Option(type: OptionCode.hmacNegotiation, value: [OptionCode.negotiationSendOnRequest] + Wire.vlu(16)).encoded
                skic += Option(type: OptionCode.sequenceNegotiation, value: [OptionCode.negotiationSendOnRequest]).encoded
            }
            return skic
        }

        /// The responder's ephemeral public key for `group` in its skrc (option 0x0D).
        static func responderPublicKey(skrc: [UInt8], group: Int) -> [UInt8]? {
            guard let options = Option.list(skrc) else { return nil }
            for option in options where option.type == OptionCode.ephemeralKey {
                var reader = Reader(option.value)
                if reader.vlu() == UInt64(group) { return reader.rest() }
            }
            return nil
        }

        /// True when the skrc requires HMAC or session sequence numbers, which this client lacks.
        static func requiresUnsupportedNegotiation(skrc: [UInt8]) -> Bool {
            guard let options = Option.list(skrc) else { return false }
            return options.contains {
                ($0.type == OptionCode.hmacNegotiation || $0.type == OptionCode.sequenceNegotiation)
                    && ($0.value.first ?? 0) & OptionCode.negotiationRequest != 0
            }
        }
    }
}
