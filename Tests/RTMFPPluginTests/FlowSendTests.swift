import Testing
@testable import RTMFPPlugin

/// `RTMFPSendFlow` on a fake clock: fragmentation, options, acknowledgements, losses, timers, windows,
/// abandonment, closing.
@Suite struct FlowSendTests {
    private static let signature: [UInt8] = [0x00, 0x54, 0x43, 0x04, 0x00]

    private func flow(_ adjust: (inout RTMFPSendFlow.Configuration) -> Void = { _ in }) -> RTMFPSendFlow {
        var configuration = RTMFPSendFlow.Configuration()
        adjust(&configuration)
        return RTMFPSendFlow(id: 3, signature: Self.signature, associatedReceiveFlowID: 2, configuration: configuration)
    }

    /// Every chunk one packet of `maxSize` bytes gets from `sender`, parsed back.
    private func packet(_ sender: inout RTMFPSendFlow, maxSize: Int = 1150, now: UInt64) -> [RTMFPUserData] {
        var parser = RTMFPUserDataParser()
        var room = maxSize
        var fragments: [RTMFPUserData] = []
        while let chunk = sender.nextChunk(maxSize: room, continuing: !fragments.isEmpty, now: now) {
            room -= 3 + chunk.value.count
            #expect(room >= 0)
            guard let fragment = parser.parse(chunkType: chunk.type, value: chunk.value[...]) else {
                Issue.record("unparsable chunk \(chunk.type)")
                break
            }
            fragments.append(fragment)
        }
        return fragments
    }

    private func ack(_ cumulative: UInt64, _ ranges: [ClosedRange<UInt64>] = [], blocks: UInt64 = 1000) -> RTMFPAck {
        RTMFPAck(flowID: 3, bufferBlocksAvailable: blocks, cumulativeAck: cumulative, receivedRanges: ranges)
    }

    @Test func fragmentsAMessageToTheRoomLeftAndUsesNextUserData() throws {
        var sender = flow()
        let message = (0..<3000).map { UInt8(truncatingIfNeeded: $0) }
        let accepted = sender.write(message, reliable: true, now: 0)
        #expect(accepted)
        #expect(sender.queuedBytes == 3000)
        var parser = RTMFPUserDataParser()
        let maybeFirst = sender.nextChunk(maxSize: 500, continuing: false, now: 0)
        let first = try #require(maybeFirst)
        #expect(first.type == RTMFPFlowChunkType.userData)
        #expect(first.value.count + 3 <= 500)
        let maybeSecond = sender.nextChunk(maxSize: 400, continuing: true, now: 0)
        let second = try #require(maybeSecond)
        #expect(second.type == RTMFPFlowChunkType.nextUserData)
        #expect(second.value.count + 3 <= 400)
        #expect(sender.nextChunk(maxSize: 3 + 1 + 63, continuing: true, now: 0) == nil) // below the minimum cut
        let headParsed = parser.parse(chunkType: first.type, value: first.value[...])
        let head = try #require(headParsed)
        let nextParsed = parser.parse(chunkType: second.type, value: second.value[...])
        let next = try #require(nextParsed)
        #expect(head.fragmentControl == .begin && next.fragmentControl == .middle)
        #expect(head.sequenceNumber == 1 && next.sequenceNumber == 2 && next.forwardSequenceNumber == 0)
        #expect(head.metadata == Self.signature && head.returnFlowAssociation == 2)
        #expect(next.metadata == nil)
        var receiver = RTMFPReceiveFlow(id: 3, signature: Self.signature)
        var delivered = receiver.receive(head) + receiver.receive(next)
        for fragment in packet(&sender, now: 0) + packet(&sender, now: 0) { delivered += receiver.receive(fragment) }
        #expect(delivered == [message])
    }

    @Test func optionsGoOnTheFirstChunkOfEveryPacketUntilTheFirstAck() {
        var sender = flow()
        for value in 1...3 { _ = sender.write([UInt8(value)], reliable: true, now: 0) }
        let first = packet(&sender, maxSize: 22, now: 0)
        #expect(first.count == 1 && first[0].hasOptions)
        let second = packet(&sender, now: 0)
        #expect(second.map(\.hasOptions) == [true, false])
        sender.handle(ack: ack(1), now: 10)
        _ = sender.write([4], reliable: true, now: 10)
        #expect(packet(&sender, now: 10).map(\.hasOptions) == [false])
    }

