import MonaPluginKit
import PluginABI

/// One RTMP/RTMPE connection: the handshake, then the chunk stream both ways (RTMPE: through the RC4
/// streams), protocol control, and the messages of the NetConnection and its NetStreams
/// (RTMPSession+Commands). Outgoing messages are gathered and written once per batch; media wait for
/// the write merger and a publisher's reads are batched (RTMP.writeDelay, RTMPReadBatcher), and a
/// frame's chunked body shared between players is referenced, not copied (RTMPSharedChunks).
final class RTMPSession: MergedOutput {
    /// The plugin outlives its sessions (it drops them before it is destroyed): no reference count
    /// traffic on the per-frame path.
    unowned(unsafe) let plugin: RTMPPlugin
    let connection: mona_handle
    let peer: mona_addr
    let local: mona_addr
    var host: MonaHost { plugin.host }

    private var handshake: RTMPHandshake
    private var decoder = RTMPChunkDecoder()
    var encoder = RTMPChunkEncoder()
    private var decryptor: (any RTMPCipher)?
    private var encryptor: (any RTMPCipher)?
    var encrypted = false
    /// The client (after a successful connect) and whether its values are AMF3 (objectEncoding 3).
    var client: mona_handle = 0
    var amf3 = false
    var streams: [UInt32: RTMPStream] = [:]
    /// Calls whose method waits for the host (a DNS look-up), by token: where their _result goes.
    var pendingCalls: [Int32: (transaction: Double, csid: UInt32, stream: UInt32)] = [:]
    /// At most this many calls wait at once; another one is refused.
    static let maxPendingCalls = 64
    /// Gathered output: bytes, and the shared frame bodies that go after output[..<at].
    var output: [UInt8] = []
    private var shared: [(at: Int, chunks: RTMPSharedChunks)] = []
    private var sharedBytes = 0
    /// Merged writes (WriteMerger): since when media wait in the output (nil: nothing waits),
    /// whether the merger lists this session, and the rhythm of the batches that reach it.
    var waitingSince: Int64?
    var listedForMerge = false
    var lastBatchEnd: Int64?
    var batchGap: Int64 = 0
    /// Bytes the host still had queued after the last send (reset when it drains).
    private(set) var queued: Int64 = 0
    private var timer: mona_handle?
    /// Batched reads while the session publishes (RTMP.writeDelay); nil until it first does.
    private var reads: RTMPReadBatcher?
    private var lastReceived: Int64
    var closing = false

    /// Gathered output is written past this size even inside a batch.
    static let outputLimit = 64 * 1024
    /// A client with more than this queued towards it (it does not read) is dropped: media stop well
    /// before (RTMPPlugin.congestion), this bounds what else piles up (configurations, data, answers).
    static let queueLimit: Int64 = 32 << 20

    init(plugin: RTMPPlugin, connection: mona_handle, peer: mona_addr, local: mona_addr) {
        self.plugin = plugin
        self.connection = connection
        self.peer = peer
        self.local = local
        handshake = RTMPHandshake(time: UInt32(truncatingIfNeeded: plugin.host.timeMs))
        lastReceived = plugin.host.monotonicMs
        if plugin.timeout > 0 {
            let period = UInt64(min(plugin.timeout, 30)) * 1000
            timer = host.startTimer(delayMs: period, periodMs: period, context: context)
        }
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RTMPSession? {
        pointer.map { Unmanaged<RTMPSession>.fromOpaque($0).takeUnretainedValue() }
    }

    // MARK: bytes in

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        lastReceived = host.monotonicMs
        var rest = bytes
        if !handshake.isComplete {
            let outcome: (consumed: Int, reply: [UInt8])
            do throws(RTMPFailure) {
                outcome = try handshake.feed(bytes, crypto: HostCrypto(host: host))
            } catch {
                fail("handshake: \(error.reason)")
                return
            }
            if !outcome.reply.isEmpty { write(outcome.reply) }
            guard handshake.isComplete else { return }
            encrypted = handshake.encrypted
            decryptor = handshake.decryptor
            encryptor = handshake.encryptor
            decoder = RTMPChunkDecoder(bytesReceived: UInt64(RTMPHandshake.clientBytes))
            rest = UnsafeRawBufferPointer(rebasing: bytes[outcome.consumed...])
            guard !rest.isEmpty else { return }
        }
        let messages: [RTMPMessage]
        do throws(RTMPFailure) {
            if decryptor != nil {
                var plain = Array(rest)
                decryptor?.apply(&plain)
                messages = try decoder.feed(plain)
            } else {
                messages = try decoder.feed(rest)
            }
        } catch {
            fail(error.reason)
            return
        }
        for message in messages {
            guard !closing else { return }
            handle(message)
        }
        if let sequence = decoder.acknowledgementDue() { send(RTMPControl.acknowledgement(sequence)) }
        if !messages.isEmpty {
            for stream in streams.values { if let publication = stream.publication { host.flush(publication: publication) } }
        }
        flush()
        let publishing = streams.values.contains { $0.publication != nil }
        if publishing, reads == nil { reads = readBatcher() }
        reads?.received(size: bytes.count, publishing: publishing)
    }

