// The server side of the RTMP handshake: C0+C1 in, S0+S1+S2 out, then C2 in (not checked).
//
// C0 is 3 (RTMP) or 6 (RTMPE); any other version is refused. A C1 carrying a valid digest (either layout)
// gets the digest answer: S1 with the time, a server version, the server's digest in the client's layout,
// and S2 signed with a key derived from the client's digest. Otherwise the simple answer: S1 with the
// time, four zero bytes and random bytes, S2 echoing C1. RTMPE needs the digest: the server puts its
// Diffie-Hellman public key in S1 (before signing it), and both RC4 key streams skip the 1536 bytes of C2.
//
// sans-IO: bytes may arrive split anywhere; `feed` says how many it consumed, since C2 may share a read
// with the first chunk bytes, which belong to the chunk decoder (RC4-encrypted under RTMPE).

/// Answers a client's handshake and, once complete, hands the session its RTMPE key streams.
struct RTMPHandshake {
    /// The size of C1, C2, S1 and S2.
    static let packetSize = 1536
    /// All the bytes a client sends during the handshake: C0, C1 and C2.
    static let clientBytes = 1 + 2 * packetSize
    /// The server version in a digest S1 (FMS 3.5.1.1). A major version ≥ 3 makes FFmpeg players check S1's
    /// digest and S2's signature exactly, and set up their RTMPE keys.
    static let serverVersion: [UInt8] = [3, 5, 1, 1]
    /// How many key pairs are drawn, at most, for a shared secret of exactly 128 bytes (a shorter one
    /// would key the RC4 streams differently in clients that pad it and clients that do not).
    private static let keyPairAttempts = 16

    /// Where the handshake is.
    private enum State {
        /// Collecting C0 and C1 in `c0c1`.
        case c0c1
        /// Skipping C2: bytes left.
        case c2(remaining: Int)
        case done
    }

    private var state = State.c0c1
    private var c0c1: [UInt8] = []
    /// Set once the client's handshake is refused: every later call throws it.
    private var failure: RTMPFailure?
    /// The time written in S1 (milliseconds, the server's epoch).
    let time: UInt32
    /// The client's digest layout once C1 is read; nil for a simple handshake.
    private(set) var scheme: RTMPDigestScheme?
    /// RTMPE (C0 = 6): every byte after C2 and after S2 goes through the RC4 streams below.
    private(set) var encrypted = false
    /// RTMPE: decrypts the client's bytes that follow C2 (C2 already went through it).
    private(set) var decryptor: (any RTMPCipher)?
    /// RTMPE: encrypts everything the server sends after S2 (1536 bytes of key stream already skipped).
    private(set) var encryptor: (any RTMPCipher)?

    init(time: UInt32 = 0) {
        self.time = time
    }

    /// True once C2 is consumed: the following bytes belong to the chunk stream.
    var isComplete: Bool { if case .done = state { return true } else { return false } }