    @Test func acknowledgementsFreeTheQueueAndSampleTheRoundTrip() {
        var sender = flow()
        for value in 1...4 { _ = sender.write(Array(repeating: UInt8(value), count: 100), reliable: true, now: 0) }
        #expect(packet(&sender, now: 0).count == 4)
        #expect(sender.bytesInFlight > 400)
        sender.handle(ack: ack(2, [4...4]), now: 100)
        #expect(sender.queuedBytes == 100)
        #expect(sender.rto.smoothedRTT == 100)
        #expect(sender.rto.effective == 500) // 100 + 4 × 50 + 200
        sender.handle(ack: ack(4), now: 150)
        #expect(sender.queuedBytes == 0)
        #expect(sender.bytesInFlight == 0)
        #expect(sender.nextRetransmitDeadline == nil)
    }

    @Test func aFragmentIsLostAfterThreeAcknowledgementsOfLaterOnes() throws {
        var sender = flow()
        for value in 1...5 { _ = sender.write([UInt8(value)], reliable: true, now: 0) }
        for _ in 1...5 { #expect(packet(&sender, maxSize: 22, now: 0).count == 1) }
        let windowBefore = sender.congestion.size
        sender.handle(ack: ack(0, [2...2]), now: 50)
        sender.handle(ack: ack(0, [2...3]), now: 60)
        #expect(packet(&sender, now: 60).isEmpty) // two negative acknowledgements: not yet lost
        sender.handle(ack: ack(0, [2...4]), now: 70)
        let resent = packet(&sender, now: 70)
        #expect(resent.map(\.sequenceNumber) == [1])
        #expect(sender.retransmissions == 1)
        #expect(sender.congestion.size < windowBefore)
        sender.handle(ack: ack(5), now: 120)
        #expect(sender.queuedBytes == 0)
    }

    @Test func theRetransmissionTimeoutBacksOffThenFailsTheFlow() throws {
        var sender = flow()
        _ = sender.write([1, 2, 3], reliable: true, now: 0)
        #expect(packet(&sender, now: 0).count == 1)
        var now: UInt64 = 0
        var expectedDelays: [UInt64] = [3000, 6000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000]
        while let delay = expectedDelays.first {
            expectedDelays.removeFirst()
            let deadline = try #require(sender.nextRetransmitDeadline)
            #expect(deadline == now + delay)
            sender.checkTimeout(now: deadline - 1)
            #expect(sender.bytesInFlight > 0)
            now = deadline
            sender.checkTimeout(now: now)
            if expectedDelays.isEmpty { break }
            #expect(sender.bytesInFlight == 0)
            #expect(packet(&sender, now: now).map(\.data) == [[1, 2, 3]])
        }
        #expect(sender.retransmissions == 8)
        #expect(sender.failure == .retransmissionLimit)
        #expect(sender.nextRetransmitDeadline == nil)
        #expect(sender.nextChunk(maxSize: 1150, continuing: false, now: now) == nil)
        let acceptedAfterFailure = sender.write([4], reliable: true, now: now)
        #expect(!acceptedAfterFailure)
    }

    @Test func anAcknowledgementResetsTheBackOffCount() {
        var sender = flow { $0.maxBackoffs = 2 }
        _ = sender.write([1], reliable: true, now: 0)
        _ = sender.write([2], reliable: true, now: 0)
        _ = packet(&sender, maxSize: 22, now: 0)
        sender.checkTimeout(now: 3000)
        _ = packet(&sender, maxSize: 22, now: 3000)
        sender.checkTimeout(now: 9000)
        _ = packet(&sender, maxSize: 22, now: 9000)
        sender.handle(ack: ack(1), now: 9100)
        _ = packet(&sender, maxSize: 22, now: 9100)
        for _ in 0..<2 {
            guard let deadline = sender.nextRetransmitDeadline else { break }
            sender.checkTimeout(now: deadline)
            _ = packet(&sender, maxSize: 22, now: deadline)
        }
        #expect(sender.failure == nil)
        if let deadline = sender.nextRetransmitDeadline { sender.checkTimeout(now: deadline) }
        #expect(sender.failure == .retransmissionLimit)
    }

    @Test func thePeerBufferAndTheCongestionWindowLimitTheBytesInFlight() {
        var sender = flow()
        _ = sender.write(Array(repeating: 9, count: 100_000), reliable: true, now: 0)
        while !packet(&sender, now: 0).isEmpty {}
        // The initial window is four 1150-byte segments.
        #expect(sender.bytesInFlight >= 4 * 1150)
        #expect(sender.bytesInFlight < 5 * 1150)
        sender.handle(ack: ack(0, blocks: 2), now: 10)
        #expect(sender.peerBufferBytes == 2048)
        #expect(packet(&sender, now: 10).isEmpty)
        sender.handle(ack: ack(4, blocks: 2), now: 20)
        var sent = 0
        while true {
            let fragments = packet(&sender, now: 20)
            if fragments.isEmpty { break }
            sent += fragments.count
        }
        #expect(sent == 2)
        #expect(sender.bytesInFlight >= 2048 && sender.bytesInFlight < 2048 + 1150)
    }

    @Test func aReceiverWithoutRoomIsProbedEveryTimeout() throws {
        var sender = flow()
        _ = sender.write([1], reliable: true, now: 0)
        _ = packet(&sender, now: 0)
        _ = sender.write([2], reliable: true, now: 0)
        sender.handle(ack: ack(1, blocks: 0), now: 100)
        #expect(sender.nextChunk(maxSize: 1150, continuing: false, now: 100) == nil)
        let due = try #require(sender.nextRetransmitDeadline)
        #expect(due == 100 + sender.rto.effective)
        #expect(sender.nextChunk(maxSize: 1150, continuing: false, now: due - 1) == nil)
        let maybeProbe = sender.nextChunk(maxSize: 1150, continuing: false, now: due)
        let probe = try #require(maybeProbe)
        #expect(probe.type == RTMFPFlowChunkType.bufferProbe && RTMFPBufferProbe.parse(probe.value[...]) == 3)
        #expect(sender.nextChunk(maxSize: 1150, continuing: false, now: due) == nil)
        #expect(sender.nextRetransmitDeadline == due + sender.rto.effective)
        sender.handle(ack: ack(1, blocks: 4), now: due + 50)
        #expect(packet(&sender, now: due + 50).map(\.data) == [[2]])
    }

    @Test func unreliableMessagesAreAbandonedAfterTheirLifetime() {
        var sender = flow { $0.unreliableLifetime = 100 }
        var receiver = RTMFPReceiveFlow(id: 3, signature: Self.signature)
        _ = sender.write(Array(repeating: 1, count: 2000), reliable: false, now: 0)
        // Only the first fragment leaves before the lifetime ends; it is lost.
        #expect(packet(&sender, maxSize: 600, now: 0).map(\.fragmentControl) == [.begin])
        _ = sender.write([2], reliable: true, now: 150)
        sender.checkTimeout(now: 3000)
        // The lost fragment goes again empty, flagged abandoned, and the forward sequence number passes it.
        let next = packet(&sender, now: 3000)
        #expect(next.map(\.sequenceNumber) == [1, 2])
        #expect(next.map(\.isAbandoned) == [true, false])
        #expect(next.map(\.data) == [[], [2]])
        #expect(next.map(\.forwardSequenceNumber) == [1, 1])
        #expect(sender.queuedBytes == 1)
        var delivered: [[UInt8]] = []
        for fragment in next { delivered += receiver.receive(fragment) }
        #expect(delivered == [[2]])
        #expect(receiver.cumulativeAck == 2)
    }

    @Test func anExpiredMessageCutHalfWayIsDroppedAtTheReceiver() {
        var sender = flow { $0.unreliableLifetime = 100 }
        var receiver = RTMFPReceiveFlow(id: 3, signature: Self.signature)
        _ = sender.write(Array(repeating: 1, count: 2000), reliable: false, now: 0)
        var delivered: [[UInt8]] = []
        for fragment in packet(&sender, maxSize: 600, now: 0) { delivered += receiver.receive(fragment) }
        _ = sender.write([2], reliable: true, now: 200)
        for fragment in packet(&sender, now: 200) { delivered += receiver.receive(fragment) }
        #expect(delivered == [[2]])
        #expect(receiver.lostMessages == 1)
    }

    @Test func closeSetsTheFinalFlagOnTheLastFragment() {
        var sender = flow()
        _ = sender.write(Array(repeating: 1, count: 1500), reliable: true, now: 0)
        sender.close()
        let acceptedAfterClose = sender.write([2], reliable: true, now: 0)
        #expect(!acceptedAfterClose)
        let fragments = packet(&sender, maxSize: 1150, now: 0) + packet(&sender, now: 0)
        #expect(fragments.map(\.isFinal) == [false, true])
        #expect(!sender.isComplete)
        sender.handle(ack: ack(2), now: 10)
        #expect(sender.isComplete)
    }

    @Test func closeWithNothingQueuedSendsAnEmptyAbandonedFinalFragment() {
        var sender = flow()
        _ = sender.write([1], reliable: true, now: 0)
        _ = packet(&sender, now: 0)
        sender.close()
        let fragments = packet(&sender, now: 0)
        #expect(fragments.count == 1)
        #expect(fragments.first.map { $0.isFinal && $0.isAbandoned && $0.data.isEmpty && $0.sequenceNumber == 2 } == true)
    }

    @Test func abandonGivesUpEverythingAndEndsWithAnAbandonedFinalFragment() {
        var sender = flow()
        var receiver = RTMFPReceiveFlow(id: 3, signature: Self.signature)
        _ = sender.write(Array(repeating: 1, count: 3000), reliable: true, now: 0)
        let lost = packet(&sender, maxSize: 700, now: 0)
        #expect(lost.count == 1)
        sender.abandon()
        #expect(sender.queuedBytes < 3000)
        sender.checkTimeout(now: 3000)
        let last = packet(&sender, now: 3000)
        #expect(last.map(\.sequenceNumber) == [1, 2])
        #expect(last.allSatisfy { $0.isAbandoned && $0.data.isEmpty })
        #expect(last.map(\.forwardSequenceNumber) == [1, 2])
        #expect(last.map(\.isFinal) == [false, true])
        for fragment in last { #expect(receiver.receive(fragment) == []) }
        #expect(receiver.isComplete)
        sender.handle(ack: receiver.takeAck(), now: 3050)
        #expect(sender.isComplete)
        #expect(sender.queuedBytes == 0)
    }

    @Test func theQueueIsBounded() {
        var sender = flow { $0.maxQueuedBytes = 1000 }
        let first = sender.write(Array(repeating: 0, count: 600), reliable: true, now: 0)
        let second = sender.write(Array(repeating: 0, count: 600), reliable: true, now: 0)
        #expect(first && !second)
        #expect(sender.queuedBytes == 600)
        let third = sender.write(Array(repeating: 0, count: 400), reliable: false, now: 0)
        #expect(third)
        #expect(sender.queuedBytes == 1000)
    }

    @Test func anExceptionReportFailsTheFlow() {
        var sender = flow()
        _ = sender.write([1], reliable: true, now: 0)
        _ = packet(&sender, now: 0)
        sender.receiveException(code: 0)
        #expect(sender.failure == .rejectedByPeer(code: 0))
        #expect(sender.queuedBytes == 0 && sender.bytesInFlight == 0)
        #expect(sender.nextRetransmitDeadline == nil)
        #expect(!sender.hasDataToSend)
    }

    @Test func aFragmentCutAfterASmallChunkStillFitsAFreshPacketWithItsOptions() throws {
        var sender = flow()
        _ = sender.write(Array(repeating: 5, count: 5000), reliable: true, now: 0)
        let maybeSmall = sender.nextChunk(maxSize: 100, continuing: false, now: 0)
        let small = try #require(maybeSmall)
        let maybeLarge = sender.nextChunk(maxSize: 2000, continuing: true, now: 0)
        let large = try #require(maybeLarge)
        #expect(3 + small.value.count == 100)
        #expect(large.type == RTMFPFlowChunkType.nextUserData)
        sender.checkTimeout(now: 3000)
        let first = packet(&sender, now: 3000)
        let second = packet(&sender, now: 3000)
        #expect(first.map(\.sequenceNumber) == [1])
        #expect(second.first?.sequenceNumber == 2 && second.first?.hasOptions == true)
        #expect(second.first?.data.count == large.value.count - 1)
    }
}
