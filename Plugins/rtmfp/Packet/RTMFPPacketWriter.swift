/// Builds one packet (RTMFPPacket.swift gives the layout): the header, then chunks while they fit in
/// `RTMFPPacket.maxSize` bytes, then `seal` pads, checksums, encrypts and scrambles it in the same
/// array, which becomes the datagram.
struct RTMFPPacketWriter {
    /// The largest encrypted part: what the MTU leaves after the session id, rounded down to 16 bytes.
    static let maxEncryptedSize = (RTMFPPacket.maxSize - RTMFPPacket.sessionIDSize) / 16 * 16
    /// The padding byte.
    static let padding: UInt8 = 0xFF
    /// Offset of the checksum (after the session id).
    private static let checksumOffset = RTMFPPacket.sessionIDSize
    /// The whole datagram being built, from its session id.
    private var bytes: [UInt8] = []
    /// Where the chunks start.
    private let chunksStart: Int

    /// A packet with `flags` (the mode and TC/TCR bits; TS and TSE are set from `timestamp` and `echo`).
    init(flags: UInt8, timestamp: UInt16?, echo: UInt16?) {
        bytes.reserveCapacity(RTMFPPacket.maxSize)
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0]) // session id and checksum, written by seal
        var header = flags & ~(RTMFPPacket.Flag.timestamp | RTMFPPacket.Flag.timestampEcho)
        if timestamp != nil { header |= RTMFPPacket.Flag.timestamp }
        if echo != nil { header |= RTMFPPacket.Flag.timestampEcho }
        bytes.append(header)
        if let timestamp { bytes.appendU16(timestamp) }
        if let echo { bytes.appendU16(echo) }
        chunksStart = bytes.count
    }

    /// Bytes still free for chunks (headers included).
    var room: Int { RTMFPPacket.sessionIDSize + Self.maxEncryptedSize - bytes.count }
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
    /// to a multiple of 16, checksum, encryption, scrambled id. Nil if encryption fails (a key that is
    /// not 16 bytes) or if this writer was sealed already: build each packet with a new writer.
    mutating func seal(farSessionID: UInt32, key: [UInt8], crypto: some RTMFPCrypto) -> [UInt8]? {
        guard bytes.count >= chunksStart else { return nil }
        let encryptedSize = bytes.count - RTMFPPacket.sessionIDSize
        bytes.append(contentsOf: repeatElement(Self.padding, count: (16 - encryptedSize % 16) % 16))
        let checksum = RTMFPChecksum.compute(bytes[(Self.checksumOffset + 2)...])
        bytes[Self.checksumOffset] = UInt8(checksum >> 8)
        bytes[Self.checksumOffset + 1] = UInt8(checksum & 0xFF)
        var datagram = bytes
        bytes = []
        let encrypted = datagram.withUnsafeMutableBytes { raw in
            crypto.aes128CBC(encrypt: true, key: key, bytes: UnsafeMutableRawBufferPointer(rebasing: raw[RTMFPPacket.sessionIDSize...]))
        }
        guard encrypted else { return nil }
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
