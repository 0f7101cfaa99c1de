import Testing
@testable import RTMFPPlugin

/// The flow-layer chunk codecs: User Data / Next User Data, acknowledgements, buffer probe, exception.
@Suite struct FlowChunkCodecTests {
    /// A Flash client's first NetConnection chunk value: options (metadata "TC 04 00") then the message.
    static let flashConnectChunk: [UInt8] = [0x80, 0x02, 0x01, 0x01, 0x05, 0x00, 0x54, 0x43, 0x04, 0x00, 0x00,
                                             0x14, 0x00, 0x00, 0x00, 0x00, 0x02]

    @Test func flagConstantsMatchTheRFC() {
        #expect(RTMFPUserDataFlag.optionsPresent == 0x80)
        #expect(RTMFPUserDataFlag.fragmentControlMask == 0x30)
        #expect(RTMFPUserDataFlag.abandon == 0x02)
        #expect(RTMFPUserDataFlag.final == 0x01)
        #expect(RTMFPFragmentControl.whole.rawValue == 0x00)
        #expect(RTMFPFragmentControl.begin.rawValue == 0x10)
        #expect(RTMFPFragmentControl.end.rawValue == 0x20)
        #expect(RTMFPFragmentControl.middle.rawValue == 0x30)
    }

    @Test func parsesAFlashConnectFragment() throws {
        var parser = RTMFPUserDataParser()
        let fragmentParsed = parser.parse(chunkType: 0x10, value: Self.flashConnectChunk[...])
        let fragment = try #require(fragmentParsed)
        #expect(fragment.flowID == 2)
        #expect(fragment.sequenceNumber == 1)
        #expect(fragment.forwardSequenceNumber == 0)
        #expect(fragment.fragmentControl == .whole)
        #expect(fragment.hasOptions && !fragment.isAbandoned && !fragment.isFinal)
        #expect(fragment.metadata == [0x54, 0x43, 0x04, 0x00])
        #expect(fragment.returnFlowAssociation == nil)
        #expect(fragment.data == [0x14, 0x00, 0x00, 0x00, 0x00, 0x02])
        #expect(fragment.encodedValue(asNext: false) == Self.flashConnectChunk)
    }

    @Test func parsesAHandMadeChunkWithEveryOptionAndFlag() throws {
        // flags: options | begin | abandon | final; flow 300; seq 0x81; fsnOffset 2; metadata "AB";
        // association 5; unknown option 0x21 = [9]; terminator; data.
        let value: [UInt8] = [0x93, 0x82, 0x2C, 0x81, 0x01, 0x02,
                              0x03, 0x00, 0x41, 0x42, 0x02, 0x0A, 0x05, 0x02, 0x21, 0x09, 0x00, 0xEE]
        var parser = RTMFPUserDataParser()
        let fragmentParsed = parser.parse(chunkType: 0x10, value: value[...])
        let fragment = try #require(fragmentParsed)
        #expect(fragment.flowID == 300)
        #expect(fragment.sequenceNumber == 0x81)
        #expect(fragment.forwardSequenceNumber == 0x7F)
        #expect(fragment.fragmentControl == .begin)
        #expect(fragment.isAbandoned && fragment.isFinal)
        #expect(fragment.metadata == [0x41, 0x42])
        #expect(fragment.returnFlowAssociation == 5)
        #expect(fragment.otherOptions == [RTMFPUserDataOption(type: 0x21, value: [0x09])])
        #expect(fragment.data == [0xEE])
        #expect(fragment.encodedValue(asNext: false) == value)
    }

