import Testing
@testable import RTMFPPlugin

/// A deterministic generator (SplitMix64) for the flow tests.
struct FlowTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// True with probability `rate`.
    mutating func chance(_ rate: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < rate }
}

/// One direction of a simulated network path: drops, duplicates and delays (hence reorders) packets.
struct FlowTestLink {
    let lossRate: Double
    let duplicateRate: Double
    /// Every packet takes `baseDelay` plus up to `jitter` milliseconds.
    let baseDelay: UInt64
    let jitter: UInt64
    private(set) var random: FlowTestRandom
    private var inTransit: [(arrival: UInt64, order: Int, packet: [UInt8])] = []
    private var sent = 0

    init(seed: UInt64, lossRate: Double, duplicateRate: Double = 0, baseDelay: UInt64 = 20, jitter: UInt64 = 40) {
        random = FlowTestRandom(seed: seed)
        self.lossRate = lossRate
        self.duplicateRate = duplicateRate
        self.baseDelay = baseDelay
        self.jitter = jitter
    }

    mutating func send(_ packet: [UInt8], now: UInt64) {
        let copies = random.chance(duplicateRate) ? 2 : 1
        for _ in 0..<copies where !random.chance(lossRate) {
            sent += 1
            inTransit.append((now + baseDelay + random.next() % (jitter + 1), sent, packet))
        }
    }

    /// The packets arriving by `now`, in arrival order.
    mutating func arrivals(now: UInt64) -> [[UInt8]] {
        let due = inTransit.filter { $0.arrival <= now }.sorted { ($0.arrival, $0.order) < ($1.arrival, $1.order) }
        inTransit.removeAll { $0.arrival <= now }
        return due.map(\.packet)
    }
}

