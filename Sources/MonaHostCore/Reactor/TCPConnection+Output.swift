import CLibUV
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Sending: the socket is tried first (one `writev` of every part, `uv_try_write`); what the kernel
/// did not take is queued — borrowed bytes copied, ranges of shared buffers by reference — and written
/// in order as the socket drains. At most one write is in flight at a time: what comes meanwhile is
/// appended to the next one (`pendingWrite`), so a peer that stops reading while many small sends
/// arrive costs their bytes, not a request each. A send naming a large range of a file-backed shared
/// buffer goes by `sendfile` instead (WriteRequest.swift): the kernel takes the pages, not a copy.
extension TCPConnection {
    /// Bytes queued and not yet written to the kernel: in libuv, in the direct write under way, and
    /// waiting for the next write.
    var queuedBytes: Int {
        uv_stream_get_write_queue_size(uvStream) + (directWrite?.byteCount ?? 0) + (pendingWrite?.byteCount ?? 0)
    }

    /// The write that takes what is queued next (created when needed).
    private var nextWrite: WriteRequest {
        if let pendingWrite { return pendingWrite }
        let request = WriteRequest(connection: self)
        pendingWrite = request
        return request
    }

    /// Starts the waiting write when nothing is in flight (the socket is tried at once), or now whatever
    /// is in flight (`evenIfBusy`: everything goes to libuv, which keeps the order — a direct write
    /// under way included). False when the connection failed.
    @discardableResult
    func submitPendingWrite(evenIfBusy: Bool = false) -> Bool {
        if evenIfBusy, let directWrite, !directWrite.handOver() { return false }
        guard let request = pendingWrite,
              evenIfBusy || (directWrite == nil && uv_stream_get_write_queue_size(uvStream) == 0) else { return true }
        pendingWrite = nil
        return request.submit(direct: !evenIfBusy) // a half-close's writes all go to libuv, before its shutdown
    }

    private var canSend: Bool { isOpen && !isClosing && !closing && !outputClosed }

    /// tcp_send: returns what is still queued, or a negative MONA_E_*.
    func send(_ bytes: UnsafeRawBufferPointer) -> Int64 {
        guard canSend else { return Int64(MONA_E_CLOSED) }
        guard bytes.count <= Int(UInt32.max) else { return Int64(MONA_E_INVAL) }
        guard bytes.count > 0 else { return afterSend() }
        if tls != nil { return sendEncrypted(bytes) }
        return writeOut(bytes) ? afterSend() : Int64(MONA_E_CLOSED)
    }

    /// Writes bytes to the socket: tried at once when nothing is queued, the rest copied and queued.
    /// False when the connection failed (or is closed).
    func writeOut(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard isOpen, !isClosing else { return false }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        var written = 0
        if queuedBytes == 0 {
            var buffer = uv_buf_init(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)),
                                     UInt32(bytes.count))
            let result = uv_try_write(uvStream, &buffer, 1)
            if result >= 0 {
                written = Int(result)
                owner.counters.pointee.sentBytes &+= UInt64(result)
            } else if result != UV_EAGAIN.rawValue {
                failed(result)
                return false
            }
        }
        guard written < bytes.count else { return true }
        nextWrite.copy(UnsafeRawBufferPointer(rebasing: bytes[written...]))
        return submitPendingWrite()
    }

    /// tcp_send_parts: parts in order; nothing is sent when a part is invalid. One pass checks each part
    /// and points a `uv_buf_t` at it (a run of parts of one shared buffer looks it up once).
    func send(parts: UnsafeBufferPointer<mona_send_part>, shared: [mona_handle: SharedBlock]) -> Int64 {
        guard canSend else { return Int64(MONA_E_CLOSED) }
        return withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: max(parts.count, 1)) { buffers in
            var total = 0
            var count = 0
            var lastHandle: mona_handle = 0
            var lastBlock: SharedBlock?
            var fileRange = false
            for part in parts {
                // size_t arrives as Int: a size or offset of 2^63 or more is negative here.
                guard part.size >= 0, part.offset >= 0, part.size <= Int(UInt32.max) else { return Int64(MONA_E_INVAL) }
                let base: UnsafeRawPointer?
                if part.shared == 0 {
                    guard part.size == 0 || part.data != nil else { return Int64(MONA_E_INVAL) }
                    base = part.data.map { UnsafeRawPointer($0) }
                } else {
                    if part.shared != lastHandle {
                        lastHandle = part.shared
                        lastBlock = shared[part.shared]
                    }
                    guard let block = lastBlock, part.offset <= block.size, part.size <= block.size - part.offset
                    else { return Int64(MONA_E_INVAL) }
                    base = UnsafeRawPointer(block.bytes + part.offset)
                    block.sending(on: reactor)
                    if block.fd >= 0, part.size >= WriteRequest.sendfileMinimum { fileRange = true }
                }
                let (sum, overflow) = total.addingReportingOverflow(part.size)
                guard !overflow else { return Int64(MONA_E_INVAL) }
                total = sum
                guard part.size > 0, let base else { continue }
                buffers[count] = uv_buf_init(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)), UInt32(part.size))
                count += 1
            }
            guard count > 0 else { return afterSend() }
            if tls != nil {
                return sendEncrypted((0..<count).map { UnsafeRawBufferPointer(start: buffers[$0].base, count: Int(buffers[$0].len)) })
            }
            var written = 0
            if fileRange, queuedBytes == 0 { // sendfile: the write request's direct path
                queue(parts: parts, shared: shared, skipping: 0)
                return submitPendingWrite() ? afterSend() : Int64(MONA_E_CLOSED)
            }
            if queuedBytes == 0 {
                let result = uv_try_write(uvStream, buffers.baseAddress, UInt32(count))
                if result >= 0 {
                    written = Int(result)
                    owner.counters.pointee.sentBytes &+= UInt64(result)
                } else if result != UV_EAGAIN.rawValue {
                    failed(result)
                    return Int64(MONA_E_CLOSED)
                }
            }
            guard written < total else { return afterSend() }
            queue(parts: parts, shared: shared, skipping: written)
            return submitPendingWrite() ? afterSend() : Int64(MONA_E_CLOSED)
        }
    }

    /// Queues what is left of the parts after the first `skipping` bytes went to the kernel.
    private func queue(parts: UnsafeBufferPointer<mona_send_part>, shared: [mona_handle: SharedBlock], skipping: Int) {
        let request = nextWrite
        var skip = skipping
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
    }

    /// What a send answers after queuing: 0 when nothing waits, else the queued bytes (and the owner
    /// hears tcp_writable once they are written).
    func afterSend() -> Int64 {
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
        guard !isClosing, submitPendingWrite(), queuedBytes == 0 else { return }
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
