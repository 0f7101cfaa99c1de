/// Builds one packet (RTMFPPacket.swift gives the layout): the header, then chunks while they fit in
/// `RTMFPPacket.maxSize` bytes, then `seal` pads, checksums, encrypts, appends the HMAC and scrambles
/// it in the same array, which becomes the datagram.
struct RTMFPPacketWriter {
    /// The largest encrypted part when `trailer` bytes of HMAC follow it: what the MTU leaves after the
    /// session id and the HMAC, rounded down to 16 bytes.
    static func maxEncryptedSize(trailer: Int) -> Int { (RTMFPPacket.maxSize - RTMFPPacket.sessionIDSize - trailer) / 16 * 16 }
    /// The padding byte.
    static let padding: UInt8 = 0xFF
    /// The whole datagram being built, from its session id.
    private var bytes: [UInt8] = []
    /// Where the chunks start.
    private let chunksStart: Int
    /// Where the checksum is; nil when the packet carries an HMAC instead.
    private let checksumOffset: Int?
    /// The HMAC appended by `seal`.
    private let hmac: RTMFPHMAC?

    /// A packet with `flags` (the mode and TC/TCR bits; TS and TSE are set from `timestamp` and `echo`),
    /// starting with session sequence number `sequence` when given, authenticated with `hmac` when
    /// given (else checksummed).
    init(flags: UInt8, timestamp: UInt16?, echo: UInt16?, sequence: UInt64? = nil, hmac: RTMFPHMAC? = nil) {
        bytes.reserveCapacity(RTMFPPacket.maxSize)
        bytes.append(contentsOf: [0, 0, 0, 0]) // session id, written by seal
        if let sequence { bytes.appendVLU(sequence) }
        if hmac == nil {
            checksumOffset = bytes.count
            bytes.append(contentsOf: [0, 0]) // written by seal
        } else {
            checksumOffset = nil
        }
        self.hmac = hmac
        var header = flags & ~(RTMFPPacket.Flag.timestamp | RTMFPPacket.Flag.timestampEcho)
        if timestamp != nil { header |= RTMFPPacket.Flag.timestamp }
        if echo != nil { header |= RTMFPPacket.Flag.timestampEcho }
        bytes.append(header)
        if let timestamp { bytes.appendU16(timestamp) }
        if let echo { bytes.appendU16(echo) }
        chunksStart = bytes.count
    }

    /// Bytes still free for chunks (headers included).
    var room: Int { RTMFPPacket.sessionIDSize + Self.maxEncryptedSize(trailer: hmac?.length ?? 0) - bytes.count }
    /// The largest chunk value that still fits.
    var valueRoom: Int { max(0, room - RTMFPChunks.headerSize) }
    /// True while no chunk was added.
    var isEmpty: Bool { bytes.count == chunksStart }

    /// Adds a chunk; false (and nothing added) when it does not fit.
    mutating func append(chunkType: UInt8, value: some Collection<UInt8>) -> Bool {
        guard RTMFPChunks.headerSize + value.count <= room, !RTMFPChunks.isPadding(chunkType) else { return false }
        bytes.append(chunkType)
        bytes.appendU16(UInt16(value.count))
        bytes.append(contentsOf: value)
        return true
    }

    /// Adds chunks already encoded (`type | length | value`, one after the other); false (and nothing
    /// added) when they do not fit.
    mutating func append(encodedChunks: some Collection<UInt8>) -> Bool {
        guard encodedChunks.count <= room else { return false }
        bytes.append(contentsOf: encodedChunks)
        return true
    }

    /// The datagram for the session whose far id is `farSessionID`, encrypted with `key`: 0xFF padding
    /// to a multiple of 16, checksum, encryption, HMAC, scrambled id. Nil if encryption fails (a key that
    /// is not 16 bytes) or if this writer was sealed already: build each packet with a new writer.
    mutating func seal(farSessionID: UInt32, key: [UInt8], crypto: some RTMFPCrypto) -> [UInt8]? {
        guard bytes.count >= chunksStart else { return nil }
        let encryptedSize = bytes.count - RTMFPPacket.sessionIDSize
        bytes.append(contentsOf: repeatElement(Self.padding, count: (16 - encryptedSize % 16) % 16))
        if let checksumOffset {
            let checksum = RTMFPChecksum.compute(bytes[(checksumOffset + 2)...])
            bytes[checksumOffset] = UInt8(checksum >> 8)
            bytes[checksumOffset + 1] = UInt8(checksum & 0xFF)
        }
        var datagram = bytes
        bytes = []
        let encrypted = datagram.withUnsafeMutableBytes { raw in
            crypto.aes128CBC(encrypt: true, key: key, bytes: UnsafeMutableRawBufferPointer(rebasing: raw[RTMFPPacket.sessionIDSize...]))
        }
        guard encrypted else { return nil }
        if let hmac {
            let code = datagram.withUnsafeBytes { crypto.hmacSHA256(key: hmac.key, bytes: UnsafeRawBufferPointer(rebasing: $0[RTMFPPacket.sessionIDSize...])) }
            datagram.append(contentsOf: code.prefix(hmac.length))
        }
        let scrambled = farSessionID ^ word(datagram, 4) ^ word(datagram, 8)
        datagram[0] = UInt8(scrambled >> 24)
        datagram[1] = UInt8((scrambled >> 16) & 0xFF)
        datagram[2] = UInt8((scrambled >> 8) & 0xFF)
        datagram[3] = UInt8(scrambled & 0xFF)
        return datagram
    }

    private func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
