// A flow this end sends (RFC 7016 §3.6.2; M1 RTMFPWriter), sans-IO: the session writes messages, asks
// for chunks while it builds packets, hands over the acknowledgements and exception reports of this flow,
// and calls `checkTimeout(now:)` at `nextRetransmitDeadline`. Times are milliseconds.
//
// Messages are cut into fragments lazily, when first transmitted, to fit the room left in the packet
// being built (at most `Configuration.maxChunkSize` per chunk, so a fragment always fits a fresh packet
// again, options included, when retransmitted). Fragments keep their sequence numbers and boundaries
// across retransmissions. Until the first acknowledgement every first chunk of this flow in a packet
// carries the options (metadata, return association).
//
// Reliable messages are retransmitted until acknowledged; unreliable ones live `unreliableLifetime` ms
// after `write`: after that they are abandoned rather than retransmitted. A message not yet cut is just
// dropped; a fragment already cut loses its data and is (re)sent as an empty fragment flagged abandoned (a
// few bytes that fill its sequence number), and the forward sequence number (RFC 7016 §3.6.2.3) moves past
// it, so the receiver skips it and delivers what follows without waiting for anything more.
//
// A fragment is presumed lost once three acknowledgements each covered a fragment transmitted after it
// (negative acknowledgement, RFC 7016 §3.6.2), or when the retransmission timeout (§3.5.2.2) fires with
// nothing acknowledged (then everything in flight is). The bytes in flight stay below both the congestion
// window and the buffer the receiver advertises (§3.6.3.5); a receiver advertising no buffer is probed
// (Buffer Probe 0x18) every ERTO.

/// One flow this end sends: fragmentation, transmission, acknowledgement, retransmission, abandonment.
struct RTMFPSendFlow {
    /// Knobs of one send flow.
    struct Configuration: Sendable {
        /// The largest chunk (3-byte chunk header included) a packet can carry.
        var maxChunkSize = 1150
        /// `write` refuses a message that would queue more bytes than this (sent-unacknowledged included).
        var maxQueuedBytes = 8 << 20
        /// Milliseconds an unreliable message may still be (re)transmitted after `write`.
        var unreliableLifetime: UInt64 = 1000
        /// Consecutive retransmission timeouts (each backing off) tolerated; one more fails the flow.
        var maxBackoffs = 8
        /// The receiver's buffer presumed until its first acknowledgement.
        var initialPeerBuffer: UInt64 = 65536
        /// The congestion window's ceiling.
        var maxWindow = 4 << 20

        init() {}
    }

    /// Why a flow stopped.
    enum Failure: Equatable, Sendable {
        /// `maxBackoffs` timeouts in a row went unanswered.
        case retransmissionLimit
        /// The receiver reported an exception (0x5E) for this flow, with its code.
        case rejectedByPeer(code: UInt64)
    }

    /// A message not yet entirely cut into fragments.
    private struct PendingMessage {
        var bytes: [UInt8]
        /// Bytes already cut into fragments.
        var offset = 0
        /// nil for a reliable message, else when it is abandoned.
        var deadline: UInt64?
        /// Its last fragment carries the final flag.
        var isFinal = false
        /// An empty message sent with the abandon flag (the end of an abandoned flow).
        var isAbandonMarker = false
    }

    /// Where a fragment is in its life.
    private enum FragmentState: Equatable {
        /// Cut and due for (re)transmission.
        case waiting
        case inFlight
        case acknowledged
    }

    /// A fragment cut from a message, kept until acknowledged.
    private struct Fragment {
        let sequenceNumber: UInt64
        let control: RTMFPFragmentControl
        /// Emptied when the fragment is abandoned.
        var data: [UInt8]
        let isFinal: Bool
        /// nil for a reliable message's fragment.
        let deadline: UInt64?
        var state = FragmentState.waiting
        /// Given up: (re)sent empty with the abandon flag.
        var isAbandoned: Bool
        /// The transmission in flight is such an empty abandoned fragment.
        var sentAbandoned = false
        var transmissions = 0
        var lastSentAt: UInt64 = 0
        /// Per-flow order of the last transmission (for negative acknowledgements).
        var transmission: UInt64 = 0
        var nakCount = 0
        /// Bytes the last transmission took in its packet.
        var transmitSize = 0
    }

    /// Negative acknowledgements after which a fragment in flight is presumed lost.
    static let naksForLoss = 3
    /// A new fragment is not cut smaller than this (unless the message's rest is smaller).
    static let minFragmentPayload = 64

