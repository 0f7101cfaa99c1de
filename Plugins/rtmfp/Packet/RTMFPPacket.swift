// RTMFP packets (RFC 7016 §2.2, RFC 7425 §4.5): a UDP payload is a scrambled session id (4 bytes)
// followed by the AES-128-CBC encryption (zero IV, restarted per packet, no cipher padding) of
//   checksum (16 bits) | flags | [timestamp (16)] | [timestamp echo (16)] | chunks | 0xFF padding
// where the encrypted part is a multiple of 16 bytes, the checksum is RFC 1071's over everything after
// it, and the scrambled id is the session id XOR the first two 32-bit words of the encrypted part.
// Session id 0 (the handshake) uses the default key "Adobe Systems 02". A session that negotiated
// HMACs or sequence numbers (RTMFPPacketProtection.swift) has a sequence number in front of the checksum,
// and an HMAC after the encrypted part instead of the checksum.

/// One received packet, decrypted and checked: its header and its chunks (slices of the plaintext).
struct RTMFPPacket {
    /// The most bytes of UDP payload a packet takes (MonaServer's and Flash's MTU).
    static let maxSize = 1192
    /// The key of session id 0 (RFC 7425 §4.5.2): ASCII "Adobe Systems 02".
    static let defaultKey: [UInt8] = Array("Adobe Systems 02".utf8)
    /// Datagrams shorter than this are dropped without looking further.
    static let minimumSize = 12
    /// Size of the scrambled session id in front of the encrypted part.
    static let sessionIDSize = 4

    /// Header flags (RFC 7016 §2.2.4).
    enum Flag {
        /// Time critical.
        static let timeCritical: UInt8 = 0x80
        /// Time critical reverse notification.
        static let timeCriticalReverse: UInt8 = 0x40
        /// A timestamp follows the flags.
        static let timestamp: UInt8 = 0x08
        /// A timestamp echo follows.
        static let timestampEcho: UInt8 = 0x04
        /// The mode bits.
        static let modeMask: UInt8 = 0x03
        static let initiatorMode: UInt8 = 0x01
        static let responderMode: UInt8 = 0x02
        static let startupMode: UInt8 = 0x03
    }

    /// The flags byte, as received.
    let flags: UInt8
    /// The sender's timestamp (4 ms units), when flagged.
    let timestamp: UInt16?
    /// The echo of our timestamp, when flagged.
    let echo: UInt16?
    /// The decrypted encrypted part: sequence number, checksum, header, chunks, padding.
    private let plaintext: [UInt8]
    /// Where the chunks start and where they end (at the padding) in `plaintext`.
    private let chunkBounds: Range<Int>

    /// The mode bits of the flags (1 initiator, 2 responder, 3 startup).
    var mode: UInt8 { flags & Flag.modeMask }
    /// The chunks, in order (validated when the packet was opened, so iterating cannot fail).
    var chunks: RTMFPChunks { RTMFPChunks(bytes: plaintext[chunkBounds]) }

    /// The session id of a datagram: its first word XOR the next two; nil for a datagram shorter
    /// than `minimumSize` (the rest is checked by `open`, which knows the session's protection).
    static func sessionID(of datagram: UnsafeRawBufferPointer) -> UInt32? {
        guard datagram.count >= minimumSize else { return nil }
        return word(datagram, 0) ^ word(datagram, 4) ^ word(datagram, 8)
    }

    /// Decrypts `datagram` with `key` (no HMAC, no sequence numbers: startup packets) and checks it.
    static func open(_ datagram: UnsafeRawBufferPointer, key: [UInt8], crypto: some RTMFPCrypto) -> RTMFPPacket? {
        var none = RTMFPPacketProtection.none
        return open(datagram, key: key, protection: &none, crypto: crypto)
    }