    private func readBatcher() -> RTMPReadBatcher {
        let host = host, connection = connection, context = context
        return RTMPReadBatcher(interval: UInt64(plugin.merger.delay), setReading: { host.setReading(connection, $0) },
                               startTimer: { host.startTimer(delayMs: $0, periodMs: $0, context: context) },
                               cancelTimer: { host.cancelTimer($0) })
    }

    private func handle(_ message: RTMPMessage) {
        if message.streamID != 0, message.typeID > RTMPMessageType.setPeerBandwidth, streams[message.streamID] == nil {
            fail("a message on stream \(message.streamID), which was not created")
            return
        }
        switch message.typeID {
        case RTMPMessageType.setChunkSize, RTMPMessageType.abort, RTMPMessageType.acknowledgement, RTMPMessageType.windowAckSize:
            break // the chunk decoder applied chunk size, abort and window; acknowledgements need nothing
        case RTMPMessageType.setPeerBandwidth:
            if message.payload.count >= 4 { send(RTMPControl.windowAckSize(RTMPControl.uint32(message.payload[0...]))) }
        case RTMPMessageType.userControl:
            userControl(message.payload)
        case 8, 9:
            guard let stream = streams[message.streamID], let publication = stream.publication else { return }
            message.payload.withUnsafeBytes {
                if message.typeID == 8 {
                    host.pushAudio(publication, time: message.timestamp, $0)
                } else {
                    host.pushVideo(publication, time: message.timestamp, $0)
                }
            }
        case 15, 18:
            guard let stream = streams[message.streamID], let publication = stream.publication else { return }
            // Type 18 is AMF0 (relayed as is to RTMP players); type 15 is a 0 byte, then AMF0 switching to AMF3.
            let payload = message.typeID == 15 ? Array(message.payload.dropFirst()) : message.payload
            let format = message.typeID == 15 ? MONA_FORMAT_AMF3 : MONA_FORMAT_AMF0
            payload.withUnsafeBytes { host.pushData(publication, format: format, $0) }
        case 17, 20:
            let payload = message.typeID == 17 ? Array(message.payload.dropFirst()) : message.payload
            guard let values = payload.withUnsafeBytes({ host.decode($0, format: MONA_FORMAT_AMF3) }) else {
                fail("a command that is not valid AMF")
                return
            }
            command(values, message: message)
        case 16, 19, 22:
            host.log(MONA_LOG_DEBUG, "RTMP shared objects and aggregates are not supported (type \(message.typeID) from \(peer)): ignored")
        default:
            fail("a message of unknown type \(message.typeID)")
        }
    }

    private func userControl(_ payload: [UInt8]) {
        guard payload.count >= 6 else { return }
        let event = UInt16(payload[0]) << 8 | UInt16(payload[1])
        let value = RTMPControl.uint32(payload[2...])
        switch event {
        case RTMPUserControlEvent.pingRequest:
            send(RTMPControl.pingResponse(value))
        case RTMPUserControlEvent.setBufferLength where payload.count >= 10:
            let length = RTMPControl.uint32(payload[6...])
            if let subscription = streams[value]?.subscription { host.setOption(subscription, "bufferTime", .number(Double(length))) }
        default:
            break
        }
    }

    // MARK: bytes out

    /// Queues a message (written at the end of the batch, or at once past `outputLimit`).
    func send(_ message: RTMPMessage) {
        message.payload.withUnsafeBytes {
            send(csid: message.csid, timestamp: message.timestamp, typeID: message.typeID, streamID: message.streamID, payload: $0)
        }
    }

    /// Queues a message whose payload is borrowed (media frames go from the host's buffer to the output).
    func send(csid: UInt32, timestamp: UInt32, typeID: UInt8, streamID: UInt32, payload: UnsafeRawBufferPointer) {
        encoder.encode(csid: csid, timestamp: timestamp, typeID: typeID, streamID: streamID, payload: payload, into: &output)
        if output.count + sharedBytes >= Self.outputLimit { flush() }
    }