    let id: UInt64
    /// The flow's metadata (option 0x00).
    let signature: [UInt8]
    /// The other end's flow this flow answers (option 0x0A).
    let associatedReceiveFlowID: UInt64?
    let configuration: Configuration

    private(set) var rto = RTMFPRetransmissionTimeout()
    private(set) var congestion: RTMFPCongestionWindow
    /// The receiver's buffer as it last advertised it.
    private(set) var peerBufferBytes: UInt64
    /// Bytes of the chunks sent and neither acknowledged nor presumed lost.
    private(set) var bytesInFlight = 0
    /// Message bytes queued or sent and not yet acknowledged or abandoned.
    private(set) var queuedBytes = 0
    private(set) var failure: Failure?
    /// True after `close()` (or `abandon()`): nothing more can be written.
    private(set) var isClosing = false
    /// Fragments transmitted again.
    private(set) var retransmissions = 0

    private var pending = RTMFPIndexedQueue<PendingMessage>()
    /// The fragments from `baseSequence` to `nextSequence − 1`, in order.
    private var fragments = RTMFPIndexedQueue<Fragment>()
    private var baseSequence: UInt64 = 1
    private var nextSequence: UInt64 = 1
    private var finalSequence: UInt64?
    private var nextTransmission: UInt64 = 1
    private var highestAckedTransmission: UInt64 = 0
    /// Losses of fragments transmitted up to this one belong to the current recovery episode.
    private var recoveryTransmission: UInt64 = 0
    /// Fragments in state `waiting`, and the lowest sequence number one of them may have.
    private var waitingCount = 0
    private var waitingHint: UInt64 = 1
    /// Since when the oldest data in flight waits for an acknowledgement.
    private var timerStart: UInt64 = 0
    private var consecutiveTimeouts = 0
    private var nextProbeTime: UInt64?
    /// The earliest deadline of a live unreliable message or fragment.
    private var nextExpiry = UInt64.max
    private var optionsAcknowledged = false
    /// The last user-data fragment emitted (for Next User Data chunks in the same packet).
    private var lastEmitted: (sequenceNumber: UInt64, forward: UInt64)?
    private let encodedOptions: [UInt8]

    /// `id` is the session's (never 0); `signature` the metadata; `associatedReceiveFlowID` the other end's
    /// flow this one answers.
    init(id: UInt64, signature: [UInt8], associatedReceiveFlowID: UInt64? = nil,
         configuration: Configuration = Configuration()) {
        precondition(id != 0, "flow id 0 is reserved")
        self.id = id
        self.signature = signature
        self.associatedReceiveFlowID = associatedReceiveFlowID
        self.configuration = configuration
        peerBufferBytes = configuration.initialPeerBuffer
        congestion = RTMFPCongestionWindow(segmentSize: configuration.maxChunkSize, maximum: configuration.maxWindow)
        encodedOptions = RTMFPUserData.encodeOptions(metadata: signature, returnFlowAssociation: associatedReceiveFlowID)
    }

    /// True when messages wait to be (re)transmitted.
    var hasDataToSend: Bool { failure == nil && (waitingCount > 0 || !pending.isEmpty) }

    /// True once closed and everything up to the final fragment is acknowledged.
    var isComplete: Bool {
        guard failure == nil, let finalSequence else { return false }
        return baseSequence > finalSequence
    }

    /// When `checkTimeout(now:)` is due: the retransmission timeout while data is in flight, the next
    /// buffer probe while the receiver advertises no room; nil when no timer is needed.
    var nextRetransmitDeadline: UInt64? {
        guard failure == nil else { return nil }
        if bytesInFlight > 0 { return timerStart + rto.effective }
        return hasDataToSend ? nextProbeTime : nil
    }

    /// Queues a message; false (nothing queued) when the flow is closing or failed, or when the queue would
    /// exceed `maxQueuedBytes` (the session then drops media or applies back-pressure).
    mutating func write(_ message: [UInt8], reliable: Bool, now: UInt64) -> Bool {
        guard failure == nil, !isClosing, queuedBytes + message.count <= configuration.maxQueuedBytes else {
            return false
        }
        var entry = PendingMessage(bytes: message)
        if !reliable {
            let deadline = now + configuration.unreliableLifetime
            entry.deadline = deadline
            nextExpiry = min(nextExpiry, deadline)
        }
        pending.append(entry)
        queuedBytes += message.count
        return true
    }

