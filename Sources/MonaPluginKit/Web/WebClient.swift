// What HTTP and WebSocket do alike with the client of a web connection (MonaServer's semantics): the
// client opens with the request's headers and cookies as properties and its query values as the
// arguments of onConnection; its `timeout` parameter replaces the protocol's idle time-out; a late RPC
// answer without results, or a late failure, sends nothing (the host logged the failure).

import MonaValues
import PluginABI

/// The client of a web request (HTTP or WebSocket), opened and answered the same way by both plugins.
public enum WebClient {
    /// Opens the client of a request for `path` (the application) with `query` (raw, without '?'):
    /// `client.properties` gets every header, every cookie of `Cookie` and `version`, and onConnection
    /// the query's values. `writer` is the session's writer context.
    public static func open(_ host: MonaHost, protocol name: String, peer: mona_addr, local: mona_addr, path: String,
                            query: String, headers: [(name: String, value: String)], version: String,
                            writer: UnsafeMutableRawPointer) -> MonaHost.ClientOpening {
        var fields = headers.map { MonaField($0.name, .string($0.value)) }
        if let cookie = header("Cookie", in: headers) {
            fields += Cookies.parse(cookie).map { MonaField($0.name, .string($0.value)) }
        }
        fields.append(MonaField("version", .string(version)))
        return host.openClient(protocol: name, peer: peer, local: local, serverAddress: header("Host", in: headers),
                               path: path, query: query, properties: .object(type: "", fields: fields),
                               args: queryArguments(host, query), writer: writer)
    }

    /// The values of a query string (the host's decoding), as onConnection and GET methods get them.
    public static func queryArguments(_ host: MonaHost, _ query: String) -> [MonaValue] {
        guard !query.isEmpty else { return [] }
        return Array(query.utf8).withUnsafeBytes { host.decode($0, format: MONA_FORMAT_QUERY) } ?? []
    }

    /// The client's idle time-out in seconds (its `timeout` parameter: the configuration's, or what
    /// onConnection returned), nil when it has none that is a number ≥ 0.
    public static func idleSeconds(_ host: MonaHost, client: mona_handle) -> Int? {
        guard let text = host.parameter(client: client, "timeout"), let value = Double(text), value >= 0,
              value < Double(Int32.max) else { return nil }
        return Int(value)
    }

    /// What a writer_message carries to a web client: the values to send, or nil when nothing is sent
    /// (a late answer without results is like a call that returned nothing; a late failure was logged
    /// by the host and, as before ABI 1.2, the peer gets no answer for it).
    public static func messageValues(response: Int32, args: [MonaValue]) -> [MonaValue]? {
        response < 0 || (response != 0 && args.isEmpty) ? nil : args
    }

    private static func header(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { FileText.equalsIgnoringCase($0.name, name) }?.value
    }
}
