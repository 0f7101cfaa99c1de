import CMonaCrypto
import PluginABI

/// The stateful crypto objects plugins hold (RC4 key streams, DH key pairs), by handle and owner.
/// Public for hosts of tests (MonaPluginTesting's FakeHost serves plugins with it).
public final class CryptoService: @unchecked Sendable {
    private enum Object {
        case rc4(UnsafeMutablePointer<mona_rc4>)
        case dh(OpaquePointer)
    }

    private var objects: [UInt64: (owner: ObjectIdentifier, object: Object)] = [:]
    private let makeHandle: () -> UInt64

    public init(makeHandle: @escaping () -> UInt64) { self.makeHandle = makeHandle }

    public func makeRC4(owner: AnyObject, key: UnsafeBufferPointer<UInt8>) -> UInt64? {
        let state = UnsafeMutablePointer<mona_rc4>.allocate(capacity: 1)
        guard mona_crypto_rc4_init(state, key.baseAddress, key.count) == 0 else {
            state.deallocate()
            return nil
        }
        let handle = makeHandle()
        objects[handle] = (ObjectIdentifier(owner), .rc4(state))
        return handle
    }

    public func rc4(_ handle: UInt64, owner: AnyObject) -> UnsafeMutablePointer<mona_rc4>? {
        guard let entry = objects[handle], entry.owner == ObjectIdentifier(owner), case .rc4(let state) = entry.object
        else { return nil }
        return state
    }

    /// The MODP groups of `dh_new` and the size of their public keys: 2 (RFC 2409, 1024 bits), 5 and 14
    /// (RFC 3526, 1536 and 2048 bits).
    public static let dhPublicKeySizes: [Int32: Int] = [2: 128, 5: 192, 14: 256]

    public func makeDH(owner: AnyObject, group: Int32) -> (UInt64, OpaquePointer)? {
        guard let dh = mona_crypto_dh_new(group) else { return nil }
        let handle = makeHandle()
        objects[handle] = (ObjectIdentifier(owner), .dh(dh))
        return (handle, dh)
    }

    /// The host API's `dh_new` for `owner`: a key pair in `group`, its public key left-padded to the
    /// group's size in `publicKey`. MONA_E_UNSUPPORTED for another group, MONA_E_INVAL for a missing
    /// pointer or a capacity below the key's size, MONA_E_IO when OpenSSL fails.
    public func newDH(owner: AnyObject, group: Int32, handle: UnsafeMutablePointer<UInt64>?,
                      publicKey: UnsafeMutablePointer<UInt8>?, capacity: Int, publicSize: UnsafeMutablePointer<Int>?) -> Int32 {
        guard let size = Self.dhPublicKeySizes[group] else { return MONA_E_UNSUPPORTED }
        guard let handle, let publicKey, let publicSize, capacity >= size else { return MONA_E_INVAL }
        guard let (made, dh) = makeDH(owner: owner, group: group) else { return MONA_E_IO }
        guard mona_crypto_dh_public(dh, publicKey, capacity, publicSize) == 0 else {
            _ = free(made, owner: owner)
            return MONA_E_IO
        }
        handle.pointee = made
        return MONA_OK
    }

    public func dh(_ handle: UInt64, owner: AnyObject) -> OpaquePointer? {
        guard let entry = objects[handle], entry.owner == ObjectIdentifier(owner), case .dh(let dh) = entry.object
        else { return nil }
        return dh
    }

    /// Frees one object; false if unknown or not the owner's.
    public func free(_ handle: UInt64, owner: AnyObject) -> Bool {
        guard let entry = objects[handle], entry.owner == ObjectIdentifier(owner) else { return false }
        objects[handle] = nil
        release(entry.object)
        return true
    }

    /// Frees everything an owner still holds.
    public func freeAll(owner: AnyObject) {
        for (handle, entry) in objects where entry.owner == ObjectIdentifier(owner) {
            objects[handle] = nil
            release(entry.object)
        }
    }

    private func release(_ object: Object) {
        switch object {
        case .rc4(let state):
            state.deallocate()
        case .dh(let dh):
            mona_crypto_dh_free(dh)
        }
    }
}
