import MonaPluginKit
import PluginABI

/// The Flash layer (RFC 7425): messages of the client's NetConnection and NetStream flows — connect,
/// setPeerInfo, createStream, deleteStream, publish, play, media — and any other command as a Lua RPC,
/// answered on our flow associated to the one the command came on.
extension RTMFPSession {
    /// An info object {level, code, description[, details]}.
    static func info(level: String, code: String, description: String, details: String? = nil) -> MonaValue {
        var fields = [MonaField("level", .string(level)), MonaField("code", .string(code)), MonaField("description", .string(description))]
        if let details, !details.isEmpty { fields.append(MonaField("details", .string(details))) }
        return .object(type: "", fields: fields)
    }

    /// A command message: name, transaction id, then the values (AMF0, or AMF0 switching to AMF3).
    func command(_ name: String, transaction: Double, _ values: [MonaValue]) -> [UInt8] {
        let payload = host.encode([.string(name), .number(transaction)] + values, format: amf3 ? MONA_FORMAT_AMF3 : MONA_FORMAT_AMF0) ?? []
        return RTMFPFlashMessage.encode(type: RTMFPFlashMessage.Kind.commandAMF0, time: 0, payload: payload)
    }

    /// Our NetConnection flow (opened on first use, answering the client's NetConnection flow).
    func netConnectionFlow(answering clientFlow: UInt64?) -> UInt64 {
        if let netConnectionFlow { return netConnectionFlow }
        let flow = openSendFlow(signature: RTMFPFlowSignature.metadata(stream: 0), associated: clientFlow ?? clientNetConnectionFlow)
        netConnectionFlow = flow
        return flow
    }

    /// The client's NetConnection flow (the first one it opened).
    var clientNetConnectionFlow: UInt64? {
        receiveKinds.first { $0.value == .netConnection }?.key
    }

    /// Writes on the NetConnection (Lua's writer; answers to NetConnection commands).
    func sendOnNetConnection(_ message: [UInt8], answering clientFlow: UInt64? = nil, reliable: Bool = true) {
        write(message, on: netConnectionFlow(answering: clientFlow), reliable: reliable, now: plugin.now)
    }

    /// One message of a client flow.
    func deliver(_ bytes: ArraySlice<UInt8>, flow: UInt64, kind: RTMFPFlowSignature, now: UInt64) {
        if case .group = kind { return groupMessage(bytes, flow: flow) }
        guard let message = RTMFPFlashMessage(bytes) else { return fail("a flow message shorter than its header") }
        var stream: RTMFPStream?
        if case .netStream(let id) = kind {
            stream = streams[id]
            guard stream != nil else { return } // deleted since: what was in flight is dropped
            stream?.clientFlow = flow
        }
        switch message.type {
        case RTMFPFlashMessage.Kind.commandAMF0, RTMFPFlashMessage.Kind.commandAMF3:
            guard let values = message.payload.withUnsafeBytes({ host.decode($0, format: MONA_FORMAT_AMF3) }) else {
                return fail("a command that is not valid AMF")
            }
            command(values, flow: flow, stream: stream)
        case RTMFPFlashMessage.Kind.audio, RTMFPFlashMessage.Kind.video:
            guard let publication = stream?.publication else { return }
            message.payload.withUnsafeBytes {
                if message.type == RTMFPFlashMessage.Kind.audio {
                    host.pushAudio(publication, time: message.time, $0)
                } else {
                    host.pushVideo(publication, time: message.time, $0)
                }
            }
        case RTMFPFlashMessage.Kind.dataAMF0, RTMFPFlashMessage.Kind.dataAMF3:
            guard let publication = stream?.publication else { return }
            let format = message.type == RTMFPFlashMessage.Kind.dataAMF3 ? MONA_FORMAT_AMF3 : MONA_FORMAT_AMF0
            message.payload.withUnsafeBytes { host.pushData(publication, format: format, $0) }
        case RTMFPFlashMessage.Kind.userControl:
            userControl(message.payload)
        default:
            host.log(MONA_LOG_DEBUG, "RTMFP message type \(message.type) from \(address): ignored")
        }
    }

    /// setBufferLength (event 3): the player's buffer.
    private func userControl(_ payload: ArraySlice<UInt8>) {
        var reader = RTMFPReader(payload)
        guard let event = reader.u16(), event == 3, let stream = reader.u32(), let length = reader.u32() else { return }
        if let subscription = streams[stream]?.subscription { host.setOption(subscription, "bufferTime", .number(Double(length))) }
    }

    /// Publications of this session flush what a packet brought (one batch for their subscribers).
    func flushPublications() {
        for stream in streams.values { if let publication = stream.publication { host.flush(publication: publication) } }
    }

    // MARK: commands

    private func answer(_ name: String, transaction: Double, _ values: [MonaValue], flow: UInt64, stream: RTMFPStream?) {
        let message = command(name, transaction: transaction, values)
        if let stream { stream.send(message) } else { sendOnNetConnection(message, answering: flow) }
    }

