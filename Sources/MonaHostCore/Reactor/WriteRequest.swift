import CLibUV
import CMonaSystem
#if canImport(Glibc)
import Glibc
#endif

/// One queued write of a connection: its pieces in order — borrowed bytes copied into one growing
/// block, ranges of shared blocks (kept alive until written) — and the connection (kept alive until
/// the callback). Filled while another write is in flight, started when that one completes.
///
/// Started, it goes to libuv whole (one `uv_write`), unless it is a plain connection's write holding a
/// large range of a file-backed shared block: then it writes *directly* — ranges of the file by
/// `sendfile` (the kernel references the pages: no copy by the server, as a static file server), the
/// rest by `writev` — and when the socket is full, hands libuv only a small probe of what follows,
/// whose completion says the socket drained and the direct writing goes on.
final class WriteRequest {
    /// One piece: `count` bytes at `offset` of the copies (block nil) or of a shared block.
    private struct Piece {
        let block: SharedBlock?
        var offset: Int
        var count: Int
    }

    /// A range of a file-backed block worth its own `sendfile` (smaller ones go in their neighbours' `writev`).
    static let sendfileMinimum = 64 * 1024
    /// What libuv carries of a direct write while the socket is full.
    static let probeSize = 4 * 1024
    /// `sendfile` refused these kinds of descriptors once: file ranges go by `writev` from then on.
    nonisolated(unsafe) private static var sendfileUnavailable = false

    private let whole = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let probe = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let connection: TCPConnection
    private var copies: UnsafeMutableRawPointer?
    private var capacity = 0
    private var used = 0
    private var pieces: [Piece] = []
    /// The first piece not yet written or handed to libuv.
    private var first = 0
    /// Bytes neither written nor handed to libuv yet.
    private(set) var byteCount = 0
    /// Bytes in libuv by the whole write and by the probe.
    private var wholeBytes = 0
    private var probeBytes = 0
    /// What is left went to libuv behind the probe (`handOver`): the whole write's callback ends it.
    private var handedOver = false

    init(connection: TCPConnection) {
        self.connection = connection
        whole.initialize(to: uv_write_t())
        probe.initialize(to: uv_write_t())
    }

    deinit {
        free(copies)
        whole.deallocate()
        probe.deallocate()
    }

    /// Appends a copy of borrowed bytes.
    func copy(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if used + bytes.count > capacity {
            capacity = max(used + bytes.count, 2 * capacity, 4096)
            copies = realloc(copies, capacity)
        }
        (copies! + used).copyMemory(from: base, byteCount: bytes.count)
        if let last = pieces.last, last.block == nil, last.offset + last.count == used {
            pieces[pieces.count - 1].count += bytes.count
        } else {
            pieces.append(Piece(block: nil, offset: used, count: bytes.count))
        }
        used += bytes.count
        byteCount += bytes.count
    }

    /// Appends a range of a shared block, by reference.
    func reference(_ block: SharedBlock, offset: Int, size: Int) {
        pieces.append(Piece(block: block, offset: offset, count: size))
        byteCount += size
    }

    /// Starts the write (nothing of the connection's is in flight, unless libuv is to queue it behind);
    /// `direct`: it may write straight to the socket. False when the connection failed.
    func submit(direct allowed: Bool = true) -> Bool {
        let direct = allowed && connection.tls == nil && !Self.sendfileUnavailable
            && uv_stream_get_write_queue_size(connection.uvStream) == 0
            && pieces.contains { $0.block.map { $0.fd >= 0 } == true && $0.count >= Self.sendfileMinimum }
        return direct ? writeDirectly() : handToLibuv(whole, limit: .max)
    }

    /// Everything left goes to libuv behind the probe in flight (a half-close waits for libuv's
    /// writes); false when the connection failed.
    func handOver() -> Bool {
        connection.directWrite = nil
        guard byteCount > 0 else { return true }
        handedOver = true
        return handToLibuv(whole, limit: .max)
    }

    // MARK: direct

