import MonaPluginKit
import PluginABI

/// The chunked body of one media frame in a host shared buffer: encoded once, written by reference to
/// every player whose header before it needs no extended timestamp (the body then depends only on the
/// payload, the csid and the chunk size). The buffer goes back to the host when the last player's
/// output and the cache let go of it.
final class RTMPSharedChunks {
    let handle: mona_handle
    let size: Int
    /// What the bytes are: the host's frame serial, the chunk stream, the chunk size.
    let serial: UInt64
    let csid: UInt32
    let chunkSize: Int
    private let host: MonaHost

    private init(host: MonaHost, handle: mona_handle, size: Int, serial: UInt64, csid: UInt32, chunkSize: Int) {
        self.host = host
        self.handle = handle
        self.size = size
        self.serial = serial
        self.csid = csid
        self.chunkSize = chunkSize
    }

    deinit { host.releaseShared(handle) }

    /// Frames smaller than this are copied into each player's output: a separate write costs more.
    static let minimumPayload = 2048

    /// Encodes `payload` into a new shared buffer; nil when the host has none to give.
    static func encode(_ payload: UnsafeRawBufferPointer, serial: UInt64, csid: UInt32, chunkSize: Int, host: MonaHost)
        -> RTMPSharedChunks?
    {
        let size = RTMPChunkEncoder.bodySize(length: payload.count, csid: csid, chunkSize: chunkSize, extended: nil)
        guard let (handle, memory) = host.createShared(size: size), let base = memory.baseAddress else { return nil }
        var offset = 0
        RTMPChunkEncoder.forEachBodyPiece(payload, csid: csid, chunkSize: chunkSize, extended: nil) { piece in
            guard let source = piece.baseAddress else { return }
            (base + offset).copyMemory(from: source, byteCount: piece.count)
            offset += piece.count
        }
        return RTMPSharedChunks(host: host, handle: handle, size: size, serial: serial, csid: csid, chunkSize: chunkSize)
    }
}
