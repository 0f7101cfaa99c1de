/// What the host counts for one plugin while it serves it: plain integers, updated on the loop thread
/// only (no lock, no atomic), held by the plugin's record (`LoadedPlugin.counters`) so that the socket
/// that reads or writes finds them through its owner without a look-up. Read by `HostMetrics.render`.
struct PluginCounters {
    /// TCP connections accepted on the plugin's listeners (plain and TLS), before the plugin or the
    /// blacklist had a say.
    var connectionsAccepted: UInt64 = 0
    /// Bytes read from the plugin's sockets: TCP as they come off the socket (ciphertext on a TLS
    /// connection, its handshake included) and UDP datagrams' payloads.
    var receivedBytes: UInt64 = 0
    /// Bytes the kernel took from the plugin's sockets, counted the same way (TLS: ciphertext).
    var sentBytes: UInt64 = 0
    /// Client methods the plugin's clients called (client_invoke) that ran: a name that is no method
    /// (HTTP asks one for every GET of a name without a dot) is not counted.
    var rpcCalls: UInt64 = 0
    /// Those that raised an error (at once, or later for a call that waited for the host).
    var rpcErrors: UInt64 = 0
}
