// The test client's flows (RFC 7016 §3.6): what it sends (numbered fragments kept until
// acknowledged, sent again on a timer) and what it receives (in-order reassembly, forward
// sequence number skipping, acknowledgement ranges).

extension RTMFPTestClient {
    /// A flow the client sends on.
    struct SendFlow {
        /// One fragment waiting for its acknowledgement.
        struct Fragment: Equatable {
            let sequence: UInt64
            /// Position bits and the final bit (`FragmentFlag`).
            let flags: UInt8
            let data: [UInt8]
            /// When it was last sent (ms), nil before the first time.
            var lastSent: UInt64?
            /// How many times it was sent.
            var transmissions = 0
        }

        let id: UInt64
        /// The metadata option value (the Flash signature).
        let metadata: [UInt8]
        /// The server flow this one answers, if any.
        let returnAssociation: UInt64?
        /// The sequence number the next fragment takes.
        private(set) var nextSequence: UInt64 = 1
        /// Fragments not acknowledged yet, in sequence order.
        private(set) var unacknowledged: [Fragment] = []
        /// True once any acknowledgement arrived: options are no longer repeated.
        private(set) var acknowledged = false
        /// True once the final fragment is queued.
        private(set) var finished = false
        /// True when a fragment went unacknowledged too long or the peer reported an exception.
        var failed = false

        /// A new flow.
        init(id: UInt64, metadata: [UInt8], returnAssociation: UInt64?) {
            self.id = id
            self.metadata = metadata
            self.returnAssociation = returnAssociation
        }

        /// The options every fragment carries until the first acknowledgement.
        var options: [Option] {
            guard !acknowledged else { return [] }
            var options = [Option(type: UserDataOption.metadata, value: metadata)]
            if let returnAssociation {
                options.append(Option(type: UserDataOption.returnAssociation, value: Wire.vlu(returnAssociation)))
            }
            return options
        }

        /// The highest sequence number below which nothing will be sent again (every one up to it
        /// is acknowledged).
        var forwardSequenceNumber: UInt64 {
            (unacknowledged.first?.sequence ?? nextSequence) - 1
        }

        /// True when the final fragment is queued and everything is acknowledged.
        var isComplete: Bool { finished && unacknowledged.isEmpty }

        /// Queues `message` cut into fragments of at most `fragmentSize` bytes (one empty
        /// fragment for an empty message). Nothing is queued after the final fragment.
        mutating func send(_ message: [UInt8], fragmentSize: Int) {
            guard !finished else { return }
            let size = max(fragmentSize, 1)
            let starts = Array(stride(from: 0, to: max(message.count, 1), by: size))
            for (index, start) in starts.enumerated() {
                let flags: UInt8
                switch (index == 0, index == starts.count - 1) {
                case (true, true): flags = FragmentFlag.whole
                case (true, false): flags = FragmentFlag.begin
                case (false, true): flags = FragmentFlag.end
                case (false, false): flags = FragmentFlag.middle
                }
                append(flags: flags, data: Array(message[min(start, message.count)..<min(start + size, message.count)]))
            }
        }

        /// Queues an empty final fragment: the flow ends once it is acknowledged.
        mutating func finish() {
            guard !finished else { return }
            append(flags: FragmentFlag.whole | FragmentFlag.final, data: [])
            finished = true
        }

        private mutating func append(flags: UInt8, data: [UInt8]) {
            unacknowledged.append(Fragment(sequence: nextSequence, flags: flags, data: data))
            nextSequence += 1
        }

        /// Drops what `ack` reports received.
        mutating func acknowledge(_ ack: Acknowledgement) {
            acknowledged = true
            unacknowledged.removeAll { ack.covers($0.sequence) }
        }

        /// True when the fragment at `index` was never sent or waited `retransmitAfter` ms.
        func isDue(_ index: Int, now: UInt64, retransmitAfter: UInt64) -> Bool {
            guard let lastSent = unacknowledged[index].lastSent else { return true }
            return now >= lastSent + retransmitAfter
        }

        /// Records a transmission of the fragment at `index`.
        mutating func markSent(_ index: Int, now: UInt64) {
            unacknowledged[index].lastSent = now
            unacknowledged[index].transmissions += 1
        }
    }

    /// A flow the server sends on: fragments in, whole messages out in sequence order.
    struct ReceiveFlow {
        /// Out-of-order fragments kept at most (more are dropped unacknowledged).
        static let maximumBufferedFragments = 4096
        /// The largest message reassembled (a longer one is dropped and counted lost).
        static let maximumMessageSize = 16 << 20
        /// The most ranges one acknowledgement lists.
        static let maximumAckRanges = 64