    private func callFailed(transaction: Double, _ description: String, flow: UInt64, stream: RTMFPStream?) {
        answer("_error", transaction: transaction, [.nil, Self.info(level: "error", code: "NetConnection.Call.Failed", description: description)],
               flow: flow, stream: stream)
    }

    private func command(_ values: [MonaValue], flow: UInt64, stream: RTMFPStream?) {
        guard case .string(let name)? = values.first else {
            host.log(MONA_LOG_WARN, "RTMFP command without a name from \(address): ignored")
            return
        }
        var transaction = 0.0
        if values.count > 1, case .number(let number) = values[1] { transaction = number }
        host.log(MONA_LOG_TRACE, "RTMFP command \(name) from \(address) on flow \(flow)")
        // name, transaction, the command object (null; rtmfp-cpp's clients leave it out, as 1.x accepts)
        let arguments = Array(values.dropFirst(values.count > 2 && values[2] == .nil ? 3 : 2))
        guard client != 0 || name == "connect" else {
            answer("_error", transaction: transaction,
                   [.nil, Self.info(level: "error", code: "NetConnection.Connect.Failed", description: "Connect before to send any message")],
                   flow: flow, stream: nil)
            return close()
        }
        if let stream, streamCommand(name, stream: stream, transaction: transaction, arguments: arguments) { return }
        switch name {
        case "connect":
            connect(values.count > 2 ? values[2] : .nil, transaction: transaction, arguments: arguments, flow: flow)
        case "setPeerInfo":
            setPeerInfo(arguments, flow: flow)
        case "createStream":
            guard streams.count < Self.maxStreams else {
                return callFailed(transaction: transaction, "No more than \(Self.maxStreams) streams per connection", flow: flow, stream: nil)
            }
            var id: UInt32 = 1
            while streams[id] != nil { id += 1 }
            streams[id] = RTMFPStream(session: self, id: id)
            answer("_result", transaction: transaction, [.nil, .number(Double(id))], flow: flow, stream: nil)
        case "deleteStream", "closeStream":
            guard case .number(let number)? = arguments.first, number >= 1, number <= Double(UInt32.max) else { return }
            if let removed = streams.removeValue(forKey: UInt32(number)) { removed.stop(notify: false) }
        case "releaseStream", "FCPublish", "FCUnpublish", "FCSubscribe", "FCUnsubscribe", "getStreamLength", "_checkbw":
            if transaction != 0 { answer("_result", transaction: transaction, [.nil], flow: flow, stream: stream) }
        default:
            call(name, transaction: transaction, arguments: arguments, flow: flow, stream: stream)
        }
    }

    /// Any other name: client:name(args…) in Lua, `_result` with its values or `_error`.
    private func call(_ name: String, transaction: Double, arguments: [MonaValue], flow: UInt64, stream: RTMFPStream?) {
        switch host.invoke(client: client, method: name, args: arguments) {
        case .results(let results):
            if transaction != 0 { answer("_result", transaction: transaction, [.nil] + results, flow: flow, stream: stream) }
        case .pending(let token):
            guard transaction != 0 else { return }
            guard pendingCalls.count < 64 else {
                return callFailed(transaction: transaction, "Too many calls waiting for an answer", flow: flow, stream: stream)
            }
            pendingCalls[token] = transaction
        case .failed(_, _, let description):
            callFailed(transaction: transaction, description, flow: flow, stream: stream)
        }
    }

    // MARK: connect, setPeerInfo

    private func connect(_ object: MonaValue, transaction: Double, arguments: [MonaValue], flow: UInt64) {
        guard client == 0 else {
            return callFailed(transaction: transaction, "Client already connected", flow: flow, stream: nil)
        }
        var fields: [MonaField] = []
        if case .object(_, let objectFields) = object { fields = objectFields }
        if case .mixed(_, let objectFields) = object { fields = objectFields }
        func field(_ key: String) -> MonaValue? { fields.first { $0.key == key }?.value }
        if case .number(let encoding)? = field("objectEncoding") { amf3 = encoding == 3 }
        var tcURL = url
        if case .string(let text)? = field("tcUrl"), !text.isEmpty { tcURL = text }
        let parsed = RTMFPURL(tcURL)
        var properties = fields
        if !parsed.query.isEmpty, let decoded = Array(parsed.query.utf8).withUnsafeBytes({ host.decode($0, format: MONA_FORMAT_QUERY) }) {
            for case .object(_, let pairs) in decoded { properties += pairs }
        }
        switch host.openClient(protocol: "RTMFP", peer: address, local: plugin.localAddress, serverAddress: parsed.server,
                               path: parsed.path, query: parsed.query, properties: .object(type: "", fields: properties),
                               args: arguments, writer: context, clientID: peerID) {
        case .opened(let handle, let response):
            client = handle
            var info = [MonaField("level", .string("status")), MonaField("code", .string("NetConnection.Connect.Success")),
                        MonaField("description", .string("Connection succeeded")), MonaField("objectEncoding", .number(amf3 ? 3 : 0))]
            if case .object(_, let extra)? = response.first { info += extra.filter { field in !info.contains { $0.key == field.key } } }
            answer("_result", transaction: transaction, [.nil, .object(type: "", fields: info)], flow: flow, stream: nil)
        case .refused(_, let kind, let description):
            let code = kind == MONA_ERR_APPLICATION ? "NetConnection.Connect.InvalidApp"
                : kind == MONA_ERR_SCRIPT ? "NetConnection.Connect.Rejected" : "NetConnection.Connect.Failed"
            answer("_error", transaction: transaction, [.nil, Self.info(level: "error", code: code, description: description)],
                   flow: flow, stream: nil)
            close()
        }
    }

