import CLibUV
import Dispatch
import PluginABI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The one event loop of the server (a libuv loop on a thread of its own) and every socket and timer
/// the plugins hold.
///
/// Everything here runs on the loop thread: plugin callbacks are called from it and host API calls
/// arrive on it, so the tables need no lock. Other threads hand it work with `execute` (one
/// `uv_async_t` wake-up). Each resource remembers the plugin that owns it, so that a plugin's
/// leftovers can be closed when it stops.
final class Reactor: @unchecked Sendable {
    /// The libuv loop (owned: freed in `shutdown`).
    let loop: UnsafeMutablePointer<uv_loop_t>
    unowned let runtime: HostRuntime
    private var lastHandle: UInt64 = 0
    private var thread = pthread_t()
    private let wakeup: LoopWakeup
    private let finished = DispatchSemaphore(value: 0)
    private var trimmer: HeapTrimmer?

    var connections: [UInt64: TCPConnection] = [:]
    var listeners: [UInt64: TCPListener] = [:]
    var udpSockets: [UInt64: UDPSocket] = [:]
    var timers: [UInt64: PluginTimer] = [:]
    /// What TLS connections share (made for the first TLS connection).
    private(set) lazy var tls = TLSLoopState()

    /// The loop's one read buffer: every TCP read and every batch of datagrams lands here, is handed to
    /// its plugin and is free again when the callback returns (16 datagrams of 64 KiB for recvmmsg;
    /// TCP reads use the first `tcpReadSize` bytes).
    let readBuffer: UnsafeMutableRawPointer
    static let udpReadSize = 16 * 65536
    /// The most one TCP read takes (a plugin that sees this much knows more may wait).
    static let tcpReadSize = 65536

    init(runtime: HostRuntime) {
        self.runtime = runtime
        loop = .allocate(capacity: 1)
        uv_loop_init(loop)
        readBuffer = .allocate(byteCount: Self.udpReadSize, alignment: 16)
        uv_loop_set_data(loop, readBuffer) // what the read callbacks find the buffer by
        wakeup = LoopWakeup(loop: loop)
        let start = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { argument in
            let reactor = Unmanaged<Reactor>.fromOpaque(argument!).takeRetainedValue()
            reactor.run()
            return nil
        }, start)
        execute { [self] in trimmer = HeapTrimmer(reactor: self) }
    }

    private func run() {
        uv_run(loop, UV_RUN_DEFAULT) // until every handle is closed (shutdown)
        finished.signal()
    }

    /// True on the loop thread.
    var inLoop: Bool { pthread_equal(pthread_self(), thread) != 0 }

    /// A fresh handle, never reused.
    func makeHandle() -> UInt64 {
        lastHandle += 1
        return lastHandle
    }

    /// Runs `body` on the loop, later (thread-safe; from the loop it runs as a callback of its own).
    func execute(_ body: @escaping () -> Void) {
        wakeup.post(body)
    }

    /// Runs `body` on the loop and waits for it (from a thread that is not the loop).
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        precondition(!inLoop, "Reactor.sync called on the loop thread")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, Error>?
        execute {
            result = Result { try body() }
            done.signal()
        }
        done.wait()
        return try result!.get()
    }

    /// Runs `work` on libuv's thread pool, then `then` with its result on the loop (one hop). Loop only.
    func runBlocking<T>(_ work: @escaping () -> T, then: @escaping (T) -> Void) {
        nonisolated(unsafe) var result: T?
        let item = BlockingWork(work: { result = work() }, then: { then(result!) })
        item.request.pointee.data = Unmanaged.passRetained(item).toOpaque()
        let status = uv_queue_work(loop, item.request, { request in
            Unmanaged<BlockingWork>.fromOpaque(request!.pointee.data).takeUnretainedValue().work()
        }, { request, _ in
            Unmanaged<BlockingWork>.fromOpaque(request!.pointee.data).takeRetainedValue().then()
        })
        if status != 0 { // only when the loop is closing: do the work here rather than lose it, and
            // answer as a callback of its own, never from inside the call that asked for it
            Unmanaged<BlockingWork>.fromOpaque(item.request.pointee.data).release()
            item.work()
            execute { item.then() }
        }
    }

    /// Closes everything `plugin` still holds, with MONA_CLOSED_SHUTDOWN for its connections (their
    /// tcp_closed come first); `completion` runs on the loop once every socket is closed.
    func closeAll(ownedBy plugin: LoadedPlugin, completion: @escaping () -> Void) {
        var pending = 1
        let one = {
            pending -= 1
            if pending == 0 { completion() }
        }
        for (handle, timer) in timers where timer.owner === plugin {
            timer.cancel()
            timers[handle] = nil
        }
        for (handle, listener) in listeners where listener.owner === plugin {
            pending += 1
            listener.close(then: one)
            listeners[handle] = nil
        }
        for (handle, socket) in udpSockets where socket.owner === plugin {
            pending += 1
            socket.close(then: one)
            udpSockets[handle] = nil
        }
        for connection in connections.values where connection.owner === plugin {
            pending += 1
            connection.shutdown(then: one)
        }
        one()
    }

    /// Closes what is left, ends the loop thread and frees the loop (after every plugin is gone; from
    /// outside the loop).
    func shutdown() {
        execute { [self] in
            uv_walk(loop, { handle, _ in
                guard let handle, uv_is_closing(handle) == 0, let data = uv_handle_get_data(handle) else { return }
                Unmanaged<LoopHandle>.fromOpaque(data).takeUnretainedValue().close()
            }, nil)
        }
        finished.wait()
        pthread_join(thread, nil)
        uv_loop_close(loop)
        loop.deallocate()
        readBuffer.deallocate()
    }
}

/// Work for the pool and what follows on the loop.
private final class BlockingWork: @unchecked Sendable {
    let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
    /// Runs on a pool thread.
    let work: () -> Void
    /// Runs on the loop after `work`.
    let then: () -> Void

    init(work: @escaping () -> Void, then: @escaping () -> Void) {
        self.work = work
        self.then = then
        request.initialize(to: uv_work_t())
    }

    deinit { request.deallocate() }
}

/// The `uv_async_t` that wakes the loop for work posted from any thread.
final class LoopWakeup: LoopHandle, @unchecked Sendable {
    /// Work posted and not yet run; nil once the handle closes (later posts are dropped).
    private let queue = Mutex<[Posted]?>([])

    /// A closure handed from any thread to the loop, which alone runs it.
    private struct Posted: @unchecked Sendable {
        let body: () -> Void
    }

    init(loop: UnsafeMutablePointer<uv_loop_t>) {
        super.init()
        uv_async_init(loop, raw.assumingMemoryBound(to: uv_async_t.self)) { async in
            LoopHandle.owner(async, as: LoopWakeup.self).drain()
        }
        opened()
    }

    /// Queues `body` and wakes the loop (thread-safe).
    func post(_ body: @escaping () -> Void) {
        queue.withLock { queue in
            guard queue != nil else { return }
            queue!.append(Posted(body: body))
            uv_async_send(raw.assumingMemoryBound(to: uv_async_t.self))
        }
    }

    override func close() {
        queue.withLock { $0 = nil }
        super.close()
    }

    private func drain() {
        let bodies = queue.withLock { queue in
            let taken = queue ?? []
            if queue != nil { queue!.removeAll(keepingCapacity: true) }
            return taken
        }
        for posted in bodies { posted.body() }
    }
}
