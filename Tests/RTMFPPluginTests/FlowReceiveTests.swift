import Testing
@testable import RTMFPPlugin

/// A fragment of flow 5 for the receive-flow tests (forward sequence number 0 unless given).
func flowFragment(_ sequence: UInt64, _ control: RTMFPFragmentControl = .whole, _ data: [UInt8] = [],
                  forward: UInt64 = 0, abandoned: Bool = false, final: Bool = false) -> RTMFPUserData {
    RTMFPUserData(flowID: 5, sequenceNumber: sequence, forwardSequenceNumber: forward, fragmentControl: control,
                  isAbandoned: abandoned, isFinal: final, data: data)
}

/// `RTMFPReceiveFlow`: ordering, reassembly, skipping, acknowledgement, limits, rejection.
@Suite struct FlowReceiveTests {
    private func flow(capacity: Int = 4 << 20, maxRanges: Int = 256, maxMessage: Int = 16 << 20) -> RTMFPReceiveFlow {
        var configuration = RTMFPReceiveFlow.Configuration()
        configuration.bufferCapacity = capacity
        configuration.maxRanges = maxRanges
        configuration.maxMessageSize = maxMessage
        return RTMFPReceiveFlow(id: 5, signature: [0x54, 0x43, 0x04, 0x00], associatedSendFlowID: 2,
                                configuration: configuration)
    }

    @Test func deliversWholeMessagesInOrder() {
        var receiver = flow()
        #expect(receiver.receive(flowFragment(1, .whole, [1])) == [[1]])
        #expect(receiver.receive(flowFragment(2, .whole, [2, 2])) == [[2, 2]])
        #expect(receiver.cumulativeAck == 2)
        #expect(receiver.needsAck)
        #expect(receiver.takeAck() == RTMFPAck(flowID: 5, bufferBlocksAvailable: 4096, cumulativeAck: 2))
        #expect(!receiver.needsAck)
    }

