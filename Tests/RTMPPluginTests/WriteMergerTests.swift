import PluginABI
import Testing
@testable import RTMPPlugin

/// A player's output as the merger sees it: counts its writes.
private final class FakeOutput: RTMPMergedOutput {
    var hasOutput = false
    var waitingSince: Int64?
    var listedForMerge = false
    var closing = false
    var writes = 0

    func flush() {
        waitingSince = nil
        if hasOutput { writes += 1 }
        hasOutput = false
    }
}

/// The merger on a fake clock and fake timers.
private final class Bench {
    var now: Int64 = 1000
    var timers: [UInt64] = []
    var timersWork = true
    lazy var merger = RTMPWriteMerger(delay: delay, clock: { [unowned self] in now }, startTimer: { [unowned self] in
        guard timersWork else { return nil }
        timers.append($0)
        return mona_handle(timers.count)
    })
    let delay: Int

    init(delay: Int) { self.delay = delay }

    /// A batch gave `output` media and ended.
    func batch(_ output: FakeOutput, at time: Int64) {
        now = time
        output.hasOutput = true
        merger.batchEnded(output)
    }
}

@Suite struct WriteMergerTests {
    @Test func delayZeroWritesEveryBatch() {
        let bench = Bench(delay: 0), output = FakeOutput()
        bench.batch(output, at: 1000)
        bench.batch(output, at: 1001)
        #expect(output.writes == 2)
        #expect(bench.timers.isEmpty)
    }

    @Test func mediaWaitUntilABatchFindsThemOldEnough() {
        let bench = Bench(delay: 50), output = FakeOutput()
        bench.batch(output, at: 1000)
        #expect(output.writes == 0 && bench.timers == [100], "the backstop timer is armed at 2 × delay")
        bench.batch(output, at: 1030)
        #expect(output.writes == 0, "30 ms old: waits")
        bench.batch(output, at: 1050)
        #expect(output.writes == 1, "50 ms old: written with this batch")
        bench.batch(output, at: 1060)
        #expect(output.writes == 1 && output.waitingSince == 1060, "new media start a new wait")
        #expect(bench.timers == [100], "the timer armed already serves")
        bench.now = 1100
        bench.merger.timerFired()
        #expect(output.writes == 1, "40 ms old when the timer fires: still waits")
        #expect(bench.timers == [100, 50], "listed outputs keep a timer")
        bench.now = 1150
        bench.merger.timerFired()
        #expect(output.writes == 2, "the publisher stopped: the timer writes")
        #expect(!output.listedForMerge && bench.timers == [100, 50], "nothing waits any more: unlisted, no timer")
        bench.batch(output, at: 1200)
        #expect(output.listedForMerge && bench.timers == [100, 50, 100], "the next media list it again")
    }

    @Test func manyPlayersOneTimerAndClosingOnes() {
        let bench = Bench(delay: 50)
        let outputs = (0..<3).map { _ in FakeOutput() }
        for output in outputs { bench.batch(output, at: 1000) }
        #expect(bench.timers == [100], "one timer for all")
        outputs[1].closing = true
        bench.now = 1010
        bench.merger.timerFired()
        #expect(outputs.map(\.writes) == [0, 1, 0], "a closing output writes what it has and leaves")
        #expect(!outputs[1].listedForMerge && outputs[0].listedForMerge)
        bench.now = 1060
        bench.merger.timerFired()
        #expect(outputs.map(\.writes) == [1, 1, 1])
    }

    @Test func withoutTimersNothingWaits() {
        let bench = Bench(delay: 50), output = FakeOutput()
        bench.timersWork = false
        bench.batch(output, at: 1000)
        #expect(output.writes == 1 && !output.listedForMerge)
    }

    @Test func anEmptyOutputDoesNotWait() {
        let bench = Bench(delay: 50), output = FakeOutput()
        bench.merger.batchEnded(output)
        #expect(bench.timers.isEmpty && output.waitingSince == nil)
    }
}
