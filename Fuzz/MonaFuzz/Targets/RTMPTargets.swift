@testable import RTMPPlugin

/// The RTMP handshake, fed in pieces, on a deterministic fake crypto (an all-zero HMAC, so a C1 with a
/// zero digest reaches the digest and RTMPE answers).
func fuzzRTMPHandshake(_ input: [UInt8]) {
    var handshake = RTMPHandshake()
    let crypto = FuzzCrypto()
    for piece in FuzzSlices(input) {
        var rest = Array(piece)
        while !rest.isEmpty {
            guard let (consumed, _) = try? handshake.feed(rest, crypto: crypto), consumed > 0 else { return }
            rest.removeFirst(min(consumed, rest.count))
        }
    }
}

/// The chunk decoder, fed in pieces, with small limits so size checks are reached.
func fuzzRTMPChunks(_ input: [UInt8]) {
    var decoder = RTMPChunkDecoder(maxMessageSize: 1 << 16, maxPendingBytes: 1 << 18)
    for piece in FuzzSlices(input) {
        guard (try? decoder.feed(Array(piece))) != nil else { return }
        _ = decoder.acknowledgementDue()
    }
}

/// Cheap, deterministic stand-ins for the handshake's crypto.
struct FuzzCrypto: RTMPCrypto {
    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: 32) }
    func randomBytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 7, count: count) }
    func dhNew() -> (handle: UInt64, publicKey: [UInt8])? { (1, [UInt8](repeating: 5, count: 128)) }
    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]? { peerKey.count == 128 ? peerKey : nil }
    func dhFree(_ handle: UInt64) {}
    func rc4(key: [UInt8]) -> (any RTMPCipher)? { FuzzCipher() }
}

/// A key stream that XORs with a constant.
final class FuzzCipher: RTMPCipher {
    func apply(_ bytes: UnsafeMutableRawBufferPointer) {
        for index in bytes.indices { bytes[index] ^= 0x5A }
    }
}
