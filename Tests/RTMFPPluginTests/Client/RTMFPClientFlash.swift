import MonaCodecs
import MonaValues

// The test client's Flash layer (RFC 7425 §5, protocols.md §2.6-2.8 and §3.6-3.8): flow metadata,
// the `type | time | payload` messages of flows, and the records of what the server sent.

extension RTMFPTestClient {
    /// What a flow carries, from its metadata (RFC 7425 §5.1.1).
    enum FlowKind: Equatable {
        /// A NetConnection (stream 0) or NetStream flow: `'T' 'C' flags VLU(streamID)`.
        case stream(UInt64)
        /// A NetGroup flow: metadata starting `'G' 'C'`.
        case group
        /// Anything else.
        case unknown

        /// The kind `metadata` names.
        init(metadata: [UInt8]) {
            if metadata.starts(with: [0x47, 0x43]) {
                self = .group
                return
            }
            var reader = Reader(metadata)
            guard reader.u8() == 0x54, reader.u8() == 0x43, let flags = reader.u8(), flags & FlowKind.streamIDPresent != 0,
                  let stream = reader.vlu() else {
                self = .unknown
                return
            }
            self = .stream(stream)
        }

        /// The TC flag that says a stream ID follows.
        static let streamIDPresent: UInt8 = 0x04

        /// The metadata of a NetConnection (`stream` 0) or NetStream flow, original order.
        static func metadata(stream: UInt64) -> [UInt8] {
            [0x54, 0x43, streamIDPresent] + Wire.vlu(stream)
        }
    }

    /// Flash message types (RTMP numbering).
    enum MessageType {
        static let userControl: UInt8 = 0x04
        static let audio: UInt8 = 0x08
        static let video: UInt8 = 0x09
        static let amf3Data: UInt8 = 0x0F
        static let amf3Command: UInt8 = 0x11
        static let amf0Data: UInt8 = 0x12
        static let amf0Command: UInt8 = 0x14
        /// The NetGroup join message (raw, no timestamp).
        static let groupJoin: UInt8 = 0x01
        /// The NetGroup member message the server sends (raw: `0x0B | 32-byte peer ID`).
        static let groupMember: UInt8 = 0x0B
    }

    /// A flow message: `type(1) | time(32, BE) | payload`, types 0x0F and 0x11 with one 0x00 byte
    /// before their AMF0 payload.
    struct FlashMessage: Equatable {
        var type: UInt8
        var time: UInt32
        var payload: [UInt8]

        /// Creates a message.
        init(type: UInt8, time: UInt32, payload: [UInt8]) {
            self.type = type
            self.time = time
            self.payload = payload
        }

        /// The wire form.
        var encoded: [UInt8] {
            let marker: [UInt8] = type == MessageType.amf3Data || type == MessageType.amf3Command ? [0] : []
            return [type] + Wire.u32(time) + marker + payload
        }

        /// Parses a flow message; nil when too short.
        init?(_ bytes: [UInt8]) {
            var reader = Reader(bytes)
            guard let type = reader.u8(), let time = reader.u32() else { return nil }
            if type == MessageType.amf3Data || type == MessageType.amf3Command {
                guard reader.u8() != nil else { return nil }
            }
            self.init(type: type, time: time, payload: reader.rest())
        }

        /// An AMF0 command: `name, transaction, null, arguments…` (type 0x14, time 0).
        static func command(_ name: String, transaction: Double, arguments: [MonaValue]) -> FlashMessage {
            let values: [MonaValue] = [.string(name), .number(transaction), .nil] + arguments
            return FlashMessage(type: MessageType.amf0Command, time: 0, payload: AMF.encode(values, mode: .amf0).bytes)
        }

        /// The NetGroup join message of protocols.md §3.8: `0x01 | VLU(n + 1) | 0x10 | specifier(n)`.
        static func groupJoin(specifier: [UInt8]) -> [UInt8] {
            [MessageType.groupJoin] + Wire.vlu(UInt64(specifier.count) + 1) + [0x10] + specifier
        }
    }

    /// An invocation the server sent (a command message).
    struct Invocation: Equatable {
        /// The stream of the flow it came on (0: NetConnection).
        var stream: UInt64
        /// The server flow it came on.
        var flowID: UInt64
        var name: String
        var transaction: Double
        var commandObject: MonaValue
        var arguments: [MonaValue]
    }

    /// A status object the server sent (`onStatus`, or the info object of `_result`/`_error`).
    struct Status: Equatable {
        var stream: UInt64
        /// The invocation that carried it: "onStatus", "_result" or "_error".
        var invocation: String
        var level: String
        var code: String
        var description: String
        /// The whole info object.
        var info: MonaValue
    }

    /// An audio or video message the server sent.
    struct Media: Equatable {
        var stream: UInt64
        var type: UInt8
        var time: UInt32
        var payload: [UInt8]
    }

