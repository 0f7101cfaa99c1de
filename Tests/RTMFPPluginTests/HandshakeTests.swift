import PluginABI
import Testing
@testable import RTMFPPlugin

/// An IPv4 address for the handshake tests: 10.0.x.y, port 1000 + n % 60000.
func handshakeAddress(_ n: Int) -> mona_addr {
    var address = mona_addr()
    address.family = UInt16(MONA_AF_INET)
    address.port = UInt16(1000 + n % 60000)
    address.ip.0 = 10
    address.ip.2 = UInt8((n >> 8) & 0xFF)
    address.ip.3 = UInt8(n & 0xFF)
    return address
}

/// True when two addresses are the same.
func sameAddress(_ a: mona_addr, _ b: mona_addr) -> Bool {
    a.family == b.family && a.port == b.port && withUnsafeBytes(of: a.ip) { x in withUnsafeBytes(of: b.ip) { x.elementsEqual($0) } }
}

/// A minimal initiator written from RFC 7016 §3.5.1 and RFC 7425 §4, on its own crypto: it builds IHello
/// and IIKeying, reads RHello and RIKeying, and derives its keys.
final class HandshakeTestInitiator {
    /// Where its Diffie-Hellman key goes.
    enum Layout {
        /// A certificate listing groups, the key in the skic (option 0x0D), negotiation options after it.
        case ephemeral
        /// Flash Player's: the key in the certificate (0x1D), a group select (0x1D) and randomness in the skic.
        case flashStatic
    }

    let crypto: TestRTMFPCrypto
    let group: Int
    let layout: Layout
    let sessionID: UInt32
    let tag: [UInt8]
    let certificate: [UInt8]
    let skic: [UInt8]
    let publicKey: [UInt8]
    private let pair: UInt64

    init(group: Int, layout: Layout, sessionID: UInt32 = 0x0BAD_CAFE, tag: [UInt8]? = nil) throws {
        let crypto = TestRTMFPCrypto()
        self.crypto = crypto
        self.group = group
        self.layout = layout
        self.sessionID = sessionID
        self.tag = tag ?? crypto.randomBytes(16)
        let made = try #require(crypto.dhNew(group: group))
        pair = made.handle
        publicKey = made.publicKey
        var keyOption: [UInt8] = []
        keyOption.appendVLU(UInt64(group))
        keyOption += made.publicKey
        var groupValue: [UInt8] = []
        groupValue.appendVLU(UInt64(group))
        switch layout {
        case .ephemeral:
            certificate = Self.option(0x0A, []) + Self.option(0x0E, crypto.randomBytes(64)) + Self.option(0x15, groupValue)
            skic = Self.option(0x0D, keyOption) + Self.option(0x1A, [0x02, 0x10]) + Self.option(0x1E, [0x02])
        case .flashStatic:
            certificate = Self.option(0x1D, keyOption)
            skic = Self.option(0x1D, groupValue) + Self.option(0x0E, crypto.randomBytes(64))
        }
    }

    deinit { crypto.dhFree(pair) }

    /// `VLU length | VLU type | value`.
    static func option(_ type: UInt64, _ value: [UInt8]) -> [UInt8] {
        var typeBytes: [UInt8] = []
        typeBytes.appendVLU(type)
        var bytes: [UInt8] = []
        bytes.appendVLUPrefixed(typeBytes + value)
        return bytes
    }

    /// The options of `bytes` as (type, value), read by hand; nil when malformed.
    static func options(_ bytes: [UInt8]) -> [(type: UInt64, value: [UInt8])]? {
        var reader = RTMFPReader(bytes)
        var options: [(type: UInt64, value: [UInt8])] = []
        while !reader.atEnd {
            guard let length = reader.length(), let body = reader.bytes(length) else { return nil }
            var inner = RTMFPReader(body)
            guard let type = inner.vlu() else { return nil }
            options.append((type, Array(inner.rest())))
        }
        return options
    }

    /// IHello naming a server by URL.
    func iHello(url: String) -> [UInt8] {
        var value: [UInt8] = []
        value.appendVLUPrefixed(Self.option(0x0A, Array(url.utf8)))
        return value + tag
    }

    /// IHello naming a peer by id.
    func iHello(peerID: [UInt8]) -> [UInt8] {
        var value: [UInt8] = []
        value.appendVLUPrefixed(Self.option(0x0F, peerID))
        return value + tag
    }

    /// RHello's tag echo, cookie and certificate; nil when malformed.
    static func readRHello(_ value: [UInt8]) -> (tag: [UInt8], cookie: [UInt8], certificate: [UInt8])? {
        var reader = RTMFPReader(value)
        guard let tagLength = reader.length(), let tag = reader.bytes(tagLength),
              let cookieLength = reader.length(), let cookie = reader.bytes(cookieLength) else { return nil }
        return (Array(tag), Array(cookie), Array(reader.rest()))
    }