    @Test func nextUserDataContinuesThePreviousFragmentOfThePacket() throws {
        var parser = RTMFPUserDataParser()
        #expect(parser.parse(chunkType: 0x11, value: [0x20, 0x01][...]) == nil) // nothing before it
        let firstParsed = parser.parse(chunkType: 0x10, value: [0x10, 0x03, 0x07, 0x02, 0xAA][...])
        let first = try #require(firstParsed)
        #expect(first.fragmentControl == .begin && first.forwardSequenceNumber == 5)
        // A chunk of another type in between does not break the context.
        #expect(RTMFPBufferProbe.parse([0x03][...]) == 3)
        let middleParsed = parser.parse(chunkType: 0x11, value: [0x30, 0xBB][...])
        let middle = try #require(middleParsed)
        let endParsed = parser.parse(chunkType: 0x11, value: [0x21, 0xCC][...])
        let end = try #require(endParsed)
        #expect(middle.flowID == 3 && middle.sequenceNumber == 8 && middle.forwardSequenceNumber == 5)
        #expect(middle.fragmentControl == .middle && middle.data == [0xBB])
        #expect(end.sequenceNumber == 9 && end.fragmentControl == .end && end.isFinal && end.data == [0xCC])
        #expect(middle.encodedValue(asNext: true) == [0x30, 0xBB])
        parser.reset()
        #expect(parser.parse(chunkType: 0x11, value: [0x20, 0x01][...]) == nil)
    }

    @Test func refusesAnFsnOffsetAboveTheSequenceNumberAndOtherChunkTypes() {
        var parser = RTMFPUserDataParser()
        #expect(parser.parse(chunkType: 0x10, value: [0x00, 0x02, 0x03, 0x04][...]) == nil)
        #expect(parser.parse(chunkType: 0x51, value: [0x00, 0x02, 0x03, 0x00][...]) == nil)
        // A failed chunk leaves no context for a following 0x11.
        #expect(parser.parse(chunkType: 0x11, value: [0x00][...]) == nil)
    }

    @Test func refusesAnAssociationOptionWithoutAFlowID() {
        var parser = RTMFPUserDataParser()
        #expect(parser.parse(chunkType: 0x10, value: [0x80, 0x02, 0x01, 0x01, 0x01, 0x0A, 0x00][...]) == nil)
    }

    @Test func everyTruncationOfTheHeaderOrOptionsFailsAndOfTheDataShortensIt() {
        let value = Self.flashConnectChunk
        let headerEnd = 11 // flags, three VLUs, the option and its terminator
        for length in 0..<value.count {
            var parser = RTMFPUserDataParser()
            let fragment = parser.parse(chunkType: 0x10, value: value[0..<length])
            if length < headerEnd {
                #expect(fragment == nil, "cut at \(length)")
            } else {
                #expect(fragment?.data == Array(value[headerEnd..<length]), "cut at \(length)")
            }
        }
    }

    @Test func userDataRoundTripsThroughTheEncoder() throws {
        let fragment = RTMFPUserData(flowID: 0x4000, sequenceNumber: 1_000_000, forwardSequenceNumber: 999_000,
                                     fragmentControl: .middle, hasOptions: true, metadata: [1, 2, 3],
                                     returnFlowAssociation: 0x3FFF, data: Array(0..<200))
        var parser = RTMFPUserDataParser()
        #expect(parser.parse(chunkType: 0x10, value: fragment.encodedValue(asNext: false)[...]) == fragment)
        var next = fragment
        next.sequenceNumber += 1
        next.hasOptions = false
        next.metadata = nil
        next.returnFlowAssociation = nil
        #expect(parser.parse(chunkType: 0x11, value: next.encodedValue(asNext: true)[...]) == next)
    }

    @Test func rangesAcknowledgementMatchesAHandMadeVector() throws {
        // flow 2, 0x7F blocks, cumulative 5, then 6–7 missing, 8–9 received, 10–11 missing, 12 received.
        let value: [UInt8] = [0x02, 0x7F, 0x05, 0x01, 0x01, 0x01, 0x00]
        let ack = try #require(RTMFPAck.parse(chunkType: 0x51, value: value[...]))
        #expect(ack == RTMFPAck(flowID: 2, bufferBlocksAvailable: 0x7F, cumulativeAck: 5, receivedRanges: [8...9, 12...12]))
        #expect(ack.bufferBytesAvailable == 0x7F * 1024)
        #expect(ack.encodedRanges() == value)
    }