    /// Consumes handshake bytes from the start of `bytes`; returns how many it took (all of them until C2
    /// is complete) and S0+S1+S2 to send when these bytes completed C1 (empty otherwise).
    mutating func feed(_ bytes: UnsafeRawBufferPointer, crypto: some RTMPCrypto) throws(RTMPFailure) -> (consumed: Int, reply: [UInt8]) {
        if let failure { throw failure }
        var index = 0
        var reply: [UInt8] = []
        do throws(RTMPFailure) {
            while index < bytes.count {
                switch state {
                case .c0c1:
                    let count = min(1 + Self.packetSize - c0c1.count, bytes.count - index)
                    c0c1.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]))
                    index += count
                    guard c0c1[0] == 3 || c0c1[0] == 6 else {
                        throw RTMPFailure(reason: "handshake version \(c0c1[0]) (3 for RTMP or 6 for RTMPE expected)")
                    }
                    if c0c1.count == 1 + Self.packetSize {
                        reply = try answer(crypto: crypto)
                        c0c1 = []
                        state = .c2(remaining: Self.packetSize)
                    }
                case .c2(let remaining):
                    let count = min(remaining, bytes.count - index)
                    if let decryptor {
                        var skipped = Array(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]))
                        decryptor.apply(&skipped)
                    }
                    index += count
                    state = count == remaining ? .done : .c2(remaining: remaining - count)
                case .done:
                    return (index, reply)
                }
            }
        } catch {
            failure = error
            throw error
        }
        return (index, reply)
    }

    /// Consumes handshake bytes from the start of `bytes` (see the buffer form).
    mutating func feed(_ bytes: [UInt8], crypto: some RTMPCrypto) throws(RTMPFailure) -> (consumed: Int, reply: [UInt8]) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(RTMPFailure) in try feed(buffer, crypto: crypto) }
        }.get()
    }

    /// S0+S1+S2 for the complete C0+C1 in `c0c1`.
    private mutating func answer(crypto: some RTMPCrypto) throws(RTMPFailure) -> [UInt8] {
        let version = c0c1[0]
        let c1 = Array(c0c1[1...])
        encrypted = version == 6
        let time = RTMPControl.bigEndian(time)
        guard let scheme = RTMPDigestScheme.allCases.first(where: { $0.validates(c1, key: RTMPDigestScheme.playerKey, crypto: crypto) }) else {
            guard !encrypted else { throw RTMPFailure(reason: "RTMPE handshake without a valid C1 digest") }
            return [version] + time + [0, 0, 0, 0] + (try Self.random(Self.packetSize - 8, crypto: crypto)) + c1
        }
        self.scheme = scheme
        var s1 = time + Self.serverVersion + (try Self.random(Self.packetSize - 8, crypto: crypto))
        if encrypted { try exchangeKeys(c1: c1, s1: &s1, scheme: scheme, crypto: crypto) }
        scheme.sign(&s1, key: Array(RTMPDigestScheme.serverKey.prefix(RTMPDigestScheme.serverKeyTextLength)), crypto: crypto)
        let digestOffset = scheme.digestOffset(c1)
        let clientDigest = Array(c1[digestOffset..<(digestOffset + RTMPDigestScheme.digestLength)])
        let signatureKey = crypto.hmacSHA256(key: RTMPDigestScheme.serverKey, data: clientDigest)
        var s2 = try Self.random(Self.packetSize - RTMPDigestScheme.digestLength, crypto: crypto)
        s2 += crypto.hmacSHA256(key: signatureKey, data: s2)
        return [version] + s1 + s2
    }

    /// RTMPE: puts a server public key into S1, and keys the two RC4 streams with the shared secret.
    private mutating func exchangeKeys(c1: [UInt8], s1: inout [UInt8], scheme: RTMPDigestScheme,
                                       crypto: some RTMPCrypto) throws(RTMPFailure) {
        let length = RTMPDigestScheme.publicKeyLength
        let clientOffset = scheme.publicKeyOffset(c1)
        let clientKey = Array(c1[clientOffset..<(clientOffset + length)])
        let (serverKey, secret) = try Self.keyPair(peerKey: clientKey, crypto: crypto)
        let serverOffset = scheme.publicKeyOffset(s1)
        s1.replaceSubrange(serverOffset..<(serverOffset + length), with: serverKey)
        guard let decryptor = crypto.rc4(key: Array(crypto.hmacSHA256(key: secret, data: serverKey).prefix(16))),
              let encryptor = crypto.rc4(key: Array(crypto.hmacSHA256(key: secret, data: clientKey).prefix(16))) else {
            throw RTMPFailure(reason: "no RC4 key stream")
        }
        var skipped = [UInt8](repeating: 0, count: Self.packetSize)
        encryptor.apply(&skipped)
        self.decryptor = decryptor
        self.encryptor = encryptor
    }

    /// A server public key of 128 bytes and the 128-byte secret it shares with `peerKey`.
    private static func keyPair(peerKey: [UInt8], crypto: some RTMPCrypto) throws(RTMPFailure) -> (publicKey: [UInt8], secret: [UInt8]) {
        let length = RTMPDigestScheme.publicKeyLength
        for _ in 0..<keyPairAttempts {
            guard let pair = crypto.dhNew() else { throw RTMPFailure(reason: "no Diffie-Hellman key pair") }
            let secret = crypto.dhSecret(pair.handle, peerKey: peerKey)
            crypto.dhFree(pair.handle)
            guard let secret else { throw RTMPFailure(reason: "invalid Diffie-Hellman public key in C1") }
            if secret.count == length && pair.publicKey.count == length { return (pair.publicKey, secret) }
        }
        throw RTMPFailure(reason: "no Diffie-Hellman key pair with a \(length)-byte secret in \(keyPairAttempts) attempts")
    }

    private static func random(_ count: Int, crypto: some RTMPCrypto) throws(RTMPFailure) -> [UInt8] {
        let bytes = crypto.randomBytes(count)
        guard bytes.count == count else { throw RTMPFailure(reason: "no random bytes") }
        return bytes
    }
}
