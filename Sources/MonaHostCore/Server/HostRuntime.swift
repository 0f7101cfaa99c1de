import Dispatch
import Logging
import MonaPersistence
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The host's state: configuration, logs, the reactor, crypto objects and the loaded plugins.
/// Apart from `init`, `log` and `requestStop`, use it on the reactor's loop only.
public final class HostRuntime: @unchecked Sendable {
    public private(set) var config: ServerConfig
    public let layout: ServerLayout
    let sink: LogSink
    let logger: Logger
    private(set) var reactor: Reactor!
    private(set) var crypto: CryptoService!
    private(set) var plugins: [LoadedPlugin] = []
    private let loader: PluginLoader
    /// The Lua applications of www/ (nil before start and after stop).
    private(set) var lua: LuaRuntime?
    /// Publications and subscriptions (the media model).
    private(set) lazy var media = MediaModel(host: self)
    /// The persistent `data` of the applications.
    private(set) var data: PersistentStore?
    /// The links with other MonaServers (nil before start and after stop).
    private(set) var servers: ServerMesh?
    /// Banned peer addresses (canonical IP text): mona:addToBlacklist, checked on every accept and datagram.
    var blacklist: Set<String> = []
    /// The metrics (`[metrics]`, Metrics/).
    let metrics: HostMetrics
    /// The TLS side of each section with a `tlsPort`, by section (TLS/HostRuntime+TLS.swift).
    var tlsEndpoints: [String: TLSEndpoint] = [:]
    private var stopRequested = false
    private var manageTimer: LoopTimer?
    /// Signalled once a requested stop has completed.
    private let stopped = DispatchSemaphore(value: 0)

    /// A runtime with its configuration, log sink and folders; `staticEntries` are plugins linked in.
    public init(config: ServerConfig, layout: ServerLayout, sink: LogSink,
                staticEntries: [String: mona_plugin_entry_fn] = [:]) {
        self.config = config
        self.layout = layout
        self.sink = sink
        logger = Logger(label: "MonaServer", factory: { _ in MonaLogHandler(sink: sink) })
        metrics = HostMetrics(config: config)
        loader = PluginLoader(staticEntries: staticEntries, searchPaths: layout.pluginFolders(config: config),
                              iniFolder: ServerLayout.directory(of: layout.iniPath))
        reactor = Reactor(runtime: self)
        crypto = CryptoService(makeHandle: { [unowned self] in reactor.makeHandle() })
    }

    /// Logs a host message. Thread-safe.
    func log(_ level: MonaLogLevel, _ message: @autoclosure () -> String, file: String = #fileID, line: UInt = #line) {
        logger.mona(level, message(), file: file, line: line)
    }

    /// The loaded plugin of a section, if any.
    func plugin(section: String) -> LoadedPlugin? {
        plugins.first { $0.section == section }
    }

    /// Sections of the plugins that started.
    public var startedPlugins: [String] { plugins.filter { $0.state == .started }.map(\.section) }

    // MARK: lifecycle

    /// Loads, creates and starts every plugin of the plan, then the Lua applications (as 1.x: the
    /// protocols bind first, then `data` loads and the root application runs). On the loop; plugin
    /// failures are logged and skipped, a Lua start failure is thrown.
    public func start(plan: PluginPlan) throws {
        try reactor.sync { [self] in
            metrics.start(self)
            for (section, reason) in plan.disabled { log(.debug, "\(section) disabled (\(reason))") }
            for item in plan.items { startPlugin(item) }
            try startApplications()
        }
    }

    private func startApplications() throws {
        let www = layout.resolve("www")
        _ = RotatingLogFile.makeDirectories(www)
        let store = PersistentStore(root: layout.resolve("data"), flushInterval: config.int("data.flushInterval", default: 200),
                                    log: { [sink] level, message in
            sink.log(level == .error ? .error : level == .warn ? .warn : .info, message, file: "data", line: 0)
        })
        log(.info, "Database loading...")
        let entries = store.load().map { (path: $0.path, value: String(decoding: $0.value, as: UTF8.self)) }
        log(.note, "Database loaded (\(entries.count) entries)")
        data = store
        let lua = try LuaRuntime(host: self, www: www)
        self.lua = lua
        lua.start(data: entries)
        let mesh = ServerMesh(host: self)
        mesh.delegate = lua
        servers = mesh
        mesh.start()
        manageTimer = LoopTimer(reactor: reactor, delayMs: 2000, periodMs: 2000) { [unowned self] in
            self.lua?.manage()
            self.servers?.tick()
        }
    }

