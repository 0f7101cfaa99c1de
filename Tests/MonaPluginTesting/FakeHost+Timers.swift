import PluginABI

/// Time as the plugin sees it: a clock that moves only when the test says, timers that fire when it
/// passes their due time, and blocking work that runs when the test asks.
extension FakeHost {
    /// A timer the plugin started.
    public struct Timer {
        public let handle: mona_handle
        /// When it fires next (monotonic ns).
        public internal(set) var due: UInt64
        /// Its period in ms (0: one-shot).
        public let periodMs: UInt64
        let context: UnsafeMutableRawPointer?
    }

    /// Moves both clocks by `ms` and fires every timer that falls due on the way, in due order
    /// (a periodic timer as many times as its period fits).
    public func advance(ms: UInt64) {
        let target = nowNs + ms * 1_000_000
        while let next = timers.values.filter({ $0.due <= target }).min(by: { ($0.due, $0.handle) < ($1.due, $1.handle) }) {
            wallMs += Int64((next.due - nowNs) / 1_000_000)
            nowNs = max(nowNs, next.due)
            if next.periodMs > 0 {
                timers[next.handle]?.due = next.due + max(next.periodMs, 1) * 1_000_000
            } else {
                timers[next.handle] = nil
            }
            drive { entry.timer_fired?(instance, next.context, next.handle) }
        }
        wallMs += Int64((target - nowNs) / 1_000_000)
        nowNs = target
    }

    /// How much blocking work waits (run_blocking not yet run).
    public var pendingWorkCount: Int { pendingWork.count }

    /// Runs the waiting blocking work, each item's `work` then its `work_done`, until none is left
    /// (work queued by a work_done runs too).
    public func runBlockingWork() {
        while !pendingWork.isEmpty {
            let item = pendingWork.removeFirst()
            item.work(item.context)
            drive { entry.work_done?(instance, item.context) }
        }
    }
}
