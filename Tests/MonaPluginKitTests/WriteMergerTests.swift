import MonaPluginKit
import PluginABI
import Testing

/// A player's output as the merger sees it: counts its writes.
private final class FakeOutput: MergedOutput {
    var hasOutput = false
    var waitingSince: Int64?
    var listedForMerge = false
    var lastBatchEnd: Int64?
    var batchGap: Int64 = 0
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
    lazy var merger = WriteMerger(delay: delay, clock: { [unowned self] in now }, startTimer: { [unowned self] in
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

    @Test func fastBatchesGatherUntilTheNextWouldComeTooLate() {
        let bench = Bench(delay: 50), output = FakeOutput()
        bench.batch(output, at: 1000)
        #expect(output.writes == 0 && bench.timers == [100], "no rhythm known yet: waits; the backstop timer is armed at 2 × delay")
        for time in stride(from: Int64(1010), through: 1040, by: 10) { bench.batch(output, at: time) }
        #expect(output.writes == 0, "every 10 ms: at 40 ms old the next batch finds them exactly 50 ms old, still in time")
        bench.batch(output, at: 1050)
        #expect(output.writes == 1 && output.waitingSince == nil, "the next batch would be late: written")
        #expect(output.batchGap == 10)

        let slower = FakeOutput()
        bench.batch(slower, at: 2000)
        bench.batch(slower, at: 2020)
        #expect(slower.writes == 0 && slower.batchGap == 20)
        bench.batch(slower, at: 2040)
        #expect(slower.writes == 1, "every 20 ms: written at 40 ms old, as the next batch would find them 60 ms old")
        #expect(bench.timers == [100], "the timer armed already serves")
    }

    @Test func batchesDelayApartAreWrittenAsTheyEnd() {
        let bench = Bench(delay: 50), output = FakeOutput()
        bench.batch(output, at: 1000)
        bench.batch(output, at: 1050)
        #expect(output.writes == 1 && output.batchGap == 50)
        bench.batch(output, at: 1100)
        #expect(output.writes == 2, "fresh media, but the next batch comes 50 ms later: written at once")
        bench.batch(output, at: 1149)
        #expect(output.writes == 3 && output.batchGap == 50, "a read a millisecond early still counts as delay apart")
        bench.batch(output, at: 3000)
        #expect(output.writes == 4 && output.batchGap == 50, "a long pause counts as one delay: no estimate runs away")
    }

    @Test func theTimerWritesWhatWaitedWhenBatchesStop() {
        let bench = Bench(delay: 50), early = FakeOutput(), late = FakeOutput()
        bench.batch(early, at: 1000)
        bench.batch(late, at: 1070)
        #expect(bench.timers == [100])
        bench.now = 1100
        bench.merger.timerFired()
        #expect(early.writes == 1 && late.writes == 0, "30 ms old when the timer fires: still waits")
        #expect(!early.listedForMerge && late.listedForMerge && bench.timers == [100, 50], "listed outputs keep a timer")
        bench.now = 1150
        bench.merger.timerFired()
        #expect(late.writes == 1 && !late.listedForMerge && bench.timers == [100, 50], "nothing waits any more: no timer")
        let next = FakeOutput()
        bench.batch(next, at: 1200)
        #expect(next.listedForMerge && bench.timers == [100, 50, 100], "the next media arm it again")
        bench.batch(late, at: 1210)
        #expect(late.writes == 2, "140 ms after its last batch: the pause counts as delay apart, written at once")
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