    /// Queues a media frame of the host's frame `serial`: its chunked body is shared with the other
    /// players when it can be (unencrypted, no extended timestamp, a frame the plugin shares), else
    /// copied like any message.
    func sendMedia(csid: UInt32, timestamp: UInt32, typeID: UInt8, streamID: UInt32, payload: UnsafeRawBufferPointer, serial: UInt64) {
        guard !encrypted else { return send(csid: csid, timestamp: timestamp, typeID: typeID, streamID: streamID, payload: payload) }
        let extended = encoder.header(csid: csid, timestamp: timestamp, typeID: typeID, streamID: streamID, length: payload.count,
                                      into: &output)
        if extended == nil,
           let chunks = plugin.sharedChunks(serial: serial, csid: csid, chunkSize: encoder.chunkSize, payload: payload) {
            shared.append((output.count, chunks))
            sharedBytes += chunks.size
        } else {
            RTMPChunkEncoder.forEachBodyPiece(payload, csid: csid, chunkSize: encoder.chunkSize, extended: extended) {
                output.append(contentsOf: $0)
            }
        }
        if output.count + sharedBytes >= Self.outputLimit { flush() }
    }

    var hasOutput: Bool { !output.isEmpty || !shared.isEmpty }

    /// Writes what was gathered.
    func flush() {
        waitingSince = nil
        guard hasOutput else { return }
        if shared.isEmpty {
            write(output)
        } else {
            writeParts()
            shared.removeAll(keepingCapacity: true)
            sharedBytes = 0
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
    }

    /// Writes the output with its shared frame bodies as one gathered send (never encrypted).
    private func writeParts() {
        guard !closing else { return }
        var parts = plugin.parts
        plugin.parts = []
        parts.removeAll(keepingCapacity: true)
        output.withUnsafeBufferPointer { bytes in
            var from = 0
            for (at, chunks) in shared {
                if at > from { parts.append(mona_send_part(shared: 0, data: bytes.baseAddress! + from, offset: 0, size: at - from)) }
                parts.append(mona_send_part(shared: chunks.handle, data: nil, offset: 0, size: chunks.size))
                from = at
            }
            if bytes.count > from { parts.append(mona_send_part(shared: 0, data: bytes.baseAddress! + from, offset: 0, size: bytes.count - from)) }
            queued = parts.withUnsafeBufferPointer { host.send(connection, parts: $0) }
        }
        plugin.parts = parts
        checkQueue()
    }

    private func write(_ bytes: [UInt8]) {
        guard !closing else { return }
        var bytes = bytes
        if encrypted, handshake.isComplete { encryptor?.apply(&bytes) }
        queued = bytes.withUnsafeBytes { host.send(connection, $0) }
        checkQueue()
    }

    /// A client that lets too much pile up is dropped.
    private func checkQueue() {
        if queued > Self.queueLimit {
            host.log(MONA_LOG_WARN, "RTMP client \(peer) reads too slowly (\(queued) bytes waiting): closed")
            closing = true
            host.close(connection, how: MONA_CLOSE_ABORT)
        }
    }

    /// The host's queue drained.
    func writable() { queued = 0 }

    // MARK: end

    /// The client broke the protocol: a log line and the connection closes.
    func fail(_ reason: String) {
        host.log(MONA_LOG_WARN, "RTMP session of \(peer) closed: \(reason)")
        close()
    }

    func close() {
        guard !closing else { return }
        flush()
        closing = true
        host.close(connection)
    }

    /// The connection is gone: streams stop, then the client (onDisconnection).
    func closed() {
        closing = true
        if let timer { host.cancelTimer(timer) }
        timer = nil
        reads?.stop(resume: false)
        for stream in streams.values { stream.stop(notify: false) }
        streams = [:]
        if client != 0 { host.closeClient(client) }
        client = 0
    }

    /// A tick of the read batcher, or the idle check (RTMP.timeout) and a ping to the client.
    func timerFired(_ fired: mona_handle) {
        if let reads, fired == reads.timer { return reads.timerFired() }
        guard !closing else { return }
        if host.monotonicMs - lastReceived >= Int64(plugin.timeout) * 1000 {
            host.log(MONA_LOG_DEBUG, "RTMP client \(peer) idle for \(plugin.timeout) s: closed")
            close()
            return
        }
        if client != 0 {
            send(RTMPControl.pingRequest(UInt32(truncatingIfNeeded: host.timeMs)))
            flush()
        }
    }
}
