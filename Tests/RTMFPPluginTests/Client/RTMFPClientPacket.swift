// The test client's packet layer (RFC 7016 §2.2.2-2.2.4, RFC 7425 §4.4): scrambled session ID,
// AES-128-CBC with a fresh zero IV, Internet checksum, 0xFF padding, flags, timestamps, chunks.

extension RTMFPTestClient {
    /// One chunk of a packet: `type(1) | length(2) | value`.
    struct Chunk: Equatable {
        /// The chunk type (`ChunkType`).
        var type: UInt8
        /// The chunk value.
        var value: [UInt8]

        /// Creates a chunk.
        init(_ type: UInt8, _ value: [UInt8]) {
            self.type = type
            self.value = value
        }

        /// The wire form.
        var encoded: [UInt8] {
            [type] + Wire.u16(UInt16(truncatingIfNeeded: value.count)) + value
        }
    }

    /// The chunk types the client sends or reads (RFC 7016 §2.3); others land in `unexpectedChunks`.
    enum ChunkType {
        static let iHello: UInt8 = 0x30
        static let forwardedIHello: UInt8 = 0x0F
        static let rHello: UInt8 = 0x70
        static let redirect: UInt8 = 0x71
        static let iiKeying: UInt8 = 0x38
        static let riKeying: UInt8 = 0x78
        static let ping: UInt8 = 0x01
        static let pingReply: UInt8 = 0x41
        static let userData: UInt8 = 0x10
        static let nextUserData: UInt8 = 0x11
        static let ackRanges: UInt8 = 0x51
        static let bufferProbe: UInt8 = 0x18
        static let flowException: UInt8 = 0x5E
        static let sessionClose: UInt8 = 0x0C
        static let sessionCloseAck: UInt8 = 0x4C
        /// Padding: parsing stops at this type.
        static let padding: UInt8 = 0xFF
    }

    /// The packet header flags byte (RFC 7016 §2.2.4).
    enum PacketFlag {
        static let timestamp: UInt8 = 0x08
        static let timestampEcho: UInt8 = 0x04
        static let modeMask: UInt8 = 0x03
        static let initiatorMode: UInt8 = 0x01
        static let responderMode: UInt8 = 0x02
        static let startupMode: UInt8 = 0x03
    }

    /// One decrypted packet: flags, timestamps, chunks.
    struct Packet: Equatable {
        /// The largest datagram Flash sends (the 1192-byte MTU of MonaServer and Flash).
        static let maximumSize = 1192
        /// The most chunk bytes one datagram of `maximumSize` carries: the encrypted part is a
        /// multiple of 16 bytes, and the checksum, flags and two timestamps come first.
        static func chunkCapacity(datagramSize: Int = maximumSize) -> Int {
            (datagramSize - 4) / 16 * 16 - 7
        }

        /// The flags byte, mode included.
        var flags: UInt8
        /// The timestamp (4 ms units), present when the TS flag is set.
        var timestamp: UInt16?
        /// The timestamp echo, present when the TSE flag is set.
        var timestampEcho: UInt16?
        /// The chunks, padding excluded.
        var chunks: [Chunk]

        /// A packet; the TS and TSE flags follow the timestamps given.
        init(mode: UInt8, flags: UInt8 = 0, timestamp: UInt16?, timestampEcho: UInt16? = nil, chunks: [Chunk]) {
            var all = flags & ~(PacketFlag.timestamp | PacketFlag.timestampEcho | PacketFlag.modeMask) | mode & PacketFlag.modeMask
            if timestamp != nil { all |= PacketFlag.timestamp }
            if timestampEcho != nil { all |= PacketFlag.timestampEcho }
            self.flags = all
            self.timestamp = timestamp
            self.timestampEcho = timestampEcho
            self.chunks = chunks
        }

        /// The mode: 1 initiator, 2 responder, 3 startup.
        var mode: UInt8 { flags & PacketFlag.modeMask }

        /// The plaintext after the checksum field: flags, timestamps, chunks (no padding).
        var body: [UInt8] {
            var bytes = [flags]
            if let timestamp { bytes += Wire.u16(timestamp) }
            if let timestampEcho { bytes += Wire.u16(timestampEcho) }
            for chunk in chunks { bytes += chunk.encoded }
            return bytes
        }

        /// The datagram: scrambled `sessionID`, then the plaintext (checksum, body, 0xFF padding to a
        /// multiple of 16 bytes) encrypted under `key`. Nil for a key that is not 16 bytes.
        func encode(sessionID: UInt32, key: [UInt8]) -> [UInt8]? {
            var plain: [UInt8] = [0, 0] + body
            plain += [UInt8](repeating: 0xFF, count: (16 - plain.count % 16) % 16)
            let sum = Packet.checksum(plain[2...])
            plain[0] = UInt8(sum >> 8)
            plain[1] = UInt8(sum & 0xFF)
            guard let cipher = Crypto.aes(encrypt: true, key: key, plain) else { return nil }
            let scrambled = sessionID ^ Wire.word(cipher, at: 0) ^ Wire.word(cipher, at: 4)
            return Wire.u32(scrambled) + cipher
        }

        /// The session ID of a datagram (the first word XOR the next two), nil when too short.
        static func sessionID(of datagram: [UInt8]) -> UInt32? {
            guard datagram.count >= 12 else { return nil }
            return Wire.word(datagram, at: 0) ^ Wire.word(datagram, at: 4) ^ Wire.word(datagram, at: 8)
        }

        /// Decrypts and parses a datagram under `key`; nil when its size is not 4 + a multiple of 16,
        /// the checksum is wrong, or the header is truncated. Chunks stop at a padding type or at
        /// the first chunk whose length overruns the packet.
        static func decode(_ datagram: [UInt8], key: [UInt8]) -> Packet? {
            guard datagram.count >= 20, (datagram.count - 4) % 16 == 0,
                  let plain = Crypto.aes(encrypt: false, key: key, Array(datagram[4...]))
            else { return nil }
            guard UInt16(plain[0]) << 8 | UInt16(plain[1]) == checksum(plain[2...]) else { return nil }
            return parse(body: Array(plain[2...]))
        }

        /// Parses a plaintext body (what follows the checksum).
        static func parse(body: [UInt8]) -> Packet? {
            var reader = Reader(body)
            guard let flags = reader.u8() else { return nil }
            var timestamp: UInt16?
            var echo: UInt16?
            if flags & PacketFlag.timestamp != 0 {
                guard let value = reader.u16() else { return nil }
                timestamp = value
            }
            if flags & PacketFlag.timestampEcho != 0 {
                guard let value = reader.u16() else { return nil }
                echo = value
            }
            var chunks: [Chunk] = []
            while let type = reader.u8(), type != ChunkType.padding,
                  let length = reader.u16(), let value = reader.bytes(Int(length)) {
                chunks.append(Chunk(type, value))
            }
            return Packet(mode: flags & PacketFlag.modeMask, flags: flags, timestamp: timestamp, timestampEcho: echo,
                          chunks: chunks)
        }

        /// The 16-bit ones' complement of the ones' complement sum of the big-endian 16-bit words
        /// (RFC 1071); an odd last byte is added as it is.
        static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
            var sum: UInt32 = 0
            var index = bytes.startIndex
            while index + 1 < bytes.endIndex {
                sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
                index += 2
            }
            if index < bytes.endIndex { sum += UInt32(bytes[index]) }
            sum = (sum >> 16) + (sum & 0xFFFF)
            sum += sum >> 16
            return ~UInt16(truncatingIfNeeded: sum)
        }
    }
}
