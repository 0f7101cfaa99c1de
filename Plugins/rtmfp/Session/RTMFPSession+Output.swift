import MonaPluginKit
import PluginABI

/// Packets out: acknowledgements first, then control chunks, then our flows' fragments, round-robin,
/// as many packets as the flows' windows allow.
extension RTMFPSession {
    /// Writes what waits: acknowledgements, control chunks and our flows' data.
    func flush(now: UInt64) {
        guard state != .closed else { return }
        var body: [UInt8] = []
        body.reserveCapacity(maxChunkBytes)
        // Acknowledgements, then control chunks.
        let acknowledged = flowsToAcknowledge
        flowsToAcknowledge.removeAll(keepingCapacity: true)
        for flow in acknowledged {
            guard var receiveFlow = receiveFlows[flow] else { continue }
            let ack = receiveFlow.takeAck()
            receiveFlows[flow] = receiveFlow
            if let value = ack.encodedRanges(maxSize: 256) { append(RTMFPFlowChunkType.ackRanges, value, to: &body, now: now) }
        }
        let control = controlChunks
        controlChunks.removeAll(keepingCapacity: true)
        for chunk in control { append(chunk.type, chunk.value, to: &body, now: now) }
        // Our flows, each in turn, until none has anything more it may send.
        if state == .open {
            var progress = true
            while progress {
                progress = false
                for flow in sendOrder {
                    guard sendFlows[flow]?.hasDataToSend == true else { continue }
                    var continuing = false
                    while true {
                        let room = maxChunkBytes - body.count
                        guard let chunk = sendFlows[flow]?.nextChunk(maxSize: room, continuing: continuing, now: now) else {
                            // Nothing fits this packet: a fresh one may take it.
                            if !body.isEmpty, room < maxChunkBytes / 2, sendFlows[flow]?.hasDataToSend == true {
                                send(body, now: now)
                                body.removeAll(keepingCapacity: true)
                                continuing = false
                                progress = true
                                continue
                            }
                            break
                        }
                        appendChunk(chunk.type, chunk.value, to: &body)
                        continuing = true
                        progress = true
                    }
                }
            }
        }
        if !body.isEmpty { send(body, now: now) }
        plugin.flushOutbox()
        for flow in sendOrder { collect(flow) }
        plugin.updateBusy(self)
    }

    /// Appends a chunk, sending the packet first when it would not fit.
    private func append(_ type: UInt8, _ value: [UInt8], to body: inout [UInt8], now: UInt64) {
        guard value.count + RTMFPFlowChunkType.headerSize <= maxChunkBytes else {
            host.log(MONA_LOG_WARN, "RTMFP chunk 0x\(String(type, radix: 16)) of \(value.count) bytes too large: dropped")
            return
        }
        if body.count + value.count + RTMFPFlowChunkType.headerSize > maxChunkBytes {
            send(body, now: now)
            body.removeAll(keepingCapacity: true)
        }
        appendChunk(type, value, to: &body)
    }

    private func appendChunk(_ type: UInt8, _ value: [UInt8], to body: inout [UInt8]) {
        body.append(type)
        body.appendU16(UInt16(value.count))
        body.append(contentsOf: value)
    }

    /// One packet of chunks: with our timestamp, and an echo of the client's when it is recent (30 s).
    private func send(_ body: [UInt8], now: UInt64) {
        var echo: UInt16?
        if let peer = peerTimestamp, now - peer.at < 30_000 {
            echo = peer.value &+ UInt16(truncatingIfNeeded: (now - peer.at) / 4)
        }
        plugin.sendPacket(body, session: self, timestamp: Self.timestamp(now), echo: echo)
    }
}
