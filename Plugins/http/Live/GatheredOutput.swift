import MonaPluginKit
import PluginABI

/// A frame body in a host shared buffer: copied once, then written by reference to every viewer of
/// the frame. The buffer goes back to the host when the last output and the plugin's cache let go.
final class SharedFrame {
    let handle: mona_handle
    let size: Int
    /// The host's serial of the frame whose body this is.
    let serial: UInt64
    private let host: MonaHost

    private init(host: MonaHost, handle: mona_handle, size: Int, serial: UInt64) {
        self.host = host
        self.handle = handle
        self.size = size
        self.serial = serial
    }

    deinit { host.releaseShared(handle) }

    /// Bodies smaller than this are copied into each viewer's output: a part of its own costs more.
    static let minimumSize = 2048

    /// A shared copy of `body`; nil when the host has no shared buffers to give.
    static func copy(_ body: UnsafeRawBufferPointer, serial: UInt64, host: MonaHost) -> SharedFrame? {
        guard let (handle, memory) = host.createShared(size: body.count), let base = memory.baseAddress,
              let source = body.baseAddress else { return nil }
        base.copyMemory(from: source, byteCount: body.count)
        return SharedFrame(host: host, handle: handle, size: body.count, serial: serial)
    }
}

/// The output of one connection gathered until the end of a batch of frames: bytes of its own with
/// shared frame bodies between them, written in one tcp_send_parts.
struct GatheredOutput {
    private var bytes: [UInt8] = []
    private var shared: [(at: Int, frame: SharedFrame)] = []
    /// Bytes gathered, shared ones included.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Appends bytes of this connection's own.
    mutating func write(_ produce: (inout [UInt8]) -> Void) {
        let before = bytes.count
        produce(&bytes)
        count += bytes.count - before
    }

    /// Appends a shared body by reference.
    mutating func write(_ frame: SharedFrame) {
        shared.append((bytes.count, frame))
        count += frame.size
    }

    /// Sends what was gathered (something must be) and empties the output: the host's answer to the
    /// send (bytes still queued, or a negative MONA_E_*).
    mutating func send(to connection: mona_handle, host: MonaHost) -> Int64 {
        defer {
            bytes.removeAll(keepingCapacity: true)
            shared.removeAll(keepingCapacity: true)
            count = 0
        }
        guard !shared.isEmpty else { return bytes.withUnsafeBytes { host.send(connection, $0) } }
        return bytes.withUnsafeBufferPointer { own in
            var parts: [mona_send_part] = []
            parts.reserveCapacity(shared.count * 2 + 1)
            var from = 0
            for (at, frame) in shared {
                if at > from { parts.append(mona_send_part(shared: 0, data: own.baseAddress! + from, offset: 0, size: at - from)) }
                parts.append(mona_send_part(shared: frame.handle, data: nil, offset: 0, size: frame.size))
                from = at
            }
            if own.count > from { parts.append(mona_send_part(shared: 0, data: own.baseAddress! + from, offset: 0, size: own.count - from)) }
            return parts.withUnsafeBufferPointer { host.send(connection, parts: $0) }
        }
    }
}