    private func startPlugin(_ item: PluginPlan.Item) {
        let descriptor: UnsafePointer<mona_plugin>
        let path: String
        switch loader.load(item) {
        case .success(let loaded):
            (descriptor, path) = loaded
        case .failure(let failure):
            if item.implicit, case .fileNotFound = failure {
                log(.warn, "\(item.section): plugin \(failure.message); \(item.section) is off (set \(item.section).enabled=false to silence this)")
            } else {
                log(.error, "\(item.section): plugin \(failure.message); \(item.section) is off")
            }
            return
        }
        let plugin = LoadedPlugin(section: item.section, path: path, descriptor: descriptor, runtime: self)
        guard let create = plugin.entry.create else {
            log(.error, "\(item.section): \(path) has no create function; \(item.section) is off")
            return
        }
        plugins.append(plugin)
        plugin.instance = item.section.withCString { create(plugin.api, $0) }
        guard plugin.instance != nil else {
            log(.error, "\(item.section): \(path) failed to create its instance; \(item.section) is off")
            plugins.removeAll { $0 === plugin }
            plugin.state = .destroyed
            return
        }
        let status = plugin.entry.start?(plugin.instance) ?? MONA_OK
        guard status >= 0 else {
            log(.error, "\(item.section): failed to start (status \(status)); \(item.section) is off, the other protocols go on")
            plugin.state = .stopped
            reactor.closeAll(ownedBy: plugin) { [self] in plugin.whenWorksDone { self.destroy(plugin) } }
            plugins.removeAll { $0 === plugin }
            return
        }
        plugin.state = .started
        let name = plugin.entry.name.map { String(cString: $0) } ?? "?"
        let version = plugin.entry.version.map { String(cString: $0) } ?? "?"
        log(.info, "\(item.section): plugin \(name) \(version) started (\(path))")
    }

    private func destroy(_ plugin: LoadedPlugin) {
        guard plugin.state != .destroyed else { return }
        plugin.entry.destroy?(plugin.instance)
        plugin.instance = nil
        plugin.state = .destroyed
        crypto.freeAll(owner: plugin)
        plugin.sharedBuffers = [:] // what the plugin did not release
    }

    /// Asks the server to stop (thread-safe, idempotent): plugins stop in reverse load order, their
    /// sockets and timers close (their tcp_closed first) and their run_blocking items end (their
    /// work_done first), then they are destroyed, Lua stops and `data` is flushed. `waitUntilStopped`
    /// returns once all is done.
    public func requestStop() {
        reactor.execute { [self] in
            guard !stopRequested else { return }
            stopRequested = true
            log(.info, "MonaServer stopping")
            manageTimer?.cancel()
            manageTimer = nil
            metrics.stop()
            var pending = 1
            let closed = { [self] in
                pending -= 1
                if pending == 0 { finishStop() }
            }
            for plugin in plugins.reversed() where plugin.state == .started {
                plugin.entry.stop?(plugin.instance)
                plugin.state = .stopped
                lua?.closeClients(of: plugin)
                pending += 2
                reactor.closeAll(ownedBy: plugin, completion: closed)
                plugin.whenWorksDone(closed) // its run_blocking items end before it is destroyed
            }
            closed()
        }
    }

    /// The sockets are closed: the plugins go, then Lua and `data`.
    private func finishStop() {
        for plugin in plugins.reversed() {
            lua?.closeClients(of: plugin)
            destroy(plugin)
        }
        lua?.stop()
        servers?.stop()
        servers = nil
        lua = nil
        media.finishRecordings()
        if let data {
            log(.info, "Database flushing...")
            data.flush()
        }
        stopped.signal()
    }

    /// Blocks the calling thread (never the loop) until a requested stop has completed.
    public func waitUntilStopped() {
        stopped.wait()
    }

    /// Ends the loop thread; call after `waitUntilStopped`, from outside the loop.
    public func shutdownReactor() {
        reactor.shutdown()
        sink.drain()
    }

    // MARK: services used by the host API table

    /// tcp_listen: on the section's `port`, a section with a `tlsPort` gets a TLS listener beside the
    /// plain one, or alone when `port` is 0 (TLS/HostRuntime+TLS.swift).
    func listen(_ plugin: LoadedPlugin, host: String, port: UInt16, context: UnsafeMutableRawPointer?,
                handle: UnsafeMutablePointer<mona_handle>?, bound: UnsafeMutablePointer<mona_addr>?) -> Int32 {
        guard plugin.entry.tcp_accepted != nil, plugin.entry.tcp_data != nil else { return MONA_E_UNSUPPORTED }
        switch tlsEndpoint(for: plugin, port: port) {
        case .failure(let failure):
            log(.error, "\(plugin.section): \(failure.text); \(plugin.section) is off")
            return MONA_E_INVAL
        case .success(nil):
            return openListener(plugin, host: host, port: port, context: context, tls: nil, handle: handle, bound: bound)
        case .success(let endpoint?):
            return listen(plugin, host: host, port: port, context: context, tls: endpoint, handle: handle, bound: bound)
        }
    }

