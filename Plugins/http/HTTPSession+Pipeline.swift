import MonaPluginKit
import PluginABI

/// The connection's input and time: requests parsed only as fast as they are answered (reading pauses
/// meanwhile), the idle time-out, the time limit of a request head, the peer's half-close.
extension HTTPSession {
    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        touch()
        if backlog.isEmpty {
            let consumed = parse(bytes)
            if !closing, consumed < bytes.count { backlog = Array(UnsafeRawBufferPointer(rebasing: bytes[consumed...])) }
        } else {
            backlog.append(contentsOf: bytes)
        }
        process()
    }

    /// Parses more of the backlog while few requests wait.
    func parseBacklog() {
        guard !backlog.isEmpty, queue.count < Self.maxWaitingRequests else { return }
        let consumed = backlog.withUnsafeBytes { parse($0) }
        backlog.removeFirst(min(consumed, backlog.count))
        if backlog.isEmpty { backlog = [] } // gives the storage back
    }

    /// Feeds the parser until `maxWaitingRequests` requests wait; returns how many bytes it consumed.
    func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        let wasReceivingHead = parser.isReceivingHead
        let events: [HTTPParseEvent], consumed: Int
        do throws(HTTPParseError) {
            (events, consumed) = try parser.feed(bytes, maxRequests: Self.maxWaitingRequests - queue.count)
        } catch {
            backlog = []
            fail(status: error.status, message: "\(error)")
            return bytes.count
        }
        if parser.isReceivingHead {
            let headDone = events.contains { if case .head = $0 { true } else { false } }
            if !wasReceivingHead || headDone || headStarted == nil { headStarted = host.monotonicMs }
        } else {
            headStarted = nil
        }
        for event in events {
            switch event {
            case .head(let head):
                receiving = HTTPRequest(head: head)
                if head.expectsContinue { send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
            case .body(let piece):
                receiving?.body += piece
            case .end:
                if let request = receiving { queue.append(request) }
                receiving = nil
            case .tunnel(let piece):
                tunnel += piece
                guard tunnel.count <= Self.maxTunnelBytes else {
                    host.log(MONA_LOG_WARN, "more than \(Self.maxTunnelBytes) bytes after a WebSocket upgrade request before its answer")
                    host.close(connection, how: MONA_CLOSE_ABORT)
                    closing = true
                    return bytes.count
                }
            }
        }
        return consumed
    }

    /// Reads while few requests wait and little output is queued; pauses otherwise (TCP flow control
    /// then holds the peer back, and memory stays bounded however many requests it pipelines).
    func updateReading() {
        let wanted = !closing && backlog.isEmpty && queue.count < Self.maxWaitingRequests && queuedBytes <= Self.outputWindow
        guard wanted == readingPaused else { return }
        readingPaused = !wanted
        host.setReading(connection, wanted)
    }

    func peerFinished() -> Bool {
        // Answer what was asked, then close.
        if queue.isEmpty, backlog.isEmpty, waiting == nil, hlsWaiting == nil, stream == nil, live == nil, !reading { return false }
        peerDone = true
        return true
    }

    /// The host's queue drained: stream more of a file, or answer the requests that wait.
    func writable() {
        queuedBytes = 0
        touch()
        if stream != nil { continueStream() } else { process() }
    }

    func closed() {
        closing = true
        queue = []
        backlog = []
        waiting = nil
        pushes = []
        if !reading { stream?.close() } // a read in flight still uses the descriptor: closed when it ends
        stream = nil
        stopLive()
        if let timer { host.cancelTimer(timer) }
        if client != 0 { host.closeClient(client) }
        client = 0
    }

    func timedOut(_ fired: mona_handle) {
        guard fired == timer else { return }
        timer = nil
        guard idleSeconds > 0 else { return }
        let limit = Int64(idleSeconds) * 1000
        let now = host.monotonicMs
        if live != nil {
            // A viewer's queue that did not drain for the whole time-out (the stream going on, or its
            // end waiting to be written): it stopped reading.
            guard queuedBytes > Self.liveCongestion, now - lastActivity >= limit else { return startTimer(limit) }
            host.log(MONA_LOG_INFO, "HTTP viewer \(peer) stopped reading for \(idleSeconds) s: closed")
            host.close(connection, how: MONA_CLOSE_ABORT)
            closing = true
            return
        }
        guard !closing else { return }
        let headLate = headStarted.map { now - $0 >= limit } ?? false
        let idle = now - lastActivity >= limit
        guard headLate || idle else {
            // Active since it was armed: wait for the rest (of the head's time, if it comes first).
            startTimer(min(lastActivity, headStarted ?? lastActivity) + limit - now)
            return
        }
        let owesAnswers = waiting != nil || hlsWaiting != nil || !queue.isEmpty || stream != nil || reading || queuedBytes > 0
        if headLate || (idle && !parser.isIdle && !owesAnswers) {
            // A request that does not come whole in time (one byte now and then must not hold a connection).
            host.log(MONA_LOG_INFO, "HTTP request not received within \(idleSeconds) s: connection closed")
            if owesAnswers {
                host.close(connection, how: MONA_CLOSE_ABORT)
                closing = true
            } else {
                fail(status: 408, message: "The request did not arrive in time")
            }
            return
        }
        if let wait = hlsWaiting {
            hlsWaiting = nil
            hlsTimedOut(wait)
            process()
        } else if let request = waiting {
            waiting = nil
            respond(request.head, status: 204, body: [])
            process()
        } else if !owesAnswers {
            host.close(connection)
            closing = true
            return
        }
        touch() // answers are being produced or wait for the peer to read them
    }

    /// The connection is active: the idle time-out counts from now. Starts the timer if none runs.
    func touch() {
        lastActivity = host.monotonicMs
        if timer == nil, idleSeconds > 0, !closing { startTimer(Int64(idleSeconds) * 1000) }
    }

    func startTimer(_ delayMs: Int64) {
        timer = host.startTimer(delayMs: UInt64(max(delayMs, 1)), context: context)
    }

    /// The time-out changed (the client's `timeout` parameter): the running timer is replaced.
    func restartTimer() {
        if let timer { host.cancelTimer(timer) }
        timer = nil
        touch()
    }
}
