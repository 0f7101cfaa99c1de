import Dispatch
import Glibc

/// The disk side of the Lua `data` table: a tree of string paths to byte values, stored in MonaServer 1.x's
/// layout (the entry `/a/b/key` is the folder `<root>/a/b/key/` holding one file named by the lowercase hex
/// MD5 of the value, containing the value), made crash-consistent and written in the background.
///
/// `set` and `remove` return at once; one serial writer applies the changes in order, never on the
/// caller's thread. With a `flushInterval`, changes are coalesced per path for that long (a key set many
/// times is written once, with its last value). After a kill at any moment, `load()` sees every entry
/// with its old or its new value. Errors are logged and never crash; a failed change stays queued and is
/// retried with the next write or `flush()`. See `Writer` for the on-disk steps and `KeyCodec` for how
/// keys become folder names.
public final class PersistentStore: @unchecked Sendable {
    /// The levels the store logs at (they map to MonaServer's levels of the same names).
    public enum LogLevel: Sendable, Equatable {
        case error, warn, note, info, debug
    }

    /// One stored value and its path of keys.
    public struct Entry: Sendable, Equatable {
        public var path: [String]
        public var value: [UInt8]

        public init(path: [String], value: [UInt8]) {
            self.path = path
            self.value = value
        }
    }

    /// The data folder (1.x: `<application dir>/data`).
    public let root: String
    /// How long changes are coalesced before being written, in milliseconds (0: written at once).
    public let flushInterval: Int

    private let log: @Sendable (LogLevel, String) -> Void
    private let queue = DispatchQueue(label: "MonaPersistence.writer", qos: .utility)
    /// Used on `queue` only.
    private let writer: Writer
    private let lock = Lock()
    /// Changes not yet taken by the writer (guarded by `lock`).
    private var pending = PendingChange()
    /// True while a write of `pending` is scheduled (guarded by `lock`).
    private var scheduled = false
    /// How many `holdWrites` are not yet released (guarded by `lock`).
    private var held = 0

    /// A store over the folder `root` (created on the first write).
    public init(root: String, flushInterval: Int, log: @escaping @Sendable (LogLevel, String) -> Void) {
        self.root = root
        self.flushInterval = max(0, flushInterval)
        self.log = log
        writer = Writer(root: root, log: log)
    }

    /// Every stored entry, sorted by path, after writing what is queued and cleaning the folder. Call it
    /// at start, before serving; it blocks.
    public func load() -> [Entry] {
        queue.sync {
            writePending()
            return writer.load()
        }
    }

    /// Queues `value` for the entry at `path` (which must not be empty).
    public func set(_ path: [String], _ value: [UInt8]) {
        guard !path.isEmpty else {
            log(.warn, "Database: a value needs a non-empty path, ignored")
            return
        }
        enqueue { $0.set(path[...], value) }
    }

    /// Queues the removal of the entry at `path` and of everything below it (the empty path: everything).
    public func remove(_ path: [String]) {
        enqueue { $0.remove(path[...]) }
    }

    /// Writes everything queued so far and returns once it is durable (or failed: failures are logged
    /// and stay queued). Must not be called from the `log` callback.
    public func flush() {
        queue.sync { writePending() }
    }

    /// Keeps the changes that follow from the writer until the matching `releaseWrites` (calls nest), so
    /// that related changes reach it in one batch: `data.t = nil; data.t = {…}` in one Lua call is then
    /// written as one atomic replacement, never as a removal the writer could apply alone. `flush()` still
    /// writes everything.
    public func holdWrites() {
        lock.withLock { held += 1 }
    }

    /// Ends a `holdWrites`; the last one schedules the write of what was held.
    public func releaseWrites() {
        let schedule = lock.withLock { () -> Bool in
            held -= 1
            guard held == 0, !scheduled, !pending.isEmpty else { return false }
            scheduled = true
            return true
        }
        if schedule { scheduleWrite() }
    }

    private func enqueue(_ change: (inout PendingChange) -> Void) {
        let schedule = lock.withLock { () -> Bool in
            change(&pending)
            guard !scheduled, held == 0 else { return false }
            scheduled = true
            return true
        }
        if schedule { scheduleWrite() }
    }

    private func scheduleWrite() {
        if flushInterval == 0 {
            queue.async { self.writePending(heldToo: false) }
        } else {
            queue.asyncAfter(deadline: .now() + .milliseconds(flushInterval)) { self.writePending(heldToo: false) }
        }
    }

    /// Takes the queued changes and applies them (on `queue`); what fails goes back under newer changes.
    /// A scheduled write (`heldToo` false) that finds writes held leaves them to `releaseWrites`.
    private func writePending(heldToo: Bool = true) {
        let taken = lock.withLock { () -> PendingChange? in
            scheduled = false
            guard heldToo || held == 0 else { return nil }
            defer { pending = PendingChange() }
            return pending
        }
        guard let changes = taken else { return }
        let failed = writer.apply(changes)
        guard !failed.isEmpty else { return }
        lock.withLock {
            var retry = failed
            retry.merge(later: pending)
            pending = retry
        }
    }

    // MARK: - test hooks

    /// Lets the writer perform `steps` more mutating file-system calls, then stop for good as if the
    /// process had been killed there (nil: no limit). Returns the number of steps performed so far.
    @discardableResult
    func setCrashBudget(_ steps: Int?) -> Int {
        queue.sync {
            writer.budget.remaining = steps
            return writer.budget.performed
        }
    }

    /// How many value files the writer has renamed into place.
    var valuesWritten: Int { queue.sync { writer.valuesWritten } }

    /// True once an injected crash stopped the writer.
    var crashed: Bool { queue.sync { writer.crashed } }
}

/// A pthread mutex.
final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