    /// Writes what the socket takes now; the rest waits for a probe's completion. False when the
    /// connection failed.
    private func writeDirectly() -> Bool {
        connection.directWrite = nil
        guard writeToSocket() else { return false }
        guard byteCount > 0 else { return true }
        connection.directWrite = self
        return handToLibuv(probe, limit: Self.probeSize)
    }

    /// Writes pieces from `first` on until the socket is full; false when the connection failed.
    private func writeToSocket() -> Bool {
        var socket = uv_os_fd_t(-1)
        guard uv_fileno(connection.uvHandle, &socket) == 0
        else { return true } // closing: libuv's write fails and says so
        while first < pieces.count {
            let piece = pieces[first]
            if let block = piece.block, block.fd >= 0, piece.count >= Self.sendfileMinimum, !Self.sendfileUnavailable {
                let sent = mona_system_sendfile(socket, block.fd, piece.offset, piece.count)
                if sent > 0 {
                    consume(sent)
                    continue
                }
                if sent == 0 || sent == -Int(EAGAIN) { return true }
                guard sent == -Int(EINVAL) || sent == -Int(ENOSYS) else {
                    connection.failed(Int32(sent))
                    return false
                }
                Self.sendfileUnavailable = true
                connection.reactor.runtime.log(.warn, "sendfile is not available (\(String(cString: strerror(Int32(-sent))))): shared buffers are written from memory")
            }
            // A run of memory up to the next file range worth a sendfile, in one writev.
            let (result, runBytes) = withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: 64) { buffers in
                var count = 0
                var bytes = 0
                for piece in pieces[first...] {
                    if count > 0, piece.block.map({ $0.fd >= 0 }) == true, piece.count >= Self.sendfileMinimum,
                       !Self.sendfileUnavailable { break }
                    buffers[count] = buffer(piece, limit: piece.count)
                    count += 1
                    bytes += piece.count
                    if count == buffers.count { break }
                }
                return (uv_try_write(connection.uvStream, buffers.baseAddress, UInt32(count)), bytes)
            }
            if result == UV_EAGAIN.rawValue { return true }
            guard result >= 0 else {
                connection.failed(result)
                return false
            }
            consume(Int(result))
            if Int(result) < runBytes { return true }
        }
        return true
    }

    /// `count` bytes went to the kernel: the blocks wholly written go at once.
    private func consume(_ count: Int) {
        connection.owner.counters.pointee.sentBytes &+= UInt64(count)
        advance(count, keepingBlocks: false)
    }

    /// Moves the start past `count` bytes; pieces handed to libuv keep their blocks until this request goes.
    private func advance(_ count: Int, keepingBlocks: Bool) {
        byteCount -= count
        var left = count
        while left > 0 {
            let size = pieces[first].count
            if left < size {
                pieces[first].offset += left
                pieces[first].count -= left
                return
            }
            left -= size
            if !keepingBlocks { pieces[first] = Piece(block: nil, offset: 0, count: 0) }
            first += 1
        }
    }

    // MARK: libuv

    private func buffer(_ piece: Piece, limit: Int) -> uv_buf_t {
        uv_buf_init(((piece.block?.bytes ?? copies!) + piece.offset).assumingMemoryBound(to: CChar.self),
                    UInt32(min(piece.count, limit)))
    }

    /// Hands libuv up to `limit` bytes from `first` on with the request `which`; false when the
    /// connection failed.
    private func handToLibuv(_ which: UnsafeMutablePointer<uv_write_t>, limit: Int) -> Bool {
        var buffers: [uv_buf_t] = []
        var bytes = 0
        for piece in pieces[first...] where bytes < limit {
            buffers.append(buffer(piece, limit: limit - bytes))
            bytes += Int(buffers[buffers.count - 1].len)
        }
        which.pointee.data = Unmanaged.passRetained(self).toOpaque()
        // libuv copies the buffer list; the bytes stay here (and the blocks alive) until the callback.
        let status = uv_write(which, connection.uvStream, buffers, UInt32(buffers.count)) { request, status in
            let write = Unmanaged<WriteRequest>.fromOpaque(request!.pointee.data).takeRetainedValue()
            write.finished(request!, status)
        }
        guard status == 0 else {
            Unmanaged<WriteRequest>.fromOpaque(which.pointee.data).release()
            connection.directWrite = nil
            connection.failed(status)
            return false
        }
        if which == probe { probeBytes = bytes } else { wholeBytes = bytes }
        advance(bytes, keepingBlocks: true) // libuv writes from them until the callback
        return true
    }

    /// libuv wrote (or failed to write) the whole write or the probe.
    private func finished(_ which: UnsafeMutablePointer<uv_write_t>, _ status: Int32) {
        let isProbe = which == probe
        let bytes = isProbe ? probeBytes : wholeBytes
        if status == 0 { connection.owner.counters.pointee.sentBytes &+= UInt64(bytes) }
        if status < 0 {
            if connection.directWrite === self { connection.directWrite = nil }
            return connection.written(status)
        }
        if isProbe {
            if handedOver { return } // the whole write behind it ends the request
            guard writeDirectly(), byteCount == 0 else { return } // failed, or a new probe is in flight
        }
        connection.written(0)
    }
}