    /// IIKeying echoing `cookie`, with `skic` (this initiator's unless given).
    func iiKeying(cookie: [UInt8], skic: [UInt8]? = nil, certificate: [UInt8]? = nil) -> [UInt8] {
        var value: [UInt8] = []
        value.appendU32(sessionID)
        value.appendVLUPrefixed(cookie)
        value.appendVLUPrefixed(certificate ?? self.certificate)
        value.appendVLUPrefixed(skic ?? self.skic)
        return value
    }

    /// What RIKeying gives the initiator: the responder's session id, skrc, signature, and the keys
    /// (it encrypts with HMAC(secret, HMAC(skrc, skic)), decrypts with HMAC(secret, HMAC(skic, skrc))).
    func readRIKeying(_ value: [UInt8]) -> (sessionID: UInt32, skrc: [UInt8], signature: [UInt8], encrypt: [UInt8], decrypt: [UInt8])? {
        var reader = RTMFPReader(value)
        guard let sessionID = reader.u32(), let skrcLength = reader.length(), let skrc = reader.bytes(skrcLength) else { return nil }
        let signature = Array(reader.rest())
        guard let options = Self.options(Array(skrc)),
              let keyOption = options.first(where: { $0.type == 0x0D }) else { return nil }
        var keyReader = RTMFPReader(keyOption.value)
        guard keyReader.vlu() == UInt64(group), let secret = crypto.dhSecret(pair, peerKey: Array(keyReader.rest())) else { return nil }
        let responder = Array(skrc)
        let encrypt = crypto.hmacSHA256(key: secret, data: crypto.hmacSHA256(key: responder, data: skic))
        let decrypt = crypto.hmacSHA256(key: secret, data: crypto.hmacSHA256(key: skic, data: responder))
        return (sessionID, responder, signature, Array(encrypt.prefix(16)), Array(decrypt.prefix(16)))
    }
}

/// Drives a handshaker the way the plugin does.
final class HandshakeDriver {
    let crypto = TestRTMFPCrypto()
    var handshaker: RTMFPHandshaker
    var now: UInt64 = 1_000

    init(limits: RTMFPHandshaker.Limits = RTMFPHandshaker.Limits()) {
        handshaker = RTMFPHandshaker(crypto: crypto, limits: limits)
    }

    func receive(_ type: UInt8, _ value: [UInt8], from address: mona_addr = handshakeAddress(1)) -> RTMFPHandshakeEvent? {
        handshaker.receive(chunkType: type, value: value[...], from: address, now: now, crypto: crypto)
    }

    /// IHello → RHello: the cookie, or nil when the IHello is not a connection.
    func cookie(for initiator: HandshakeTestInitiator, url: String = "rtmfp://localhost/app",
                         from address: mona_addr = handshakeAddress(1)) -> [UInt8]? {
        guard case .connection(let request) = receive(0x30, initiator.iHello(url: url), from: address) else { return nil }
        let rHello = handshaker.responderHello(for: request, now: now, crypto: crypto)
        return HandshakeTestInitiator.readRHello(rHello.value)?.cookie
    }

    /// IIKeying → the new session, or nil.
    func newSession(_ initiator: HandshakeTestInitiator, cookie: [UInt8]) -> RTMFPNewSession? {
        guard case .newSession(let session) = receive(0x38, initiator.iiKeying(cookie: cookie)) else { return nil }
        return session
    }
}

@Suite("RTMFP handshake: IHello, RHello, IIKeying, RIKeying")
struct HandshakeTests {
    @Test func theCertificateOffersAncillaryDataRandomnessAndThreeGroups() throws {
        let driver = HandshakeDriver()
        let options = try #require(HandshakeTestInitiator.options(driver.handshaker.certificate))
        #expect(options.map(\.type) == [0x0A, 0x0E, 0x15, 0x15, 0x15])
        #expect(options[0].value.isEmpty && options[1].value.count == 64)
        #expect(options[2...].map(\.value) == [[2], [5], [14]])
        #expect(Array(driver.handshaker.certificate.prefix(4)) == [0x01, 0x0A, 0x41, 0x0E])
        #expect(driver.handshaker.certificate.count == 77, "MonaServer's size")
        #expect(RTMFPHandshaker(crypto: driver.crypto).certificate != driver.handshaker.certificate, "the randomness differs")
    }