    @Test func bitmapAcknowledgementStartsTwoAboveTheCumulativeAtBitZero() throws {
        // Bits 1, 2 and 5 → cumulative + 3, + 4, + 7 = 8, 9, 12; a second byte with bit 0 → 15.
        let value: [UInt8] = [0x02, 0x7F, 0x05, 0x26, 0x01]
        let ack = try #require(RTMFPAck.parse(chunkType: 0x50, value: value[...]))
        #expect(ack.cumulativeAck == 5)
        #expect(ack.receivedRanges == [8...9, 12...12, 15...15])
        #expect(RTMFPAck.parseBitmap([0x02, 0x00, 0x05, 0xFF, 0x80][...])?.receivedRanges == [7...14, 22...22])
        #expect(RTMFPAck.parseBitmap([0x02, 0x00][...]) == nil)
    }

    @Test func rangesAcknowledgementTruncatesToFit() {
        let ack = RTMFPAck(flowID: 1, bufferBlocksAvailable: 4, cumulativeAck: 10,
                           receivedRanges: [12...13, 20...20, 30...40])
        let full = ack.encodedRanges()
        #expect(full == [0x01, 0x04, 0x0A, 0x00, 0x01, 0x05, 0x00, 0x08, 0x0A])
        #expect(ack.encodedRanges(maxSize: 8) == Array(full?.prefix(7) ?? []))
        #expect(ack.encodedRanges(maxSize: 3) == [0x01, 0x04, 0x0A])
        #expect(ack.encodedRanges(maxSize: 2) == nil)
    }

    @Test func everyTruncationOfAnAckIsNilOrAShorterRangeList() throws {
        let value: [UInt8] = [0x02, 0x81, 0x00, 0x05, 0x01, 0x81, 0x01, 0x01, 0x00]
        let full = try #require(RTMFPAck.parseRanges(value[...]))
        #expect(full.receivedRanges == [8...137, 140...140])
        for length in 0..<value.count {
            let ack = RTMFPAck.parseRanges(value[0..<length])
            switch length {
            case 0..<4, 5, 6, 8: #expect(ack == nil, "cut at \(length)")
            case 4: #expect(ack?.receivedRanges == [], "cut at \(length)")
            default: #expect(ack?.receivedRanges == [8...137], "cut at \(length)")
            }
        }
    }

    @Test func acknowledgementRangesThatOverflowAreRefused() {
        var value: [UInt8] = [0x01, 0x00]
        value.appendVLU(UInt64.max - 1)
        value += [0x00, 0x00]
        #expect(RTMFPAck.parseRanges(value[...]) == nil)
        var bitmap: [UInt8] = [0x01, 0x00]
        bitmap.appendVLU(UInt64.max - 3)
        bitmap.append(0x01)
        #expect(RTMFPAck.parseBitmap(bitmap[...]) == nil)
    }

    @Test func bufferProbeAndExceptionRoundTripAndRefuseTruncation() throws {
        #expect(RTMFPBufferProbe.encode(flowID: 0x81) == [0x81, 0x01])
        #expect(RTMFPBufferProbe.parse([0x81, 0x01][...]) == 0x81)
        #expect(RTMFPBufferProbe.parse([0x81][...]) == nil)
        #expect(RTMFPBufferProbe.parse([][...]) == nil)
        let exception = RTMFPFlowException(flowID: 0x1234, code: 0)
        #expect(exception.encodedValue == [0xA4, 0x34, 0x00])
        #expect(RTMFPFlowException.parse(exception.encodedValue[...]) == exception)
        for length in 0..<exception.encodedValue.count {
            #expect(RTMFPFlowException.parse(exception.encodedValue[0..<length]) == nil)
        }
    }

    @Test func randomBytesNeverTrapAnyParser() {
        var random = FlowTestRandom(seed: 7)
        for _ in 0..<20_000 {
            let length = Int(random.next() % 40)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var parser = RTMFPUserDataParser()
            _ = parser.parse(chunkType: 0x10, value: bytes[...])
            _ = parser.parse(chunkType: 0x11, value: bytes[...])
            _ = RTMFPAck.parse(chunkType: 0x50, value: bytes[...])
            _ = RTMFPAck.parse(chunkType: 0x51, value: bytes[...])
            _ = RTMFPBufferProbe.parse(bytes[...])
            _ = RTMFPFlowException.parse(bytes[...])
        }
    }
}
