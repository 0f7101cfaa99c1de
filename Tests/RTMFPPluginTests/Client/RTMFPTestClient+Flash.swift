import MonaCodecs
import MonaValues

// The Flash calls of the test client (protocols.md §2.6-2.7, §3.6, §3.8): each queues messages on
// the NetConnection, NetStream or NetGroup flows; `tick`/`receive` send them once the session is
// open. What the server answers lands in `flash` (FlashRecords) and the accessors below.

extension RTMFPTestClient {
    /// `connect` (transaction 1) on the NetConnection flow, with the command object Flash sends
    /// (`app` from the URL path unless given; `properties` added or replacing) and `arguments`.
    func connect(app: String? = nil, properties: [MonaField] = [], arguments: [MonaValue] = []) {
        var fields: [MonaField] = [
            MonaField("app", .string(app ?? RTMFPTestClient.application(of: settings.url))),
            MonaField("flashVer", .string("WIN 32,0,0,465")),
            MonaField("tcUrl", .string(settings.url)),
            MonaField("fpad", .boolean(false)),
            MonaField("capabilities", .number(235)),
            MonaField("audioCodecs", .number(3575)),
            MonaField("videoCodecs", .number(252)),
            MonaField("videoFunction", .number(1)),
            MonaField("objectEncoding", .number(settings.objectEncoding)),
        ]
        for property in properties {
            if let index = fields.firstIndex(where: { $0.key == property.key }) {
                fields[index] = property
            } else {
                fields.append(property)
            }
        }
        let values: [MonaValue] = [.string("connect"), .number(1), .object(fields)] + arguments
        let message = FlashMessage(type: MessageType.amf0Command, time: 0, payload: AMF.encode(values, mode: .amf0).bytes)
        send(message.encoded, onFlow: netConnectionFlow())
    }

    /// Calls `name` on the server (NetConnection flow); answers the transaction number whose
    /// `_result`/`_error` `reply(to:)` returns.
    @discardableResult
    func call(_ name: String, _ arguments: [MonaValue] = []) -> Double {
        let transaction = flash.nextTransaction
        flash.nextTransaction += 1
        command(name, transaction: transaction, arguments: arguments, onFlow: netConnectionFlow())
        return transaction
    }

    /// `createStream`; `streamID(created:)` reads the answer.
    func createStream() -> Double {
        call("createStream")
    }

    /// `deleteStream(stream)` on the NetConnection flow; the stream's flow ends.
    func deleteStream(_ stream: UInt64) {
        command("deleteStream", transaction: 0, arguments: [.number(Double(stream))], onFlow: netConnectionFlow())
        if let flowID = flash.streamFlows.removeValue(forKey: stream) { finishFlow(flowID) }
    }

    /// `setPeerInfo("ip:port", …)`: the client's local addresses, for rendezvous.
    func setPeerInfo(_ addresses: [String]) {
        command("setPeerInfo", transaction: 0, arguments: addresses.map(MonaValue.string), onFlow: netConnectionFlow())
    }

    /// `publish(name, type)` on the stream's flow.
    func publish(stream: UInt64, name: String, type: String = "live") {
        command("publish", transaction: 0, arguments: [.string(name), .string(type)], onFlow: streamFlow(stream))
    }

    /// `play(name, arguments…)` on the stream's flow.
    func play(stream: UInt64, name: String, arguments: [MonaValue] = []) {
        command("play", transaction: 0, arguments: [.string(name)] + arguments, onFlow: streamFlow(stream))
    }

    /// `closeStream` on the stream's flow.
    func closeStream(_ stream: UInt64) {
        command("closeStream", transaction: 0, arguments: [], onFlow: streamFlow(stream))
    }

    /// A command on the stream's flow (transaction 0), e.g. `receiveAudio(false)`.
    func streamCommand(stream: UInt64, _ name: String, _ arguments: [MonaValue] = []) {
        command(name, transaction: 0, arguments: arguments, onFlow: streamFlow(stream))
    }

    /// An audio message (type 0x08) on the stream's flow.
    func sendAudio(stream: UInt64, time: UInt32, _ payload: [UInt8]) {
        sendMessage(stream: stream, type: MessageType.audio, time: time, payload)
    }

    /// A video message (type 0x09) on the stream's flow.
    func sendVideo(stream: UInt64, time: UInt32, _ payload: [UInt8]) {
        sendMessage(stream: stream, type: MessageType.video, time: time, payload)
    }