    @Test func aConnectionIHelloAsksThePluginThenGetsAnRHello() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let event = driver.receive(0x30, initiator.iHello(url: "rtmfp://host:1935/app?x=1"), from: handshakeAddress(7))
        guard case .connection(let request) = event else { Issue.record("not a connection: \(String(describing: event))"); return }
        #expect(request.url == "rtmfp://host:1935/app?x=1" && request.tag == initiator.tag && request.attempts == 1)
        #expect(sameAddress(request.address, handshakeAddress(7)))
        let rHello = driver.handshaker.responderHello(for: request, now: driver.now, crypto: driver.crypto)
        #expect(rHello.type == 0x70 && rHello.farSessionID == 0 && sameAddress(rHello.address, handshakeAddress(7)))
        let parsed = try #require(HandshakeTestInitiator.readRHello(rHello.value))
        #expect(parsed.tag == initiator.tag && parsed.cookie.count == 64 && parsed.certificate == driver.handshaker.certificate)
        #expect(driver.handshaker.cookieCount == 1)
        // In a startup packet: flags 0x0B, session id 0, the default key.
        let datagram = try #require(rHello.packet(now: 4_000, crypto: driver.crypto))
        #expect(packetSessionID(datagram) == 0)
        let packet = try #require(openPacket(datagram, key: RTMFPPacket.defaultKey, crypto: driver.crypto))
        #expect(packet.flags == 0x0B && packet.timestamp == 1_000)
        #expect(packet.chunks.map { $0.type } == [0x70] && packet.chunks.map { Array($0.value) } == [rHello.value])
    }

    @Test func repeatedIHellosCountAttemptsAndReuseTheCookie() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        var cookies: [[UInt8]] = []
        for attempt in 1...3 {
            guard case .connection(let request) = driver.receive(0x30, initiator.iHello(url: "rtmfp://h/app")) else {
                Issue.record("attempt \(attempt)")
                return
            }
            #expect(request.attempts == attempt)
            let rHello = driver.handshaker.responderHello(for: request, now: driver.now, crypto: driver.crypto)
            cookies.append(try #require(HandshakeTestInitiator.readRHello(rHello.value)).cookie)
            driver.now += 1_500
        }
        #expect(Set(cookies).count == 1 && driver.handshaker.cookieCount == 1)
        // Another URL with the same tag gets another cookie.
        #expect(driver.cookie(for: initiator, url: "rtmfp://h/other") != cookies[0])
    }

    @Test func aRendezvousIHelloNamesThePeer() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let peerID = [UInt8](repeating: 0xA5, count: 32)
        let event = driver.receive(0x30, initiator.iHello(peerID: peerID), from: handshakeAddress(3))
        guard case .rendezvous(let request) = event else { Issue.record("not a rendezvous"); return }
        #expect(request.peerID == peerID && request.tag == initiator.tag && request.attempts == 1)
        #expect(sameAddress(request.address, handshakeAddress(3)))
        guard case .rendezvous(let again) = driver.receive(0x30, initiator.iHello(peerID: peerID)) else { Issue.record("second"); return }
        #expect(again.attempts == 2)
        #expect(driver.receive(0x30, initiator.iHello(peerID: Array(peerID.prefix(31)))) == nil, "a peer id has 32 bytes")
        #expect(driver.handshaker.cookieCount == 0)
    }

    @Test(arguments: [(2, HandshakeTestInitiator.Layout.ephemeral), (5, .ephemeral), (14, .ephemeral), (2, .flashStatic), (14, .flashStatic)])
    func bothSidesDeriveTheSameKeys(group: Int, layout: HandshakeTestInitiator.Layout) throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: group, layout: layout, sessionID: 0x0102_0304)
        let cookie = try #require(driver.cookie(for: initiator))
        let session = try #require(driver.newSession(initiator, cookie: cookie))
        #expect(session.cookie == cookie && session.farSessionID == 0x0102_0304 && session.url == "rtmfp://localhost/app")
        #expect(session.peerID == initiator.crypto.sha256(initiator.certificate))
        #expect(driver.crypto.livePairs == 0, "the server's key pair is freed")
        let riKeying = driver.handshaker.accept(session, sessionID: 0x1122_3344, now: driver.now)
        #expect(riKeying.type == 0x78 && riKeying.farSessionID == 0x0102_0304 && sameAddress(riKeying.address, handshakeAddress(1)))
        let keys = try #require(initiator.readRIKeying(riKeying.value))
        #expect(keys.sessionID == 0x1122_3344 && keys.signature == [0x58])
        #expect(Array(keys.skrc.prefix(7)) == [0x03, 0x1A, 0x00, 0x00, 0x02, 0x1E, 0x00])
        let responderKey = try #require(HandshakeTestInitiator.options(keys.skrc)?.first(where: { $0.type == 0x0D })?.value)
        #expect(responderKey.count == 1 + [2: 128, 5: 192, 14: 256][group, default: 0])
        #expect(keys.encrypt == session.keys.decrypt && keys.decrypt == session.keys.encrypt)
        #expect(keys.encrypt != keys.decrypt)
        // The RIKeying's startup packet carries the initiator's session id.
        let datagram = try #require(riKeying.packet(now: driver.now, crypto: driver.crypto))
        #expect(packetSessionID(datagram) == 0x0102_0304)
        // A packet from each side opens at the other.
        var fromServer = RTMFPPacketWriter(flags: 0x4A, timestamp: 1, echo: nil)
        let serverAdded = fromServer.append(chunkType: 0x10, value: [1, 2, 3])
        #expect(serverAdded)
        let serverDatagramSealed = fromServer.seal(farSessionID: session.farSessionID, key: session.keys.encrypt, crypto: driver.crypto)
        let serverDatagram = try #require(serverDatagramSealed)
        #expect(packetSessionID(serverDatagram) == initiator.sessionID)
        let atClient = try #require(openPacket(serverDatagram, key: keys.decrypt, crypto: initiator.crypto))
        #expect(atClient.chunks.map { Array($0.value) } == [[1, 2, 3]])
        var fromClient = RTMFPPacketWriter(flags: 0x89, timestamp: 2, echo: 1)
        let clientAdded = fromClient.append(chunkType: 0x01, value: [UInt8]())
        #expect(clientAdded)
        let clientDatagramSealed = fromClient.seal(farSessionID: keys.sessionID, key: keys.encrypt, crypto: initiator.crypto)
        let clientDatagram = try #require(clientDatagramSealed)
        #expect(packetSessionID(clientDatagram) == 0x1122_3344)
        let atServer = try #require(openPacket(clientDatagram, key: session.keys.decrypt, crypto: driver.crypto))
        #expect(atServer.echo == 1 && atServer.chunks.map { $0.type } == [0x01])
    }

    @Test func aRepeatedIIKeyingGetsTheSameRIKeying() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let cookie = try #require(driver.cookie(for: initiator))
        let session = try #require(driver.newSession(initiator, cookie: cookie))
        // Before the plugin accepts, a repeat gets the same session without a second Diffie-Hellman.
        let pairs = driver.crypto.pairsMade
        let again = try #require(driver.newSession(initiator, cookie: cookie))
        #expect(again.keys == session.keys && again.farSessionID == session.farSessionID && driver.crypto.pairsMade == pairs)
        let riKeying = driver.handshaker.accept(session, sessionID: 77, now: driver.now)
        let event = driver.receive(0x38, initiator.iiKeying(cookie: cookie), from: handshakeAddress(9))
        guard case .send(let repeated) = event else { Issue.record("no RIKeying again: \(String(describing: event))"); return }
        #expect(repeated.type == 0x78 && repeated.value == riKeying.value && repeated.farSessionID == riKeying.farSessionID)
        #expect(sameAddress(repeated.address, handshakeAddress(9)), "to where the repeat came from")
        // Another keying on that cookie is not the same IIKeying: ignored.
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: cookie, skic: initiator.skic + HandshakeTestInitiator.option(0x0E, [1]))) == nil)
        // Once the session has its first packet, the cookie is gone.
        driver.handshaker.sessionStarted(cookie: cookie)
        #expect(driver.handshaker.cookieCount == 0)
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: cookie)) == nil)
    }

    @Test func anUnknownCookieIsIgnored() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .ephemeral)
        _ = try #require(driver.cookie(for: initiator))
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: driver.crypto.randomBytes(64))) == nil)
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: [])) == nil)
        #expect(driver.crypto.pairsMade == 0, "no Diffie-Hellman for an unknown cookie")
        #expect(driver.receive(0x70, [0, 0]) == nil && driver.receive(0x10, []) == nil, "not handshake chunks")
    }

    @Test func cookiesExpireAfterTwoMinutes() throws {
        let driver = HandshakeDriver()
        let early = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let late = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let earlyCookie = try #require(driver.cookie(for: early))
        driver.now += 60_000
        let lateCookie = try #require(driver.cookie(for: late))
        driver.now += 60_000 // the early cookie is 120 s old, the late one 60 s
        #expect(driver.newSession(early, cookie: earlyCookie) == nil)
        driver.handshaker.expire(now: driver.now)
        #expect(driver.handshaker.cookieCount == 1 && driver.handshaker.tagCount == 1)
        #expect(driver.newSession(late, cookie: lateCookie) != nil)
        driver.handshaker.expire(now: driver.now + 60_000)
        #expect(driver.handshaker.cookieCount == 0 && driver.handshaker.tagCount == 0)
    }

    @Test func aCookieLivesJustUnderTwoMinutes() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let cookie = try #require(driver.cookie(for: initiator))
        driver.now += 119_999
        driver.handshaker.expire(now: driver.now)
        #expect(driver.newSession(initiator, cookie: cookie) != nil)
    }
}