    @Test func reassemblesFragmentsArrivingInAnyOrder() {
        let pieces = [flowFragment(1, .begin, [1]), flowFragment(2, .middle, [2]), flowFragment(3, .middle, [3]),
                      flowFragment(4, .end, [4]), flowFragment(5, .whole, [5])]
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [1, 3, 0, 4, 2]] {
            var receiver = flow()
            var delivered: [[UInt8]] = []
            for index in order { delivered += receiver.receive(pieces[index]) }
            #expect(delivered == [[1, 2, 3, 4], [5]], "order \(order)")
            #expect(receiver.heldBytes == 0)
            #expect(receiver.lostMessages == 0)
        }
    }

    @Test func duplicatesAreDeliveredOnce() {
        var receiver = flow()
        var delivered: [[UInt8]] = []
        for sequence: UInt64 in [2, 2, 1, 1, 2, 3, 3] {
            delivered += receiver.receive(flowFragment(sequence, .whole, [UInt8(sequence)]))
        }
        #expect(delivered == [[1], [2], [3]])
    }

    @Test func acknowledgesHeldRangesAndComputesTheBufferLeft() throws {
        var receiver = flow(capacity: 8192)
        _ = receiver.receive(flowFragment(1, .whole, [1]))
        for sequence: UInt64 in [3, 4, 7] { _ = receiver.receive(flowFragment(sequence, .whole, Array(repeating: 0, count: 300))) }
        let ack = receiver.takeAck()
        #expect(ack.cumulativeAck == 1)
        #expect(ack.receivedRanges == [3...4, 7...7])
        // 8192 − 3 × (300 + 64) = 7100 bytes → 7 blocks (rounded up).
        #expect(ack.bufferBlocksAvailable == 7)
        #expect(ack.encodedRanges() == [0x05, 0x07, 0x01, 0x00, 0x01, 0x01, 0x00])
    }

    @Test func theForwardSequenceNumberSkipsMissingFragmentsAndDropsTheirMessage() {
        var receiver = flow()
        #expect(receiver.receive(flowFragment(1, .begin, [1])) == [])
        // 2 (the end of message 1) will never come: fragment 3 says so with fsn 2.
        #expect(receiver.receive(flowFragment(3, .whole, [3], forward: 2)) == [[3]])
        #expect(receiver.lostMessages == 1)
        #expect(receiver.cumulativeAck == 3)
        // Whole messages below the fsn are just skipped: nothing was being assembled.
        #expect(receiver.receive(flowFragment(10, .whole, [10], forward: 9)) == [[10]])
        #expect(receiver.lostMessages == 1)
    }

    @Test func theForwardSequenceNumberReleasesHeldFragmentsBehindAHole() {
        var receiver = flow()
        _ = receiver.receive(flowFragment(3, .whole, [3]))
        _ = receiver.receive(flowFragment(5, .begin, [5]))
        // fsn 4: 1, 2 and 4 will never come; 3 is delivered, 5 starts a message that 6 ends.
        #expect(receiver.receive(flowFragment(6, .end, [6], forward: 4)) == [[3], [5, 6]])
        #expect(receiver.takeAck().cumulativeAck == 6)
        #expect(receiver.lostMessages == 0)
    }

    @Test func orphanFragmentsAfterAGapCountTheirMessageOnce() {
        var receiver = flow()
        // 1 = begin was skipped; 2 and 3 (middle, end) are orphans of that one message.
        var delivered = receiver.receive(flowFragment(2, .middle, [2], forward: 1))
        delivered += receiver.receive(flowFragment(3, .end, [3]))
        delivered += receiver.receive(flowFragment(4, .whole, [4]))
        #expect(delivered == [[4]])
        #expect(receiver.lostMessages == 1)
    }

    @Test func anAbandonedFragmentDropsItsMessage() {
        var receiver = flow()
        var delivered = receiver.receive(flowFragment(1, .begin, [1]))
        delivered += receiver.receive(flowFragment(3, .end, [3]))
        delivered += receiver.receive(flowFragment(2, .middle, [], abandoned: true))
        delivered += receiver.receive(flowFragment(4, .whole, [4]))
        #expect(delivered == [[4]])
        #expect(receiver.lostMessages == 1)
        #expect(receiver.cumulativeAck == 4)
    }

    @Test func theFlowCompletesWhenEverythingUpToTheFinalFragmentIsProcessed() {
        var receiver = flow()
        _ = receiver.receive(flowFragment(3, .whole, [3], final: true))
        #expect(!receiver.isComplete)
        _ = receiver.receive(flowFragment(1, .whole, [1]))
        #expect(!receiver.isComplete)
        #expect(receiver.receive(flowFragment(2, .whole, [2])) == [[2], [3]])
        #expect(receiver.isComplete)
        #expect(receiver.finalSequenceNumber == 3)
    }

    @Test func anAbandonedFinalFragmentCompletesTheFlow() {
        var receiver = flow()
        _ = receiver.receive(flowFragment(1, .begin, [1]))
        #expect(receiver.receive(flowFragment(3, .whole, [], forward: 2, abandoned: true, final: true)) == [])
        #expect(receiver.isComplete)
        #expect(receiver.lostMessages == 1)
    }

    @Test func aFloodOfFarFutureFragmentsStaysWithinTheMemoryBound() {
        var receiver = flow(capacity: 64 * 1024, maxRanges: 32)
        var random = FlowTestRandom(seed: 11)
        for _ in 0..<10_000 {
            let sequence = 2 + random.next() % 1_000_000
            _ = receiver.receive(flowFragment(sequence, .middle, Array(repeating: 7, count: Int(random.next() % 1200))))
            #expect(receiver.heldBytes <= 64 * 1024)
            #expect(receiver.ack.receivedRanges.count <= 32)
        }
        let ack = receiver.takeAck()
        #expect(ack.cumulativeAck == 0)
        #expect(ack.bufferBlocksAvailable >= 1) // always room for the fragment that fills the hole
        // What was dropped is not acknowledged; what is acknowledged is held.
        let held = ack.receivedRanges.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound + 1) }
        #expect(held * RTMFPReceiveFlow.fragmentOverhead <= receiver.heldBytes)
        // The hole filled: everything held is processed (orphans of unknown messages) and memory is freed.
        _ = receiver.receive(flowFragment(1_000_002, .whole, [1], forward: 1_000_001))
        #expect(receiver.heldBytes == 0)
        #expect(receiver.cumulativeAck == 1_000_002)
    }

    @Test func aFloodOfAbandonedFragmentsIsBoundedToo() {
        var receiver = flow(capacity: 64 * RTMFPReceiveFlow.fragmentOverhead, maxRanges: 4)
        for sequence: UInt64 in 10..<10_000 { _ = receiver.receive(flowFragment(sequence, abandoned: true)) }
        #expect(receiver.heldBytes == 64 * RTMFPReceiveFlow.fragmentOverhead)
        #expect(receiver.ack.receivedRanges == [10...73])
    }

    @Test func aFragmentBeyondTheRangeLimitIsDroppedAndNotAcknowledged() {
        var receiver = flow(maxRanges: 2)
        _ = receiver.receive(flowFragment(3, .whole, [3]))
        _ = receiver.receive(flowFragment(5, .whole, [5]))
        _ = receiver.receive(flowFragment(7, .whole, [7]))
        #expect(receiver.ack.receivedRanges == [3...3, 5...5])
        // Extending a range needs no new one.
        _ = receiver.receive(flowFragment(4, .whole, [4]))
        #expect(receiver.ack.receivedRanges == [3...5])
        #expect(receiver.receive(flowFragment(1, .whole, [1])) == [[1]])
        #expect(receiver.receive(flowFragment(2, .whole, [2])) == [[2], [3], [4], [5]])
    }

    @Test func aMessageAboveTheMaximumFailsAndRejectsTheFlow() throws {
        var receiver = flow(maxMessage: 100)
        _ = receiver.receive(flowFragment(1, .begin, Array(repeating: 1, count: 60)))
        #expect(receiver.failure == nil)
        #expect(receiver.receive(flowFragment(2, .middle, Array(repeating: 2, count: 60))) == [])
        #expect(receiver.failure == .messageTooLarge)
        #expect(receiver.isRejected)
        #expect(receiver.exceptionReport == RTMFPFlowException(flowID: 5, code: 0))
        #expect(receiver.receive(flowFragment(3, .end, [3])) == [])
        let ack = receiver.takeAck()
        #expect(ack.bufferBlocksAvailable == 0)
        #expect(ack.cumulativeAck == 3)
    }

    @Test func aRejectedFlowAcknowledgesWithNoBufferAndDeliversNothing() {
        var receiver = flow()
        _ = receiver.receive(flowFragment(2, .whole, [2]))
        #expect(receiver.exceptionReport == nil)
        receiver.reject(code: 3)
        #expect(receiver.heldBytes == 0)
        #expect(receiver.exceptionReport == RTMFPFlowException(flowID: 5, code: 3))
        #expect(receiver.receive(flowFragment(1, .whole, [1])) == [])
        #expect(receiver.receive(flowFragment(4, .whole, [4])) == [])
        #expect(receiver.takeAck() == RTMFPAck(flowID: 5, bufferBlocksAvailable: 0, cumulativeAck: 2,
                                               receivedRanges: [4...4]))
    }

    @Test func aBufferProbeAsksForAnAcknowledgement() {
        var receiver = flow()
        #expect(!receiver.needsAck)
        receiver.bufferProbed()
        #expect(receiver.needsAck)
        #expect(receiver.takeAck().cumulativeAck == 0)
    }

    @Test func randomFragmentsNeverTrapAndKeepTheBounds() {
        var receiver = flow(capacity: 16 * 1024, maxRanges: 16, maxMessage: 4096)
        var random = FlowTestRandom(seed: 5)
        let controls: [RTMFPFragmentControl] = [.whole, .begin, .middle, .end]
        for _ in 0..<20_000 {
            let sequence = random.next() % 300 + (random.next() % 50 == 0 ? RTMFPUserData.maxSequenceNumber - 100 : 0)
            let forward = random.next() % 4 == 0 ? sequence - min(sequence, random.next() % 10) : 0
            let fragment = flowFragment(sequence, controls[Int(random.next() % 4)],
                                        Array(repeating: 1, count: Int(random.next() % 1500)), forward: forward,
                                        abandoned: random.next() % 10 == 0, final: random.next() % 50 == 0)
            _ = receiver.receive(fragment)
            #expect(receiver.heldBytes <= 16 * 1024)
            #expect(receiver.ack.receivedRanges.count <= 16)
        }
    }
}