    /// Ends the flow: the last message queued carries the final flag; when nothing reliable is queued last,
    /// an empty fragment flagged abandoned and final (it fills a sequence number and delivers nothing).
    mutating func close() {
        guard failure == nil, !isClosing else { return }
        isClosing = true
        if let last = pending.last, last.deadline == nil {
            pending[pending.count - 1].isFinal = true
        } else {
            pending.append(PendingMessage(bytes: [], isFinal: true, isAbandonMarker: true))
        }
    }

    /// Gives up everything not yet acknowledged and ends the flow with an empty abandoned final fragment
    /// (or with the final fragment already sent).
    mutating func abandon() {
        guard failure == nil else { return }
        isClosing = true
        for index in 0..<fragments.count where fragments[index].sequenceNumber != finalSequence {
            abandonFragment(at: index)
        }
        while let message = pending.removeFirst() { queuedBytes -= message.bytes.count - message.offset }
        if finalSequence == nil { pending.append(PendingMessage(bytes: [], isFinal: true, isAbandonMarker: true)) }
    }

    /// The receiver reported an exception (0x5E) for this flow: it is failed.
    mutating func receiveException(code: UInt64) { fail(.rejectedByPeer(code: code)) }

    /// A round-trip time measured by the session (e.g. from the packet timestamp echo).
    mutating func observeRTT(_ milliseconds: UInt64) { rto.observe(rtt: milliseconds) }

    // MARK: Building packets

    /// The next chunk of this flow for the packet being built, at most `maxSize` bytes with its 3-byte
    /// header: a User Data chunk (0x10), a Next User Data chunk (0x11) when `continuing` (the most recent
    /// user-data chunk of this packet is this flow's) and the fragment follows it, or a Buffer Probe (0x18).
    /// nil when nothing may be sent now or the next fragment does not fit (start another packet).
    mutating func nextChunk(maxSize: Int, continuing: Bool, now: UInt64) -> (type: UInt8, value: [UInt8])? {
        guard failure == nil else { return nil }
        if !continuing { lastEmitted = nil }
        expire(now: now)
        trimFront()
        let window = min(UInt64(congestion.size), peerBufferBytes)
        guard UInt64(bytesInFlight) < window else { return probe(maxSize: maxSize, now: now) }
        if waitingCount > 0, let index = nextWaitingIndex() {
            return transmit(at: index, maxSize: maxSize, continuing: continuing, now: now)
        }
        guard let index = cutFragment(maxSize: maxSize, continuing: continuing) else { return nil }
        return transmit(at: index, maxSize: maxSize, continuing: continuing, now: now)
    }

    /// A Buffer Probe when the receiver advertised no room, data waits, nothing is in flight and the probe
    /// is due.
    private mutating func probe(maxSize: Int, now: UInt64) -> (type: UInt8, value: [UInt8])? {
        guard peerBufferBytes == 0, bytesInFlight == 0, hasDataToSend, now >= nextProbeTime ?? now else { return nil }
        let value = RTMFPBufferProbe.encode(flowID: id)
        guard RTMFPFlowChunkType.headerSize + value.count <= maxSize else { return nil }
        nextProbeTime = now + rto.effective
        return (RTMFPFlowChunkType.bufferProbe, value)
    }

    /// The forward sequence number: everything up to it is acknowledged, or abandoned and not in flight
    /// with its data (a fragment in flight with data may still arrive and be delivered).
    private var forwardSequence: UInt64 {
        var index = 0
        while index < fragments.count, fragments[index].isAbandoned,
              fragments[index].state != .inFlight || fragments[index].sentAbandoned {
            index += 1
        }
        return baseSequence - 1 + UInt64(index)
    }

    /// The position of the lowest waiting fragment.
    private mutating func nextWaitingIndex() -> Int? {
        var index = Int(clamping: waitingHint >= baseSequence ? waitingHint - baseSequence : 0)
        while index < fragments.count {
            if fragments[index].state == .waiting {
                waitingHint = fragments[index].sequenceNumber
                return index
            }
            index += 1
        }
        waitingHint = nextSequence
        return nil
    }

