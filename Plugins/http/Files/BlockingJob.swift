import MonaPluginKit
import PluginABI

/// Work done on the host's blocking pool (run_blocking), then finished on the loop (work_done): the
/// plugin's only way to touch the file system, so that no callback blocks the loop (the ABI's rule).
final class BlockingJob: @unchecked Sendable {
    /// Runs on a pool thread: touches nothing but what it captured.
    private let work: () -> Void
    /// Runs on the loop afterwards.
    private let completion: () -> Void

    private init(work: @escaping () -> Void, completion: @escaping () -> Void) {
        self.work = work
        self.completion = completion
    }

    /// Runs `work` on the pool, then `completion` with its output on the loop. False (nothing runs) when
    /// the host refused the work.
    static func start<Output>(on host: MonaHost, _ work: @escaping () -> Output,
                              then completion: @escaping (Output) -> Void) -> Bool {
        var output: Output?
        let job = BlockingJob(work: { output = work() }, completion: { output.map(completion) })
        let context = Unmanaged.passRetained(job).toOpaque()
        guard host.runBlocking(entry, context: context) == MONA_OK else {
            Unmanaged<BlockingJob>.fromOpaque(context).release()
            return false
        }
        return true
    }

    /// The pool side.
    private static let entry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
        Unmanaged<BlockingJob>.fromOpaque(context!).takeUnretainedValue().work()
    }

    /// The loop side (plugin->work_done).
    static func finish(_ context: UnsafeMutableRawPointer?) {
        guard let context else { return }
        Unmanaged<BlockingJob>.fromOpaque(context).takeRetainedValue().completion()
    }
}
