import PluginABI

// The server side of RTMFP's startup (RFC 7016 §3.5.1, RFC 7425 §4; protocols.md §3.3), sans-IO:
// the plugin feeds it the chunks of session-id-0 packets and acts on the events it returns.
//
//   IHello (URL)     → .connection: the plugin asks Lua (onHandshake), then sends
//                       `responderHello(for:)` (RHello, with a cookie) or a Redirect.
//   IHello (peer id) → .rendezvous: the plugin sends a Redirect and/or a FIHello.
//   IIKeying         → .newSession: the plugin allocates a session id, creates the session and sends
//                       `accept(_:sessionID:now:)` (RIKeying); a repeated IIKeying gets the same RIKeying
//                       (.send). The first packet on the new id ends the cookie (`sessionStarted`).
//
// Cookies (64 random bytes) live 120 s, at most `Limits.maxCookies` of them (the oldest go first);
// IHello attempts are counted per tag in a table bounded the same way.

/// A chunk to send alone in a startup packet (flags 0x0B, default key) to `address`, with `farSessionID`
/// scrambled in front (0 for RHello and Redirect, the initiator's session id for RIKeying).
struct RTMFPStartupChunk {
    let type: UInt8
    let value: [UInt8]
    let address: mona_addr
    let farSessionID: UInt32

    /// The datagram, timestamped with `now` (ms); nil if the chunk does not fit a packet.
    func packet(now: UInt64, crypto: some RTMFPCrypto) -> [UInt8]? {
        var writer = RTMFPPacketWriter(flags: RTMFPPacket.Flag.startupMode, timestamp: RTMFPPacket.timestamp(milliseconds: now), echo: nil)
        guard writer.append(chunkType: type, value: value) else { return nil }
        return writer.seal(farSessionID: farSessionID, key: RTMFPPacket.defaultKey, crypto: crypto)
    }
}

/// A connection IHello: Lua's onHandshake decides between `RTMFPHandshaker.responderHello(for:)` and a Redirect.
struct RTMFPConnectionRequest {
    /// The URL the client connects to (rtmfp://host[:port]/app?query).
    let url: String
    let tag: [UInt8]
    /// Where the IHello came from.
    let address: mona_addr
    /// IHellos seen with this tag, this one included.
    let attempts: Int
}

/// A rendezvous IHello: the initiator wants to reach the peer `peerID`.
struct RTMFPRendezvousRequest {
    let peerID: [UInt8]
    let tag: [UInt8]
    let address: mona_addr
    /// IHellos seen with this tag, this one included.
    let attempts: Int
}

/// A successful IIKeying: everything the plugin needs to create the session before it calls
/// `RTMFPHandshaker.accept(_:sessionID:now:)`.
struct RTMFPNewSession {
    /// The cookie to give `sessionStarted(cookie:)` when the first packet arrives on the new session.
    let cookie: [UInt8]
    /// The initiator's session id: the one our packets carry.
    let farSessionID: UInt32
    /// SHA-256 of the initiator's certificate (client.rawId).
    let peerID: [UInt8]
    let keys: RTMFPSessionKeys
    /// The URL of the IHello.
    let url: String
    /// Where the IIKeying came from.
    let address: mona_addr
    /// The server's session key component, for the RIKeying.
    fileprivate let skrc: [UInt8]
}

/// What a handshake chunk asks of the plugin.
enum RTMFPHandshakeEvent {
    /// A connection IHello: ask Lua's onHandshake, then send `responderHello(for:now:crypto:)` or a Redirect.
    case connection(RTMFPConnectionRequest)
    /// A rendezvous IHello: introduce the initiator to the peer (Redirect, FIHello) if it is known.
    case rendezvous(RTMFPRendezvousRequest)
    /// A valid IIKeying: allocate a session id, create the session, send `accept(_:sessionID:now:)`.
    /// Repeated until accepted (the same keys: no second Diffie-Hellman).
    case newSession(RTMFPNewSession)
    /// Send this now (the RIKeying again, for a repeated IIKeying).
    case send(RTMFPStartupChunk)
}