    /// Decrypts `datagram` with `key` and checks it under `protection`: nil when it cannot be a packet
    /// (an encrypted part that is not a non-empty multiple of 16), when its HMAC or checksum is wrong,
    /// when its sequence number is a replay, or when the header or a chunk is truncated (the caller
    /// drops it). The sequence number of a packet accepted is recorded in `protection`.
    static func open(_ datagram: UnsafeRawBufferPointer, key: [UInt8], protection: inout RTMFPPacketProtection,
                     crypto: some RTMFPCrypto) -> RTMFPPacket? {
        let trailer = protection.receiveHMAC?.length ?? 0
        let encryptedSize = datagram.count - sessionIDSize - trailer
        guard encryptedSize >= 16, encryptedSize % 16 == 0 else { return nil }
        let ciphertext = UnsafeRawBufferPointer(rebasing: datagram[sessionIDSize..<(sessionIDSize + encryptedSize)])
        if let hmac = protection.receiveHMAC {
            let expected = crypto.hmacSHA256(key: hmac.key, bytes: ciphertext)
            var difference: UInt8 = 0
            for index in 0..<hmac.length { difference |= expected[index] ^ datagram[sessionIDSize + encryptedSize + index] }
            guard difference == 0 else { return nil }
        }
        var plaintext = [UInt8](ciphertext)
        guard plaintext.withUnsafeMutableBytes({ crypto.aes128CBC(encrypt: false, key: key, bytes: $0) }) else { return nil }
        var position = 0
        var sequence: UInt64?
        if let window = protection.receiveSequence {
            var reader = RTMFPReader(plaintext[...])
            guard let number = reader.vlu(), window.isNew(number) else { return nil }
            sequence = number
            position = reader.position
        }
        if protection.receiveHMAC == nil {
            guard let stored = u16(plaintext, at: position), stored == RTMFPChecksum.compute(plaintext[(position + 2)...]) else { return nil }
            position += 2
        }
        guard position < plaintext.count else { return nil }
        let flags = plaintext[position]
        position += 1
        var timestamp: UInt16?
        var echo: UInt16?
        if flags & Flag.timestamp != 0 {
            guard let value = u16(plaintext, at: position) else { return nil }
            timestamp = value
            position += 2
        }
        if flags & Flag.timestampEcho != 0 {
            guard let value = u16(plaintext, at: position) else { return nil }
            echo = value
            position += 2
        }
        guard let end = RTMFPChunks.validatedEnd(of: plaintext, from: position) else { return nil }
        if let sequence { protection.receiveSequence?.accept(sequence) }
        return RTMFPPacket(flags: flags, timestamp: timestamp, echo: echo, plaintext: plaintext, chunkBounds: position..<end)
    }

    /// A time in milliseconds as a packet timestamp: 4 ms units, wrapping at 16 bits.
    static func timestamp(milliseconds: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: milliseconds / 4) }

    private static func word(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    private static func u16(_ bytes: [UInt8], at position: Int) -> UInt16? {
        guard position + 2 <= bytes.count else { return nil }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }
}

/// The chunks of a packet: `type (8) | length (16, big-endian) | value`, until the end or a padding
/// byte (0xFF, or 0x00) where a type would be.
struct RTMFPChunks: Sequence, IteratorProtocol {
    /// True for the chunk types that end the chunks (0x00 and 0xFF): the rest of the packet is padding.
    static func isPadding(_ type: UInt8) -> Bool { type == 0x00 || type == 0xFF }
    /// Bytes of a chunk's type and length.
    static let headerSize = 3

    private var bytes: ArraySlice<UInt8>

    init(bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    /// The next chunk; nil at the end, at padding, or at a truncated chunk.
    mutating func next() -> (type: UInt8, value: ArraySlice<UInt8>)? {
        guard let type = bytes.first, !Self.isPadding(type), bytes.count >= Self.headerSize else { return nil }
        let start = bytes.startIndex
        let length = Int(bytes[start + 1]) << 8 | Int(bytes[start + 2])
        guard bytes.count - Self.headerSize >= length else { return nil }
        let value = bytes[(start + Self.headerSize)..<(start + Self.headerSize + length)]
        bytes = bytes[value.endIndex...]
        return (type, value)
    }

    /// Where the chunks of `bytes` starting at `start` end (the start of the padding, or the end);
    /// nil when a chunk is truncated.
    static func validatedEnd(of bytes: [UInt8], from start: Int) -> Int? {
        var position = start
        while position < bytes.count, !isPadding(bytes[position]) {
            guard bytes.count - position >= headerSize else { return nil }
            let length = Int(bytes[position + 1]) << 8 | Int(bytes[position + 2])
            guard bytes.count - position - headerSize >= length else { return nil }
            position += headerSize + length
        }
        return position
    }
}

/// The Internet checksum (RFC 1071) that RFC 7425 puts in front of every packet: the ones' complement
/// of the ones' complement sum of the big-endian 16-bit words (an odd last byte is the high byte of a
/// word whose low byte is zero). Summed four bytes at a time in 64 bits, then folded (RFC 1071 §2:
/// 2^16 is 1 modulo 0xFFFF, so the 32-bit words' sum folds to the 16-bit words' one).
enum RTMFPChecksum {
    static func compute(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        bytes.withUnsafeBytes { raw in
            var sum: UInt64 = 0
            var index = 0
            while index + 4 <= raw.count {
                sum &+= UInt64(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt32.self)))
                index += 4
            }
            if index + 2 <= raw.count {
                sum &+= UInt64(raw[index]) << 8 | UInt64(raw[index + 1])
                index += 2
            }
            if index < raw.count { sum &+= UInt64(raw[index]) << 8 }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            return ~UInt16(sum)
        }
    }
}