/// Chunks as they sit in a packet: type, 16-bit length, value.
enum FlowTestPacket {
    static func encode(_ chunks: [(type: UInt8, value: [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = []
        for chunk in chunks {
            bytes.append(chunk.type)
            bytes.appendU16(UInt16(chunk.value.count))
            bytes += chunk.value
        }
        return bytes
    }

    static func decode(_ packet: [UInt8]) -> [(type: UInt8, value: ArraySlice<UInt8>)] {
        var reader = RTMFPReader(packet)
        var chunks: [(type: UInt8, value: ArraySlice<UInt8>)] = []
        while let type = reader.u8(), let length = reader.u16(), let value = reader.bytes(Int(length)) {
            chunks.append((type, value))
        }
        return chunks
    }
}

/// A send flow and a receive flow joined by lossy, reordering, duplicating links, driven on a fake clock
/// the way a session drives them.
struct FlowTestLoop {
    static let packetSize = 1180
    var sender: RTMFPSendFlow
    var receiver: RTMFPReceiveFlow?
    var forward: FlowTestLink
    var backward: FlowTestLink
    var delivered: [[UInt8]] = []
    var now: UInt64 = 0

    init(seed: UInt64, lossRate: Double, duplicateRate: Double, configuration: RTMFPSendFlow.Configuration) {
        sender = RTMFPSendFlow(id: 3, signature: [0x00, 0x54, 0x43, 0x04, 0x01], associatedReceiveFlowID: 2,
                               configuration: configuration)
        forward = FlowTestLink(seed: seed, lossRate: lossRate, duplicateRate: duplicateRate)
        backward = FlowTestLink(seed: seed ^ 0xFFFF, lossRate: lossRate, duplicateRate: duplicateRate)
    }

    /// One millisecond step of both ends, ending with `now` advanced.
    mutating func step() {
        if let deadline = sender.nextRetransmitDeadline, deadline <= now { sender.checkTimeout(now: now) }
        sendPackets()
        for packet in forward.arrivals(now: now) { receivePacket(packet) }
        for packet in backward.arrivals(now: now) {
            for chunk in FlowTestPacket.decode(packet) {
                if let ack = RTMFPAck.parse(chunkType: chunk.type, value: chunk.value), ack.flowID == sender.id {
                    sender.handle(ack: ack, now: now)
                }
            }
        }
        now += 1
    }

    private mutating func sendPackets() {
        while true {
            var chunks: [(type: UInt8, value: [UInt8])] = []
            var room = Self.packetSize
            var continuing = false
            while let chunk = sender.nextChunk(maxSize: room, continuing: continuing, now: now) {
                chunks.append(chunk)
                room -= RTMFPFlowChunkType.headerSize + chunk.value.count
                continuing = chunk.type != RTMFPFlowChunkType.bufferProbe || continuing
            }
            guard !chunks.isEmpty else { return }
            forward.send(FlowTestPacket.encode(chunks), now: now)
        }
    }

    private mutating func receivePacket(_ packet: [UInt8]) {
        var parser = RTMFPUserDataParser()
        for chunk in FlowTestPacket.decode(packet) {
            if chunk.type == RTMFPFlowChunkType.bufferProbe {
                receiver?.bufferProbed()
                continue
            }
            guard let fragment = parser.parse(chunkType: chunk.type, value: chunk.value) else { continue }
            if receiver == nil {
                // A new flow is known from its metadata; fragments before it are ignored (not acknowledged).
                guard let metadata = fragment.metadata else { continue }
                receiver = RTMFPReceiveFlow(id: fragment.flowID, signature: metadata,
                                            associatedSendFlowID: fragment.returnFlowAssociation)
            }
            delivered += receiver?.receive(fragment) ?? []
        }
        if receiver?.needsAck == true, let ack = receiver?.takeAck().encodedRanges(maxSize: Self.packetSize - 3) {
            backward.send(FlowTestPacket.encode([(RTMFPFlowChunkType.ackRanges, ack)]), now: now)
        }
    }
}

/// Send flow → lossy link → receive flow → acknowledgements back, for several loss rates.
@Suite struct FlowLinkTests {
    /// `count` messages of 1 to `maxSize` bytes (many span several fragments), each different.
    private static func messages(count: Int, maxSize: Int, seed: UInt64) -> [[UInt8]] {
        var random = FlowTestRandom(seed: seed)
        return (0..<count).map { index in
            let size = 1 + Int(random.next() % UInt64(maxSize))
            return (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        }
    }

    @Test(arguments: [(0.0, 0.0), (0.02, 0.02), (0.1, 0.05), (0.25, 0.05), (0.4, 0.1)])
    func reliableMessagesArriveOnceInOrderAndByteExact(lossRate: Double, duplicateRate: Double) {
        let messages = Self.messages(count: 150, maxSize: 6000, seed: 42)
        var configuration = RTMFPSendFlow.Configuration()
        configuration.maxBackoffs = 20
        var loop = FlowTestLoop(seed: UInt64(lossRate * 1000) + 1, lossRate: lossRate, duplicateRate: duplicateRate,
                                configuration: configuration)
        var written = 0
        while loop.now < 3_600_000, !(loop.sender.isComplete && loop.receiver?.isComplete == true) {
            // Writes while the queue stays under 64 KiB (the session's back-pressure).
            while written < messages.count, loop.sender.queuedBytes < 65536 {
                let accepted = loop.sender.write(messages[written], reliable: true, now: loop.now)
                #expect(accepted)
                written += 1
                if written == messages.count { loop.sender.close() }
            }
            loop.step()
        }
        #expect(loop.sender.failure == nil)
        #expect(loop.sender.isComplete)
        #expect(loop.receiver?.isComplete == true)
        #expect(loop.delivered.count == messages.count)
        let identical = loop.delivered == messages
        #expect(identical)
        #expect(loop.receiver?.lostMessages == 0)
        #expect(loop.sender.queuedBytes == 0)
        if lossRate > 0 { #expect(loop.sender.retransmissions > 0) }
    }

    @Test(arguments: [0.0, 0.1, 0.3])
    func unreliableMessagesMayBeLostButNeverReorderedOrDuplicated(lossRate: Double) {
        let messages = Self.messages(count: 200, maxSize: 1500, seed: 9)
        var configuration = RTMFPSendFlow.Configuration()
        configuration.unreliableLifetime = 300
        configuration.maxBackoffs = 20
        var loop = FlowTestLoop(seed: 77, lossRate: lossRate, duplicateRate: 0.05, configuration: configuration)
        for (index, message) in messages.enumerated() {
            // Every fifth message is reliable; a message every 10 ms, like media.
            let accepted = loop.sender.write(message, reliable: index % 5 == 0, now: loop.now)
            #expect(accepted)
            for _ in 0..<10 { loop.step() }
        }
        loop.sender.close()
        while loop.now < 3_600_000, !(loop.sender.isComplete && loop.receiver?.isComplete == true) { loop.step() }
        #expect(loop.sender.failure == nil)
        #expect(loop.sender.isComplete)
        #expect(loop.receiver?.isComplete == true)
        // Delivered = a subsequence of what was written, with every reliable message.
        var next = 0
        for message in loop.delivered {
            while next < messages.count, messages[next] != message {
                #expect(next % 5 != 0, "reliable message \(next) missing")
                next += 1
            }
            #expect(next < messages.count, "a message delivered out of order or twice")
            next += 1
        }
        if lossRate == 0 { #expect(loop.delivered.count == messages.count) }
        #expect(loop.sender.queuedBytes == 0)
    }
}
