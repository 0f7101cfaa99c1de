import CLibUV

/// The owner of one libuv handle's memory (a `uv_tcp_t`, `uv_udp_t`, `uv_timer_t`, `uv_async_t`).
///
/// While the handle is open it holds a strong reference to its owner (its `data` field), so a libuv
/// callback always finds a live object; `close()` asks libuv to close it, and the close callback
/// drops that reference after `handleClosed()`. The memory is freed with the owner, never before the
/// close callback. Loop thread only.
class LoopHandle {
    /// The handle's memory, zeroed, large enough for any libuv handle type.
    let raw: UnsafeMutableRawPointer
    /// True once the handle was initialized (and holds its reference).
    private(set) var isOpen = false
    /// True once `close()` was called.
    private(set) var isClosing = false
    /// True once libuv closed it.
    private(set) var isClosed = false
    /// What runs once the handle is closed (`close(then:)`).
    private var whenClosed: (() -> Void)?

    /// Bytes of the largest handle type the host uses.
    static let size = [UV_TCP, UV_UDP, UV_TIMER, UV_ASYNC].map { Int(uv_handle_size($0)) }.max()!

    init() {
        raw = .allocate(byteCount: Self.size, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
    }

    deinit { raw.deallocate() }

    /// The handle as libuv's base type.
    var uvHandle: UnsafeMutablePointer<uv_handle_t> { raw.assumingMemoryBound(to: uv_handle_t.self) }
    /// The handle as a stream (TCP handles).
    var uvStream: UnsafeMutablePointer<uv_stream_t> { raw.assumingMemoryBound(to: uv_stream_t.self) }

    /// Call right after a successful `uv_*_init`: the handle now keeps its owner alive until closed.
    func opened() {
        isOpen = true
        uv_handle_set_data(uvHandle, Unmanaged.passRetained(self).toOpaque())
    }

    /// Closes the handle (idempotent); `handleClosed()` follows as a callback of its own.
    func close() {
        guard isOpen, !isClosing else { return }
        isClosing = true
        uv_close(uvHandle) { handle in
            guard let handle, let data = uv_handle_get_data(handle) else { return }
            let owner = Unmanaged<LoopHandle>.fromOpaque(data).takeRetainedValue()
            owner.isClosed = true
            owner.handleClosed()
            let then = owner.whenClosed
            owner.whenClosed = nil
            then?()
        }
    }

    /// Closes the handle; `then` runs once it is closed (at once if it never opened or is closed).
    func close(then: @escaping () -> Void) {
        guard isOpen, !isClosed else { return then() }
        let earlier = whenClosed
        whenClosed = {
            earlier?()
            then()
        }
        close()
    }

    /// The handle is closed: libuv no longer calls back. Subclasses end their object here.
    func handleClosed() {}

    /// The owner of a handle libuv calls back with.
    static func owner<T: LoopHandle>(_ handle: UnsafeRawPointer?, as type: T.Type) -> T {
        let data = uv_handle_get_data(handle!.assumingMemoryBound(to: uv_handle_t.self))!
        return Unmanaged<T>.fromOpaque(data).takeUnretainedValue()
    }
}

/// A libuv timer calling a Swift closure; one-shot or periodic. Loop thread only.
final class LoopTimer: LoopHandle {
    private let fire: () -> Void

    /// Starts at once: `fire` after `delayMs`, then every `periodMs` if not 0.
    init(reactor: Reactor, delayMs: UInt64, periodMs: UInt64 = 0, fire: @escaping () -> Void) {
        self.fire = fire
        super.init()
        uv_timer_init(reactor.loop, raw.assumingMemoryBound(to: uv_timer_t.self))
        opened()
        uv_timer_start(raw.assumingMemoryBound(to: uv_timer_t.self), { timer in
            LoopHandle.owner(timer, as: LoopTimer.self).fire()
        }, delayMs, periodMs)
    }

    /// Stops the timer for good (it never fires afterwards).
    func cancel() {
        guard !isClosing else { return }
        uv_timer_stop(raw.assumingMemoryBound(to: uv_timer_t.self))
        close()
    }
}
