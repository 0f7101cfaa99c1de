import PluginABI

/// What the write merger needs of a player's connection.
public protocol MergedOutput: AnyObject {
    /// Bytes wait to be written.
    var hasOutput: Bool { get }
    /// Since when the waiting media wait (monotonic ms), nil when nothing waits; `flush` clears it.
    var waitingSince: Int64? { get set }
    /// The merger lists this output (it will look at it when its timer fires).
    var listedForMerge: Bool { get set }
    /// When the last batch for this output ended (monotonic ms), and the smoothed time between batch
    /// ends (ms, 0 before two were seen): the merger's guess of when the next batch comes.
    var lastBatchEnd: Int64? { get set }
    var batchGap: Int64 { get set }
    var closing: Bool { get }
    /// Writes what waits.
    func flush()
}

/// Merged writes (RTMP's and RTSP's players): the media a batch leaves in a player's output wait up to `delay` ms for the next
/// batches, so that one system call carries several frames (fewer calls and wake-ups for the server and
/// for the player). A batch end writes a player's output when the next batch is expected only after its
/// oldest waiting media are `delay` old (the time between batch ends is smoothed per output), so media
/// wait at most about `delay`: batches that come faster gather until they span it, batches that come
/// `delay` apart (an RTMP publisher read every `delay` ms) are written as they end. When
/// batches stop coming, a timer (2 × `delay`, then `delay`) writes what waited long enough. With delay 0
/// every batch is written at its end. Sans-IO: the clock and the timer are given.
public final class WriteMerger {
    /// The plugin's writeDelay, ms (0...1000).
    public let delay: Int64
    /// Monotonic milliseconds.
    private let clock: () -> Int64
    /// Starts a one-shot timer of that many ms whose firing calls `timerFired`; nil when none can start.
    private let startTimer: (UInt64) -> mona_handle?
    /// Outputs with media waiting (or that had some when they were last looked at).
    private var waiting: [any MergedOutput] = []
    /// The timer armed while outputs are listed.
    public private(set) var timer: mona_handle?

    public init(delay: Int, clock: @escaping () -> Int64, startTimer: @escaping (UInt64) -> mona_handle?) {
        self.delay = Int64(min(max(0, delay), 1000))
        self.clock = clock
        self.startTimer = startTimer
    }

    /// Batches this close to `delay` apart (ms) count as `delay` apart: the clock counts whole
    /// milliseconds and a periodic read wakes a little early or late.
    public static let slack: Int64 = 2

    /// The end of a batch for `output`: written now, or left to wait.
    public func batchEnded(_ output: any MergedOutput) {
        guard delay > 0 else { return output.flush() }
        let now = clock()
        if let last = output.lastBatchEnd {
            let gap = min(now - last, delay)
            output.batchGap = output.batchGap == 0 ? gap : (output.batchGap + gap + 1) / 2
        }
        output.lastBatchEnd = now
        guard output.hasOutput else { return }
        let since = output.waitingSince ?? now
        if output.batchGap + Self.slack >= delay || now - since + output.batchGap > delay { return output.flush() }
        guard output.waitingSince == nil else { return }
        output.waitingSince = now
        if !output.listedForMerge {
            output.listedForMerge = true
            waiting.append(output)
        }
        arm(after: 2 * delay)
    }

    /// The timer: what waited long enough is written; outputs whose media are younger stay listed.
    public func timerFired() {
        timer = nil
        let now = clock()
        var kept = 0
        for output in waiting {
            if let since = output.waitingSince, now - since >= delay || output.closing { output.flush() }
            if output.waitingSince != nil, !output.closing {
                waiting[kept] = output
                kept += 1
            } else {
                output.listedForMerge = false
            }
        }
        waiting.removeSubrange(kept...)
        if !waiting.isEmpty { arm(after: delay) }
    }

    private func arm(after milliseconds: Int64) {
        guard timer == nil else { return }
        timer = startTimer(UInt64(milliseconds))
        if timer == nil { // no timer: hold nothing
            for output in waiting {
                output.flush()
                output.listedForMerge = false
            }
            waiting.removeAll()
        }
    }
}

extension WriteMerger {
    /// A merger on the host's monotonic clock and one-shot timers (started without a context: the
    /// plugin's timerFired hands a firing of `timer` to `timerFired()`).
    public convenience init(host: MonaHost, delay: Int) {
        self.init(delay: delay, clock: { host.monotonicMs }, startTimer: { host.startTimer(delayMs: $0) })
    }
}
