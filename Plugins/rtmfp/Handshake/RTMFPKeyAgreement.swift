// The responder's side of the Flash profile's key agreement (RFC 7425 §4.3-4.6).
//
// The initiator's Diffie-Hellman public key comes in one of two layouts:
//  - static (Flash Player): the certificate holds the key (option 0x1D `VLU group | key`) and the skic
//    selects its group (option 0x1D `VLU group`);
//  - ephemeral (rtmfp-cpp, librtmfp): the certificate lists groups (0x15) and the skic holds the key
//    (option 0x0D `VLU group | key`).
// The server always answers with a fresh key pair in the same group, in its skrc (option 0x0D), after
// the HMAC and session-sequence negotiation options (RTMFPPacketProtection.swift: it sends what the
// client requires, requires nothing). Both keys come from the shared secret and the two whole components.

/// The two AES-128 keys of a session, seen from the server, and the protection negotiated.
struct RTMFPSessionKeys: Equatable {
    /// Decrypts what the client sends: the first 16 bytes of HMAC-SHA256(secret, HMAC-SHA256(skrc, skic)).
    let decrypt: [UInt8]
    /// Encrypts what the server sends: the first 16 bytes of HMAC-SHA256(secret, HMAC-SHA256(skic, skrc)).
    let encrypt: [UInt8]
    /// HMACs and sequence numbers, as `negotiation` asked.
    let protection: RTMFPPacketProtection

    /// Derives the keys; the HMAC key is written first, `secret` is big-endian without leading zeros.
    init(secret: [UInt8], skic: [UInt8], skrc: [UInt8], negotiation: RTMFPProtectionNegotiation = RTMFPProtectionNegotiation(),
         crypto: some RTMFPCrypto) {
        let decryptHash = crypto.hmacSHA256(key: secret, data: crypto.hmacSHA256(key: skrc, data: skic))
        let encryptHash = crypto.hmacSHA256(key: secret, data: crypto.hmacSHA256(key: skic, data: skrc))
        decrypt = Array(decryptHash.prefix(16))
        encrypt = Array(encryptHash.prefix(16))
        protection = negotiation.protection(secret: secret, encryptKey: encryptHash, decryptKey: decryptHash, crypto: crypto)
    }
}

/// What the server agrees to, given an initiator's certificate and skic.
enum RTMFPKeyAgreement {
    /// The MODP groups the server implements, in the order its certificate offers them, with the size
    /// of their public keys.
    static let groups: [(group: Int, keySize: Int)] = [(2, 128), (5, 192), (14, 256)]

    /// The server's certificate: accepts ancillary data (0x0A), 64 bytes of extra randomness (0x0E),
    /// then one supported group (0x15) per implemented group.
    static func certificate(randomness: [UInt8]) -> [UInt8] {
        var certificate: [UInt8] = []
        certificate.appendOption(type: RTMFPOptionType.acceptsAncillaryData, value: [])
        certificate.appendOption(type: RTMFPOptionType.extraRandomness, value: randomness)
        for entry in groups {
            var group: [UInt8] = []
            group.appendVLU(UInt64(entry.group))
            certificate.appendOption(type: RTMFPOptionType.supportedGroup, value: group)
        }
        return certificate
    }

    /// The initiator's group, public key and negotiation; nil when the certificate or skic is malformed,
    /// the group is not implemented, the key's size is wrong, or the HMAC negotiation is.
    static func initiatorKey(certificate: ArraySlice<UInt8>, skic: ArraySlice<UInt8>)
        -> (group: Int, key: [UInt8], negotiation: RTMFPProtectionNegotiation)?
    {
        guard let certificateOptions = RTMFPOption.list(certificate), let skicOptions = RTMFPOption.list(skic),
              let negotiation = RTMFPProtectionNegotiation(skicOptions: skicOptions) else { return nil }
        let staticKeys = RTMFPOption.grouped(certificateOptions, type: RTMFPOptionType.staticKey)
        let group: UInt64
        let key: ArraySlice<UInt8>
        if staticKeys.isEmpty {
            guard let ephemeral = RTMFPOption.grouped(skicOptions, type: RTMFPOptionType.ephemeralKey).first else { return nil }
            (group, key) = ephemeral
        } else {
            guard let selected = RTMFPOption.grouped(skicOptions, type: RTMFPOptionType.groupSelect).first,
                  let match = staticKeys.first(where: { $0.group == selected.group }) else { return nil }
            (group, key) = match
        }
        guard let entry = groups.first(where: { UInt64($0.group) == group }), !key.isEmpty, key.count <= entry.keySize else {
            return nil
        }
        return (entry.group, Array(key), negotiation)
    }

    /// The server's half: a fresh key pair in `group`, the secret with `peerKey`, the skrc and the
    /// session keys; nil when the key pair cannot be made or the peer's key is out of range.
    static func respond(group: Int, peerKey: [UInt8], skic: [UInt8],
                        negotiation: RTMFPProtectionNegotiation = RTMFPProtectionNegotiation(), crypto: some RTMFPCrypto)
        -> (skrc: [UInt8], keys: RTMFPSessionKeys)?
    {
        guard let pair = crypto.dhNew(group: group) else { return nil }
        defer { crypto.dhFree(pair.handle) }
        guard let secret = crypto.dhSecret(pair.handle, peerKey: peerKey) else { return nil }
        var skrc = negotiation.responderOptions
        var publicKey: [UInt8] = []
        publicKey.appendVLU(UInt64(group))
        publicKey.append(contentsOf: pair.publicKey)
        skrc.appendOption(type: RTMFPOptionType.ephemeralKey, value: publicKey)
        return (skrc, RTMFPSessionKeys(secret: secret, skic: skic, skrc: skrc, negotiation: negotiation, crypto: crypto))
    }
}
