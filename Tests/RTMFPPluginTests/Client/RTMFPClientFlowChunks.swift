// The test client's flow chunks (RFC 7016 §2.3.11-2.3.17): User Data and Next User Data,
// acknowledgement ranges, buffer probe, flow exception report.

extension RTMFPTestClient {
    /// The flags byte of a User Data chunk (RFC 7016 §2.3.11).
    enum FragmentFlag {
        /// An option list follows the fragment header.
        static let options: UInt8 = 0x80
        /// The two bits that place the fragment in its message.
        static let positionMask: UInt8 = 0x30
        /// A whole message.
        static let whole: UInt8 = 0x00
        /// The first fragment; more follow.
        static let begin: UInt8 = 0x10
        /// The last fragment of a message begun earlier.
        static let end: UInt8 = 0x20
        /// A fragment with others before and after.
        static let middle: UInt8 = 0x30
        /// The sequence number is abandoned (no data).
        static let abandon: UInt8 = 0x02
        /// The last sequence number of the flow.
        static let final: UInt8 = 0x01
    }

    /// User data option types (RFC 7016 §2.3.11.1).
    enum UserDataOption {
        /// The per-flow metadata (the Flash signature, RFC 7425 §5.1).
        static let metadata: UInt64 = 0x00
        /// The flow this one answers (a receive flow of the sender, i.e. one of ours).
        static let returnAssociation: UInt64 = 0x0A
    }

    /// One fragment of a flow, as User Data (0x10) or Next User Data (0x11) carries it.
    struct UserData: Equatable {
        var flowID: UInt64
        var sequence: UInt64
        /// `sequence` minus the sender's forward sequence number (what it will not send again).
        var fsnOffset: UInt64
        /// The flags byte (position, abandon, final; the options bit follows `options`).
        var flags: UInt8
        var options: [Option]
        var data: [UInt8]

        /// Creates a fragment.
        init(flowID: UInt64, sequence: UInt64, fsnOffset: UInt64, flags: UInt8, options: [Option] = [], data: [UInt8]) {
            self.flowID = flowID
            self.sequence = sequence
            self.fsnOffset = fsnOffset
            self.flags = flags
            self.options = options
            self.data = data
        }

        /// The flags byte as sent: the options bit set exactly when options are present.
        var wireFlags: UInt8 {
            options.isEmpty ? flags & ~FragmentFlag.options : flags | FragmentFlag.options
        }

        private var optionBytes: [UInt8] {
            options.isEmpty ? [] : options.flatMap(\.encoded) + [0]
        }

        /// User Data (0x10): `flags | VLU flowID | VLU sequence | VLU fsnOffset | [options, 0] | data`.
        var chunk: Chunk {
            Chunk(ChunkType.userData, [wireFlags] + Wire.vlu(flowID) + Wire.vlu(sequence) + Wire.vlu(fsnOffset) + optionBytes + data)
        }

        /// Next User Data (0x11), for a fragment that follows one of the same flow in the same
        /// packet with the next sequence number: `flags | [options, 0] | data`.
        var nextChunk: Chunk {
            Chunk(ChunkType.nextUserData, [wireFlags] + optionBytes + data)
        }

        /// The metadata option's value.
        var metadata: [UInt8]? {
            options.first { $0.type == UserDataOption.metadata }?.value
        }

        /// The return association option's flow ID.
        var returnAssociation: UInt64? {
            guard let value = options.first(where: { $0.type == UserDataOption.returnAssociation })?.value else { return nil }
            var reader = Reader(value)
            return reader.vlu()
        }

        /// Parses a User Data (0x10) value; nil when malformed.
        init?(userData value: [UInt8]) {
            var reader = Reader(value)
            guard let flags = reader.u8(), let flowID = reader.vlu(), let sequence = reader.vlu(),
                  let fsnOffset = reader.vlu() else { return nil }
            var options: [Option] = []
            if flags & FragmentFlag.options != 0 {
                guard let list = Option.markedList(&reader) else { return nil }
                options = list
            }
            self.init(flowID: flowID, sequence: sequence, fsnOffset: fsnOffset, flags: flags, options: options,
                      data: reader.rest())
        }