    /// Cuts the next fragment from the first pending message to fit `maxSize`; its position, or nil when
    /// nothing is pending or the room is too small.
    private mutating func cutFragment(maxSize: Int, continuing: Bool) -> Int? {
        guard var message = pending.first else { return nil }
        let sequence = nextSequence
        let asNext = continuing && lastEmitted.map { $0 == (sequence - 1, forwardSequence) } == true
        let options = optionsAcknowledged || continuing ? 0 : encodedOptions.count
        let header = RTMFPFlowChunkType.headerSize + options
            + RTMFPUserData.headerSize(flowID: id, sequenceNumber: sequence, forwardSequenceNumber: forwardSequence,
                                       asNext: asNext)
        // The worst header a retransmission of this fragment may need: 0x10, options, fsnOffset = sequence.
        let worstHeader = RTMFPFlowChunkType.headerSize + (optionsAcknowledged ? 0 : encodedOptions.count)
            + RTMFPUserData.headerSize(flowID: id, sequenceNumber: sequence, forwardSequenceNumber: 0, asNext: false)
        let rest = message.bytes.count - message.offset
        let payload = min(rest, maxSize - header, max(1, configuration.maxChunkSize - worstHeader))
        guard payload >= 0, payload == rest || payload >= Self.minFragmentPayload else { return nil }
        let isFirst = message.offset == 0
        let isLast = payload == rest
        let control: RTMFPFragmentControl = switch (isFirst, isLast) {
        case (true, true): .whole
        case (true, false): .begin
        case (false, false): .middle
        case (false, true): .end
        }
        let data = Array(message.bytes[message.offset..<message.offset + payload])
        fragments.append(Fragment(sequenceNumber: sequence, control: control, data: data,
                                  isFinal: isLast && message.isFinal, deadline: message.deadline,
                                  isAbandoned: message.isAbandonMarker))
        nextSequence += 1
        waitingCount += 1
        if isLast {
            pending.removeFirst()
            if message.isFinal { finalSequence = sequence }
        } else {
            message.offset += payload
            pending[0] = message
        }
        return fragments.count - 1
    }

    /// Encodes the waiting fragment at `index` if it fits, and puts it in flight.
    private mutating func transmit(at index: Int, maxSize: Int, continuing: Bool,
                                   now: UInt64) -> (type: UInt8, value: [UInt8])? {
        let fragment = fragments[index]
        let forward = forwardSequence
        let asNext = continuing && lastEmitted.map { $0 == (fragment.sequenceNumber - 1, forward) } == true
        let withOptions = !optionsAcknowledged && !continuing
        let chunk = RTMFPUserData(flowID: id, sequenceNumber: fragment.sequenceNumber, forwardSequenceNumber: forward,
                                  fragmentControl: fragment.control, isAbandoned: fragment.isAbandoned,
                                  isFinal: fragment.isFinal, hasOptions: withOptions,
                                  metadata: withOptions ? signature : nil,
                                  returnFlowAssociation: withOptions ? associatedReceiveFlowID : nil,
                                  data: fragment.data)
        let value = chunk.encodedValue(asNext: asNext)
        let size = RTMFPFlowChunkType.headerSize + value.count
        guard size <= maxSize else { return nil }
        if bytesInFlight == 0 { timerStart = now }
        if fragment.transmissions > 0 { retransmissions += 1 }
        fragments[index].state = .inFlight
        fragments[index].sentAbandoned = fragment.isAbandoned
        fragments[index].transmissions += 1
        fragments[index].lastSentAt = now
        fragments[index].transmission = nextTransmission
        fragments[index].nakCount = 0
        fragments[index].transmitSize = size
        nextTransmission += 1
        waitingCount -= 1
        bytesInFlight += size
        lastEmitted = (fragment.sequenceNumber, forward)
        let type = asNext ? RTMFPFlowChunkType.nextUserData : RTMFPFlowChunkType.userData
        return (type, value)
    }

    // MARK: Acknowledgements and losses

    /// An acknowledgement (0x50/0x51) of this flow: frees what it covers, adopts the advertised buffer,
    /// samples the round-trip time, and presumes lost what three acknowledgements passed over.
    mutating func handle(ack: RTMFPAck, now: UInt64) {
        guard failure == nil else { return }
        optionsAcknowledged = true
        peerBufferBytes = ack.bufferBytesAvailable
        let inFlightBefore = bytesInFlight
        var acknowledgedBytes = 0
        var rttSample: UInt64?
        let highestSent = nextSequence - 1
        var covered: [ClosedRange<UInt64>] = []
        if !fragments.isEmpty {
            if ack.cumulativeAck >= baseSequence { covered.append(baseSequence...min(ack.cumulativeAck, highestSent)) }
            for range in ack.receivedRanges where range.upperBound >= baseSequence && range.lowerBound <= highestSent {
                covered.append(max(range.lowerBound, baseSequence)...min(range.upperBound, highestSent))
            }
        }
        for range in covered {
            for sequence in range {
                let index = Int(sequence - baseSequence)
                let fragment = fragments[index]
                switch fragment.state {
                case .inFlight:
                    bytesInFlight -= fragment.transmitSize
                    acknowledgedBytes += fragment.transmitSize
                    highestAckedTransmission = max(highestAckedTransmission, fragment.transmission)
                    if fragment.transmissions == 1 { rttSample = now - min(now, fragment.lastSentAt) }
                    queuedBytes -= fragment.data.count
                case .waiting:
                    waitingCount -= 1
                    queuedBytes -= fragment.data.count
                case .acknowledged:
                    continue
                }
                fragments[index].state = .acknowledged
            }
        }
        if acknowledgedBytes > 0 {
            consecutiveTimeouts = 0
            timerStart = now
        }
        if let rttSample { rto.observe(rtt: rttSample) }
        if peerBufferBytes > 0 {
            nextProbeTime = nil
        } else if nextProbeTime == nil {
            nextProbeTime = now + rto.effective
        }
        congestion.acknowledged(bytes: acknowledgedBytes, inFlight: inFlightBefore)
        detectLosses(now: now)
        trimFront()
    }

