import CLibUV

/// How late the event loop runs what is due: a timer due every `periodMs` notes how long after its due
/// time it fires (a callback that blocks the loop, a burst of work, a starved CPU delay it) into a
/// `LagWindow`. Millisecond resolution: libuv keeps timers in whole milliseconds of its loop's clock.
/// Loop thread only.
final class LoopLag {
    static let periodMs: UInt64 = 500
    /// The last lateness and the largest of the last minute or so.
    private(set) var window = LagWindow()
    /// When the timer is due next (loop milliseconds; libuv re-arms a periodic timer from the loop's
    /// time when it fires, before calling it).
    private var dueMs: UInt64
    private var timer: LoopTimer?
    private unowned let reactor: Reactor

    /// Starts the timer (on the loop).
    init(reactor: Reactor) {
        self.reactor = reactor
        let now = uv_now(reactor.loop)
        dueMs = now + Self.periodMs
        window.start(atMs: now)
        timer = LoopTimer(reactor: reactor, delayMs: Self.periodMs, periodMs: Self.periodMs) { [unowned self] in fired() }
    }

    /// Stops the timer for good.
    func stop() {
        timer?.cancel()
        timer = nil
    }

    private func fired() {
        let loopNow = uv_now(reactor.loop)
        // Whole milliseconds of the clock the loop's time comes from (a timer on time shows 0), read
        // now: the timers that ran before this one in the same turn count.
        let nowMs = uv_hrtime() / 1_000_000
        window.note(lateNs: nowMs > dueMs ? (nowMs - dueMs) * 1_000_000 : 0, atMs: loopNow)
        dueMs = loopNow + LoopLag.periodMs
    }
}

/// The last lateness the loop showed and the largest of the last one or two windows of `windowMs`
/// (the current one and the one before it: the last 30 to 60 s).
struct LagWindow {
    static let windowMs: UInt64 = 30_000
    /// The last lateness, in nanoseconds.
    private(set) var lastNs: UInt64 = 0
    private var currentMaxNs: UInt64 = 0
    private var previousMaxNs: UInt64 = 0
    /// When the current window started (loop milliseconds).
    private var windowStart: UInt64 = 0

    /// The largest lateness of the last one or two windows, in nanoseconds.
    var maxNs: UInt64 { max(currentMaxNs, previousMaxNs) }

    /// The first window starts at `atMs`.
    mutating func start(atMs: UInt64) {
        windowStart = atMs
    }

    /// Records one lateness measured at loop time `atMs`.
    mutating func note(lateNs: UInt64, atMs: UInt64) {
        if atMs &- windowStart >= Self.windowMs {
            // After a window without any sample (the loop blocked longer) nothing older is kept.
            previousMaxNs = atMs &- windowStart >= 2 * Self.windowMs ? 0 : currentMaxNs
            currentMaxNs = 0
            windowStart = atMs
        }
        lastNs = lateNs
        currentMaxNs = max(currentMaxNs, lateNs)
    }
}
