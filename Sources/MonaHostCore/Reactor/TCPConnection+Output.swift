import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Sending: the socket is tried first (one `writev` of every part, `uv_try_write`); what the kernel
/// did not take is queued with `uv_write` — borrowed bytes copied once into one block, ranges of shared
/// buffers by reference — and written in order as the socket drains.
extension TCPConnection {
    /// Bytes queued in libuv and not yet written to the kernel.
    var queuedBytes: Int { uv_stream_get_write_queue_size(uvStream) }

    private var canSend: Bool { isOpen && !isClosing && !closing && !outputClosed }

    /// tcp_send: returns what is still queued, or a negative MONA_E_*.
    func send(_ bytes: UnsafeRawBufferPointer) -> Int64 {
        guard canSend else { return Int64(MONA_E_CLOSED) }
        guard bytes.count <= Int(UInt32.max) else { return Int64(MONA_E_INVAL) }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return afterSend() }
        var written = 0
        if queuedBytes == 0 {
            var buffer = uv_buf_init(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)),
                                     UInt32(bytes.count))
            let result = uv_try_write(uvStream, &buffer, 1)
            if result >= 0 {
                written = Int(result)
            } else if result != UV_EAGAIN.rawValue {
                failed(result)
                return Int64(MONA_E_CLOSED)
            }
        }
        if written < bytes.count {
            let request = WriteRequest(connection: self, copying: bytes.count - written)
            request.copy(UnsafeRawBufferPointer(rebasing: bytes[written...]))
            guard request.submit() else { return Int64(MONA_E_CLOSED) }
        }
        return afterSend()
    }

    /// tcp_send_parts: parts in order; nothing is sent when a part is invalid.
    func send(parts: UnsafeBufferPointer<mona_send_part>, shared: [mona_handle: SharedBlock]) -> Int64 {
        guard canSend else { return Int64(MONA_E_CLOSED) }
        var total = 0
        var count = 0
        for part in parts {
            // size_t arrives as Int: a size or offset of 2^63 or more is negative here.
            guard part.size >= 0, part.offset >= 0, part.size <= Int(UInt32.max) else { return Int64(MONA_E_INVAL) }
            if part.shared == 0 {
                guard part.size == 0 || part.data != nil else { return Int64(MONA_E_INVAL) }
            } else {
                guard let block = shared[part.shared], part.offset <= block.size, part.size <= block.size - part.offset
                else { return Int64(MONA_E_INVAL) }
            }
            let (sum, overflow) = total.addingReportingOverflow(part.size)
            guard !overflow else { return Int64(MONA_E_INVAL) }
            total = sum
            if part.size > 0 { count += 1 }
        }
        guard count > 0 else { return afterSend() }
        return withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: count) { buffers in
            var index = 0
            for part in parts where part.size > 0 {
                let base = part.shared == 0 ? UnsafeRawPointer(part.data!) : UnsafeRawPointer(shared[part.shared]!.bytes + part.offset)
                buffers[index] = uv_buf_init(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)),
                                             UInt32(part.size))
                index += 1
            }
            var written = 0
            if queuedBytes == 0 {
                let result = uv_try_write(uvStream, buffers.baseAddress, UInt32(count))
                if result >= 0 {
                    written = Int(result)
                } else if result != UV_EAGAIN.rawValue {
                    failed(result)
                    return Int64(MONA_E_CLOSED)
                }
            }
            guard written < total else { return afterSend() }
            queue(parts: parts, shared: shared, skipping: written, total: total)
            return isClosing ? Int64(MONA_E_CLOSED) : afterSend()
        }
    }

    /// Queues what is left of the parts after the first `skipping` bytes went to the kernel.
    private func queue(parts: UnsafeBufferPointer<mona_send_part>, shared: [mona_handle: SharedBlock], skipping: Int,
                       total: Int) {
        var skip = skipping
        var borrowed = 0
        var pieces = 0
        for part in parts where part.size > skip {
            if part.shared == 0 { borrowed += part.size - skip }
            pieces += 1
            skip = 0
        }
        let request = WriteRequest(connection: self, copying: borrowed)
        request.buffers.reserveCapacity(pieces)
        skip = skipping
        for part in parts where part.size > 0 {
            guard part.size > skip else {
                skip -= part.size
                continue
            }
            if part.shared == 0 {
                request.copy(UnsafeRawBufferPointer(start: part.data! + skip, count: part.size - skip))
            } else {
                request.reference(shared[part.shared]!, offset: part.offset + skip, size: part.size - skip)
            }
            skip = 0
        }
        _ = request.submit()
    }

    /// What a send answers after queuing: 0 when nothing waits, else the queued bytes (and the owner
    /// hears tcp_writable once they are written).
    private func afterSend() -> Int64 {
        let queued = queuedBytes
        guard queued > 0 else {
            wantsWritable = false
            return 0
        }
        wantsWritable = true
        return Int64(queued)
    }

    /// A queued write finished (libuv's write callback, a callback of its own).
    func written(_ status: Int32) {
        if status < 0 {
            if status != UV_ECANCELED.rawValue { failed(status) }
            return
        }
        guard queuedBytes == 0, !isClosing else { return }
        if closeWhenDrained {
            closeWhenDrained = false
            return close()
        }
        guard wantsWritable, accepted, !closing else { return }
        wantsWritable = false
        let plugin = owner
        plugin.entry.tcp_writable?(plugin.instance, session, handle)
    }
}