        let id: UInt64
        /// The metadata option of the first fragment that carried one.
        private(set) var metadata: [UInt8]?
        /// The return association (one of the client's flows), if any fragment carried one.
        private(set) var returnAssociation: UInt64?
        /// Every sequence number up to this one is delivered or abandoned.
        private(set) var cumulative: UInt64 = 0
        /// The sequence number of the final fragment, once delivered.
        private(set) var finalSequence: UInt64?
        /// Messages lost to gaps (the sender moved its forward sequence number past them).
        private(set) var lostMessages = 0
        private var buffered: [UInt64: (flags: UInt8, data: [UInt8])] = [:]
        private var partial: [UInt8]?

        /// A new flow.
        init(id: UInt64) {
            self.id = id
        }

        /// True once the final fragment is delivered.
        var isComplete: Bool { finalSequence != nil }

        /// Takes one fragment; answers the messages it completes, in order. Sequence numbers of
        /// 2^62 and more are ignored (no real flow gets there; it keeps the arithmetic in range).
        mutating func receive(_ fragment: UserData) -> [[UInt8]] {
            guard fragment.sequence < 1 << 62 else { return [] }
            if metadata == nil { metadata = fragment.metadata }
            if returnAssociation == nil { returnAssociation = fragment.returnAssociation }
            var messages: [[UInt8]] = []
            if fragment.fsnOffset <= fragment.sequence {
                skip(to: fragment.sequence - fragment.fsnOffset, into: &messages)
            }
            if fragment.sequence > cumulative, buffered[fragment.sequence] == nil,
               buffered.count < ReceiveFlow.maximumBufferedFragments {
                buffered[fragment.sequence] = (fragment.flags, fragment.data)
            }
            while let next = buffered.removeValue(forKey: cumulative + 1) {
                take(next.flags, next.data, into: &messages)
            }
            return messages
        }

        /// The acknowledgement of what was received so far.
        func acknowledgement(bufferBlocks: UInt64) -> Acknowledgement {
            var ranges: [AckRange] = []
            var position = cumulative // the last sequence number accounted for
            for sequence in buffered.keys.sorted() {
                if sequence == position + 1, !ranges.isEmpty {
                    ranges[ranges.count - 1].received += 1
                } else {
                    guard ranges.count < ReceiveFlow.maximumAckRanges else { break }
                    ranges.append(AckRange(holes: sequence - position - 1, received: 1))
                }
                position = sequence
            }
            return Acknowledgement(flowID: id, bufferBlocks: bufferBlocks, cumulative: cumulative, ranges: ranges)
        }

        /// The sender will not send anything up to `forward` again: deliver what is buffered up to
        /// there, and count the messages the gaps broke as lost.
        private mutating func skip(to forward: UInt64, into messages: inout [[UInt8]]) {
            guard forward > cumulative else { return }
            for sequence in buffered.keys.filter({ $0 <= forward }).sorted() {
                guard let next = buffered.removeValue(forKey: sequence) else { continue }
                if sequence != cumulative + 1 {
                    dropPartial()
                    cumulative = sequence - 1
                }
                take(next.flags, next.data, into: &messages)
            }
            if cumulative < forward {
                dropPartial()
                cumulative = forward
            }
        }

        private mutating func dropPartial() {
            if partial != nil { lostMessages += 1 }
            partial = nil
        }

        private mutating func take(_ flags: UInt8, _ data: [UInt8], into messages: inout [[UInt8]]) {
            cumulative += 1
            if flags & FragmentFlag.final != 0 { finalSequence = cumulative }
            if flags & FragmentFlag.abandon != 0 {
                dropPartial()
                return
            }
            switch flags & FragmentFlag.positionMask {
            case FragmentFlag.whole:
                dropPartial()
                messages.append(data)
            case FragmentFlag.begin:
                dropPartial()
                partial = data
            case FragmentFlag.middle:
                append(data)
            default: // end
                guard partial != nil else {
                    lostMessages += 1
                    return
                }
                append(data)
                if let message = partial { messages.append(message) }
                partial = nil
            }
        }

        private mutating func append(_ data: [UInt8]) {
            guard let current = partial else { return }
            if current.count + data.count > ReceiveFlow.maximumMessageSize {
                dropPartial()
            } else {
                partial = current + data
            }
        }
    }
}
