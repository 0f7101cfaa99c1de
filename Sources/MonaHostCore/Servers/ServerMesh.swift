import PluginABI

/// What the mesh tells the applications (the Lua runtime).
protocol ServerMeshDelegate: AnyObject {
    /// A link is established (both hellos went): the paths of the applications running here (sent to
    /// the peer as `.`), or the reason to refuse it.
    func serverConnected(_ link: ServerLink) -> Result<[String], ServerRefusal>
    /// An established link ended; `error` when it ended abnormally.
    func serverDisconnected(_ link: ServerLink, error: String?)
    /// A message of a script's handler, its payload AMF values.
    func serverMessage(_ link: ServerLink, handler: String, payload: [UInt8])
    /// The peer runs these applications (`.`): they are opened here too.
    func serverApplications(_ link: ServerLink, paths: [String])
}

/// Why the applications refused a link (the text of the root's onServerConnection error).
struct ServerRefusal: Error {
    let reason: String
}

/// The links between this MonaServer and others (lua-api.md §7): `servers.port` accepts initiators;
/// `servers.targets` (`host:port[?k=v&…]`, `;`-separated) are dialled on the first manage tick, then
/// every 8 ticks (~16 s) while they are not linked. Loop thread only.
final class ServerMesh: HostTCPListenerDelegate {
    private unowned let host: HostRuntime
    weak var delegate: ServerMeshDelegate?
    private var listener: HostTCPListener?
    private var targets: [Target] = []
    /// Every link not ended, by handle.
    private var links: [UInt64: ServerLink] = [:]
    /// Links the applications accepted (they hear of their end).
    private var established: Set<UInt64> = []
    private var ticks = 0
    /// How many manage ticks (2 s) between two dials of a target that is not linked.
    static let redialTicks = 8

    /// A peer of `servers.targets`.
    private struct Target {
        let host: String
        let port: UInt16
        let properties: [ServerConfigPair]
        /// Its link (dialling or established), or nil.
        var link: UInt64?
        /// A name is being resolved.
        var resolving = false
    }

    init(host: HostRuntime) {
        self.host = host
    }

    var reactor: Reactor { host.reactor }

    /// Listens on `servers.port` (if not 0) and reads `servers.targets`.
    func start() {
        targets = Self.parseTargets(host.config["servers.targets"] ?? "") { [self] entry in
            log(.error, "servers.targets: \(entry) is not host:port[?key=value&…]; skipped")
        }.map { Target(host: $0.host, port: $0.port, properties: $0.properties) }
        let port = host.config.int("servers.port", default: 0)
        guard port > 0 else { return }
        let bindHost = host.config["servers.host"] ?? host.config["host"] ?? "0.0.0.0"
        guard port <= 65535 else { return log(.error, "servers.port \(port) is not a port; no server link is accepted") }
        let made = HostTCPListener(reactor: host.reactor)
        if let failure = made.listen(host: bindHost, port: UInt16(port)) {
            return log(.error, "Servers: cannot listen on TCP \(bindHost):\(port) (\(failure)); \(host.changeHint("servers", UInt16(port)))")
        }
        made.delegate = self
        listener = made
        log(.info, "Servers: listening on TCP \(made.bound.description)")
    }

    /// A target entry of `servers.targets`.
    typealias TargetEntry = (host: String, port: UInt16, properties: [ServerConfigPair])

    /// `host:port[?k=v&…]` entries separated by `;` (blanks around them ignored).
    static func parseTargets(_ text: String, invalid: (String) -> Void) -> [TargetEntry] {
        var entries: [TargetEntry] = []
        for raw in text.split(separator: ";") {
            let entry = String(raw.trimmingBlanks())
            guard !entry.isEmpty else { continue }
            if let parsed = parseTarget(entry) { entries.append(parsed) } else { invalid(entry) }
        }
        return entries
    }

