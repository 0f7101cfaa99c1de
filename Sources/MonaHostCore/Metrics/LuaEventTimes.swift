/// The time Lua takes per event: for each entry point of the prelude the host calls (onConnection,
/// an RPC, onPublish…), how many calls and how many nanoseconds they took in all, the time of the
/// protected call (`LuaRuntime.call`) measured on the monotonic clock. A call that runs while
/// another one is in progress (Lua → a plugin → Lua again) counts inside the outer one too. Loop
/// thread only; recorded only when metrics are on.
struct LuaEventTimes {
    /// Calls and nanoseconds of one entry point.
    struct Total: Equatable {
        var calls: UInt64 = 0
        var nanoseconds: UInt64 = 0

        /// Adds calls that took `nanoseconds` in all.
        mutating func add(calls count: UInt64, nanoseconds time: UInt64) {
            calls &+= count
            nanoseconds &+= time
        }
    }

    /// By entry point (a bounded set: the prelude's names, fixed at build time).
    private var totals: [String: Total] = [:]

    /// One call of `entry` took `nanoseconds`.
    mutating func record(_ entry: String, nanoseconds: UInt64) {
        totals[entry, default: Total()].add(calls: 1, nanoseconds: nanoseconds) // one look-up, updated in place
    }

    /// The totals by event name, sorted by name (entries of one event added together).
    var byEvent: [(event: String, total: Total)] {
        var events: [String: Total] = [:]
        for (entry, total) in totals {
            let event = Self.event(of: entry)
            events[event, default: Total()].add(calls: total.calls, nanoseconds: total.nanoseconds)
        }
        return events.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The event an entry point of the prelude runs: the application's event where there is one
    /// ("connect" runs onConnection), "rpc" for client methods, a socket object's event, or the entry's
    /// own name for the host's bookkeeping (loadData, mediaCreated…).
    static func event(of entry: String) -> String {
        names[entry] ?? entry
    }

    private static let names: [String: String] = [
        "connect": "onConnection", "disconnect": "onDisconnection", "invoke": "rpc", "readFile": "onRead",
        "manage": "onManage", "startApplications": "onStart", "stopApplications": "onStop",
        "joinGroup": "onJoinGroup", "leaveGroup": "onUnjoinGroup", "addressChanged": "onAddressChanged",
        "handshake": "onHandshake", "rendezvousUnknown": "onRendezVousUnknown",
        "serverConnected": "onServerConnection", "serverDisconnected": "onServerDisconnection", "serverMessage": "server:message",
        "mediaPublish": "onPublish", "mediaUnpublish": "onUnpublish", "mediaSubscribe": "onSubscribe",
        "mediaUnsubscribe": "onUnsubscribe", "mediaProperties": "onProperties", "mediaHook": "publication:hook",
        "socketData": "TCPClient:onData", "socketClosed": "TCPClient:onDisconnection",
        "socketAccepted": "TCPServer:onConnection", "socketPacket": "UDPSocket:onPacket",
    ]
}