    /// The client's addresses as it sees them ("ip:port" strings), kept for rendezvous; the answer tells
    /// it the keepalive periods (user control 0x29: server, then peer, in ms).
    private func setPeerInfo(_ arguments: [MonaValue], flow: UInt64) {
        localAddresses = arguments.prefix(8).compactMap {
            guard case .string(let text) = $0 else { return nil }
            return RTMFPAddresses.parse(text)
        }
        let keepaliveServer = UInt32(clientParameter("keepaliveServer") ?? plugin.keepaliveServer) * 1000
        let keepalivePeer = UInt32(clientParameter("keepalivePeer") ?? plugin.keepalivePeer) * 1000
        sendOnNetConnection(RTMFPFlashMessage.userControl(RTMFPFlashMessage.keepaliveEvent, [keepaliveServer, keepalivePeer]),
                            answering: flow)
    }

    /// A keepalive period (s) the application set in client.parameters, at least 5.
    private func clientParameter(_ key: String) -> Int? {
        guard client != 0, let text = host.parameter(client: client, key), let value = Double(text), value.isFinite else { return nil }
        return Int(max(5, min(value, 3600)))
    }

    // MARK: NetStream

    /// A command sent on a NetStream flow; false when it is not a stream command.
    private func streamCommand(_ name: String, stream: RTMFPStream, transaction: Double, arguments: [MonaValue]) -> Bool {
        switch name {
        case "publish":
            guard case .string(let full)? = arguments.first, !full.isEmpty else {
                stream.status("NetStream.Publish.BadName", "A publication needs a name", level: "error")
                return true
            }
            stream.stop(notify: false)
            let name = String(full.split(separator: "?", maxSplits: 1).first ?? "")
            stream.publishedName = name
            switch host.publish(client: client, name: name) {
            case .success(let publication):
                stream.publication = publication
                stream.status("NetStream.Publish.Start", "\(name) is now published")
            case .failure(let refusal):
                let code = refusal.status == MONA_E_EXISTS ? "NetStream.Publish.BadName" : "NetStream.Publish.Failed"
                stream.status(code, refusal.message, level: "error")
            }
        case "play":
            guard case .string(let full)? = arguments.first, !full.isEmpty else {
                stream.status("NetStream.Play.Failed", "Play needs a name", level: "error")
                return true
            }
            stream.stop(notify: false)
            let parts = full.split(separator: "?", maxSplits: 1)
            let name = String(parts.first ?? "")
            stream.playedName = name
            stream.holding = true
            let outcome = host.subscribe(client: client, name: name, query: parts.count > 1 ? String(parts[1]) : "", sink: stream.context)
            stream.holding = false
            switch outcome {
            case .success(let subscription):
                stream.subscription = subscription
                stream.send(RTMFPFlashMessage.userControl(RTMFPStream.streamBegin, [stream.id]))
                stream.status("NetStream.Play.Reset", "Playing and resetting \(name)")
                stream.status("NetStream.Play.Start", "Started playing \(name)")
                let access = host.encode([.string("|RtmpSampleAccess"), .boolean(true), .boolean(true)], format: MONA_FORMAT_AMF0) ?? []
                stream.send(RTMFPFlashMessage.encode(type: RTMFPFlashMessage.Kind.dataAMF0, time: 0, payload: access))
                for held in stream.held { stream.send(held.message, track: held.track) }
            case .failure(let refusal):
                stream.status("NetStream.Play.Failed", refusal.message, level: "error")
            }
            stream.held = []
        case "closeStream":
            stream.stop(notify: true)
        case "receiveAudio", "receiveVideo":
            if let subscription = stream.subscription, case .boolean(let on)? = arguments.first { host.setOption(subscription, name, .boolean(on)) }
        case "pause", "seek":
            break // live streams
        default:
            return false
        }
        return true
    }
}

/// The parts of an RTMFP URL MonaServer uses: "rtmfp://host:port/app/inst?query" → server "host:port",
/// path "/app/inst", query "query".
struct RTMFPURL {
    var server: String?
    var path = ""
    var query = ""

    init(_ text: String) {
        var rest = Substring(text)
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        var parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count >= 3, parts[0].hasSuffix(":"), parts[1].isEmpty { parts.removeFirst(2) } // the scheme
        if let first = parts.first, !first.isEmpty { server = String(first) }
        path = parts.count > 1 ? "/" + parts.dropFirst().filter { !$0.isEmpty }.joined(separator: "/") : ""
    }
}
