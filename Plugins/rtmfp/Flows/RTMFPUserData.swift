// The User Data (0x10) and Next User Data (0x11) chunks that carry flow fragments (RFC 7016 §2.3.11,
// §2.3.12).
//
// 0x10 = flags | flowID VLU | sequence number VLU | fsnOffset VLU | [options] | fragment bytes.
// 0x11 = flags | [options] | fragment bytes, continuing the most recent 0x10/0x11 of the same packet: same
// flow, sequence number + 1, fsnOffset + 1 (so the same forward sequence number). Chunks of other types in
// between do not break that context; a new packet does, hence `RTMFPUserDataParser.reset()` per packet.
// Options are `VLU length | VLU type | value` records ended by a zero length (the RFC 7016 option list).

/// Flag bits of a User Data chunk (RFC 7016 §2.3.11).
enum RTMFPUserDataFlag {
    /// An option list follows the header.
    static let optionsPresent: UInt8 = 0x80
    /// The two fragment-control bits (`RTMFPFragmentControl`).
    static let fragmentControlMask: UInt8 = 0x30
    /// The fragment was abandoned by its sender: it carries no data and only fills its sequence number.
    static let abandon: UInt8 = 0x02
    /// The last fragment of the flow.
    static let final: UInt8 = 0x01
}

/// Where a fragment sits in its message (RFC 7016 §2.3.11 fragmentControl; MonaServer calls begin
/// "with afterpart" and end "with beforepart").
enum RTMFPFragmentControl: UInt8, Sendable {
    /// The whole message.
    case whole = 0x00
    /// The first fragment of a message; more follow.
    case begin = 0x10
    /// The last fragment of a message.
    case end = 0x20
    /// A fragment between the first and the last.
    case middle = 0x30
}

/// Option types of a User Data chunk (RFC 7016 §2.3.11).
enum RTMFPUserDataOptionType {
    /// The flow's metadata (the Flash "signature", RFC 7425).
    static let userMetadata: UInt64 = 0x00
    /// The sender's receive flow this flow answers (a VLU flow id).
    static let returnFlowAssociation: UInt64 = 0x0A
}

/// An option of a type this layer does not interpret, kept for the session.
struct RTMFPUserDataOption: Equatable, Sendable {
    let type: UInt64
    let value: [UInt8]
}

/// One fragment of a flow, as a User Data or Next User Data chunk carries it.
struct RTMFPUserData: Equatable, Sendable {
    /// Sequence numbers above this are refused on parsing, so `sequenceNumber + 1` never overflows anywhere.
    static let maxSequenceNumber: UInt64 = 1 << 62

    var flowID: UInt64
    var sequenceNumber: UInt64
    /// `sequenceNumber − fsnOffset`: the sender will never (re)transmit anything at or below it.
    var forwardSequenceNumber: UInt64
    var fragmentControl: RTMFPFragmentControl
    var isAbandoned = false
    var isFinal = false
    /// True when the chunk has (or is to carry) an option list, even an empty one.
    var hasOptions = false
    /// Option 0x00, the flow's metadata.
    var metadata: [UInt8]?
    /// Option 0x0A, the receive flow of the other end this flow answers.
    var returnFlowAssociation: UInt64?
    /// Options of other types, in order.
    var otherOptions: [RTMFPUserDataOption] = []
    /// The fragment's bytes.
    var data: [UInt8]

    /// The flags byte.
    var flags: UInt8 {
        fragmentControl.rawValue
            | (hasOptions ? RTMFPUserDataFlag.optionsPresent : 0)
            | (isAbandoned ? RTMFPUserDataFlag.abandon : 0)
            | (isFinal ? RTMFPUserDataFlag.final : 0)
    }

