import PluginABI
import Testing
@testable import RTMPPlugin

/// The batcher with its reading switch and timers recorded.
private final class Connection {
    var reading: [Bool] = []
    var started: [UInt64] = []
    var cancelled: [mona_handle] = []
    var timersWork = true
    lazy var batcher = RTMPReadBatcher(interval: interval, setReading: { [unowned self] in reading.append($0) },
                                       startTimer: { [unowned self] in
                                           guard timersWork else { return nil }
                                           started.append($0)
                                           return mona_handle(started.count)
                                       },
                                       cancelTimer: { [unowned self] in cancelled.append($0) })
    let interval: UInt64

    init(interval: UInt64) { self.interval = interval }
}

@Suite struct ReadBatcherTests {
    @Test func aPartialReadPausesReadingUntilTheNextTick() {
        let connection = Connection(interval: 50), batcher = connection.batcher
        batcher.received(size: 1200, publishing: true)
        #expect(connection.started == [50] && connection.reading == [false], "one periodic timer, reading paused")
        batcher.received(size: 300, publishing: true)
        #expect(connection.reading == [false], "more input of the same wake-up: already paused")
        batcher.timerFired()
        #expect(connection.reading == [false, true] && !batcher.paused)
        batcher.received(size: 37_000, publishing: true)
        #expect(connection.reading == [false, true, false] && connection.started == [50], "the timer goes on")
    }

    @Test func wholeReadsKeepReading() {
        let connection = Connection(interval: 50), batcher = connection.batcher
        batcher.received(size: RTMPReadBatcher.wholeRead, publishing: true)
        #expect(connection.reading.isEmpty, "a full read: more may wait, read on")
        batcher.received(size: 20_000, publishing: true)
        #expect(connection.reading == [false], "the read that drained the socket pauses")
    }

    @Test func aTickWithNothingReadStopsTheTimer() {
        let connection = Connection(interval: 50), batcher = connection.batcher
        batcher.received(size: 100, publishing: true)
        batcher.timerFired()
        batcher.timerFired()
        #expect(connection.cancelled == [1] && batcher.timer == nil, "the publisher sent nothing for a tick")
        #expect(connection.reading == [false, true], "reading stays on")
        batcher.received(size: 100, publishing: true)
        #expect(connection.started == [50, 50] && batcher.timer == 2 && connection.reading == [false, true, false])
    }

    @Test func batchingEndsWithThePublication() {
        let connection = Connection(interval: 50), batcher = connection.batcher
        batcher.received(size: 100, publishing: true)
        batcher.received(size: 100, publishing: false)
        #expect(connection.cancelled == [1] && connection.reading == [false, true] && batcher.timer == nil)
        batcher.received(size: 100, publishing: false)
        #expect(connection.reading == [false, true] && connection.started == [50], "a player is read as input comes")
    }

    @Test func aClosedConnectionIsNotResumed() {
        let connection = Connection(interval: 50), batcher = connection.batcher
        batcher.received(size: 100, publishing: true)
        batcher.stop(resume: false)
        #expect(connection.cancelled == [1] && connection.reading == [false] && !batcher.paused)
    }

    @Test func noDelayOrNoTimerReadsAsInputComes() {
        let off = Connection(interval: 0)
        off.batcher.received(size: 100, publishing: true)
        #expect(off.reading.isEmpty && off.started.isEmpty)
        let noTimer = Connection(interval: 50)
        noTimer.timersWork = false
        noTimer.batcher.received(size: 100, publishing: true)
        #expect(noTimer.reading.isEmpty, "without a tick to resume it, reading is never paused")
    }
}
