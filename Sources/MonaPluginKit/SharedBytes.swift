import PluginABI

/// A copy of bytes in a shared buffer of the host's (`shared_create`), named by reference in the
/// sends of many connections (`MonaHost.send(_:parts:)`) and given back when the last holder lets it
/// go; sends already queued keep the bytes alive in the host.
public final class SharedBytes {
    /// The host's handle of the buffer.
    public let handle: mona_handle
    /// How many bytes it holds.
    public let count: Int
    private let host: MonaHost

    /// Nil when the host has no shared buffers (ABI < 1.3) or no memory.
    public init?(host: MonaHost, bytes: [UInt8]) {
        guard let (handle, memory) = host.createShared(size: bytes.count) else { return nil }
        bytes.withUnsafeBytes { memory.copyMemory(from: $0) }
        self.handle = handle
        self.count = bytes.count
        self.host = host
    }

    deinit { host.releaseShared(handle) }

    /// The part naming `size` bytes from `offset` (all of them by default) in a gathered send.
    public func part(offset: Int = 0, size: Int? = nil) -> mona_send_part {
        mona_send_part(shared: handle, data: nil, offset: offset, size: size ?? count - offset)
    }
}
