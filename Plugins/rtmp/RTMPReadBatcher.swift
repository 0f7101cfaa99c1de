import PluginABI

/// Batched reads of a publisher's input (RTMP.writeDelay): a publisher such as ffmpeg writes each
/// message's header and body apart, so read as it comes its stream wakes the server up to twice per
/// frame. While a session publishes, input that did not fill a whole read stops the connection's
/// reading until the next tick of a periodic timer of `interval` ms: one wake-up then reads everything
/// that came meanwhile, the publication ends one batch, and the write merger writes the players with it.
/// Media wait at most `interval` in the kernel's buffer instead of in the players' outputs. Input that
/// fills whole reads (a fast publisher) keeps reading at once. A tick that finds nothing read since the
/// last one stops the timer until input comes again. Sans-IO: reading and the timer are given.
final class RTMPReadBatcher {
    /// Ms between reads (RTMP.writeDelay, as the merger clamped it); 0 = read as input comes.
    let interval: UInt64
    /// Pauses (false) or resumes (true) the connection's reading.
    private let setReading: (Bool) -> Void
    /// Starts a periodic timer of that many ms whose ticks call `timerFired`; nil when none can start.
    private let startTimer: (UInt64) -> mona_handle?
    private let cancelTimer: (mona_handle) -> Void
    /// The periodic timer, while batching.
    private(set) var timer: mona_handle?
    /// Reading is paused until the next tick.
    private(set) var paused = false

    /// Input this large filled the host's largest read (its 64 KiB read buffer): more may wait, so read on.
    static let wholeRead = 64 * 1024

    init(interval: UInt64, setReading: @escaping (Bool) -> Void, startTimer: @escaping (UInt64) -> mona_handle?,
         cancelTimer: @escaping (mona_handle) -> Void) {
        self.interval = interval
        self.setReading = setReading
        self.startTimer = startTimer
        self.cancelTimer = cancelTimer
    }

    /// The session processed `size` bytes of input and publishes (or not) afterwards.
    func received(size: Int, publishing: Bool) {
        guard publishing, interval > 0 else { return stop(resume: true) }
        if timer == nil {
            timer = startTimer(interval)
            guard timer != nil else { return } // no timer: read as input comes
        }
        if size < Self.wholeRead, !paused {
            paused = true
            setReading(false)
        }
    }

    /// A tick: reading resumes; a tick with nothing read since the last one stops the timer.
    func timerFired() {
        if paused {
            paused = false
            setReading(true)
        } else {
            stop(resume: false)
        }
    }

    /// Batching ends (`resume`: reading goes on; false when the connection is gone).
    func stop(resume: Bool) {
        if let timer { cancelTimer(timer) }
        timer = nil
        if paused, resume { setReading(true) }
        paused = false
    }
}