    /// Binds and listens (TLS when `tls` is set).
    func openListener(_ plugin: LoadedPlugin, host: String, port: UInt16, context: UnsafeMutableRawPointer?, tls: TLSEndpoint?,
                      handle: UnsafeMutablePointer<mona_handle>?, bound: UnsafeMutablePointer<mona_addr>?) -> Int32 {
        openSocket(plugin, udp: false, tls: tls != nil, host: host, port: port, handle: handle, bound: bound) { fd, address in
            let listener = TCPListener(handle: reactor.makeHandle(), owner: plugin, context: context, bound: address,
                                       tls: tls, reactor: reactor)
            guard listener.start(descriptor: fd) else { return nil }
            reactor.listeners[listener.handle] = listener
            return listener.handle
        }
    }

    func bindUDP(_ plugin: LoadedPlugin, host: String, port: UInt16, context: UnsafeMutableRawPointer?,
                 handle: UnsafeMutablePointer<mona_handle>?, bound: UnsafeMutablePointer<mona_addr>?) -> Int32 {
        guard plugin.entry.udp_datagram != nil else { return MONA_E_UNSUPPORTED }
        return openSocket(plugin, udp: true, host: host, port: port, handle: handle, bound: bound) { fd, address in
            let socket = UDPSocket(handle: reactor.makeHandle(), owner: plugin, context: context, bound: address,
                                   reactor: reactor)
            guard socket.start(descriptor: fd) else { return nil }
            reactor.udpSockets[socket.handle] = socket
            return socket.handle
        }
    }

    /// Binds (and for TCP listens) synchronously, then `adopt` hands the descriptor to libuv and
    /// returns the handle (nil if libuv refused it); a failure is one log line naming the ini key to change.
    private func openSocket(_ plugin: LoadedPlugin, udp: Bool, tls: Bool = false, host: String, port: UInt16,
                            handle: UnsafeMutablePointer<mona_handle>?, bound: UnsafeMutablePointer<mona_addr>?,
                            adopt: (Int32, mona_addr) -> UInt64?) -> Int32 {
        let type = Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        switch SocketFactory.bound(type: type, host: host, port: port) {
        case .failure(let failure):
            log(.error, "\(plugin.section): cannot \(udp ? "bind UDP" : tls ? "listen on TLS" : "listen on TCP") \(host.isEmpty ? "0.0.0.0" : host):\(port) (\(failure.text)); \(changeHint(plugin.section, port))")
            return failure.code
        case .success(let (fd, address)):
            guard let made = adopt(fd, address) else { return MONA_E_IO }
            handle?.pointee = made
            bound?.pointee = address
            notePublicAddress(plugin.section, address)
            log(.info, "\(plugin.section): listening on \(udp ? "UDP" : tls ? "TLS" : "TCP") \(address.description)")
            return MONA_OK
        }
    }

    /// "change HTTP.port in <ini>": names the key of the section that holds this port.
    func changeHint(_ section: String, _ port: UInt16) -> String {
        let keys = config.keys(withPrefix: "\(section).").filter { config[$0]?.trimmingBlanks() == "\(port)" }
        let key = keys.first { $0 == "\(section).port" } ?? keys.first
        let file = layout.iniPath
        return key.map { "change \($0) in \(file)" } ?? "change the ports of [\(section)] in \(file)"
    }

    /// A plugin's default for one of its keys (config_default): kept unless the configuration has the key.
    func declareDefault(_ key: String, _ value: String) {
        if config[key] == nil { config[key] = value }
    }

    /// MonaServer publishes `<PROTO>.publicAddress` once a protocol listens.
    private func notePublicAddress(_ section: String, _ address: mona_addr) {
        let key = "\(section).publicAddress"
        guard config[key] == nil else { return }
        let publicHost = config["\(section).publicHost"] ?? config["publicHost"]
        var host = publicHost ?? address.ipText ?? "127.0.0.1"
        if publicHost == nil, host == "0.0.0.0" { host = "127.0.0.1" } else if publicHost == nil, host == "::" { host = "::1" }
        config[key] = host.contains(":") ? "[\(host)]:\(address.port)" : "\(host):\(address.port)"
    }

    func runBlocking(_ plugin: LoadedPlugin, work: @convention(c) (UnsafeMutableRawPointer?) -> Void,
                     context: UnsafeMutableRawPointer?) {
        let job = BlockingJob(work: work, context: context)
        plugin.workStarted()
        reactor.runBlocking({ job.work(job.context) }) { _ in
            // Never after destroy: the stop waits for this (whenWorksDone).
            plugin.entry.work_done?(plugin.instance, job.context)
            plugin.workFinished()
        }
    }
}

/// A C work function and its context, carried to a pool thread.
private struct BlockingJob: @unchecked Sendable {
    let work: @convention(c) (UnsafeMutableRawPointer?) -> Void
    let context: UnsafeMutableRawPointer?
}
