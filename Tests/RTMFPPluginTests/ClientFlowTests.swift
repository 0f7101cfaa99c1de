import Testing

/// The test client's flow chunks and flows (RFC 7016 §2.3.11-2.3.17, §3.6) against hand-written layouts.
@Suite struct ClientFlowTests {
    typealias Client = RTMFPTestClient

    static let netConnectionOptions = [Client.Option(type: 0x00, value: [0x54, 0x43, 0x04, 0x00])]

    @Test func userDataLayoutAsFlashSendsConnect() throws {
        let fragment = Client.UserData(flowID: 2, sequence: 1, fsnOffset: 1, flags: Client.FragmentFlag.whole,
                                       options: Self.netConnectionOptions, data: [0x14, 0, 0, 0, 0])
        // flags 0x80 (options), flow 2, seq 1, fsnOffset 1, option `05 00 'T' 'C' 04 00`, marker, data.
        #expect(fragment.chunk.encoded == [0x10, 0x00, 0x10, 0x80, 0x02, 0x01, 0x01, 0x05, 0x00, 0x54, 0x43, 0x04, 0x00, 0x00,
                                           0x14, 0, 0, 0, 0])
        let parsed = try #require(Client.UserData(userData: fragment.chunk.value))
        #expect(parsed.flowID == 2 && parsed.sequence == 1 && parsed.fsnOffset == 1)
        #expect(parsed.metadata == [0x54, 0x43, 0x04, 0x00])
        #expect(parsed.returnAssociation == nil)
        #expect(parsed.data == [0x14, 0, 0, 0, 0])
    }

    @Test func nextUserDataContinuesThePreviousFragment() throws {
        let first = Client.UserData(flowID: 300, sequence: 0x81, fsnOffset: 3, flags: Client.FragmentFlag.begin,
                                    options: [Client.Option(type: 0x0A, value: [0x05])], data: [0xAA])
        #expect(first.chunk.value == [0x90, 0x82, 0x2C, 0x81, 0x01, 0x03, 0x02, 0x0A, 0x05, 0x00, 0xAA])
        #expect(first.returnAssociation == 5)
        let next = Client.UserData(flowID: 300, sequence: 0x82, fsnOffset: 4, flags: Client.FragmentFlag.end, data: [0xBB])
        #expect(next.nextChunk.encoded == [0x11, 0x00, 0x02, 0x20, 0xBB])
        let parsed = try #require(Client.UserData(nextUserData: next.nextChunk.value, after: first))
        #expect(parsed == next)
        #expect(Client.UserData(userData: [0x80, 0x01, 0x01, 0x01, 0x02, 0x00]) == nil) // options never terminated
        #expect(Client.UserData(userData: [0x00, 0x01]) == nil)
    }

    @Test func acknowledgementRanges() throws {
        let ack = Client.Acknowledgement(flowID: 3, bufferBlocks: 0x7F, cumulative: 5,
                                         ranges: [Client.AckRange(holes: 2, received: 3), Client.AckRange(holes: 1, received: 1)])
        #expect(ack.chunk.encoded == [0x51, 0x00, 0x07, 0x03, 0x7F, 0x05, 0x01, 0x02, 0x00, 0x00])
        #expect(Client.Acknowledgement(ack.chunk.value) == ack)
        let received = (1...14).filter { ack.covers($0) }
        #expect(received == [1, 2, 3, 4, 5, 8, 9, 10, 12])
        #expect(Client.Acknowledgement([0x03, 0x7F]) == nil)
        #expect(Client.Acknowledgement([0x03, 0x7F, 0x05, 0x01]) == nil) // half a range
        let huge = Client.Acknowledgement(flowID: 1, bufferBlocks: 0, cumulative: UInt64.max - 1,
                                          ranges: [Client.AckRange(holes: UInt64.max - 1, received: 1)])
        #expect(!huge.covers(UInt64.max)) // no overflow
        #expect(Client.FlowException(Client.FlowException(flowID: 9, code: 0).chunk.value) == Client.FlowException(flowID: 9, code: 0))
        #expect(Client.FlowException(flowID: 9, code: 0).chunk.encoded == [0x5E, 0x00, 0x02, 0x09, 0x00])
    }

    @Test func sendFlowFragmentsAndForgetsWhatIsAcknowledged() {
        var flow = Client.SendFlow(id: 4, metadata: [0x54, 0x43, 0x04, 0x01], returnAssociation: 2)
        #expect(flow.options == [Client.Option(type: 0x00, value: [0x54, 0x43, 0x04, 0x01]), Client.Option(type: 0x0A, value: [0x02])])
        flow.send([UInt8](repeating: 1, count: 2500), fragmentSize: 1000)
        flow.send([7], fragmentSize: 1000)
        #expect(flow.unacknowledged.map(\.sequence) == [1, 2, 3, 4])
        #expect(flow.unacknowledged.map(\.flags) == [0x10, 0x30, 0x20, 0x00])
        #expect(flow.unacknowledged.map(\.data.count) == [1000, 1000, 500, 1])
        #expect(flow.forwardSequenceNumber == 0)
        #expect(flow.isDue(0, now: 0, retransmitAfter: 1000))
        flow.markSent(0, now: 10)
        #expect(!flow.isDue(0, now: 1009, retransmitAfter: 1000))
        #expect(flow.isDue(0, now: 1010, retransmitAfter: 1000))
        flow.acknowledge(Client.Acknowledgement(flowID: 4, bufferBlocks: 1, cumulative: 0, ranges: [Client.AckRange(holes: 1, received: 2)]))
        #expect(flow.unacknowledged.map(\.sequence) == [1, 4])
        #expect(flow.options.isEmpty)
        #expect(flow.forwardSequenceNumber == 0)
        flow.acknowledge(Client.Acknowledgement(flowID: 4, bufferBlocks: 1, cumulative: 1))
        #expect(flow.forwardSequenceNumber == 3) // only 4 is left
        flow.finish()
        flow.send([9], fragmentSize: 1000) // nothing after the final fragment
        #expect(flow.unacknowledged.map(\.sequence) == [4, 5])
        #expect(flow.unacknowledged.last?.flags == Client.FragmentFlag.final)
        #expect(!flow.isComplete)
        flow.acknowledge(Client.Acknowledgement(flowID: 4, bufferBlocks: 1, cumulative: 5))
        #expect(flow.isComplete)
        var empty = Client.SendFlow(id: 5, metadata: [], returnAssociation: nil)
        empty.send([], fragmentSize: 10)
        #expect(empty.unacknowledged.map(\.data) == [[]])
    }

    static func fragment(_ sequence: UInt64, _ flags: UInt8, _ data: [UInt8], fsnOffset: UInt64? = nil) -> Client.UserData {
        Client.UserData(flowID: 7, sequence: sequence, fsnOffset: fsnOffset ?? sequence, flags: flags, data: data)
    }

    @Test func receiveFlowReassemblesInOrder() {
        var flow = Client.ReceiveFlow(id: 7)
        #expect(flow.receive(Self.fragment(2, Client.FragmentFlag.middle, [2])) == [])
        #expect(flow.receive(Self.fragment(4, Client.FragmentFlag.whole, [4])) == [])
        #expect(flow.acknowledgement(bufferBlocks: 9)
            == Client.Acknowledgement(flowID: 7, bufferBlocks: 9, cumulative: 0,
                                      ranges: [Client.AckRange(holes: 1, received: 1), Client.AckRange(holes: 1, received: 1)]))
        #expect(flow.receive(Self.fragment(3, Client.FragmentFlag.end, [3])) == [])
        #expect(flow.acknowledgement(bufferBlocks: 9).ranges == [Client.AckRange(holes: 1, received: 3)])
        #expect(flow.receive(Self.fragment(1, Client.FragmentFlag.begin, [1])) == [[1, 2, 3], [4]])
        #expect(flow.cumulative == 4)
        #expect(flow.receive(Self.fragment(3, Client.FragmentFlag.end, [3])) == []) // a duplicate
        #expect(flow.acknowledgement(bufferBlocks: 9) == Client.Acknowledgement(flowID: 7, bufferBlocks: 9, cumulative: 4))
        #expect(flow.receive(Self.fragment(5, Client.FragmentFlag.whole | Client.FragmentFlag.final, [])) == [[]])
        #expect(flow.isComplete)
        #expect(flow.lostMessages == 0)
    }

    @Test func receiveFlowSkipsWhatTheSenderAbandoned() {
        var flow = Client.ReceiveFlow(id: 7)
        #expect(flow.receive(Self.fragment(1, Client.FragmentFlag.begin, [1])) == [])
        // 2 (the end of message 1) never comes; 4 says everything up to 3 is forward: 3 (buffered) is
        // delivered, message 1 is lost.
        #expect(flow.receive(Self.fragment(3, Client.FragmentFlag.whole, [3])) == [])
        #expect(flow.receive(Self.fragment(4, Client.FragmentFlag.whole, [4], fsnOffset: 1)) == [[3], [4]])
        #expect(flow.lostMessages == 1)
        #expect(flow.cumulative == 4)
        // A jump past everything buffered.
        #expect(flow.receive(Self.fragment(10, Client.FragmentFlag.middle, [10])) == [])
        #expect(flow.receive(Self.fragment(20, Client.FragmentFlag.whole, [20], fsnOffset: 1)) == [[20]])
        #expect(flow.cumulative == 20)
        // An abandoned fragment drops the message under way.
        #expect(flow.receive(Self.fragment(21, Client.FragmentFlag.begin, [21])) == [])
        #expect(flow.receive(Self.fragment(22, Client.FragmentFlag.abandon, [])) == [])
        #expect(flow.receive(Self.fragment(23, Client.FragmentFlag.end, [23])) == [])
        #expect(flow.lostMessages == 3)
        #expect(flow.receive(Self.fragment(1 << 62, Client.FragmentFlag.whole, [1])) == []) // out of range
    }

    @Test func receiveFlowMemoryIsBounded() {
        var flow = Client.ReceiveFlow(id: 7)
        for sequence in 2...UInt64(Client.ReceiveFlow.maximumBufferedFragments + 10) {
            _ = flow.receive(Self.fragment(sequence, Client.FragmentFlag.whole, [1]))
        }
        let ack = flow.acknowledgement(bufferBlocks: 1)
        #expect(ack.ranges == [Client.AckRange(holes: 1, received: UInt64(Client.ReceiveFlow.maximumBufferedFragments))])
        var gappy = Client.ReceiveFlow(id: 8)
        for sequence in stride(from: UInt64(2), to: 400, by: 2) {
            _ = gappy.receive(Self.fragment(sequence, Client.FragmentFlag.whole, [1]))
        }
        #expect(gappy.acknowledgement(bufferBlocks: 1).ranges.count == Client.ReceiveFlow.maximumAckRanges)
    }

    @Test func flowKindsFromMetadata() {
        #expect(Client.FlowKind(metadata: [0x54, 0x43, 0x04, 0x00]) == .stream(0))
        #expect(Client.FlowKind(metadata: [0x54, 0x43, 0x05, 0x81, 0x00]) == .stream(128))
        #expect(Client.FlowKind(metadata: [0x47, 0x43, 0x10]) == .group)
        #expect(Client.FlowKind(metadata: [0x54, 0x43, 0x00, 0x01]) == .unknown)
        #expect(Client.FlowKind(metadata: [0x54, 0x43, 0x04]) == .unknown)
        #expect(Client.FlowKind(metadata: []) == .unknown)
        #expect(Client.FlowKind.metadata(stream: 300) == [0x54, 0x43, 0x04, 0x82, 0x2C])
    }
}
