import CMonaSystem

/// Gives memory back to the system after a burst (many connections closed, a flood of messages):
/// the allocator is tuned to keep freed memory for reuse (`mona_system_tune_allocator`), so without
/// this the process would stay at its peak. Every `intervalMs` the loop looks at the free bytes inside
/// malloc's arenas and trims them when they exceed `thresholdBytes` and moved by half of it since the
/// last trim (a trim leaves the free bytes counted as free: without the second rule a quiet server
/// would trim again every time).
final class HeapTrimmer {
    static let intervalMs: UInt64 = 2000
    static let thresholdBytes = 16 << 20
    private var timer: LoopTimer?
    private var freeAtLastTrim = 0

    /// Starts the periodic check (on the loop; the timer closes with the loop).
    init(reactor: Reactor) {
        timer = LoopTimer(reactor: reactor, delayMs: Self.intervalMs, periodMs: Self.intervalMs) { [unowned self] in
            let free = mona_system_free_heap_bytes()
            guard free > Self.thresholdBytes, abs(free - freeAtLastTrim) > Self.thresholdBytes / 2 else { return }
            freeAtLastTrim = free
            _ = mona_system_release_free_heap()
        }
    }
}
