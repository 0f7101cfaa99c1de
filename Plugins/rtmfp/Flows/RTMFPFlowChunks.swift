// The flow-control chunks around user data (RFC 7016 §2.3.13–§2.3.17): acknowledgements (0x50 bitmap,
// 0x51 ranges), the buffer probe (0x18) and the flow exception report (0x5E). Values only: the 3-byte
// chunk header (type, length) is the packet layer's.

/// The chunk types of the flow layer.
enum RTMFPFlowChunkType {
    static let userData: UInt8 = 0x10
    static let nextUserData: UInt8 = 0x11
    static let bufferProbe: UInt8 = 0x18
    static let ackBitmap: UInt8 = 0x50
    static let ackRanges: UInt8 = 0x51
    static let flowException: UInt8 = 0x5E
    /// The type and length bytes before every chunk value.
    static let headerSize = 3
}

/// A data acknowledgement: what a receiver holds of one flow and how much more it can buffer.
struct RTMFPAck: Equatable, Sendable {
    /// Bytes in one `bufferBlocksAvailable` unit.
    static let blockSize: UInt64 = 1024

    var flowID: UInt64
    /// Room left in the receiver's buffer, in 1024-byte blocks.
    var bufferBlocksAvailable: UInt64
    /// Every sequence number up to this one was received (or will never come).
    var cumulativeAck: UInt64
    /// Sequence numbers received above `cumulativeAck + 1`: ascending, disjoint and separated by holes.
    var receivedRanges: [ClosedRange<UInt64>] = []

    /// `bufferBlocksAvailable` in bytes, saturating.
    var bufferBytesAvailable: UInt64 {
        let (bytes, overflow) = bufferBlocksAvailable.multipliedReportingOverflow(by: Self.blockSize)
        return overflow ? .max : bytes
    }

    /// A 0x50 or 0x51 chunk value; nil for another type or a malformed chunk.
    static func parse(chunkType: UInt8, value: ArraySlice<UInt8>) -> RTMFPAck? {
        switch chunkType {
        case RTMFPFlowChunkType.ackRanges: parseRanges(value)
        case RTMFPFlowChunkType.ackBitmap: parseBitmap(value)
        default: nil
        }
    }

    /// A Data Acknowledgement Ranges chunk value (0x51): header, then `(holes − 1, received − 1)` VLU pairs.
    /// A list cut between pairs is a valid (truncated) acknowledgement; a pair cut in half, or ranges that
    /// overflow 64 bits, make the chunk malformed (nil).
    static func parseRanges(_ value: ArraySlice<UInt8>) -> RTMFPAck? {
        var reader = RTMFPReader(value)
        guard var ack = parseHeader(&reader) else { return nil }
        var cursor = ack.cumulativeAck
        while !reader.atEnd {
            guard let holesMinusOne = reader.vlu(), let receivedMinusOne = reader.vlu() else { return nil }
            let (afterCursor, overflow1) = cursor.addingReportingOverflow(2)
            let (from, overflow2) = afterCursor.addingReportingOverflow(holesMinusOne)
            let (to, overflow3) = from.addingReportingOverflow(receivedMinusOne)
            guard !overflow1, !overflow2, !overflow3 else { return nil }
            ack.receivedRanges.append(from...to)
            cursor = to
        }
        return ack
    }

    /// A Data Acknowledgement Bitmap chunk value (0x50): header, then bytes whose bit 0 (least significant)
    /// of the first byte stands for `cumulativeAck + 2`, bit 1 for `+ 3`, and so on (`+ 1` is missing by
    /// definition).
    static func parseBitmap(_ value: ArraySlice<UInt8>) -> RTMFPAck? {
        var reader = RTMFPReader(value)
        guard var ack = parseHeader(&reader) else { return nil }
        let bitmap = reader.rest()
        guard !bitmap.isEmpty else { return ack }
        let (first, overflow1) = ack.cumulativeAck.addingReportingOverflow(2)
        let (_, overflow2) = first.addingReportingOverflow(UInt64(bitmap.count) * 8)
        guard !overflow1, !overflow2 else { return nil }
        var runStart: UInt64?
        var sequence = first
        for byte in bitmap {
            for bit in 0..<8 {
                if byte & (1 << bit) != 0 {
                    if runStart == nil { runStart = sequence }
                } else if let start = runStart {
                    ack.receivedRanges.append(start...(sequence - 1))
                    runStart = nil
                }
                sequence += 1
            }
        }
        if let start = runStart { ack.receivedRanges.append(start...(sequence - 1)) }
        return ack
    }

    private static func parseHeader(_ reader: inout RTMFPReader) -> RTMFPAck? {
        guard let flowID = reader.vlu(), let blocks = reader.vlu(), let cumulative = reader.vlu() else { return nil }
        return RTMFPAck(flowID: flowID, bufferBlocksAvailable: blocks, cumulativeAck: cumulative)
    }

    /// The 0x51 chunk value, its range list truncated (highest ranges dropped first) to keep the value at
    /// most `maxSize` bytes; nil when even the header does not fit.
    func encodedRanges(maxSize: Int = .max) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.appendVLU(flowID)
        bytes.appendVLU(bufferBlocksAvailable)
        bytes.appendVLU(cumulativeAck)
        guard bytes.count <= maxSize else { return nil }
        var cursor = cumulativeAck
        for range in receivedRanges {
            // Skips what the wire cannot express (a range not above the previous one plus a hole).
            guard cursor < UInt64.max - 1, range.lowerBound >= cursor + 2 else { break }
            let holesMinusOne = range.lowerBound - cursor - 2
            let receivedMinusOne = range.upperBound - range.lowerBound
            guard bytes.count + RTMFPVLU.size(holesMinusOne) + RTMFPVLU.size(receivedMinusOne) <= maxSize else { break }
            bytes.appendVLU(holesMinusOne)
            bytes.appendVLU(receivedMinusOne)
            cursor = range.upperBound
        }
        return bytes
    }
}

/// The Buffer Probe chunk (0x18): a sender asks for a fresh acknowledgement of one of its flows.
enum RTMFPBufferProbe {
    /// The probed flow id; nil when truncated.
    static func parse(_ value: ArraySlice<UInt8>) -> UInt64? {
        var reader = RTMFPReader(value)
        return reader.vlu()
    }

    static func encode(flowID: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendVLU(flowID)
        return bytes
    }
}

/// The Flow Exception Report chunk (0x5E): the receiver refuses or stops one of the sender's flows.
struct RTMFPFlowException: Equatable, Sendable {
    var flowID: UInt64
    /// Application-defined; Flash and MonaServer send 0.
    var code: UInt64

    /// nil when truncated.
    static func parse(_ value: ArraySlice<UInt8>) -> RTMFPFlowException? {
        var reader = RTMFPReader(value)
        guard let flowID = reader.vlu(), let code = reader.vlu() else { return nil }
        return RTMFPFlowException(flowID: flowID, code: code)
    }

    var encodedValue: [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendVLU(flowID)
        bytes.appendVLU(code)
        return bytes
    }
}