/// One queued write: its libuv request, the copy of its borrowed bytes, the shared blocks it refers to
/// (kept alive until written) and the connection (kept alive until the callback).
final class WriteRequest {
    private let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let connection: TCPConnection
    /// The borrowed bytes, copied; `used` of `capacity` bytes filled.
    private let copies: UnsafeMutableRawPointer?
    private var used = 0
    private var blocks: [SharedBlock] = []
    var buffers: [uv_buf_t] = []

    init(connection: TCPConnection, copying capacity: Int) {
        self.connection = connection
        copies = capacity > 0 ? malloc(capacity) : nil
        request.initialize(to: uv_write_t())
    }

    deinit {
        free(copies)
        request.deallocate()
    }

    /// Appends a copy of borrowed bytes.
    func copy(_ bytes: UnsafeRawBufferPointer) {
        guard let copies, let base = bytes.baseAddress, bytes.count > 0 else { return }
        (copies + used).copyMemory(from: base, byteCount: bytes.count)
        buffers.append(uv_buf_init((copies + used).assumingMemoryBound(to: CChar.self), UInt32(bytes.count)))
        used += bytes.count
    }

    /// Appends a range of a shared block, by reference.
    func reference(_ block: SharedBlock, offset: Int, size: Int) {
        if blocks.last !== block { blocks.append(block) }
        buffers.append(uv_buf_init((block.bytes + offset).assumingMemoryBound(to: CChar.self), UInt32(size)))
    }

    /// Hands the request to libuv (which tries to write at once if nothing is queued before it);
    /// false when the connection failed.
    func submit() -> Bool {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_write(request, connection.uvStream, buffers, UInt32(buffers.count)) { request, status in
            let write = Unmanaged<WriteRequest>.fromOpaque(request!.pointee.data).takeRetainedValue()
            write.connection.written(status)
        }
        guard status == 0 else {
            Unmanaged<WriteRequest>.fromOpaque(request.pointee.data).release()
            connection.failed(status)
            return false
        }
        return true
    }
}

/// A host-owned block of bytes a plugin fills once and sends to many connections (ABI 1.3
/// `shared_create`); queued writes keep it alive by reference until they are written.
final class SharedBlock {
    let bytes: UnsafeMutableRawPointer
    let size: Int

    /// Nil when memory is short.
    init?(size: Int) {
        guard let memory = malloc(size) else { return nil }
        bytes = memory
        self.size = size
    }

    deinit { free(bytes) }
}
