// A flow the other end sends, as this end receives it (RFC 7016 §3.6.3; M1 RTMFPFlow).
//
// Fragments arrive in any order, duplicated or not at all. The flow walks them in sequence order and
// delivers whole messages in order, reassembling begin/middle/end fragments. Everything at or below a
// fragment's forward sequence number (`seq − fsnOffset`) will never come, so missing sequence numbers
// there are skipped; a message with a skipped or abandoned piece is dropped and counted in `lostMessages`.
//
// Memory stays bounded: fragments held out of order cost their bytes plus `fragmentOverhead` and may total
// `bufferCapacity`, the held sequence numbers form at most `maxRanges` ranges, and a message being
// reassembled may reach `maxMessageSize`. A fragment beyond the first two bounds is dropped and left
// unacknowledged (its sender retransmits it later); a message beyond the third fails the flow
// (`failure == .messageTooLarge`), which then behaves as rejected.
//
// A rejected flow (`reject()`) delivers nothing, stores nothing, acknowledges what arrives with a zero
// buffer, and the session reports it to the sender with a Flow Exception Report (`exceptionReport`).

/// One flow the other end sends, as this end receives it: reordering, reassembly, acknowledgement.
struct RTMFPReceiveFlow {
    /// Limits on what one flow may hold.
    struct Configuration: Sendable {
        /// Bytes (each held fragment costing its size plus `fragmentOverhead`) held out of order; also the
        /// receive buffer advertised to the sender.
        var bufferCapacity = 4 << 20
        /// The most disjoint ranges of sequence numbers held above the cumulative acknowledgement.
        var maxRanges = 256
        /// The largest message reassembled.
        var maxMessageSize = 16 << 20

        init() {}
    }

    /// Why a flow stopped accepting data.
    enum Failure: Equatable, Sendable {
        /// A message grew beyond `Configuration.maxMessageSize`.
        case messageTooLarge
    }

    /// Accounting cost of each held fragment beyond its bytes (so empty fragments are bounded too).
    static let fragmentOverhead = 64

    /// A fragment held until the sequence numbers before it are settled; no data when abandoned.
    private struct HeldFragment {
        let control: RTMFPFragmentControl
        let data: [UInt8]
        let isAbandoned: Bool
    }

    let id: UInt64
    /// The flow's metadata (the Flash signature).
    let signature: [UInt8]
    /// The send flow of this end that this flow answers (option 0x0A), if any.
    let associatedSendFlowID: UInt64?
    let configuration: Configuration

    /// Every sequence number up to this one was processed (delivered, reassembled or skipped).
    private(set) var cumulativeAck: UInt64 = 0
    /// Messages dropped because a piece was skipped or abandoned.
    private(set) var lostMessages = 0
    /// Set when the flow failed; the session should then report it (`exceptionReport`).
    private(set) var failure: Failure?
    /// True once refused: nothing is delivered any more and acknowledgements advertise no buffer.
    private(set) var isRejected = false
    /// True when something arrived (or a buffer probe asked) since the last `takeAck()`.
    private(set) var needsAck = false
    /// The sequence number of the final fragment, once received.
    private(set) var finalSequenceNumber: UInt64?

    private var held: [UInt64: HeldFragment] = [:]
    private var heldRanges: RTMFPSequenceRanges
    /// Bytes of `held`, each fragment counting `fragmentOverhead` more.
    private(set) var heldBytes = 0
    /// The message being reassembled in order (after its begin fragment).
    private var assembling: [UInt8]?
    /// Inside a message whose beginning was lost: its remaining fragments are dropped.
    private var discarding = false
    private var delivered: [[UInt8]] = []
    private var exceptionCode: UInt64 = 0

    init(id: UInt64, signature: [UInt8], associatedSendFlowID: UInt64? = nil,
         configuration: Configuration = Configuration()) {
        self.id = id
        self.signature = signature
        self.associatedSendFlowID = associatedSendFlowID
        self.configuration = configuration
        heldRanges = RTMFPSequenceRanges(maxRanges: configuration.maxRanges)
    }

    /// True when everything up to the final fragment was processed: the flow is finished.
    var isComplete: Bool {
        guard let finalSequenceNumber else { return false }
        return cumulativeAck >= finalSequenceNumber
    }

    /// The exception report to send for this flow while it is rejected.
    var exceptionReport: RTMFPFlowException? {
        isRejected ? RTMFPFlowException(flowID: id, code: exceptionCode) : nil
    }

    /// Takes one fragment of this flow (parsed from a 0x10/0x11 chunk) and answers the messages it
    /// completes, in order.
    mutating func receive(_ fragment: RTMFPUserData) -> [[UInt8]] {
        needsAck = true
        let sequence = fragment.sequenceNumber
        guard sequence <= RTMFPUserData.maxSequenceNumber else { return [] }
        let forward = min(fragment.forwardSequenceNumber, sequence)
        if sequence > cumulativeAck, !heldRanges.contains(sequence) {
            skip(through: min(forward, sequence - 1))
            if sequence == cumulativeAck + 1 {
                process(control: fragment.fragmentControl, data: fragment.data,
                        abandoned: fragment.isAbandoned || isRejected)
                cumulativeAck = sequence
                drainContiguous()
                noteFinal(fragment)
            } else if hold(fragment) {
                noteFinal(fragment)
            }
        } else {
            skip(through: forward)
        }
        let messages = delivered
        delivered = []
        return messages
    }

