import MonaValues
import PluginABI

/// The object-model services (clients, RPC, files, values) with Swift values at the edges.
extension MonaHost {
    /// What opening a client gave.
    public enum ClientOpening {
        case opened(client: mona_handle, response: [MonaValue])
        case refused(status: Int32, kind: Int32, message: String)
    }

    /// What a remote call gave.
    public enum CallOutcome {
        case results([MonaValue])
        /// The method waits for the host: its results come later as writerMessage(response: token).
        case pending(token: Int32)
        case failed(status: Int32, kind: Int32, message: String)
    }

    /// What a file request gave.
    public enum FileAnswer {
        case allow(path: String, properties: [MonaValue])
        case deny(kind: Int32, message: String)
        case handled
    }

    private var ctx: OpaquePointer? { api.pointee.ctx }

    /// Takes a host-filled buffer as bytes and frees it.
    func take(_ buffer: inout mona_buffer) -> [UInt8] {
        defer { api.pointee.buffer_free(ctx, &buffer) }
        guard let data = buffer.data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: buffer.size))
    }

    static func message(_ error: mona_error) -> String {
        withUnsafeBytes(of: error.message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// client_open: runs onConnection of the application of `path`. `clientID`: 32 bytes of identity
    /// (the RTMFP peer id), or nil for a random one.
    public func openClient(protocol name: String, peer: mona_addr, local: mona_addr, serverAddress: String?,
                           path: String, query: String?, properties: MonaValue?, args: [MonaValue],
                           writer: UnsafeMutableRawPointer?, clientID: [UInt8]? = nil) -> ClientOpening {
        let propertyBytes = properties.map { MVSWriter.encode([$0]) } ?? []
        let argBytes = MVSWriter.encode(args)
        var client: mona_handle = 0
        var response = mona_buffer()
        var error = mona_error()
        let status: Int32 = name.withCString { protocolName in
            path.withCString { pathText in
                withOptionalCString(query) { queryText in
                    withOptionalCString(serverAddress) { server in
                        propertyBytes.withUnsafeBufferPointer { props in
                            argBytes.withUnsafeBufferPointer { arguments in
                                (clientID ?? []).withUnsafeBufferPointer { identity in
                                    var info = mona_client_info()
                                    info.abi_version = MONA_ABI_VERSION
                                    info.struct_size = UInt32(MemoryLayout<mona_client_info>.size)
                                    info.protocol = protocolName
                                    info.peer = peer
                                    info.local = local
                                    info.server_address = server
                                    info.path = pathText
                                    info.query = queryText
                                    info.properties = props.isEmpty ? nil : props.baseAddress
                                    info.properties_size = props.count
                                    info.client_id = clientID?.count == 32 ? identity.baseAddress : nil
                                    return api.pointee.client_open(ctx, &info, arguments.baseAddress, arguments.count, writer,
                                                                   &client, &response, &error)
                                }
                            }
                        }
                    }
                }
            }
        }
        let bytes = take(&response)
        guard status == MONA_OK else { return .refused(status: status, kind: error.kind, message: Self.message(error)) }
        return .opened(client: client, response: (try? MVSReader.decode(bytes)) ?? [])
    }

    /// client_invoke: client:method(args…).
    public func invoke(client: mona_handle, method: String, args: [MonaValue]) -> CallOutcome {
        let argBytes = args.isEmpty ? [] : MVSWriter.encode(args)
        let outcome = argBytes.withUnsafeBytes { arguments in
            callMethod(client, method, arguments, results: { (try? MVSReader.decode(Array($0))) ?? [] })
        }
        switch outcome {
        case .done(let values): return .results(values)
        case .pending(let token): return .pending(token: token)
        case .failed(let failure): return .failed(status: failure.status, kind: failure.kind, message: failure.message)
        }
    }

    /// What `invoke(client:method:args:format:)` gives: the results encoded (nil when the method
    /// returned nothing), or why the call failed.
    public enum EncodedOutcome {
        case encoded([UInt8]?)
        /// The method waits for the host: its results come later as writerMessage(response: token).
        case pending(token: Int32)
        case failed(status: Int32, kind: Int32, message: String)
    }

    /// client:method(args…) with its results encoded in `format`: JSON is written here straight from the
    /// MVS results when it can be (JSONReply), anything else by the host's value_encode.
    public func invoke(client: mona_handle, method: String, args: [MonaValue], format: Int32) -> EncodedOutcome {
        let argBytes = args.isEmpty ? [] : MVSWriter.encode(args)
        return argBytes.withUnsafeBytes { invoke(client: client, method: method, mvs: $0, format: format) }
    }

    /// `invoke(client:method:args:format:)` with the arguments already an MVS stream (e.g. from
    /// `JSONArguments.transcode`), borrowed for the call.
    public func invoke(client: mona_handle, method: String, mvs args: UnsafeRawBufferPointer, format: Int32) -> EncodedOutcome {
        let outcome = callMethod(client, method, args) { mvs -> [UInt8]? in
            if mvs.isEmpty { return nil }
            if format == MONA_FORMAT_JSON, let json = JSONReply.transcode(mvs: mvs) { return json }
            let values = (try? MVSReader.decode(Array(mvs))) ?? []
            if values.isEmpty { return nil }
            return format == MONA_FORMAT_JSON ? JSONReply.encode(values) ?? encode(values, format: format) : encode(values, format: format)
        }
        switch outcome {
        case .done(let body): return .encoded(body)
        case .pending(let token): return .pending(token: token)
        case .failed(let failure): return .failed(status: failure.status, kind: failure.kind, message: failure.message)
        }
    }

    /// What client_invoke answered.
    private enum Called<Value> {
        case done(Value)
        case pending(Int32)
        case failed(Refusal)
    }

    /// Calls client_invoke; `read` gets the MVS results (borrowed for the call).
    private func callMethod<Value>(_ client: mona_handle, _ method: String, _ args: UnsafeRawBufferPointer,
                                   results read: (UnsafeRawBufferPointer) -> Value) -> Called<Value> {
        var results = mona_buffer()
        var error = mona_error()
        var method = method
        let status = method.withUTF8 { name in
            api.pointee.client_invoke(ctx, client, UnsafeRawPointer(name.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                      name.count, args.baseAddress?.assumingMemoryBound(to: UInt8.self), args.count,
                                      &results, &error)
        }
        defer { _ = api.pointee.buffer_free(ctx, &results) }
        let stream = UnsafeRawBufferPointer(start: results.data, count: results.data == nil ? 0 : results.size)
        if status == MONA_PENDING {
            guard case .number(let token)? = try? MVSReader.decode(Array(stream)).first, token >= 1, token <= 0x7FFF_FFFF
            else { return .pending(1) }
            return .pending(Int32(token))
        }
        guard status == MONA_OK else { return .failed(Refusal(status: status, kind: error.kind, message: Self.message(error))) }
        return .done(read(stream))
    }

    /// client_close: onDisconnection.
    public func closeClient(_ client: mona_handle) {
        _ = api.pointee.client_close(ctx, client)
    }

    /// client.parameters[key] as text.
    public func parameter(client: mona_handle, _ key: String) -> String? {
        let length = api.pointee.client_parameter(ctx, client, key, nil, 0)
        guard length >= 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(length))
        _ = api.pointee.client_parameter(ctx, client, key, &buffer, buffer.count)
        return String(decoding: buffer.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// client_read_file: onRead and confinement to www/.
    public func readFile(client: mona_handle, name: String, parameters: [MonaValue]) -> FileAnswer {
        let parameterBytes = MVSWriter.encode(parameters)
        var decision: Int32 = MONA_FILE_DENY
        var path = mona_buffer()
        var properties = mona_buffer()
        var error = mona_error()
        var name = name
        let status = name.withUTF8 { text in
            parameterBytes.withUnsafeBufferPointer { values in
                api.pointee.client_read_file(ctx, client, UnsafeRawPointer(text.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                             text.count, values.baseAddress, values.count, &decision, &path, &properties, &error)
            }
        }
        let pathBytes = take(&path)
        let propertyBytes = take(&properties)
        guard status == MONA_OK else { return .deny(kind: MONA_ERR_OTHER, message: "file access failed (\(status))") }
        switch decision {
        case MONA_FILE_ALLOW:
            return .allow(path: String(decoding: pathBytes, as: UTF8.self), properties: (try? MVSReader.decode(propertyBytes)) ?? [])
        case MONA_FILE_HANDLED:
            return .handled
        default:
            return .deny(kind: error.kind, message: Self.message(error))
        }
    }

    /// value_encode: values into a wire format (MONA_FORMAT_*), nil when the host cannot.
    public func encode(_ values: [MonaValue], format: Int32) -> [UInt8]? {
        let bytes = MVSWriter.encode(values)
        var out = mona_buffer()
        let status = bytes.withUnsafeBufferPointer { api.pointee.value_encode(ctx, format, $0.baseAddress, $0.count, &out) }
        let result = take(&out)
        return status == MONA_OK ? result : nil
    }

    /// value_decode: a wire format into values, nil when malformed or unsupported.
    public func decode(_ bytes: UnsafeRawBufferPointer, format: Int32) -> [MonaValue]? {
        guard let stream = decodeMVS(bytes, format: format) else { return nil }
        return try? MVSReader.decode(stream)
    }

    /// value_decode: a wire format into an MVS stream, nil when malformed or unsupported.
    public func decodeMVS(_ bytes: UnsafeRawBufferPointer, format: Int32) -> [UInt8]? {
        var out = mona_buffer()
        let status = api.pointee.value_decode(ctx, format, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, &out)
        let result = take(&out)
        return status == MONA_OK ? result : nil
    }

    /// tcp_handoff: gives a connection to another plugin.
    public func handoff(_ connection: mona_handle, to section: String, bytes: [UInt8], request: MonaValue?) -> Int32 {
        let requestBytes = request.map { MVSWriter.encode([$0]) } ?? []
        let status = bytes.withUnsafeBufferPointer { raw in
            requestBytes.withUnsafeBufferPointer { req in
                api.pointee.tcp_handoff(ctx, connection, section, raw.baseAddress, raw.count, req.baseAddress, req.count)
            }
        }
        // The connection is the other plugin's now: no tcp_closed comes for it here, forget its session.
        if status == MONA_OK, let ctx { PluginBox.byContext[ctx]?.takeUnretainedValue().forget(connection) }
        return status
    }

    /// tcp_addresses.
    public func addresses(_ connection: mona_handle) -> (peer: mona_addr, local: mona_addr) {
        var peer = mona_addr()
        var local = mona_addr()
        _ = api.pointee.tcp_addresses(ctx, connection, &peer, &local)
        return (peer, local)
    }

    /// The wall clock in milliseconds.
    public var timeMs: Int64 { api.pointee.time_ms(ctx) }
}

/// Calls body with a C string for an optional text (NULL for nil).
func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