    /// An AMF0 data message (type 0x12) on the stream's flow, e.g. `@setDataFrame, onMetaData, {…}`.
    func sendData(stream: UInt64, time: UInt32 = 0, _ values: [MonaValue]) {
        sendMessage(stream: stream, type: MessageType.amf0Data, time: time, AMF.encode(values, mode: .amf0).bytes)
    }

    /// Any Flash message on the stream's flow (stream 0: the NetConnection flow).
    func sendMessage(stream: UInt64, type: UInt8, time: UInt32, _ payload: [UInt8]) {
        let flowID = stream == 0 ? netConnectionFlow() : streamFlow(stream)
        send(FlashMessage(type: type, time: time, payload: payload).encoded, onFlow: flowID)
    }

    /// Joins a NetGroup: a new `GC` flow carrying the group specifier message of §3.8. Answers the
    /// flow ID; peer IDs the server hands out land in `groupPeerIDs`.
    @discardableResult
    func joinGroup(specifier: [UInt8]) -> UInt64 {
        let flowID = openFlow(metadata: settings.groupMetadata)
        flash.groupFlows.insert(flowID)
        send(FlashMessage.groupJoin(specifier: specifier), onFlow: flowID)
        return flowID
    }

    /// Leaves the NetGroup of flow `flowID` (the flow ends).
    func leaveGroup(flow flowID: UInt64) {
        flash.groupFlows.remove(flowID)
        finishFlow(flowID)
    }

    // MARK: reading

    /// True once `connect` got NetConnection.Connect.Success.
    var isConnected: Bool { flash.connected }

    /// The answer to `transaction`, if it arrived.
    func reply(to transaction: Double) -> Reply? {
        flash.replies[transaction]
    }

    /// The stream ID `createStream` transaction `transaction` returned.
    func streamID(created transaction: Double) -> UInt64? {
        guard case .result(let values)? = flash.replies[transaction],
              let number = values.lazy.compactMap({ value -> Double? in
                  if case .number(let number) = value { return number }
                  return nil
              }).first,
              number >= 0, number < 4_294_967_296, number == number.rounded() else { return nil }
        return UInt64(number)
    }

    /// Every status code received, in order.
    var statusCodes: [String] { flash.statuses.map(\.code) }

    /// The status codes received on `stream` (0: NetConnection), in order.
    func statusCodes(stream: UInt64) -> [String] {
        flash.statuses.filter { $0.stream == stream }.map(\.code)
    }

    /// The invocations named `name`, in order.
    func invocations(named name: String) -> [Invocation] {
        flash.invocations.filter { $0.name == name }
    }

    /// The audio and video received on `stream`, in order.
    func media(stream: UInt64) -> [Media] {
        flash.media.filter { $0.stream == stream }
    }

    /// The data messages received on `stream`, in order.
    func dataMessages(stream: UInt64) -> [DataMessage] {
        flash.data.filter { $0.stream == stream }
    }

    /// Peer IDs handed out on NetGroup flows, in order.
    var groupPeerIDs: [[UInt8]] { flash.groupPeerIDs }

    /// The group ID the server derives from a specifier: its SHA-256.
    static func groupID(specifier: [UInt8]) -> [UInt8] {
        Crypto.sha256(specifier)
    }

    /// The application path of an `rtmfp://host[:port]/path[?query]` URL ("path").
    static func application(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        guard let slash = rest.firstIndex(of: "/") else { return "" }
        let path = rest[rest.index(after: slash)...]
        return String(path.prefix { $0 != "?" })
    }

    // MARK: flows

    /// The NetConnection flow (opened on first use, metadata `TC 04 00`).
    private func netConnectionFlow() -> UInt64 {
        if let flowID = flash.netConnectionFlow { return flowID }
        let flowID = openFlow(metadata: FlowKind.metadata(stream: 0))
        flash.netConnectionFlow = flowID
        return flowID
    }

    /// The flow of NetStream `stream` (opened on first use, metadata `TC 04 <stream>`).
    private func streamFlow(_ stream: UInt64) -> UInt64 {
        if let flowID = flash.streamFlows[stream] { return flowID }
        let association = settings.associateStreamFlows ? flash.serverNetConnectionFlow : nil
        let flowID = openFlow(metadata: FlowKind.metadata(stream: stream), returnAssociation: association)
        flash.streamFlows[stream] = flowID
        return flowID
    }

    private func command(_ name: String, transaction: Double, arguments: [MonaValue], onFlow flowID: UInt64) {
        send(FlashMessage.command(name, transaction: transaction, arguments: arguments).encoded, onFlow: flowID)
    }
}
