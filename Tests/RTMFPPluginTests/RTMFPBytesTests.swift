import Testing
@testable import RTMFPPlugin

/// The VLU and the bounded reader every RTMFP parser stands on.
@Suite struct RTMFPBytesTests {
    @Test func vluRoundTripsAtEveryGroupBoundary() {
        let values: [UInt64] = [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1F_FFFF, 0x20_0000, UInt64(UInt32.max), UInt64.max]
        for value in values {
            var bytes: [UInt8] = []
            bytes.appendVLU(value)
            #expect(bytes.count == RTMFPVLU.size(value))
            var reader = RTMFPReader(bytes)
            #expect(reader.vlu() == value)
            #expect(reader.atEnd)
        }
    }

    @Test func vluEncodingMatchesTheRFC() {
        var bytes: [UInt8] = []
        bytes.appendVLU(0x80)
        #expect(bytes == [0x81, 0x00])
        bytes = []
        bytes.appendVLU(300)
        #expect(bytes == [0x82, 0x2C])
    }

    @Test func truncatedAndOverlongReadsFailWithoutMoving() {
        var reader = RTMFPReader([0x81, 0x82])
        #expect(reader.vlu() == nil)
        #expect(reader.position == 0)
        var long = RTMFPReader([UInt8](repeating: 0xFF, count: 11) + [0x01])
        #expect(long.vlu() == nil)
        var short = RTMFPReader([0x01, 0x02, 0x03])
        #expect(short.u32() == nil)
        #expect(short.u16() == 0x0102)
        #expect(short.bytes(2) == nil)
        #expect(short.u8() == 0x03)
        #expect(short.u8() == nil)
        var huge = RTMFPReader([0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(huge.length() == nil)
        #expect(huge.position == 0)
    }
}
