import MonaPluginKit

/// The handshake's cryptography over the host's OpenSSL services.
struct HostCrypto: RTMPCrypto {
    let host: MonaHost

    func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] { host.hmacSHA256(key: key, data: data) }
    func randomBytes(_ count: Int) -> [UInt8] { host.randomBytes(count) }
    func dhNew() -> (handle: UInt64, publicKey: [UInt8])? { host.dhNew() }
    func dhSecret(_ handle: UInt64, peerKey: [UInt8]) -> [UInt8]? { host.dhSecret(handle, peerKey: peerKey) }
    func dhFree(_ handle: UInt64) { host.dhFree(handle) }

    func rc4(key: [UInt8]) -> (any RTMPCipher)? {
        host.rc4New(key: key).map { HostRC4(host: host, handle: $0) }
    }
}

/// An RC4 key stream held by the host, freed with this object.
final class HostRC4: RTMPCipher {
    let host: MonaHost
    let handle: UInt64

    init(host: MonaHost, handle: UInt64) {
        self.host = host
        self.handle = handle
    }

    deinit { host.rc4Free(handle) }

    func apply(_ bytes: UnsafeMutableRawBufferPointer) { host.rc4Apply(handle, bytes) }
}
