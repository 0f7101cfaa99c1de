import MonaPluginKit
import PluginABI

/// NetConnection and NetStream commands: connect, createStream, deleteStream, publish, play, the
/// encoders' historical calls, and any other name as a Lua RPC.
extension RTMPSession {
    /// The most NetStreams one connection may hold.
    static let maxStreams = 64

    /// An info object {level, code, description[, details]}.
    static func info(level: String, code: String, description: String, details: String? = nil) -> MonaValue {
        var fields = [MonaField("level", .string(level)), MonaField("code", .string(code)), MonaField("description", .string(description))]
        if let details, !details.isEmpty { fields.append(MonaField("details", .string(details))) }
        return .object(type: "", fields: fields)
    }

    /// A command message: name, transaction id, then the values (AMF0, or AMF0 switching to AMF3).
    func command(_ name: String, transaction: Double, on csid: UInt32, stream: UInt32, _ values: [MonaValue]) -> RTMPMessage {
        let payload = host.encode([.string(name), .number(transaction)] + values, format: amf3 ? MONA_FORMAT_AMF3 : MONA_FORMAT_AMF0) ?? []
        return RTMPMessage(csid: csid, typeID: 20, streamID: stream, payload: payload)
    }

    /// A data message (type 18, AMF0) on a stream.
    func data(_ values: [MonaValue], stream: UInt32) -> RTMPMessage {
        RTMPMessage(csid: RTMPStream.dataCSID, typeID: 18, streamID: stream, payload: host.encode(values, format: MONA_FORMAT_AMF0) ?? [])
    }

    private func reply(_ name: String, to message: RTMPMessage, transaction: Double, _ values: [MonaValue]) {
        send(command(name, transaction: transaction, on: message.csid, stream: message.streamID, values))
    }

    /// The client-visible error of a failed call.
    private func callFailed(_ message: RTMPMessage, transaction: Double, _ description: String) {
        reply("_error", to: message, transaction: transaction,
              [.nil, Self.info(level: "error", code: "NetConnection.Call.Failed", description: description)])
    }

    func command(_ values: [MonaValue], message: RTMPMessage) {
        guard case .string(let name)? = values.first else {
            host.log(MONA_LOG_WARN, "RTMP command without a name from \(peer): ignored")
            return
        }
        var transaction = 0.0
        if values.count > 1, case .number(let number) = values[1] { transaction = number }
        let arguments = Array(values.dropFirst(3)) // name, transaction, command object (null)
        guard client != 0 || name == "connect" else {
            reply("_error", to: message, transaction: transaction,
                  [.nil, Self.info(level: "error", code: "NetConnection.Connect.Failed", description: "Connect before to send any message")])
            close()
            return
        }
        if message.streamID != 0, let stream = streams[message.streamID] {
            stream.commandCSID = message.csid
            if streamCommand(name, stream: stream, transaction: transaction, arguments: arguments, message: message) { return }
        }
        switch name {
        case "connect":
            connect(values.count > 2 ? values[2] : .nil, transaction: transaction, arguments: arguments, message: message)
        case "createStream":
            guard streams.count < Self.maxStreams else {
                callFailed(message, transaction: transaction, "No more than \(Self.maxStreams) streams per connection")
                return
            }
            var id: UInt32 = 1
            while streams[id] != nil { id += 1 }
            streams[id] = RTMPStream(session: self, id: id)
            reply("_result", to: message, transaction: transaction, [.nil, .number(Double(id))])
        case "deleteStream", "closeStream":
            var id = message.streamID
            if case .number(let number)? = arguments.first { id = UInt32(max(0, min(number, Double(UInt32.max)))) }
            if let stream = streams.removeValue(forKey: id) { stream.stop(notify: false) }
        case "releaseStream", "FCPublish", "FCUnpublish", "FCSubscribe", "FCUnsubscribe", "getStreamLength", "_checkbw":
            // Encoders send these and treat most _error answers as fatal (protocols.md pitfall 3).
            if transaction != 0 { reply("_result", to: message, transaction: transaction, [.nil]) }
        default:
            call(name, transaction: transaction, arguments: arguments, message: message)
        }
    }

    /// Any other name: client:name(args…) in Lua, `_result` with its values or `_error`.
    private func call(_ name: String, transaction: Double, arguments: [MonaValue], message: RTMPMessage) {
        switch host.invoke(client: client, method: name, args: arguments) {
        case .results(let results):
            if transaction != 0 { reply("_result", to: message, transaction: transaction, [.nil] + results) }
        case .pending(let token):
            // The method waits for the host: its _result goes out when writerMessage brings the token back.
            guard transaction != 0 else { return }
            guard pendingCalls.count < Self.maxPendingCalls else {
                return callFailed(message, transaction: transaction, "Too many calls waiting for an answer")
            }
            pendingCalls[token] = (transaction, message.csid, message.streamID)
        case .failed(_, _, let description):
            callFailed(message, transaction: transaction, description)
        }
    }

