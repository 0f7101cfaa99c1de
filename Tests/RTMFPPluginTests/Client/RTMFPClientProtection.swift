// The test client's side of RFC 7425 §4.6.5-4.6.6, written from the RFC apart from the plugin: when
// `Settings.protection` is set, the client behaves as rtmfp-cpp does by default — its skic says it
// always sends and requires both an HMAC (of `Settings.hmacLength` bytes) and session sequence numbers —
// and it refuses a server whose skrc does not promise to send both.

extension RTMFPTestClient {
    /// Negotiation flags.
    enum NegotiationFlag {
        static let sendsAlways: UInt8 = 0x04
        static let sendsOnRequest: UInt8 = 0x02
        static let requires: UInt8 = 0x01
    }

    /// One session's HMACs and sequence numbers, both ways.
    struct Protection {
        /// HMAC keys (HMAC-SHA256(secret, the direction's whole 32-byte key)) and lengths.
        var sendKey: [UInt8]
        var sendLength: Int
        var receiveKey: [UInt8]
        var receiveLength: Int
        /// The next sequence number the client sends.
        var nextSequence: UInt64 = 0
        /// Sequence numbers received, to catch a replay.
        var received: Set<UInt64> = []

        /// The skic options saying "always sends and requires both".
        static func initiatorOptions(hmacLength: Int) -> [UInt8] {
            let flags = NegotiationFlag.sendsAlways | NegotiationFlag.sendsOnRequest | NegotiationFlag.requires
            return Option(type: OptionCode.hmacNegotiation, value: [flags] + Wire.vlu(UInt64(hmacLength))).encoded
                + Option(type: OptionCode.sequenceNegotiation, value: [flags]).encoded
        }

        /// The server's promise in its skrc: the length of its HMACs when it will always send them
        /// and sequence numbers; nil otherwise.
        static func responderHMACLength(skrc: [UInt8]) -> Int? {
            guard let options = Option.list(skrc) else { return nil }
            var length: Int?
            var sequence = false
            for option in options {
                var reader = Reader(option.value)
                let flags = reader.u8() ?? 0
                if option.type == OptionCode.hmacNegotiation, flags & NegotiationFlag.sendsAlways != 0,
                   let value = reader.vlu(), (4...32).contains(value) {
                    length = Int(value)
                }
                if option.type == OptionCode.sequenceNegotiation { sequence = flags & NegotiationFlag.sendsAlways != 0 }
            }
            return sequence ? length : nil
        }

        /// The protection after keying.
        init(secret: [UInt8], skic: [UInt8], skrc: [UInt8], sendLength: Int, receiveLength: Int) {
            let hashes = Crypto.initiatorKeyHashes(secret: secret, skic: skic, skrc: skrc)
            sendKey = Crypto.hmacSHA256(key: secret, data: hashes.encrypt)
            receiveKey = Crypto.hmacSHA256(key: secret, data: hashes.decrypt)
            self.sendLength = sendLength
            self.receiveLength = receiveLength
        }

        /// `packet` as a datagram: sequence number, no checksum, encryption, HMAC, scrambled id.
        mutating func encode(_ packet: Packet, sessionID: UInt32, key: [UInt8]) -> [UInt8]? {
            var plain = Wire.vlu(nextSequence) + packet.body
            nextSequence += 1
            plain += [UInt8](repeating: 0xFF, count: (16 - plain.count % 16) % 16)
            guard let cipher = Crypto.aes(encrypt: true, key: key, plain) else { return nil }
            let scrambled = sessionID ^ Wire.word(cipher, at: 0) ^ Wire.word(cipher, at: 4)
            return Wire.u32(scrambled) + cipher + Crypto.hmacSHA256(key: sendKey, data: cipher).prefix(sendLength)
        }

        /// A datagram of the server: HMAC checked, decrypted, sequence number new; nil otherwise.
        mutating func decode(_ datagram: [UInt8], key: [UInt8]) -> Packet? {
            let cipherCount = datagram.count - 4 - receiveLength
            guard cipherCount >= 16, cipherCount % 16 == 0 else { return nil }
            let cipher = Array(datagram[4..<(4 + cipherCount)])
            guard Array(Crypto.hmacSHA256(key: receiveKey, data: cipher).prefix(receiveLength)) == Array(datagram[(4 + cipherCount)...]),
                  let plain = Crypto.aes(encrypt: false, key: key, cipher) else { return nil }
            var reader = Reader(plain)
            guard let sequence = reader.vlu(), !received.contains(sequence) else { return nil }
            received.insert(sequence)
            return Packet.parse(body: Array(plain[reader.position...]))
        }
    }
}
