// What RFC 7425 §4.6 lets the two ends of a session negotiate on top of AES-128-CBC, in their session
// key components: an HMAC-SHA256 after the encrypted part (in place of the checksum), and session
// sequence numbers (a VLU at the start of the plaintext, before the checksum if any) that defeat
// replays. Each is negotiated per direction with a flags byte:
//   0x04 "I will always send it", 0x02 "I will send it on request", 0x01 "I require it",
// followed, for the HMAC, by a VLU: the length of the HMACs the sender sends (4 to 32 bytes).
// The server never requires either: it sends what the client requires and checks what the client
// says it always sends. Flash Player and librtmfp negotiate neither; rtmfp-cpp requires both by default.
//
// With both, a packet is `scrambled id | AES(sequence VLU | flags | ... | padding) | HMAC`; with neither,
// `scrambled id | AES(checksum | flags | ... | padding)` as before.

/// One direction's HMAC: its key (HMAC-SHA256(DH secret, the direction's whole 32-byte AES key)) and
/// how many bytes of the 32 the packets carry.
struct RTMFPHMAC: Equatable {
    /// Shortest and longest HMAC a peer may ask for.
    static let lengths = 4...32
    /// The length we send (RFC 2104 §5: half the hash).
    static let defaultLength = 16

    let key: [UInt8]
    let length: Int
}

/// Sequence numbers received: the highest and which of the 64 below it were seen. A number seen
/// already, or 64 or more below the highest, is a replay.
struct RTMFPReplayWindow: Equatable {
    private var highest: UInt64?
    /// Bit n: `highest - n - 1` was seen.
    private var below: UInt64 = 0

    /// True when `number` is new (not seen, not too old); `accept` records it.
    func isNew(_ number: UInt64) -> Bool {
        guard let highest else { return true }
        if number > highest { return true }
        if number == highest { return false }
        let distance = highest - number
        return distance <= 64 && below & (1 << (distance - 1)) == 0
    }

    /// Records `number` (checked with `isNew` and authenticated). Shifts past 63 bits give 0.
    mutating func accept(_ number: UInt64) {
        guard let current = highest else {
            highest = number
            return
        }
        if number > current {
            let shift = number - current
            below = (below << shift) | (1 << (shift - 1))
            highest = number
        } else if number < current, current - number <= 64 {
            below |= 1 << (current - number - 1)
        }
    }
}

/// A session's packet protection, both directions, as negotiated.
struct RTMFPPacketProtection: Equatable {
    /// Negotiation flags (RFC 7425 §4.6.5, §4.6.6).
    enum Flag {
        static let sendsAlways: UInt8 = 0x04
        static let sendsOnRequest: UInt8 = 0x02
        static let requires: UInt8 = 0x01
    }

    /// The HMAC our packets carry; nil: they carry the checksum.
    var sendHMAC: RTMFPHMAC?
    /// The HMAC the client's packets carry; nil: they carry the checksum.
    var receiveHMAC: RTMFPHMAC?
    /// Our packets start with a sequence number: the next one.
    var sendSequence: UInt64?
    /// The client's packets start with a sequence number: those seen.
    var receiveSequence: RTMFPReplayWindow?

    /// Neither HMAC nor sequence numbers (Flash Player, librtmfp, MonaServer 1.x).
    static let none = RTMFPPacketProtection()

    /// Bytes of a packet's encrypted part and trailer this protection takes besides the flags,
    /// timestamps and chunks, at most: the sequence number (a VLU, 10 bytes at most) or nothing, the
    /// checksum or nothing, the HMAC or nothing.
    var maxOverhead: (prefix: Int, trailer: Int) {
        ((sendSequence == nil ? 0 : 10) + (sendHMAC == nil ? 2 : 0), sendHMAC?.length ?? 0)
    }
}

/// What a client's session key component asks for, and what the server answers in its own.
struct RTMFPProtectionNegotiation: Equatable {
    /// The client requires our packets to carry an HMAC.
    var clientRequiresHMAC = false
    /// The client's packets carry an HMAC of this length.
    var clientHMACLength: Int?
    /// The client requires our packets to carry sequence numbers.
    var clientRequiresSequence = false
    /// The client's packets carry sequence numbers.
    var clientSendsSequence = false

    /// Nothing negotiated.
    init() {}

    /// Reads the negotiation options (0x1A, 0x1E) of a client's skic; nil when an HMAC the client
    /// sends has a length out of 4...32 or is missing (the keying is refused).
    init?(skicOptions: [RTMFPOption]) {
        for option in skicOptions {
            var reader = RTMFPReader(option.value)
            switch option.type {
            case RTMFPOptionType.hmacNegotiation:
                let flags = reader.u8() ?? 0
                clientRequiresHMAC = flags & RTMFPPacketProtection.Flag.requires != 0
                if flags & RTMFPPacketProtection.Flag.sendsAlways != 0 {
                    guard let length = reader.vlu(), RTMFPHMAC.lengths.contains(Int(clamping: length)) else { return nil }
                    clientHMACLength = Int(length)
                }
            case RTMFPOptionType.sequenceNegotiation:
                let flags = reader.u8() ?? 0
                clientRequiresSequence = flags & RTMFPPacketProtection.Flag.requires != 0
                clientSendsSequence = flags & RTMFPPacketProtection.Flag.sendsAlways != 0
            default:
                continue
            }
        }
    }

    /// The server's negotiation options for its skrc: what it will always send (what the client
    /// requires), that it sends on request only when it does, and its HMAC length. A client that
    /// negotiates nothing gets MonaServer's bytes (`1A 00 00`, `1E 00`).
    var responderOptions: [UInt8] {
        var options: [UInt8] = []
        let hmacFlags = clientRequiresHMAC ? RTMFPPacketProtection.Flag.sendsAlways | RTMFPPacketProtection.Flag.sendsOnRequest : 0
        var hmac: [UInt8] = [hmacFlags]
        hmac.appendVLU(clientRequiresHMAC ? UInt64(RTMFPHMAC.defaultLength) : 0)
        options.appendOption(type: RTMFPOptionType.hmacNegotiation, value: hmac)
        let sequenceFlags = clientRequiresSequence ? RTMFPPacketProtection.Flag.sendsAlways | RTMFPPacketProtection.Flag.sendsOnRequest : 0
        options.appendOption(type: RTMFPOptionType.sequenceNegotiation, value: [sequenceFlags])
        return options
    }

    /// The session's protection once the keys are known: `encryptKey`/`decryptKey` are the whole
    /// 32-byte HMAC-SHA256 results whose first 16 bytes are the AES keys.
    func protection(secret: [UInt8], encryptKey: [UInt8], decryptKey: [UInt8], crypto: some RTMFPCrypto) -> RTMFPPacketProtection {
        var protection = RTMFPPacketProtection()
        if clientRequiresHMAC {
            protection.sendHMAC = RTMFPHMAC(key: crypto.hmacSHA256(key: secret, data: encryptKey), length: RTMFPHMAC.defaultLength)
        }
        if let length = clientHMACLength {
            protection.receiveHMAC = RTMFPHMAC(key: crypto.hmacSHA256(key: secret, data: decryptKey), length: length)
        }
        if clientRequiresSequence { protection.sendSequence = 0 }
        if clientSendsSequence { protection.receiveSequence = RTMFPReplayWindow() }
        return protection
    }
}