    // MARK: connect

    private func connect(_ object: MonaValue, transaction: Double, arguments: [MonaValue], message: RTMPMessage) {
        guard client == 0 else {
            callFailed(message, transaction: transaction, "Client already connected")
            return
        }
        var fields: [MonaField] = []
        if case .object(_, let objectFields) = object { fields = objectFields }
        if case .mixed(_, let objectFields) = object { fields = objectFields }
        func field(_ key: String) -> MonaValue? { fields.first { $0.key == key }?.value }
        // objectEncoding: AMF3 only when the client asks for 3 (FFmpeg sends none and wants AMF0).
        if case .number(let encoding)? = field("objectEncoding") { amf3 = encoding == 3 }
        var tcURL = ""
        if case .string(let text)? = field("tcUrl") { tcURL = text }
        let url = RTMPURL(tcURL)
        var path = url.path
        if path.isEmpty, case .string(let app)? = field("app") { path = "/" + (app.split(separator: "?").first.map(String.init) ?? "") }
        let query = url.query
        var properties = fields
        if !query.isEmpty, let decoded = Array(query.utf8).withUnsafeBytes({ host.decode($0, format: MONA_FORMAT_QUERY) }) {
            for case .object(_, let pairs) in decoded { properties += pairs }
        }
        switch host.openClient(protocol: encrypted ? "RTMPE" : "RTMP", peer: peer, local: local, serverAddress: url.server,
                               path: path, query: query, properties: .object(type: "", fields: properties), args: arguments,
                               writer: context) {
        case .opened(let handle, let response):
            client = handle
            send(RTMPControl.windowAckSize(2_500_000))
            send(RTMPControl.setPeerBandwidth(2_500_000, limitType: 2))
            output += encoder.changeChunkSize()
            send(RTMPControl.streamBegin(0))
            var info = [MonaField("level", .string("status")), MonaField("code", .string("NetConnection.Connect.Success")),
                        MonaField("description", .string("Connection succeeded")), MonaField("objectEncoding", .number(amf3 ? 3 : 0))]
            if case .object(_, let extra)? = response.first { info += extra.filter { field in !info.contains { $0.key == field.key } } }
            let server: MonaValue = .object(type: "", fields: [MonaField("fmsVer", .string("FMS/3,5,1,1")), MonaField("capabilities", .number(31))])
            reply("_result", to: message, transaction: transaction, [server, .object(type: "", fields: info)])
        case .refused(_, let kind, let description):
            let code = kind == MONA_ERR_APPLICATION ? "NetConnection.Connect.InvalidApp"
                : kind == MONA_ERR_SCRIPT ? "NetConnection.Connect.Rejected" : "NetConnection.Connect.Failed"
            reply("_error", to: message, transaction: transaction, [.nil, Self.info(level: "error", code: code, description: description)])
            send(command("close", transaction: 0, on: message.csid, stream: 0, [.nil]))
            close()
        }
    }

    // MARK: NetStream

    /// A command sent on a created stream; false when it is not a stream command.
    private func streamCommand(_ name: String, stream: RTMPStream, transaction: Double, arguments: [MonaValue],
                               message: RTMPMessage) -> Bool {
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
                send(RTMPControl.streamBegin(stream.id))
                stream.status("NetStream.Play.Reset", "Playing and resetting \(name)")
                stream.status("NetStream.Play.Start", "Started playing \(name)")
                send(data([.string("|RtmpSampleAccess"), .boolean(true), .boolean(true)], stream: stream.id))
                for held in stream.held { send(held) }
            case .failure(let refusal):
                stream.status("NetStream.Play.Failed", refusal.message, level: "error")
            }
            stream.held = []
        case "closeStream":
            stream.stop(notify: true)
        case "receiveAudio", "receiveVideo":
            if let subscription = stream.subscription, case .boolean(let on)? = arguments.first { host.setOption(subscription, name, .boolean(on)) }
        case "pause":
            if case .boolean(false)? = arguments.first { send(RTMPControl.streamBegin(stream.id)) }
        case "seek":
            break // live streams: nothing to seek
        default:
            return false
        }
        return true
    }
}

/// The parts of a tcUrl MonaServer uses: "rtmp://host:port/app/inst?query" → server "host:port",
/// path "/app/inst", query "query".
struct RTMPURL {
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
        path = parts.count > 1 ? "/" + parts.dropFirst().joined(separator: "/") : ""
        while path.hasSuffix("/") { path.removeLast() }
    }
}