/// The server's handshake state: its certificate, the cookies given out, the attempts per tag.
struct RTMFPHandshaker {
    /// Bounds of the tables peers fill.
    struct Limits {
        var maxCookies = 4096
        var maxTags = 4096
        /// How long a cookie (and a tag's attempt count) lives, in ms.
        var lifetime: UInt64 = 120_000
    }

    /// Size of a cookie.
    static let cookieSize = 64
    /// Size of the extra randomness in the certificate.
    static let certificateRandomnessSize = 64

    /// Where a cookie is.
    private enum Progress {
        /// RHello sent.
        case hello
        /// A valid IIKeying (identified by its digest) was answered with `.newSession`, the plugin has not accepted it yet.
        case keyed(digest: [UInt8], session: RTMFPNewSession)
        /// The session exists: a repeated IIKeying gets `riKeying` again.
        case established(digest: [UInt8], riKeying: RTMFPStartupChunk)
    }

    private struct Cookie {
        /// The URL of the IHello it answered.
        let url: String
        var progress = Progress.hello
    }

    private struct TagRecord {
        var attempts: Int
        /// The cookie of the last RHello for this tag, reused while it lives.
        var cookie: [UInt8]?
    }

    /// The server's certificate (the same for every handshake).
    let certificate: [UInt8]
    private var cookies: RTMFPExpiringTable<[UInt8], Cookie>
    private var tags: RTMFPExpiringTable<[UInt8], TagRecord>

    init(crypto: some RTMFPCrypto, limits: Limits = Limits()) {
        certificate = RTMFPKeyAgreement.certificate(randomness: crypto.randomBytes(Self.certificateRandomnessSize))
        cookies = RTMFPExpiringTable(capacity: limits.maxCookies, lifetime: limits.lifetime)
        tags = RTMFPExpiringTable(capacity: limits.maxTags, lifetime: limits.lifetime)
    }

    /// Cookies held (expired ones until `expire(now:)`).
    var cookieCount: Int { cookies.count }
    /// Tags whose attempts are counted.
    var tagCount: Int { tags.count }

    /// A chunk of a session-id-0 packet from `address`: what to do, or nil to ignore it (another type,
    /// malformed, unknown cookie, refused keying).
    mutating func receive(chunkType: UInt8, value: ArraySlice<UInt8>, from address: mona_addr, now: UInt64,
                          crypto: some RTMFPCrypto) -> RTMFPHandshakeEvent? {
        switch chunkType {
        case RTMFPHandshakeChunkType.iHello:
            guard let hello = RTMFPInitiatorHello(value) else { return nil }
            let attempts = countAttempt(tag: hello.tag, now: now)
            switch hello.target {
            case .server(let url):
                return .connection(RTMFPConnectionRequest(url: url, tag: hello.tag, address: address, attempts: attempts))
            case .peer(let id):
                return .rendezvous(RTMFPRendezvousRequest(peerID: id, tag: hello.tag, address: address, attempts: attempts))
            }
        case RTMFPHandshakeChunkType.iiKeying:
            return keying(value, from: address, now: now, crypto: crypto)
        default:
            return nil
        }
    }

    /// The RHello for a connection request: a cookie (the tag's previous one while it lives and waits
    /// for its IIKeying, else a new one) and the certificate.
    mutating func responderHello(for request: RTMFPConnectionRequest, now: UInt64, crypto: some RTMFPCrypto) -> RTMFPStartupChunk {
        let cookie: [UInt8]
        if let previous = tags.value(for: request.tag, now: now)?.cookie, let entry = cookies.value(for: previous, now: now),
           case .hello = entry.progress, entry.url == request.url {
            cookie = previous
        } else {
            cookie = crypto.randomBytes(Self.cookieSize)
            cookies.insert(Cookie(url: request.url), for: cookie, now: now)
            tags.update(request.tag, now: now) { $0.cookie = cookie }
        }
        return RTMFPStartupChunk(type: RTMFPHandshakeChunkType.rHello,
                                 value: RTMFPResponderHello.encode(tag: request.tag, cookie: cookie, certificate: certificate),
                                 address: request.address, farSessionID: 0)
    }