    /// Counts a negative acknowledgement on every fragment in flight transmitted before the latest one
    /// acknowledged; at `naksForLoss` it is presumed lost (once per recovery episode the window shrinks).
    private mutating func detectLosses(now: UInt64) {
        guard bytesInFlight > 0 else { return }
        var lostNewData = false
        for index in 0..<fragments.count where fragments[index].state == .inFlight
            && fragments[index].transmission < highestAckedTransmission {
            fragments[index].nakCount += 1
            if fragments[index].nakCount >= Self.naksForLoss {
                if fragments[index].transmission > recoveryTransmission { lostNewData = true }
                presumeLost(at: index, now: now)
            }
        }
        if lostNewData {
            congestion.lost()
            recoveryTransmission = nextTransmission - 1
        }
    }

    /// When `nextRetransmitDeadline` is reached: everything in flight is presumed lost, the timeout backs
    /// off, and after `maxBackoffs` consecutive timeouts the flow fails. Harmless when called early.
    mutating func checkTimeout(now: UInt64) {
        guard failure == nil, bytesInFlight > 0, now >= timerStart + rto.effective else { return }
        consecutiveTimeouts += 1
        guard consecutiveTimeouts <= configuration.maxBackoffs else { return fail(.retransmissionLimit) }
        for index in 0..<fragments.count where fragments[index].state == .inFlight {
            presumeLost(at: index, now: now)
        }
        congestion.timedOut()
        rto.backOff()
        recoveryTransmission = nextTransmission - 1
        timerStart = now
    }

    /// A fragment in flight is lost: due again (abandoned first if its message expired).
    private mutating func presumeLost(at index: Int, now: UInt64) {
        bytesInFlight -= fragments[index].transmitSize
        fragments[index].state = .waiting
        waitingCount += 1
        waitingHint = min(waitingHint, fragments[index].sequenceNumber)
        if let deadline = fragments[index].deadline, deadline <= now { abandonFragment(at: index) }
    }

    // MARK: Abandonment

    /// Abandons what expired: pending unreliable messages (or their rest) and the fragments of expired
    /// messages not yet acknowledged.
    private mutating func expire(now: UInt64) {
        guard now >= nextExpiry else { return }
        nextExpiry = .max
        var droppedBytes = 0
        pending.removeAll { message in
            guard let deadline = message.deadline, deadline <= now else { return false }
            droppedBytes += message.bytes.count - message.offset
            return true
        }
        queuedBytes -= droppedBytes
        for index in 0..<pending.count {
            if let deadline = pending[index].deadline { nextExpiry = min(nextExpiry, deadline) }
        }
        for index in 0..<fragments.count {
            guard let deadline = fragments[index].deadline else { continue }
            if deadline <= now {
                abandonFragment(at: index)
            } else if fragments[index].state != .acknowledged {
                nextExpiry = min(nextExpiry, deadline)
            }
        }
    }

    /// Gives up the data of the fragment at `index`: from now on it is sent empty, flagged abandoned.
    private mutating func abandonFragment(at index: Int) {
        guard fragments[index].state != .acknowledged, !fragments[index].isAbandoned else { return }
        fragments[index].isAbandoned = true
        queuedBytes -= fragments[index].data.count
        fragments[index].data = []
    }

    /// Forgets the acknowledged fragments at the head.
    private mutating func trimFront() {
        while let first = fragments.first, first.state == .acknowledged {
            fragments.removeFirst()
            baseSequence += 1
        }
    }

    private mutating func fail(_ reason: Failure) {
        failure = reason
        pending.removeAll()
        fragments.removeAll()
        baseSequence = nextSequence
        waitingCount = 0
        bytesInFlight = 0
        queuedBytes = 0
    }
}
