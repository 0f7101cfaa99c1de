import Testing

/// The test client's handshake messages against byte layouts written by hand from RFC 7016 §2.3
/// and RFC 7425 §4 (and MonaServer's RHello/RIKeying as protocols.md §3.3 describes them).
@Suite struct ClientHandshakeTests {
    typealias Client = RTMFPTestClient

    /// MonaServer's responder certificate: accepts ancillary data, 64 bytes of extra randomness,
    /// groups 2, 5 and 14.
    static let monaCertificate: [UInt8] = [0x01, 0x0A, 0x41, 0x0E] + [UInt8](repeating: 0x5A, count: 64)
        + [0x02, 0x15, 0x02, 0x02, 0x15, 0x05, 0x02, 0x15, 0x0E]

    @Test func iHelloCarriesTheURLAsAncillaryData() {
        let tag = [UInt8](0..<16)
        let chunk = Client.Handshake.iHello(endpointDiscriminator: Client.Handshake.endpointDiscriminator(url: "rtmfp://h/a"),
                                            tag: tag)
        // EPD = option (length 12, type 0x0A, 11 URL bytes); the value = VLU epd length 13, EPD, tag.
        #expect(chunk.encoded == [0x30, 0x00, 0x1E, 0x0D, 0x0C, 0x0A] + Array("rtmfp://h/a".utf8) + tag)
        let peer = [UInt8](repeating: 0xAB, count: 32)
        #expect(Client.Handshake.endpointDiscriminator(peerID: peer) == [0x21, 0x0F] + peer)
    }

    @Test func rHelloParses() throws {
        let tag = [UInt8](0..<16)
        let cookie = [UInt8](repeating: 0xC0, count: 64)
        let hello = try #require(Client.ResponderHello([0x10] + tag + [0x40] + cookie + Self.monaCertificate))
        #expect(hello.tag == tag)
        #expect(hello.cookie == cookie)
        #expect(hello.certificate == Self.monaCertificate)
        #expect(Client.ResponderHello([0x10] + [UInt8](0..<15)) == nil)
        #expect(Client.ResponderHello([0x01, 0x00, 0x41, 0x00]) == nil) // cookie longer than the chunk
    }

    @Test func responderCertificateGroups() throws {
        let certificate = try #require(Client.ResponderCertificate(Self.monaCertificate))
        #expect(certificate.supportedGroups == [2, 5, 14])
        #expect(certificate.acceptsAncillaryData)
        #expect(certificate.staticKeys.isEmpty)
        #expect(Client.Handshake.chooseGroup(offered: certificate.supportedGroups, forced: nil) == 14)
        #expect(Client.Handshake.chooseGroup(offered: [2, 5], forced: nil) == 2)
        #expect(Client.Handshake.chooseGroup(offered: [5], forced: nil) == nil)
        #expect(Client.Handshake.chooseGroup(offered: [14], forced: 2) == 2)
        let withStatic = try #require(Client.ResponderCertificate([0x04, 0x1D, 0x02, 0xAA, 0xBB]))
        #expect(withStatic.staticKeys == [2: [0xAA, 0xBB]])
        #expect(Client.ResponderCertificate([0x03, 0x15]) == nil)
    }

    @Test func ephemeralCertificateAndSkic() throws {
        let keyPair = try #require(Client.KeyPair(group: 2))
        #expect(keyPair.publicKey.count == 128)
        let certificate = Client.Handshake.certificate(layout: .ephemeral, keyPair: keyPair)
        #expect(Array(certificate.prefix(4)) == [0x01, 0x0A, 0x41, 0x0E])
        #expect(Array(certificate.suffix(6)) == [0x02, 0x15, 0x02, 0x02, 0x15, 0x0E])
        #expect(certificate.count == 4 + 64 + 6)
        let skic = Client.Handshake.initiatorComponent(layout: .ephemeral, keyPair: keyPair, negotiation: true)
        // 0x0D key: length 130 = type + group + 128 bytes -> VLU 0x81 0x02.
        #expect(skic == [0x81, 0x02, 0x0D, 0x02] + keyPair.publicKey + [0x03, 0x1A, 0x02, 0x10, 0x02, 0x1E, 0x02])
        let bare = Client.Handshake.initiatorComponent(layout: .ephemeral, keyPair: keyPair, negotiation: false)
        #expect(bare.count == 4 + 128)
    }

