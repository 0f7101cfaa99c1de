import PluginABI

/// The server's metrics (`[metrics]`): a registry of our own, on the loop thread. Counters that move
/// with traffic are plain integers in each plugin's record (`PluginCounters`), updated where the host
/// reads and writes the plugin's sockets; what is a count of live objects (connections, clients,
/// publications, subscribers) is counted from the host's tables when the text is rendered, so it
/// costs nothing in between; Lua's time per event and the loop's lag are kept here. `render` writes
/// them in Prometheus' text format for the ABI's `metrics_text` (HTTP's `GET /metrics`).
final class HostMetrics {
    /// `metrics.enabled` (off by default).
    let enabled: Bool
    /// Who may read them: loopback and `metrics.allow`.
    let allowed: AddressAllowList
    /// Lua's time per event (recorded only when enabled).
    var luaEvents = LuaEventTimes()
    /// The loop's lateness, measured while enabled and the server runs.
    private(set) var lag: LoopLag?
    /// When the host started: wall clock (s since 1970) and monotonic clock (ns).
    let startedWall = ProcessStats.wallSeconds()
    let startedMonotonic = ProcessStats.monotonicNs()

    init(config: ServerConfig) {
        enabled = config.bool("metrics.enabled", default: false)
        allowed = AddressAllowList(config["metrics.allow"])
    }

    /// Starts the loop-lag timer (on the loop); logs the entries of `metrics.allow` it ignores.
    func start(_ host: HostRuntime) {
        guard enabled else { return }
        for entry in allowed.invalid {
            host.log(.warn, "metrics.allow: \(entry) is neither an IP address nor a CIDR block (such as 10.0.0.0/8); ignored")
        }
        lag = LoopLag(reactor: host.reactor)
    }

    /// Stops the timer.
    func stop() {
        lag?.stop()
        lag = nil
    }

    /// The metrics as Prometheus text, as `host` is now (on the loop).
    func render(_ host: HostRuntime) -> String {
        var out = PrometheusText()
        let plugins = host.plugins.filter { $0.state == .started }
        func perPlugin(_ value: (LoadedPlugin) -> UInt64) -> [PrometheusText.Sample] {
            plugins.map { PrometheusText.Sample([("protocol", $0.section)], value($0)) }
        }
        out.family("mona_build_info", .gauge, "The server's version and plugin ABI.",
                   [PrometheusText.Sample([("version", MonaVersion.server), ("abi", MonaVersion.abi)], UInt64(1))])
        var connections: [ObjectIdentifier: UInt64] = [:]
        for connection in host.reactor.connections.values { connections[ObjectIdentifier(connection.owner), default: 0] += 1 }
        out.family("mona_connections", .gauge, "Open TCP connections, TLS ones included, by protocol.",
                   perPlugin { connections[ObjectIdentifier($0)] ?? 0 })
        out.family("mona_connections_accepted_total", .counter, "TCP connections accepted, by protocol.",
                   perPlugin { $0.counters.pointee.connectionsAccepted })
        out.family("mona_received_bytes_total", .counter, "Bytes read from the protocol's TCP and UDP sockets (TLS: as on the wire).",
                   perPlugin { $0.counters.pointee.receivedBytes })
        out.family("mona_sent_bytes_total", .counter, "Bytes written to the protocol's TCP and UDP sockets (TLS: as on the wire).",
                   perPlugin { $0.counters.pointee.sentBytes })
        var clients: [ObjectIdentifier: UInt64] = [:]
        for record in host.lua.map({ Array($0.clients.values) }) ?? [] { clients[ObjectIdentifier(record.plugin), default: 0] += 1 }
        out.family("mona_clients", .gauge, "Clients of the applications (mona.clients), by protocol.", perPlugin { clients[ObjectIdentifier($0)] ?? 0 })
        out.family("mona_rpc_calls_total", .counter, "Client methods clients called (that exist), by protocol.", perPlugin { $0.counters.pointee.rpcCalls })
        out.family("mona_rpc_errors_total", .counter, "Client method calls that raised a Lua error, by protocol.",
                   perPlugin { $0.counters.pointee.rpcErrors })
        renderMedia(host, plugins, into: &out)
        let events = luaEvents.byEvent
        out.family("mona_lua_event_seconds_total", .counter, "Time Lua took per event (onConnection, rpc, onPublish...).",
                   events.map { PrometheusText.Sample([("event", $0.event)], Double($0.total.nanoseconds) / 1e9) })
        out.family("mona_lua_events_total", .counter, "Calls into Lua per event.", events.map { PrometheusText.Sample([("event", $0.event)], $0.total.calls) })
        out.family("mona_loop_lag_seconds", .gauge, "How late the event loop ran a timer, last measure (every 0.5 s).",
                   Double(lag?.window.lastNs ?? 0) / 1e9)
        out.family("mona_loop_lag_max_seconds", .gauge, "The largest loop lag of the last 30 to 60 seconds.", Double(lag?.window.maxNs ?? 0) / 1e9)
        if let resident = ProcessStats.residentBytes() {
            out.family("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.", [PrometheusText.Sample([], resident)])
        }
        out.family("process_cpu_seconds_total", .counter, "Total user and system CPU time spent in seconds.", ProcessStats.cpuSeconds())
        out.family("process_start_time_seconds", .gauge, "Start time of the process since unix epoch in seconds.", startedWall)
        out.family("mona_uptime_seconds", .gauge, "Seconds since the server started.",
                   Double(ProcessStats.monotonicNs() &- startedMonotonic) / 1e9)
        return out.text
    }

    /// Publications by their publisher's protocol ("Lua" for mona:publish) and subscribers by theirs.
    private func renderMedia(_ host: HostRuntime, _ plugins: [LoadedPlugin], into out: inout PrometheusText) {
        var publications: [String: UInt64] = [:]
        for publication in host.media.publications.values {
            guard let publisher = publication.publisher else { continue }
            let section = publisher == 0 ? "Lua" : host.lua?.clients[publisher]?.plugin.section ?? "Lua"
            publications[section, default: 0] += 1
        }
        var subscribers: [String: UInt64] = [:]
        for subscription in host.media.subscriptions.values where !subscription.released {
            subscribers[subscription.plugin.section, default: 0] += 1
        }
        let sections = plugins.map(\.section)
        out.family("mona_publications", .gauge, "Publications with a publisher, by the publisher's protocol (Lua: mona:publish).",
                   (sections + ["Lua"]).map { PrometheusText.Sample([("protocol", $0)], publications[$0] ?? 0) })
        out.family("mona_subscribers", .gauge, "Subscriptions to publications, by protocol.",
                   sections.map { PrometheusText.Sample([("protocol", $0)], subscribers[$0] ?? 0) })
    }

    /// What metrics_text answers `peer`: the text, or MONA_E_UNSUPPORTED (off) / MONA_E_REJECTED.
    func text(for peer: mona_addr, _ host: HostRuntime) -> Result<String, MetricsRefusal> {
        guard enabled else { return .failure(MetricsRefusal(status: MONA_E_UNSUPPORTED)) }
        guard allowed.allows(peer) else { return .failure(MetricsRefusal(status: MONA_E_REJECTED)) }
        return .success(render(host))
    }
}

/// Why metrics_text gave no text: its status.
struct MetricsRefusal: Error {
    let status: Int32
}
