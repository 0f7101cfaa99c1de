import CMonaSystem

/// Gives memory back to the system after a burst (many connections closed, a flood of messages):
/// the allocator is tuned to keep freed memory for reuse (`mona_system_tune_allocator`: media frames
/// would otherwise fault their pages in again and again), so without this the process would stay at
/// its peak. Every `intervalMs` the loop reads the free bytes inside malloc's arenas; once they stop
/// moving (less than `quietBytes` of change since the previous look: the burst is over) and exceed
/// `thresholdBytes`, it trims them, once, until they move again. Lua's memory comes from malloc too.
final class HeapTrimmer {
    static let intervalMs: UInt64 = 2000
    static let thresholdBytes = 16 << 20
    static let quietBytes = 1 << 20
    private var timer: LoopTimer?
    private var previousFree = 0
    private var trimmed = false

    /// Starts the periodic check (on the loop; the timer closes with the loop).
    init(reactor: Reactor) {
        timer = LoopTimer(reactor: reactor, delayMs: Self.intervalMs, periodMs: Self.intervalMs) { [unowned self] in
            check(free: mona_system_free_heap_bytes())
        }
    }

    private func check(free: Int) {
        defer { previousFree = free }
        guard abs(free - previousFree) < Self.quietBytes else {
            trimmed = false
            return
        }
        guard !trimmed, free > Self.thresholdBytes else { return }
        trimmed = true
        _ = mona_system_release_free_heap()
    }
}
