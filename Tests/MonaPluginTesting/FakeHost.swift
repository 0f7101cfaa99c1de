import MonaHostCore
import MonaValues
import PluginABI

/// A host for one plugin, in process, without sockets, loop or Lua: what swift-nio's
/// `EmbeddedChannel` is to a channel handler. A test feeds bytes and datagrams, advances a clock of
/// its own, fires timers, runs the blocking work, answers the object model's calls (clients, RPC,
/// files, publications) with closures, and reads back what the plugin sent and every host call it
/// made (`calls`). The plugin is driven through its C entry table exactly as the real host drives it.
///
/// Call `destroy()` when done (the plugin's destroy may call the host, so it cannot run from deinit).
/// As in the real host, a callback that ends a connection (`tcp_closed`) or drains it
/// (`tcp_writable`) never runs inside the host call that caused it: it waits until the driving
/// method returns to the test (`deliverDeferred`).
public final class FakeHost {
    /// The plugin's configuration section ("HTTP", "RTMP", ...).
    public let section: String
    /// The configuration the plugin reads (`config_get`, `config_iterate`), full keys ("HTTP.port").
    public var config: [String: String]
    /// Log lines the plugin wrote, with their level.
    public internal(set) var logs: [(level: Int32, text: String)] = []
    /// The host functions the plugin called, by name, in order ("tcp_send", "client_open", ...).
    public internal(set) var calls: [String] = []
    /// The monotonic clock the plugin sees, in nanoseconds (moves only with `advance`).
    public internal(set) var nowNs: UInt64 = 1_000_000_000
    /// The wall clock the plugin sees, in milliseconds since 1970 (moves with `advance` too).
    public var wallMs: Int64 = 1_767_225_600_000
    /// The plugin's entry table.
    public let entry: mona_plugin
    /// The instance `create` returned (nil before `start` or if it failed).
    public internal(set) var instance: UnsafeMutableRawPointer?

    let api: UnsafeMutablePointer<mona_host_api>
    /// Handles are drawn from one counter, shared with the crypto objects.
    let handles = HandleCounter()
    var lastHandle: mona_handle { handles.last }
    var deferred: [() -> Void] = []
    let crypto: CryptoService

    // Sockets, timers, work (FakeHost+Sockets.swift, FakeHost+Timers.swift).
    public internal(set) var listeners: [mona_handle: Listener] = [:]
    public internal(set) var connections: [mona_handle: Connection] = [:]
    public internal(set) var udpSockets: [mona_handle: UDPEndpoint] = [:]
    public internal(set) var timers: [mona_handle: Timer] = [:]
    var pendingWork: [(work: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer?)] = []
    var sharedSizes: [mona_handle: Int] = [:]
    var sharedMemory: [mona_handle: UnsafeMutablePointer<UInt8>] = [:]

    // The object model (FakeHost+Objects.swift).
    public internal(set) var clients: [mona_handle: Client] = [:]
    public internal(set) var writers: [mona_handle: Writer] = [:]
    public internal(set) var publications: [mona_handle: Publication] = [:]
    public internal(set) var subscriptions: [mona_handle: Subscription] = [:]
    /// Answers client_open (onConnection); accepts with no response by default.
    public var onOpen: (Client) -> OpenAnswer = { _ in .accept([]) }
    /// Answers client_invoke (client:method(args)); "method not found" by default.
    public var onInvoke: (Client, String, [MonaValue]) -> InvokeAnswer = { client, method, _ in
        .failure(MONA_E_NOTFOUND, MONA_ERR_NOTFOUND, "Method client '\(method)' not found in application \(client.path)")
    }
    /// Answers client_read_file (onRead and confinement); not found by default.
    public var onReadFile: (Client, String, [MonaValue]) -> FileAnswer = { _, name, _ in
        .deny(MONA_ERR_NOTFOUND, "\(name) not found")
    }
    /// Answers publish (onPublish); accepts by default.
    public var onPublish: (Client?, String) -> Answer = { _, _ in .accept }
    /// Answers subscribe (onSubscribe); accepts by default.
    public var onSubscribe: (Client, String) -> Answer = { _, _ in .accept }
    /// Runs inside an accepted subscribe, as the host starts the sink of a running publication there.
    public var onSubscribed: (Subscription) -> Void = { _ in }
    /// Answers metrics_text for a peer (ABI 1.8): its status and, with MONA_OK, the text; metrics off
    /// (MONA_E_UNSUPPORTED) by default.
    public var onMetrics: (mona_addr) -> (status: Int32, text: String) = { _ in (MONA_E_UNSUPPORTED, "") }
    /// The codec configurations pub_configs reports (FLV bodies), by publication name; absent: not published.
    public var publicationConfigs: [String: (audio: [UInt8], video: [UInt8])] = [:]
    /// Names of publications that run: subscribing to one calls sink_start before subscribe returns,
    /// as the host's media model does.
    public var running: Set<String> = []