    /// A data message (0x12/0x0F) the server sent, decoded.
    struct DataMessage: Equatable {
        var stream: UInt64
        var time: UInt32
        var values: [MonaValue]
    }

    /// A user control message (type 0x04): `event(16) | payload`.
    struct UserControl: Equatable {
        var stream: UInt64
        var event: UInt16
        var payload: [UInt8]
    }

    /// The answer to a transaction.
    enum Reply: Equatable {
        /// `_result`: the values after the command object.
        case result([MonaValue])
        /// `_error`: the values after the command object.
        case error([MonaValue])
    }

    /// The Flash layer's bookkeeping and its records of what the server sent, for tests to read.
    struct FlashRecords {
        /// Every invocation, in arrival order.
        var invocations: [Invocation] = []
        /// Every status object, in arrival order.
        var statuses: [Status] = []
        /// Replies by transaction number.
        var replies: [Double: Reply] = [:]
        /// Audio and video, in arrival order.
        var media: [Media] = []
        /// Data messages, in arrival order.
        var data: [DataMessage] = []
        /// User control messages, in arrival order.
        var userControls: [UserControl] = []
        /// Peer IDs the server handed out on NetGroup flows (0x0B messages), in arrival order.
        var groupPeerIDs: [[UInt8]] = []
        /// Messages nothing above matched (or AMF could not decode), with their flow.
        var unhandled: [(flowID: UInt64, bytes: [UInt8])] = []
        /// True once `connect` got NetConnection.Connect.Success.
        var connected = false
        /// The next transaction number `call` uses (1 is `connect`'s).
        var nextTransaction: Double = 2
        /// The client's NetConnection flow.
        var netConnectionFlow: UInt64?
        /// The client's flow for each stream.
        var streamFlows: [UInt64: UInt64] = [:]
        /// The client's NetGroup flows.
        var groupFlows: Set<UInt64> = []
        /// The server flow that answers the client's NetConnection flow.
        var serverNetConnectionFlow: UInt64?

        /// Records one message of a server flow of `kind`.
        mutating func deliver(_ bytes: [UInt8], flowID: UInt64, kind: FlowKind) {
            guard !bytes.isEmpty else { return } // the empty final fragment of a closing flow
            switch kind {
            case .group:
                if bytes.count == 33, bytes[0] == MessageType.groupMember {
                    groupPeerIDs.append(Array(bytes[1...]))
                } else {
                    unhandled.append((flowID, bytes))
                }
            case .stream(let stream):
                guard let message = FlashMessage(bytes), deliver(message, stream: stream, flowID: flowID) else {
                    unhandled.append((flowID, bytes))
                    return
                }
            case .unknown:
                unhandled.append((flowID, bytes))
            }
        }

        /// Records a Flash message; false when its type is unknown or its payload undecodable.
        private mutating func deliver(_ message: FlashMessage, stream: UInt64, flowID: UInt64) -> Bool {
            switch message.type {
            case MessageType.amf0Command, MessageType.amf3Command:
                guard let values = try? AMF.decode(message.payload), values.count >= 2,
                      case .string(let name) = values[0], case .number(let transaction) = values[1] else { return false }
                let invocation = Invocation(stream: stream, flowID: flowID, name: name, transaction: transaction,
                                            commandObject: values.count > 2 ? values[2] : .nil,
                                            arguments: Array(values.dropFirst(3)))
                record(invocation)
            case MessageType.amf0Data, MessageType.amf3Data:
                guard let values = try? AMF.decode(message.payload) else { return false }
                data.append(DataMessage(stream: stream, time: message.time, values: values))
            case MessageType.audio, MessageType.video:
                media.append(Media(stream: stream, type: message.type, time: message.time, payload: message.payload))
            case MessageType.userControl:
                var reader = Reader(message.payload)
                guard let event = reader.u16() else { return false }
                userControls.append(UserControl(stream: stream, event: event, payload: reader.rest()))
            default:
                return false
            }
            return true
        }

        private mutating func record(_ invocation: Invocation) {
            invocations.append(invocation)
            switch invocation.name {
            case "_result":
                replies[invocation.transaction] = .result(invocation.arguments)
            case "_error":
                replies[invocation.transaction] = .error(invocation.arguments)
            case "onStatus":
                break
            default:
                return
            }
            guard let info = invocation.arguments.first, case .string(let code)? = info[field: "code"] else { return }
            var status = Status(stream: invocation.stream, invocation: invocation.name, level: "", code: code,
                                description: "", info: info)
            if case .string(let level)? = info[field: "level"] { status.level = level }
            if case .string(let text)? = info[field: "description"] { status.description = text }
            statuses.append(status)
            if invocation.name == "_result", invocation.transaction == 1, code == "NetConnection.Connect.Success" {
                connected = true
            }
        }
    }
}