    /// The plugin created the session of `session` under `sessionID`: the RIKeying to send, remembered
    /// for repeated IIKeyings while the cookie lives.
    mutating func accept(_ session: RTMFPNewSession, sessionID: UInt32, now: UInt64) -> RTMFPStartupChunk {
        let riKeying = RTMFPStartupChunk(type: RTMFPHandshakeChunkType.riKeying,
                                         value: RTMFPResponderKeying.encode(sessionID: sessionID, skrc: session.skrc),
                                         address: session.address, farSessionID: session.farSessionID)
        cookies.update(session.cookie, now: now) { cookie in
            if case .keyed(let digest, _) = cookie.progress { cookie.progress = .established(digest: digest, riKeying: riKeying) }
        }
        return riKeying
    }

    /// The first packet arrived on the session of `cookie`: the cookie is done.
    mutating func sessionStarted(cookie: [UInt8]) {
        cookies.remove(cookie)
    }

    /// Frees the cookies and tag counts older than their lifetime (the plugin's manage timer).
    mutating func expire(now: UInt64) {
        cookies.expire(now: now)
        tags.expire(now: now)
    }

    // MARK: private

    private mutating func countAttempt(tag: [UInt8], now: UInt64) -> Int {
        var attempts = 1
        let counted = tags.update(tag, now: now) { record in
            record.attempts += 1
            attempts = record.attempts
        }
        if !counted { tags.insert(TagRecord(attempts: 1), for: tag, now: now) }
        return attempts
    }

    private mutating func keying(_ value: ArraySlice<UInt8>, from address: mona_addr, now: UInt64,
                                 crypto: some RTMFPCrypto) -> RTMFPHandshakeEvent? {
        guard let keying = RTMFPInitiatorKeying(value) else { return nil }
        let cookieKey = Array(keying.cookie)
        guard let cookie = cookies.value(for: cookieKey, now: now) else { return nil }
        let digest = crypto.sha256(Array(value))
        switch cookie.progress {
        case .established(let known, let riKeying):
            guard known == digest else { return nil }
            return .send(RTMFPStartupChunk(type: riKeying.type, value: riKeying.value, address: address, farSessionID: riKeying.farSessionID))
        case .keyed(let known, let session):
            guard known == digest else { return nil }
            return .newSession(RTMFPNewSession(cookie: session.cookie, farSessionID: session.farSessionID, peerID: session.peerID,
                                               keys: session.keys, url: session.url, address: address, skrc: session.skrc))
        case .hello:
            let skic = Array(keying.skic)
            guard let initiator = RTMFPKeyAgreement.initiatorKey(certificate: keying.certificate, skic: keying.skic) else { return nil }
            guard let agreed = RTMFPKeyAgreement.respond(group: initiator.group, peerKey: initiator.key, skic: skic,
                                                         negotiation: initiator.negotiation, crypto: crypto) else {
                cookies.remove(cookieKey) // a key refused by Diffie-Hellman spends its cookie: no second key pair for it
                return nil
            }
            let session = RTMFPNewSession(cookie: cookieKey, farSessionID: keying.sessionID, peerID: crypto.sha256(Array(keying.certificate)),
                                          keys: agreed.keys, url: cookie.url, address: address, skrc: agreed.skrc)
            cookies.update(cookieKey, now: now) { $0.progress = .keyed(digest: digest, session: session) }
            return .newSession(session)
        }
    }
}