        /// Parses a Next User Data (0x11) value that follows `previous`; nil when malformed.
        init?(nextUserData value: [UInt8], after previous: UserData) {
            var reader = Reader(value)
            guard let flags = reader.u8(), previous.sequence < UInt64.max, previous.fsnOffset < UInt64.max else { return nil }
            var options: [Option] = []
            if flags & FragmentFlag.options != 0 {
                guard let list = Option.markedList(&reader) else { return nil }
                options = list
            }
            self.init(flowID: previous.flowID, sequence: previous.sequence + 1, fsnOffset: previous.fsnOffset + 1,
                      flags: flags, options: options, data: reader.rest())
        }
    }

    /// A run of missing then received sequence numbers after the cumulative point of an ack.
    struct AckRange: Equatable {
        /// How many sequence numbers are missing (at least 1).
        var holes: UInt64
        /// How many are received after them (at least 1).
        var received: UInt64
    }

    /// Data Acknowledgement Ranges (0x51): `VLU flowID | VLU bufferBlocksAvailable | VLU cumulativeAck |
    /// (VLU holesMinusOne, VLU receivedMinusOne)*`.
    struct Acknowledgement: Equatable {
        var flowID: UInt64
        /// Free receive buffer, in 1024-byte blocks.
        var bufferBlocks: UInt64
        /// Every sequence number up to this one is received (or abandoned).
        var cumulative: UInt64
        var ranges: [AckRange]

        /// Creates an acknowledgement.
        init(flowID: UInt64, bufferBlocks: UInt64, cumulative: UInt64, ranges: [AckRange] = []) {
            self.flowID = flowID
            self.bufferBlocks = bufferBlocks
            self.cumulative = cumulative
            self.ranges = ranges
        }

        /// The 0x51 chunk.
        var chunk: Chunk {
            var value = Wire.vlu(flowID) + Wire.vlu(bufferBlocks) + Wire.vlu(cumulative)
            for range in ranges {
                value += Wire.vlu(range.holes - 1) + Wire.vlu(range.received - 1)
            }
            return Chunk(ChunkType.ackRanges, value)
        }

        /// True when the ack reports `sequence` received.
        func covers(_ sequence: UInt64) -> Bool {
            if sequence <= cumulative { return true }
            var position = cumulative
            for range in ranges {
                let (lastHole, overflow) = position.addingReportingOverflow(range.holes)
                if overflow || sequence <= lastHole { return false }
                if sequence - lastHole <= range.received { return true }
                position = lastHole + range.received // below `sequence`, so no overflow
            }
            return false
        }

        /// Parses a 0x51 value; nil when malformed.
        init?(_ value: [UInt8]) {
            var reader = Reader(value)
            guard let flowID = reader.vlu(), let buffer = reader.vlu(), let cumulative = reader.vlu() else { return nil }
            var ranges: [AckRange] = []
            while !reader.atEnd {
                guard let holes = reader.vlu(), let received = reader.vlu(), holes < UInt64.max, received < UInt64.max else {
                    return nil
                }
                ranges.append(AckRange(holes: holes + 1, received: received + 1))
            }
            self.init(flowID: flowID, bufferBlocks: buffer, cumulative: cumulative, ranges: ranges)
        }
    }

    /// A flow exception report (0x5E): `VLU flowID | VLU exception code`.
    struct FlowException: Equatable {
        var flowID: UInt64
        var code: UInt64

        /// Creates a report.
        init(flowID: UInt64, code: UInt64) {
            self.flowID = flowID
            self.code = code
        }

        /// Parses a 0x5E value; nil when malformed.
        init?(_ value: [UInt8]) {
            var reader = Reader(value)
            guard let flowID = reader.vlu(), let code = reader.vlu() else { return nil }
            self.init(flowID: flowID, code: code)
        }

        /// The 0x5E chunk.
        var chunk: Chunk {
            Chunk(ChunkType.flowException, Wire.vlu(flowID) + Wire.vlu(code))
        }
    }
}