    private static func parseTarget(_ entry: String) -> TargetEntry? {
        let parts = entry.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let address = String(parts[0])
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else { return nil }
        var name = String(address[..<colon])
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty else { return nil }
        var properties: [ServerConfigPair] = []
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let field = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                properties.append(ServerConfigPair(key: String(field[0]), value: field.count > 1 ? String(field[1]) : ""))
            }
        }
        return (name, port, properties)
    }

    /// The manage tick: targets are dialled on the first one, then every `redialTicks` while not linked.
    func tick() {
        ticks += 1
        guard (ticks - 1) % Self.redialTicks == 0 else { return }
        for index in targets.indices where targets[index].link == nil && !targets[index].resolving { dial(index) }
    }

    private func dial(_ index: Int) {
        let target = targets[index]
        if let address = mona_addr(ip: target.host, port: target.port) { return dial(index, address) }
        targets[index].resolving = true
        host.reactor.runBlocking({ LuaNatives.resolveName(target.host) }) { [weak self] ip in
            guard let self, index < targets.count else { return }
            targets[index].resolving = false
            guard let ip, let address = mona_addr(ip: ip, port: target.port) else {
                return log(.warn, "Server \(target.host):\(target.port): cannot resolve \(target.host)")
            }
            dial(index, address)
        }
    }

    private func dial(_ index: Int, _ address: mona_addr) {
        let connection = HostTCPConnection(reactor: reactor)
        if let failure = connection.connect(to: address) {
            return log(.warn, "Server \(address.description): \(failure)")
        }
        let link = ServerLink(connection: connection, isTarget: true, address: address.description,
                              properties: targets[index].properties, mesh: self)
        links[link.handle] = link
        targets[index].link = link.handle
        link.sendHello()
    }

    func accepted(_ listener: HostTCPListener, _ connection: HostTCPConnection) {
        let link = ServerLink(connection: connection, isTarget: false, address: connection.peer.description,
                              properties: [], mesh: self)
        links[link.handle] = link
    }

    /// The server stops: every link and the listener close, silently.
    func stop() {
        delegate = nil
        listener?.delegate = nil
        listener?.close()
        listener = nil
        for link in links.values {
            link.connection.delegate = nil
            link.connection.abort()
        }
        links = [:]
        established = []
    }

    // MARK: what the applications ask

    /// Sends a handler's message on an established link; false when it is not one.
    func send(_ handle: UInt64, handler: String, payload: [UInt8]) -> Bool {
        guard established.contains(handle), let link = links[handle] else { return false }
        link.send(handler: handler, payload: payload)
        return true
    }

    /// Refuses an established link with a reason.
    func reject(_ handle: UInt64, reason: String) {
        guard established.contains(handle) else { return }
        links[handle]?.reject(reason)
    }

    /// An application started here: every peer opens it too (`.`).
    func announce(_ path: String) {
        let payload = ServerFrameWriter.applications([path])
        for handle in established { links[handle]?.send(handler: ".", payload: payload) }
    }

    // MARK: what the links tell

    /// What a hello of ours carries: every configuration parameter.
    func helloConfigs() -> [ServerConfigPair] {
        host.config.values.sorted { $0.key < $1.key }.map { ServerConfigPair(key: $0.key, value: $0.value) }
    }

    func connected(_ link: ServerLink) {
        guard let delegate else { return link.end(nil) }
        established.insert(link.handle) // onServerConnection may already send
        switch delegate.serverConnected(link) {
        case .success(let applications):
            log(.note, "Connection established with \(link.address) server")
            if !applications.isEmpty { link.send(handler: ".", payload: ServerFrameWriter.applications(applications)) }
        case .failure(let refusal):
            established.remove(link.handle)
            link.reject(refusal.reason)
        }
    }

    func received(_ link: ServerLink, handler: String, payload: [UInt8]) {
        guard established.contains(link.handle) else { return }
        guard handler == "." else {
            delegate?.serverMessage(link, handler: handler, payload: payload)
            return
        }
        do throws(ServerFrameError) {
            let paths = try ServerFrameReader.strings(payload)
            delegate?.serverApplications(link, paths: paths)
        } catch {
            log(.error, "Server \(link.address) sent an application list with \(error.text): link closed")
            link.end("bad data: \(error.text)")
        }
    }

    /// A link ended (once): its target is dialled again later; the applications hear of an established one.
    func ended(_ link: ServerLink, error: String?) {
        guard links.removeValue(forKey: link.handle) != nil else { return }
        if let index = targets.firstIndex(where: { $0.link == link.handle }) { targets[index].link = nil }
        guard established.remove(link.handle) != nil else {
            if link.isTarget, !link.isConnected { log(.info, "Server \(link.address) unreachable: \(error ?? "closed")") }
            return
        }
        log(.info, "Disconnection from \(link.address) server\(error.map { ": \($0)" } ?? "")")
        delegate?.serverDisconnected(link, error: error)
    }

    /// `ended` as a callback of its own.
    func endedLater(_ link: ServerLink, error: String?) {
        host.reactor.execute { [weak self] in self?.ended(link, error: error) }
    }

    func log(_ level: MonaLogLevel, _ message: String, file: String = #fileID, line: UInt = #line) {
        host.log(level, message, file: file, line: line)
    }
}