/// A host-owned block of bytes a plugin fills once and sends to many connections (ABI 1.3
/// `shared_create`); queued writes keep it alive by reference until they are written. A large block
/// lives in an in-memory file, so that plain connections send it with `sendfile`.
final class SharedBlock {
    let bytes: UnsafeMutableRawPointer
    let size: Int
    /// The in-memory file holding the bytes, or -1 for heap memory.
    let fd: Int32

    /// From this size a block is file-backed (a `memfd` mapped in).
    static let fileMinimum = 256 * 1024
    /// From this size a file-backed block is laid out for 2 MiB pages (mona_system.c's MONA_HUGE_MINIMUM).
    static let hugePageMinimum = 1 << 20
    /// The kernel cannot collapse pages (before Linux 6.1): not asked again. Loop thread only.
    nonisolated(unsafe) private static var collapseUnavailable = false

    /// Whether its bytes are final (it was sent once). Loop thread only.
    private var final = false

    /// Nil when memory is short.
    init?(size: Int) {
        if size >= Self.fileMinimum {
            var file: Int32 = -1
            if let memory = mona_system_file_memory(size, &file) {
                bytes = memory
                fd = file
                self.size = size
                return
            }
        }
        guard let memory = malloc(size) else { return nil }
        bytes = memory
        fd = -1
        self.size = size
    }

    /// The block is being sent: its bytes are final (a plugin fills a shared buffer before its first
    /// send and never changes it afterwards, ABI 1.3). The first time, a file-backed block from 1 MiB
    /// has its pages moved into 2 MiB pages, whatever the kernel's `shmem_enabled`: the `sendfile` of
    /// every connection then takes a few large folios instead of looking up each 4 KiB page (perf:
    /// that look-up was 18% of the server's CPU serving HLS to 1000 viewers). Done here, before any
    /// socket holds its pages: a page a socket holds by reference cannot be moved (done on the pool
    /// while the first viewers were served, it failed or made them be served by copies). It costs
    /// ~0.5 ms per block (a 2 MiB copy; more when the kernel must compact memory for the huge page).
    func sending(on reactor: Reactor) {
        guard !final else { return }
        final = true
        guard fd >= 0, size >= Self.hugePageMinimum, !Self.collapseUnavailable else { return }
        let status = collapse()
        // EAGAIN, ENOMEM: no huge page this time (the block stays in small pages), the next one tries.
        guard status == -EINVAL || status == -ENOSYS else { return }
        Self.collapseUnavailable = true
        reactor.runtime.log(.info, "shared buffers stay in 4 KiB pages: this kernel cannot collapse pages (MADV_COLLAPSE, Linux 6.1)")
    }

    /// Moves its pages into 2 MiB pages now: 0, or -errno (mona_system_collapse_file_memory).
    func collapse() -> Int32 {
        fd >= 0 ? mona_system_collapse_file_memory(bytes, size) : 0
    }

    deinit {
        if fd >= 0 {
            mona_system_free_file_memory(bytes, size, fd)
        } else {
            free(bytes)
        }
    }
}
