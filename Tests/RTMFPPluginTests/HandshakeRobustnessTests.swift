import Testing
@testable import RTMFPPlugin

/// What peers can throw at the handshake: floods, truncations, overlong lengths, damaged bytes, keys
/// and options the server must refuse. Every case has an answer (an event or nil), never a trap.
@Suite("RTMFP handshake under hostile input")
struct HandshakeRobustnessTests {
    /// A 16-byte tag made from `n`.
    static func tag(_ n: Int) -> [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: n >> (8 * ($0 % 4))) ^ UInt8($0) } }

    /// An IHello naming `url`, built by hand.
    static func iHello(url: String, tag: [UInt8]) -> [UInt8] {
        var value: [UInt8] = []
        value.appendVLUPrefixed(HandshakeTestInitiator.option(0x0A, Array(url.utf8)))
        return value + tag
    }

    /// `value` with a VLU `length` written at `offset` in place of the `oldSize` bytes there.
    static func replacingLength(_ value: [UInt8], at offset: Int, oldSize: Int, with length: UInt64) -> [UInt8] {
        var vlu: [UInt8] = []
        vlu.appendVLU(length)
        return Array(value[..<offset]) + vlu + Array(value[(offset + oldSize)...])
    }

    @Test func aFloodOfIHellosKeepsTheTablesBounded() throws {
        let driver = HandshakeDriver()
        let first = try HandshakeTestInitiator(group: 2, layout: .flashStatic, tag: Self.tag(0))
        let last = try HandshakeTestInitiator(group: 2, layout: .flashStatic, tag: Self.tag(9_999))
        var firstCookie: [UInt8] = []
        var lastCookie: [UInt8] = []
        for n in 0..<10_000 {
            let event = driver.receive(0x30, Self.iHello(url: "rtmfp://h/app", tag: Self.tag(n)), from: handshakeAddress(n))
            guard case .connection(let request) = event else {
                Issue.record("IHello \(n)")
                return
            }
            let rHello = driver.handshaker.responderHello(for: request, now: driver.now, crypto: driver.crypto)
            let cookie = try #require(HandshakeTestInitiator.readRHello(rHello.value)?.cookie)
            if n == 0 { firstCookie = cookie }
            if n == 9_999 { lastCookie = cookie }
        }
        #expect(driver.handshaker.cookieCount == 4_096 && driver.handshaker.tagCount == 4_096)
        #expect(driver.newSession(first, cookie: firstCookie) == nil, "the oldest cookie went")
        #expect(driver.newSession(last, cookie: lastCookie) != nil)
        driver.handshaker.expire(now: driver.now + 120_000)
        #expect(driver.handshaker.cookieCount == 0 && driver.handshaker.tagCount == 0)
    }

    @Test func aFullTableDropsItsOldestCookiesFirst() throws {
        let driver = HandshakeDriver(limits: RTMFPHandshaker.Limits(maxCookies: 8, maxTags: 8, lifetime: 120_000))
        var initiators: [HandshakeTestInitiator] = []
        var cookies: [[UInt8]] = []
        for n in 0..<20 {
            let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic, tag: Self.tag(n))
            initiators.append(initiator)
            cookies.append(try #require(driver.cookie(for: initiator, from: handshakeAddress(n))))
            driver.now += 10
        }
        #expect(driver.handshaker.cookieCount == 8 && driver.handshaker.tagCount == 8)
        for n in 0..<20 {
            #expect((driver.newSession(initiators[n], cookie: cookies[n]) != nil) == (n >= 12), "cookie \(n)")
        }
    }

    @Test func everyTruncationOfAnIHelloHasAnAnswer() {
        let driver = HandshakeDriver()
        let tag = Self.tag(5)
        let value = Self.iHello(url: "rtmfp://host/app", tag: tag)
        let tagStart = value.count - tag.count
        for size in 0..<value.count {
            let event = driver.receive(0x30, Array(value.prefix(size)))
            if size > tagStart, case .connection(let request) = event {
                #expect(request.tag == Array(tag.prefix(size - tagStart)) && request.url == "rtmfp://host/app")
            } else {
                #expect(event == nil, "prefix \(size)")
            }
        }
        // Overlong discriminator lengths, up to VLUs past 32 bits and past 10 bytes.
        let epdLength = UInt64(tagStart - 1)
        for length in [epdLength + 1, epdLength + 16, epdLength + 17, 0xFFFF, UInt64(Int32.max), UInt64(Int32.max) + 1, UInt64.max] {
            #expect(driver.receive(0x30, Self.replacingLength(value, at: 0, oldSize: 1, with: length)) == nil, "length \(length)")
        }
        #expect(driver.receive(0x30, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == nil)
        // An option longer than the discriminator, a tag over 64 bytes, a URL that is not UTF-8, an empty URL.
        #expect(driver.receive(0x30, [0x03, 0x05, 0x0A, 0x61] + tag) == nil)
        #expect(driver.receive(0x30, Self.iHello(url: "rtmfp://h/a", tag: [UInt8](repeating: 1, count: 65))) == nil)
        #expect(driver.receive(0x30, Self.iHello(url: "rtmfp://h/a", tag: [UInt8](repeating: 1, count: 64))) != nil)
        #expect(driver.receive(0x30, [0x03, 0x02, 0x0A, 0xFF] + tag) == nil)
        #expect(driver.receive(0x30, [0x02, 0x01, 0x0A] + tag) == nil)
        #expect(driver.receive(0x30, [0x00] + tag) == nil, "no discriminator")
        #expect(driver.handshaker.cookieCount == 0)
    }

    @Test func everyTruncationOrOverlongLengthOfAnIIKeyingIsIgnored() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .flashStatic)
        let cookie = try #require(driver.cookie(for: initiator))
        let value = initiator.iiKeying(cookie: cookie)
        for size in 0..<value.count {
            #expect(driver.receive(0x38, Array(value.prefix(size))) == nil, "prefix \(size)")
        }
        #expect(driver.crypto.pairsMade == 0 && driver.handshaker.cookieCount == 1)
        // The cookie, certificate and skic lengths: 1, 2 and 1 bytes of VLU at these offsets.
        let certificateOffset = 4 + 1 + 64
        let skicOffset = certificateOffset + 2 + initiator.certificate.count
        let fields: [(offset: Int, size: Int, length: Int)] = [
            (4, 1, 64), (certificateOffset, 2, initiator.certificate.count), (skicOffset, 1, initiator.skic.count),
        ]
        for field in fields {
            for extra: UInt64 in [1, 2, 200, UInt64(Int32.max), UInt64.max - UInt64(field.length)] {
                let damaged = Self.replacingLength(value, at: field.offset, oldSize: field.size, with: UInt64(field.length) + extra)
                #expect(driver.receive(0x38, damaged) == nil, "field at \(field.offset) + \(extra)")
            }
        }
        #expect(driver.crypto.pairsMade == 0)
        #expect(driver.newSession(initiator, cookie: cookie) != nil, "the cookie still works")
    }

    @Test(arguments: [HandshakeTestInitiator.Layout.ephemeral, .flashStatic])
    func truncatedCertificatesAndComponentsAreRefused(layout: HandshakeTestInitiator.Layout) throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: layout)
        /// Valid when the truncated component still parses and holds the key (the tests' own reading).
        func holdsKey(_ bytes: [UInt8], _ type: UInt64) -> Bool {
            HandshakeTestInitiator.options(bytes)?.contains { $0.type == type } ?? false
        }
        for size in 0...initiator.skic.count {
            let skic = Array(initiator.skic.prefix(size))
            let cookie = try #require(driver.cookie(for: initiator))
            let event = driver.receive(0x38, initiator.iiKeying(cookie: cookie, skic: skic))
            let expected = holdsKey(skic, layout == .ephemeral ? 0x0D : 0x1D)
            #expect((event != nil) == expected, "skic of \(size) bytes")
        }
        for size in 0...initiator.certificate.count {
            let certificate = Array(initiator.certificate.prefix(size))
            let cookie = try #require(driver.cookie(for: initiator))
            let event = driver.receive(0x38, initiator.iiKeying(cookie: cookie, certificate: certificate))
            let expected = layout == .ephemeral ? HandshakeTestInitiator.options(certificate) != nil : size == initiator.certificate.count
            #expect((event != nil) == expected, "certificate of \(size) bytes")
        }
        #expect(driver.crypto.livePairs == 0)
    }

    @Test func damagingAnyByteOfAnIIKeyingNeverTraps() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .ephemeral)
        let template = initiator.iiKeying(cookie: [UInt8](repeating: 0, count: 64))
        var sessions = 0
        for index in 0..<template.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                let cookie = try #require(driver.cookie(for: initiator))
                var damaged = initiator.iiKeying(cookie: cookie)
                damaged[index] ^= flip
                if case .newSession = driver.receive(0x38, damaged) { sessions += 1 }
            }
        }
        #expect(sessions > 0 && sessions < template.count * 3, "some damage is harmless (a session id, randomness), most is not")
        #expect(driver.crypto.livePairs == 0)
    }

    @Test func keysAndOptionsTheServerCannotHonourAreRefused() throws {
        let driver = HandshakeDriver()
        let initiator = try HandshakeTestInitiator(group: 2, layout: .ephemeral)
        func attempt(skic: [UInt8]? = nil, certificate: [UInt8]? = nil) throws -> RTMFPHandshakeEvent? {
            let cookie = try #require(driver.cookie(for: initiator))
            return driver.receive(0x38, initiator.iiKeying(cookie: cookie, skic: skic, certificate: certificate))
        }
        func keyOption(_ group: UInt8, _ key: [UInt8]) -> [UInt8] { HandshakeTestInitiator.option(0x0D, [group] + key) }
        // HMACs announced with a length out of 4...32, or none: refused before any Diffie-Hellman.
        let key = initiator.publicKey
        #expect(try attempt(skic: keyOption(2, key) + HandshakeTestInitiator.option(0x1A, [0x04, 0x02])) == nil)
        #expect(try attempt(skic: keyOption(2, key) + HandshakeTestInitiator.option(0x1A, [0x07, 0x21])) == nil)
        #expect(try attempt(skic: keyOption(2, key) + HandshakeTestInitiator.option(0x1A, [0x04])) == nil)
        #expect(driver.crypto.pairsMade == 0)
        // Groups not implemented, keys of a wrong size.
        #expect(try attempt(skic: keyOption(1, key)) == nil)
        #expect(try attempt(skic: keyOption(16, key + key + key + key)) == nil)
        #expect(try attempt(skic: keyOption(2, key + [0])) == nil)
        #expect(try attempt(skic: keyOption(2, [])) == nil)
        // Keys out of range (0, 1, ≥ p): the server's key pair is still freed.
        #expect(try attempt(skic: keyOption(2, [0])) == nil)
        #expect(try attempt(skic: keyOption(2, [1])) == nil)
        #expect(try attempt(skic: keyOption(2, [UInt8](repeating: 0xFF, count: 128))) == nil)
        #expect(driver.crypto.pairsMade == 3 && driver.crypto.livePairs == 0)
        // A static key whose group the skic does not select, or a group select without a static key.
        var staticKey: [UInt8] = [2]
        staticKey += key
        let staticCertificate = HandshakeTestInitiator.option(0x1D, staticKey)
        #expect(try attempt(skic: HandshakeTestInitiator.option(0x1D, [5]), certificate: staticCertificate) == nil)
        #expect(try attempt(skic: HandshakeTestInitiator.option(0x1D, [2])) == nil)
        #expect(try attempt(skic: [], certificate: []) == nil)
        // A key that Diffie-Hellman refuses spends its cookie; a malformed keying does not.
        let cookie = try #require(driver.cookie(for: initiator))
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: cookie, skic: keyOption(1, key))) == nil)
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: cookie, skic: keyOption(2, [1]))) == nil)
        #expect(driver.receive(0x38, initiator.iiKeying(cookie: cookie)) == nil)
        let fresh = try #require(driver.cookie(for: initiator))
        #expect(fresh != cookie && driver.newSession(initiator, cookie: fresh) != nil)
    }
}