    /// Loads the plugin's table from its entry function (e.g. `monaPluginEntryHTTP`) for `section`.
    public init(section: String, config: [String: String] = [:], entry: (UInt32) -> UnsafePointer<mona_plugin>?) {
        self.section = section
        self.config = config
        guard let table = entry(MONA_ABI_VERSION) else { fatalError("the plugin refused ABI \(MONA_ABI_VERSION)") }
        var copy = mona_plugin()
        let size = min(Int(table.pointee.struct_size), MemoryLayout<mona_plugin>.size)
        withUnsafeMutableBytes(of: &copy) { $0.copyMemory(from: UnsafeRawBufferPointer(start: table, count: size)) }
        self.entry = copy
        crypto = CryptoService(makeHandle: { [handles] in handles.next() })
        api = .allocate(capacity: 1)
        api.initialize(to: FakeHostTable.make())
        api.pointee.ctx = OpaquePointer(Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        // The plugin's destroy may call the host: it must run while this object is alive (`destroy()`).
        assert(instance == nil, "call destroy() before releasing a FakeHost")
        for memory in sharedMemory.values { memory.deallocate() }
        crypto.freeAll(owner: self)
        api.deinitialize(count: 1)
        api.deallocate()
    }

    /// The fake behind a host API `ctx`.
    static func from(_ ctx: OpaquePointer?) -> FakeHost {
        Unmanaged<FakeHost>.fromOpaque(UnsafeRawPointer(ctx!)).takeUnretainedValue()
    }

    func makeHandle() -> mona_handle { handles.next() }

    /// Runs the callbacks that host calls made during the last driving call (tcp_closed, tcp_writable),
    /// each as a callback of its own, until none is left.
    func deliverDeferred() {
        while !deferred.isEmpty {
            let next = deferred.removeFirst()
            next()
        }
    }

    /// Runs `body` (a call into the plugin) and then the callbacks it caused.
    @discardableResult
    func drive<T>(_ body: () -> T) -> T {
        let result = body()
        deliverDeferred()
        return result
    }

    // MARK: lifecycle

    /// Creates and starts the plugin; its status (negative: it failed to start).
    @discardableResult
    public func start() -> Int32 {
        guard let create = entry.create else { return MONA_E_UNSUPPORTED }
        instance = section.withCString { create(api, $0) }
        guard instance != nil else { return MONA_E_INVAL }
        return drive { entry.start?(instance) ?? MONA_OK }
    }

    /// Stops the plugin as the server's stop does: `stop`, then every connection it still holds ends
    /// with MONA_CLOSED_SHUTDOWN, its timers are cancelled.
    public func stop() {
        drive { entry.stop?(instance) }
        for connection in connections.values.sorted(by: { $0.handle < $1.handle }) where !connection.ended {
            end(connection, reason: MONA_CLOSED_SHUTDOWN)
        }
        timers.removeAll()
        listeners.removeAll()
        udpSockets.removeAll()
    }

    /// Destroys the plugin instance (its `destroy`); call it at the end of every test.
    public func destroy() {
        guard let instance else { return }
        entry.destroy?(instance)
        self.instance = nil
    }

    /// How many times the plugin called the host function `name`.
    public func count(_ name: String) -> Int { calls.filter { $0 == name }.count }
}

/// A counter of handles, never reused.
final class HandleCounter {
    private(set) var last: mona_handle = 0

    func next() -> mona_handle {
        last += 1
        return last
    }
}

/// What client_open, publish and subscribe answer.
public enum Answer {
    case accept
    /// Refused: the status (MONA_E_REJECTED, MONA_E_NOTFOUND), the error class and message.
    case reject(Int32, Int32, String)
}

/// What client_open answers: the response (MVS values onConnection returned) or a refusal.
public enum OpenAnswer {
    case accept([MonaValue])
    case reject(Int32, Int32, String)
}

/// What client_invoke answers.
public enum InvokeAnswer {
    case results([MonaValue])
    /// MONA_PENDING with this token: the answer comes later through `writerMessage(response:)`.
    case pending(Int32)
    case failure(Int32, Int32, String)
}

/// What client_read_file answers.
public enum FileAnswer {
    case allow(path: String, properties: [MonaValue])
    case deny(Int32, String)
    case handled
}

extension mona_addr {
    /// 127.0.0.1:port.
    public static func loopback(_ port: UInt16) -> mona_addr {
        var address = mona_addr()
        address.family = UInt16(MONA_AF_INET)
        address.port = port
        address.ip.0 = 127
        address.ip.3 = 1
        return address
    }
}
