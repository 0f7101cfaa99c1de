import Testing
@testable import RTMFPPlugin

/// The Flash message framing of flows and the flow signatures.
@Suite struct FlashMessageTests {
    @Test func amf0CommandRoundTrips() {
        let bytes = RTMFPFlashMessage.encode(type: 0x14, time: 0x0102_0304, payload: [0x02, 0x00, 0x01, 0x61])
        #expect(bytes == [0x14, 0x01, 0x02, 0x03, 0x04, 0x02, 0x00, 0x01, 0x61])
        let message = RTMFPFlashMessage(bytes[...])
        #expect(message == RTMFPFlashMessage(type: 0x14, time: 0x0102_0304, payload: [0x02, 0x00, 0x01, 0x61][...]))
    }

    @Test func amf3TypesCarryAZeroByteThePayloadLeavesOut() {
        let bytes = RTMFPFlashMessage.encode(type: 0x11, time: 0, payload: [0x02])
        #expect(bytes == [0x11, 0, 0, 0, 0, 0x00, 0x02])
        #expect(RTMFPFlashMessage(bytes[...])?.payload == [0x02][...])
        #expect(RTMFPFlashMessage([0x11, 0, 0, 0, 0][...]) == nil)
    }

    @Test func shortMessagesAreRefused() {
        for count in 0..<5 { #expect(RTMFPFlashMessage([UInt8](repeating: 0x14, count: count)[...]) == nil) }
    }

    @Test func keepaliveUserControl() {
        #expect(RTMFPFlashMessage.userControl(0x29, [15000, 10000])
            == [0x04, 0, 0, 0, 0, 0x00, 0x29, 0x00, 0x00, 0x3A, 0x98, 0x00, 0x00, 0x27, 0x10])
    }

    @Test func signatures() {
        #expect(RTMFPFlowSignature(metadata: [0x54, 0x43, 0x04, 0x00][...]) == .netConnection)
        #expect(RTMFPFlowSignature(metadata: [0x54, 0x43, 0x04, 0x01][...]) == .netStream(1))
        #expect(RTMFPFlowSignature(metadata: [0x54, 0x43, 0x05, 0x81, 0x00][...]) == .netStream(128)) // network order
        #expect(RTMFPFlowSignature(metadata: [0x47, 0x43, 0x10][...]) == .group)
        #expect(RTMFPFlowSignature(metadata: [0x54, 0x43, 0x00][...]) == .unknown) // no stream id
        #expect(RTMFPFlowSignature(metadata: [0x54, 0x43, 0x04][...]) == .unknown)
        #expect(RTMFPFlowSignature(metadata: [][...]) == .unknown)
        #expect(RTMFPFlowSignature.metadata(stream: 0) == [0x54, 0x43, 0x04, 0x00])
        #expect(RTMFPFlowSignature.metadata(stream: 300) == [0x54, 0x43, 0x04, 0x82, 0x2C])
    }
}