    /// Refuses the flow: drops what is held, delivers nothing more, acknowledges with a zero buffer.
    /// `code` goes in the exception report (Flash and MonaServer use 0).
    mutating func reject(code: UInt64 = 0) {
        isRejected = true
        exceptionCode = code
        held.removeAll()
        heldBytes = 0
        assembling = nil
        discarding = false
        needsAck = true
    }

    /// A Buffer Probe (0x18) named this flow: an acknowledgement is due.
    mutating func bufferProbed() { needsAck = true }

    /// The flow's acknowledgement as of now.
    var ack: RTMFPAck {
        RTMFPAck(flowID: id, bufferBlocksAvailable: bufferBlocksAvailable, cumulativeAck: cumulativeAck,
                 receivedRanges: heldRanges.ranges)
    }

    /// The acknowledgement to send now; clears `needsAck`.
    mutating func takeAck() -> RTMFPAck {
        needsAck = false
        return ack
    }

    /// The room advertised: zero when rejected, else what `bufferCapacity` leaves beside the held
    /// fragments, never below one block, so the sender can always fill the hole that blocks delivery.
    private var bufferBlocksAvailable: UInt64 {
        guard !isRejected else { return 0 }
        let room = UInt64(max(0, configuration.bufferCapacity - heldBytes))
        return max(1, (room + RTMFPAck.blockSize - 1) / RTMFPAck.blockSize)
    }

    // MARK: Ordering

    /// Stores an out-of-order fragment; false (dropped, unacknowledged) when over a memory bound.
    /// A rejected flow keeps only the sequence number (for its acknowledgements), an abandoned fragment no
    /// data.
    private mutating func hold(_ fragment: RTMFPUserData) -> Bool {
        if isRejected { return heldRanges.insert(fragment.sequenceNumber) }
        let data = fragment.isAbandoned ? [] : fragment.data
        let cost = data.count + Self.fragmentOverhead
        guard heldBytes + cost <= configuration.bufferCapacity, heldRanges.insert(fragment.sequenceNumber) else {
            return false
        }
        held[fragment.sequenceNumber] = HeldFragment(control: fragment.fragmentControl, data: data,
                                                     isAbandoned: fragment.isAbandoned)
        heldBytes += cost
        return true
    }

    private mutating func noteFinal(_ fragment: RTMFPUserData) {
        if fragment.isFinal, finalSequenceNumber == nil { finalSequenceNumber = fragment.sequenceNumber }
    }

    /// Settles every sequence number up to `forward`: held fragments are processed, missing ones skipped.
    private mutating func skip(through forward: UInt64) {
        guard forward > cumulativeAck else { return }
        while let range = heldRanges.first, range.lowerBound <= forward {
            if range.lowerBound > cumulativeAck + 1 { processGap() }
            processHeld(range)
        }
        if forward > cumulativeAck {
            processGap()
            cumulativeAck = forward
        }
        drainContiguous()
    }

    /// Processes the held ranges that follow `cumulativeAck` without a hole.
    private mutating func drainContiguous() {
        while let range = heldRanges.first, range.lowerBound == cumulativeAck + 1 {
            processHeld(range)
        }
    }

    /// Processes the lowest held range, which starts above `cumulativeAck`.
    private mutating func processHeld(_ range: ClosedRange<UInt64>) {
        _ = heldRanges.removeFirst()
        for sequence in range {
            if let fragment = held.removeValue(forKey: sequence) {
                heldBytes -= fragment.data.count + Self.fragmentOverhead
                process(control: fragment.control, data: fragment.data, abandoned: fragment.isAbandoned || isRejected)
            } else {
                processGap()
            }
        }
        cumulativeAck = range.upperBound
    }

    // MARK: Reassembly

    /// A sequence number that carries nothing (skipped, abandoned, or refused).
    private mutating func processGap() {
        guard !isRejected, assembling != nil else { return }
        assembling = nil
        lostMessages += 1
        discarding = true
    }

    /// The next fragment in sequence order.
    private mutating func process(control: RTMFPFragmentControl, data: [UInt8], abandoned: Bool) {
        guard !abandoned else { return processGap() }
        switch control {
        case .whole:
            dropUnfinishedMessage()
            discarding = false
            delivered.append(data)
        case .begin:
            dropUnfinishedMessage()
            discarding = false
            assembling = []
            append(data)
        case .middle:
            if assembling != nil { append(data) } else { dropOrphan() }
        case .end:
            if assembling != nil {
                append(data)
                if let message = assembling { delivered.append(message) }
                assembling = nil
            } else {
                dropOrphan()
                discarding = false
            }
        }
    }

    /// A whole or begin fragment arrived while a message was incomplete: that message is lost.
    private mutating func dropUnfinishedMessage() {
        if assembling != nil {
            assembling = nil
            lostMessages += 1
        }
    }

    /// A middle or end fragment whose message start is missing: counts that message once.
    private mutating func dropOrphan() {
        if !discarding {
            lostMessages += 1
            discarding = true
        }
    }

    private mutating func append(_ data: [UInt8]) {
        guard let count = assembling?.count, count + data.count <= configuration.maxMessageSize else {
            failure = .messageTooLarge
            reject()
            return
        }
        assembling?.append(contentsOf: data)
    }
}
