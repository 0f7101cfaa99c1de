import PluginABI

/// One link with another MonaServer (lua-api.md §7.3): a TCP connection we dialled (the peer is a
/// *target*) or accepted (an *initiator*), its frames each way, and the hello handshake: the dialler
/// sends its hello at once, the acceptor answers a hello with its own; each side is connected once it
/// has the other's. Loop thread only.
final class ServerLink: HostTCPConnectionDelegate {
    let connection: HostTCPConnection
    /// True when we dialled it.
    let isTarget: Bool
    /// "ip:port": the address dialled, or the peer's address of an accepted link.
    let address: String
    /// The `?k=v&…` properties of the target entry (nothing for initiators).
    let properties: [ServerConfigPair]
    /// The peer's configuration, from its hello.
    private(set) var configs: [ServerConfigPair] = []
    /// Both hellos went: the mesh told its delegate (and tells it of the end).
    private(set) var isConnected = false
    private var writer = ServerFrameWriter()
    private var reader = ServerFrameReader()
    /// Why we ended the link (bad input, a refusal), for the disconnection event.
    private var failure: String?
    private unowned let mesh: ServerMesh
    /// Ends a link whose peer sends no hello (a stuck server, or not a server: it would hold the link,
    /// and a target would never be dialled again).
    private var helloTimer: LoopTimer?
    /// How long a peer has to send its hello.
    static let helloTimeoutMs: UInt64 = 10_000

    init(connection: HostTCPConnection, isTarget: Bool, address: String, properties: [ServerConfigPair], mesh: ServerMesh) {
        self.connection = connection
        self.isTarget = isTarget
        self.address = address
        self.properties = properties
        self.mesh = mesh
        connection.delegate = self
        helloTimer = LoopTimer(reactor: mesh.reactor, delayMs: Self.helloTimeoutMs) { [weak self] in
            guard let self, !isConnected else { return }
            mesh.log(.error, "Server \(address) sent no hello within \(Self.helloTimeoutMs / 1000) s: link closed")
            end("no hello")
        }
    }

    deinit { helloTimer?.cancel() }

    var handle: UInt64 { connection.handle }

    /// The link is still in use (not ended or ending).
    var isActive: Bool { connection.delegate === self }

    func sendHello() { send(writer.hello(mesh.helloConfigs())) }

    /// A handler's message (scripts' handlers were checked: neither empty nor `.`, which the mesh sends).
    func send(handler: String, payload: [UInt8]) {
        if handler.utf8.count > ServerFrameWriter.maxHandlerLength {
            mesh.log(.warn, "Server handler name \(handler) is longer than \(ServerFrameWriter.maxHandlerLength) bytes: cut")
        }
        send(writer.message(handler, payload: payload))
    }

    /// A frame refused (too much waits for a peer that does not read) cannot be skipped: it may name a
    /// handler that later frames refer to. The link ends.
    private func send(_ frame: [UInt8]) {
        guard isActive else { return }
        if let failure = frame.withUnsafeBytes({ connection.send($0) }) {
            mesh.log(.error, "Server \(address): \(failure); link closed")
            end(failure)
        }
    }

    /// Refuses the link: the reason goes to the peer, then the connection ends.
    func reject(_ reason: String) {
        guard isActive else { return }
        send(writer.reject(reason))
        end(reason)
    }

    /// Ends the link gracefully (what is queued is still written); the mesh hears it as a callback of
    /// its own (never from inside the call that ended it, which may come from Lua).
    func end(_ reason: String?) {
        guard isActive else { return }
        if failure == nil { failure = reason }
        stopHelloTimer()
        connection.disconnect()
        mesh.endedLater(self, error: failure)
    }

    // MARK: HostTCPConnectionDelegate

    func received(_ connection: HostTCPConnection, _ bytes: UnsafeRawBufferPointer) -> Int {
        do throws(ServerFrameError) {
            return try reader.read(bytes) { message in
                if isActive { handle(message) }
            }
        } catch {
            mesh.log(.error, "Server \(address) sent \(error.text): link closed")
            end("bad data: \(error.text)")
            return bytes.count
        }
    }

    func closed(_ connection: HostTCPConnection, error: String?) {
        stopHelloTimer()
        mesh.ended(self, error: failure ?? error)
    }

    private func stopHelloTimer() {
        helloTimer?.cancel()
        helloTimer = nil
    }

    private func handle(_ message: ServerMessage) {
        switch message {
        case .hello(let pairs):
            guard !isConnected else {
                mesh.log(.error, "Server \(address) sent a second hello: link closed")
                return end("a second hello")
            }
            configs = pairs
            stopHelloTimer()
            if !isTarget { sendHello() }
            isConnected = true
            mesh.connected(self)
        case .reject(let reason):
            mesh.log(.error, "Connection with \(address) server, \(reason)")
            end(reason)
        case .message(let handler, let payload):
            guard isConnected else {
                mesh.log(.error, "Server \(address) sent \(handler) before its hello: link closed")
                return end("a message before the hello")
            }
            mesh.received(self, handler: handler, payload: payload)
        }
    }
}
