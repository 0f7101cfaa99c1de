import PluginABI

/// One plugin library the host loaded: its descriptor, its instance and its own copy of the host API,
/// whose `ctx` points back at this record.
final class LoadedPlugin: @unchecked Sendable {
    /// Lifecycle of the instance.
    enum State { case created, started, stopped, destroyed }

    /// The configuration section ("HTTP", "echo"): the plugin's name for handoffs and in logs.
    let section: String
    /// The library file it came from.
    let path: String
    /// The plugin's entry points: a copy of its table, with the fields of minors newer than the plugin's
    /// (beyond its struct_size) left NULL.
    let entry: mona_plugin
    /// True for plugins of ABI 1.2 and later: client_invoke may answer them MONA_PENDING, and a late
    /// failure reaches them as writer_message(response = -token).
    var knowsPendingCalls: Bool { entry.abi_version & 0xFFFF >= 2 }
    /// The host API table given to this plugin (owned here, freed in deinit).
    let api: UnsafeMutablePointer<mona_host_api>
    /// The instance `create` returned.
    var instance: UnsafeMutableRawPointer?
    var state = State.created
    /// What the host counts for the plugin (metrics): behind a constant pointer, so that the socket code
    /// updates a plain integer without the runtime exclusivity check a class's `var` would cost.
    let counters: UnsafeMutablePointer<PluginCounters>
    /// Shared buffers the plugin created (ABI 1.3), by handle; queued sends hold their own references.
    var sharedBuffers: [mona_handle: SharedBlock] = [:]
    /// run_blocking items whose work_done has not been delivered yet: the plugin is not destroyed
    /// before they are (the header's promise).
    private(set) var pendingWorks = 0
    /// What waits for `pendingWorks` to reach 0.
    private var worksDrained: [() -> Void] = []
    unowned let runtime: HostRuntime

    init(section: String, path: String, descriptor: UnsafePointer<mona_plugin>, runtime: HostRuntime) {
        self.section = section
        self.path = path
        entry = Self.table(descriptor)
        self.runtime = runtime
        counters = .allocate(capacity: 1)
        counters.initialize(to: PluginCounters())
        api = .allocate(capacity: 1)
        api.initialize(to: HostAPITable.make())
        api.pointee.ctx = OpaquePointer(Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        counters.deinitialize(count: 1)
        counters.deallocate()
        api.deinitialize(count: 1)
        api.deallocate()
    }

    /// A copy of a plugin's table: the bytes its struct_size covers, the rest (newer minors) zero, i.e. NULL.
    /// The loader refused tables below the 1.0 layout already.
    static func table(_ descriptor: UnsafePointer<mona_plugin>) -> mona_plugin {
        ABIStruct.copy(descriptor, declaredSize: descriptor.pointee.struct_size, minimumSize: 0, into: mona_plugin())!
    }

    /// Logs why a host API call of this plugin was refused (one line naming the function) and returns
    /// `status` (MONA_E_INVAL unless said otherwise). Thread-safe.
    func refuse(_ function: String, _ reason: String, status: Int32 = MONA_E_INVAL, level: MonaLogLevel = .warn) -> Int32 {
        runtime.log(level, "\(section): \(function) refused: \(reason)")
        return status
    }

    /// A run_blocking item was queued.
    func workStarted() {
        pendingWorks += 1
    }

    /// A run_blocking item's work_done was delivered; the waiters run once none is left.
    func workFinished() {
        pendingWorks -= 1
        guard pendingWorks == 0 else { return }
        let waiters = worksDrained
        worksDrained = []
        for waiter in waiters { waiter() }
    }

    /// Runs `body` once every run_blocking item of the plugin has had its work_done (now, if none is pending).
    func whenWorksDone(_ body: @escaping () -> Void) {
        if pendingWorks == 0 { body() } else { worksDrained.append(body) }
    }

    /// True while callbacks may reach the instance.
    var isLive: Bool { state == .created || state == .started }

    /// The record behind a host API `ctx` argument, for the functions the header reserves to the loop
    /// thread: debug builds stop on a call from another thread (a plugin bug that would corrupt the
    /// host's tables).
    static func from(_ ctx: OpaquePointer?) -> LoadedPlugin {
        let plugin = fromAnyThread(ctx)
        assert(plugin.runtime.reactor.inLoop, "\(plugin.section): a host API function reserved to the loop thread was called from another thread")
        return plugin
    }

    /// The record behind a host API `ctx` argument, for the thread-safe functions (log, log_level).
    static func fromAnyThread(_ ctx: OpaquePointer?) -> LoadedPlugin {
        Unmanaged<LoadedPlugin>.fromOpaque(UnsafeRawPointer(ctx!)).takeUnretainedValue()
    }
}