    @Test func flashStaticCertificateAndSkic() throws {
        let keyPair = try #require(Client.KeyPair(group: 14))
        #expect(keyPair.publicKey.count == 256)
        let certificate = Client.Handshake.certificate(layout: .flashStatic, keyPair: keyPair)
        // 0x1D key: length 258 = type + group + 256 bytes -> VLU 0x82 0x02.
        #expect(certificate == [0x82, 0x02, 0x1D, 0x0E] + keyPair.publicKey)
        let skic = Client.Handshake.initiatorComponent(layout: .flashStatic, keyPair: keyPair, negotiation: false)
        #expect(Array(skic.prefix(5)) == [0x02, 0x1D, 0x0E, 0x41, 0x0E])
        #expect(skic.count == 3 + 2 + 64)
    }

    @Test func iiKeyingLayout() {
        let chunk = Client.Handshake.iiKeying(sessionID: 0x0102_0304, cookie: [0xC1, 0xC2], certificate: [0xCE],
                                              skic: [0x5A, 0x5B, 0x5C], signature: [0x99])
        #expect(chunk.encoded == [0x38, 0x00, 0x0E, 0x01, 0x02, 0x03, 0x04, 0x02, 0xC1, 0xC2, 0x01, 0xCE,
                                  0x03, 0x5A, 0x5B, 0x5C, 0x99])
    }

    @Test func riKeyingAsMonaServerSendsIt() throws {
        let key = [UInt8](repeating: 0x33, count: 128)
        let skrc: [UInt8] = [0x03, 0x1A, 0x00, 0x00, 0x02, 0x1E, 0x00, 0x81, 0x02, 0x0D, 0x02] + key
        let keying = try #require(Client.ResponderKeying([0xDE, 0xAD, 0xBE, 0xEF, 0x81, 0x0B] + skrc + [0x58]))
        #expect(keying.sessionID == 0xDEAD_BEEF)
        #expect(keying.skrc == skrc)
        #expect(keying.signature == [0x58])
        #expect(Client.Handshake.responderPublicKey(skrc: skrc, group: 2) == key)
        #expect(Client.Handshake.responderPublicKey(skrc: skrc, group: 14) == nil)
        #expect(!Client.Handshake.requiresUnsupportedNegotiation(skrc: skrc))
        #expect(Client.Handshake.requiresUnsupportedNegotiation(skrc: [0x03, 0x1A, 0x05, 0x10]))
        #expect(Client.Handshake.requiresUnsupportedNegotiation(skrc: [0x02, 0x1E, 0x01]))
        #expect(Client.ResponderKeying([0x00, 0x00, 0x00]) == nil)
    }

    @Test func redirectAndForwardedHello() throws {
        let tag = [UInt8](0..<16)
        let v6 = [UInt8](repeating: 0, count: 15) + [1]
        let redirect = try #require(Client.Redirect([0x10] + tag + [0x02, 127, 0, 0, 1, 0x07, 0x8F] + [0x81] + v6 + [0x04, 0xD2]))
        #expect(redirect.tag == tag)
        #expect(redirect.addresses == [Client.Address(ip: [127, 0, 0, 1], port: 1935, origin: 2),
                                       Client.Address(ip: v6, port: 1234, origin: 1)])
        #expect(redirect.addresses.map(\.description) == ["127.0.0.1:1935", "[0:0:0:0:0:0:0:1]:1234"])
        #expect(redirect.addresses.map(\.encoded) == [[0x02, 127, 0, 0, 1, 0x07, 0x8F], [0x81] + v6 + [0x04, 0xD2]])
        #expect(Client.Redirect([0x10] + tag + [0x02, 127, 0]) == nil)

        let peer = [UInt8](repeating: 0xAB, count: 32)
        let hello = try #require(Client.ForwardedHello([0x22, 0x21, 0x0F] + peer + [0x01, 10, 0, 0, 2, 0x13, 0x88] + tag))
        #expect(hello.endpointDiscriminator == [0x21, 0x0F] + peer)
        #expect(hello.replyAddress == Client.Address(ip: [10, 0, 0, 2], port: 5000, origin: 1))
        #expect(hello.tag == tag)
    }

    @Test func diffieHellmanAgreesBothWays() throws {
        for group in [2, 5, 14] {
            let a = try #require(Client.KeyPair(group: group))
            let b = try #require(Client.KeyPair(group: group))
            let secret = try #require(a.sharedSecret(with: b.publicKey))
            #expect(secret == b.sharedSecret(with: a.publicKey))
            #expect(secret.first != 0) // minimal big-endian
        }
        #expect(Client.KeyPair(group: 1) == nil)
        let pair = try #require(Client.KeyPair(group: 2))
        #expect(pair.sharedSecret(with: [0x01]) == nil) // a degenerate key is refused
    }
}