    /// The chunk value (without the 3-byte chunk header): a Next User Data chunk when `asNext`, which is
    /// only valid right after the chunk of sequence number − 1 with the same forward sequence number.
    func encodedValue(asNext: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + data.count)
        bytes.append(flags)
        if !asNext {
            bytes.appendVLU(flowID)
            bytes.appendVLU(sequenceNumber)
            bytes.appendVLU(sequenceNumber - min(forwardSequenceNumber, sequenceNumber))
        }
        if hasOptions { bytes.append(contentsOf: encodedOptions) }
        bytes.append(contentsOf: data)
        return bytes
    }

    /// The size of a chunk value's flags and numbers (no options, no data).
    static func headerSize(flowID: UInt64, sequenceNumber: UInt64, forwardSequenceNumber: UInt64,
                           asNext: Bool) -> Int {
        guard !asNext else { return 1 }
        return 1 + RTMFPVLU.size(flowID) + RTMFPVLU.size(sequenceNumber)
            + RTMFPVLU.size(sequenceNumber - min(forwardSequenceNumber, sequenceNumber))
    }

    /// The option list with its zero-length terminator.
    var encodedOptions: [UInt8] {
        Self.encodeOptions(metadata: metadata, returnFlowAssociation: returnFlowAssociation,
                           others: otherOptions)
    }

    /// An option list: metadata, then the return association, then `others`, then the terminator.
    static func encodeOptions(metadata: [UInt8]?, returnFlowAssociation: UInt64?,
                              others: [RTMFPUserDataOption] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        if let metadata { appendOption(type: RTMFPUserDataOptionType.userMetadata, value: metadata, to: &bytes) }
        if let returnFlowAssociation {
            var value: [UInt8] = []
            value.appendVLU(returnFlowAssociation)
            appendOption(type: RTMFPUserDataOptionType.returnFlowAssociation, value: value, to: &bytes)
        }
        for option in others { appendOption(type: option.type, value: option.value, to: &bytes) }
        bytes.append(0)
        return bytes
    }

    private static func appendOption(type: UInt64, value: [UInt8], to bytes: inout [UInt8]) {
        bytes.appendVLU(UInt64(RTMFPVLU.size(type) + value.count))
        bytes.appendVLU(type)
        bytes.append(contentsOf: value)
    }
}

/// Parses the User Data and Next User Data chunks of one packet, remembering the context a Next User Data
/// chunk continues. Call `reset()` before each packet.
struct RTMFPUserDataParser {
    /// The flow, sequence number and forward sequence number of the last fragment parsed in this packet.
    private var previous: (flowID: UInt64, sequenceNumber: UInt64, forwardSequenceNumber: UInt64)?

    init() {}

    /// Forgets the context (a new packet starts).
    mutating func reset() { previous = nil }

    /// The fragment of a 0x10 or 0x11 chunk value; nil for another type, a malformed or truncated chunk,
    /// an fsnOffset above the sequence number, a sequence number above `RTMFPUserData.maxSequenceNumber`,
    /// or a 0x11 with nothing before it in the packet. A chunk that fails leaves the context unchanged.
    mutating func parse(chunkType: UInt8, value: ArraySlice<UInt8>) -> RTMFPUserData? {
        var reader = RTMFPReader(value)
        guard let flags = reader.u8() else { return nil }
        let flowID: UInt64
        let sequenceNumber: UInt64
        let forwardSequenceNumber: UInt64
        switch chunkType {
        case RTMFPFlowChunkType.userData:
            guard let flow = reader.vlu(), let sequence = reader.vlu(), let offset = reader.vlu(),
                  sequence <= RTMFPUserData.maxSequenceNumber, offset <= sequence else { return nil }
            flowID = flow
            sequenceNumber = sequence
            forwardSequenceNumber = sequence - offset
        case RTMFPFlowChunkType.nextUserData:
            guard let previous, previous.sequenceNumber < RTMFPUserData.maxSequenceNumber else { return nil }
            flowID = previous.flowID
            sequenceNumber = previous.sequenceNumber + 1
            forwardSequenceNumber = previous.forwardSequenceNumber
        default:
            return nil
        }
        let control = RTMFPFragmentControl(rawValue: flags & RTMFPUserDataFlag.fragmentControlMask) ?? .whole
        var fragment = RTMFPUserData(flowID: flowID, sequenceNumber: sequenceNumber,
                                     forwardSequenceNumber: forwardSequenceNumber, fragmentControl: control,
                                     isAbandoned: flags & RTMFPUserDataFlag.abandon != 0,
                                     isFinal: flags & RTMFPUserDataFlag.final != 0,
                                     hasOptions: flags & RTMFPUserDataFlag.optionsPresent != 0, data: [])
        if fragment.hasOptions {
            guard Self.parseOptions(&reader, into: &fragment) else { return nil }
        }
        fragment.data = Array(reader.rest())
        previous = (flowID, sequenceNumber, forwardSequenceNumber)
        return fragment
    }

    /// Reads the option list up to its terminator into `fragment`; false when malformed or truncated.
    private static func parseOptions(_ reader: inout RTMFPReader, into fragment: inout RTMFPUserData) -> Bool {
        while true {
            guard let length = reader.length() else { return false }
            if length == 0 { return true }
            guard let body = reader.bytes(length) else { return false }
            var option = RTMFPReader(body)
            guard let type = option.vlu() else { return false }
            let value = option.rest()
            switch type {
            case RTMFPUserDataOptionType.userMetadata:
                fragment.metadata = Array(value)
            case RTMFPUserDataOptionType.returnFlowAssociation:
                var association = RTMFPReader(value)
                guard let flow = association.vlu() else { return false }
                fragment.returnFlowAssociation = flow
            default:
                fragment.otherOptions.append(RTMFPUserDataOption(type: type, value: Array(value)))
            }
        }
    }
}
