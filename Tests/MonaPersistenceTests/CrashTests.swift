import Testing

@testable import MonaPersistence

// Crash consistency of the real writer code. A test budget stops the writer after N mutating system calls
// (mkdir, open for writing, each write chunk, futimens, fsync, rename, unlink), as if the process were
// killed right there (a write step that hits the budget writes half of its chunk first: a torn file).
// A fresh store then loads the folder. A kill -9 of the whole server is tested at the Lua level.

/// One change of a scenario.
enum Change {
    case set([String], [UInt8])
    case remove([String])

    func send(to store: PersistentStore) {
        switch self {
        case .set(let path, let value): store.set(path, value)
        case .remove(let path): store.remove(path)
        }
    }
}

/// The entries after applying `changes` in order to `state`.
func model(_ state: [[String]: [UInt8]], _ changes: [Change]) -> [[String]: [UInt8]] {
    var state = state
    for change in changes {
        switch change {
        case .set(let path, let value): state[path] = value
        case .remove(let path): state = state.filter { !$0.key.starts(with: path) }
        }
    }
    return state
}

/// What is wrong with `loaded` as the result of a crash while `changes` were applied over `before`: every
/// entry must hold its value from before or one of the values set for it, and may be missing only if it
/// did not exist before or a removal covered it.
func violations(_ loaded: [[String]: [UInt8]], before: [[String]: [UInt8]], changes: [Change]) -> [String] {
    var allowed: [[String]: Set<[UInt8]>] = before.mapValues { [$0] }
    var mayBeMissing: Set<[String]> = []
    for change in changes {
        if case .set(let path, let value) = change {
            allowed[path, default: []].insert(value)
            if before[path] == nil { mayBeMissing.insert(path) }
        }
    }
    for change in changes {
        if case .remove(let prefix) = change {
            for path in allowed.keys where path.starts(with: prefix) { mayBeMissing.insert(path) }
        }
    }
    var problems: [String] = []
    // A removal is atomic: of the entries it covers that nothing else in `changes` touches, either all
    // are still there or none. (The empty path clears entry by entry, so it is left out.)
    let removals = changes.compactMap { change -> [String]? in
        if case .remove(let prefix) = change, !prefix.isEmpty { return prefix }
        return nil
    }
    for prefix in removals {
        let group = before.keys.filter { path in
            path.starts(with: prefix) && removals.filter { path.starts(with: $0) }.count == 1
                && !changes.contains { if case .set(path, _) = $0 { true } else { false } }
        }
        let present = group.filter { loaded[$0] != nil }
        if !present.isEmpty && present.count != group.count {
            problems.append("removal of \(prefix) is torn: \(present.count) of \(group.count) entries left")
        }
    }
    for (path, value) in loaded where !(allowed[path]?.contains(value) ?? false) {
        problems.append("\(path) holds a value never written for it (\(value.count) bytes)")
    }
    for path in allowed.keys where loaded[path] == nil && !mayBeMissing.contains(path) {
        problems.append("\(path) is missing")
    }
    return problems
}

/// True when both hold the same entries; prints a short difference (values can be large) when not.
func same(_ loaded: [[String]: [UInt8]], _ expected: [[String]: [UInt8]]) -> Bool {
    guard loaded != expected else { return true }
    let paths = Set(loaded.keys).union(expected.keys).filter { loaded[$0] != expected[$0] }
    for path in paths {
        let sizes = [loaded[path], expected[path]].map { $0.map { "\($0.count) bytes" } ?? "nothing" }
        print("\(path): loaded \(sizes[0]), expected \(sizes[1])")
    }
    return false
}

/// Applies `initial` durably, then `changes` with the writer stopped after `crashAfter` steps; returns the
/// loaded entries and how many steps the changes took.
func crashRun(initial: [Change], changes: [Change], interval: Int, crashAfter: Int?)
    -> (loaded: [[String]: [UInt8]], steps: Int, crashed: Bool, clean: Bool)
{
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data, interval: interval)
    for change in initial { change.send(to: store) }
    store.flush()
    let before = store.setCrashBudget(crashAfter)
    for change in changes { change.send(to: store) }
    store.flush()
    let steps = store.setCrashBudget(nil) - before
    let crashed = store.crashed
    let loaded = makeStore(data).load()
    // The load cleaned every leftover, and loading again finds the same.
    let clean = leftovers(data).isEmpty && makeStore(data).load() == loaded
    return (asMap(loaded), steps, crashed, clean)
}

private let big1 = [UInt8](repeating: 0x41, count: 65_600)  // two write chunks
private let big2 = [UInt8](repeating: 0x42, count: 65_601)

private let initialState: [Change] = [
    .set(["a"], bytes("old a")), .set(["t", "b", "c"], bytes("old c")), .set(["t", "x"], bytes("old x")),
    .set(["t"], bytes("old t")), .set(["r", "s"], bytes("old s")), .set(["big"], big1), .set(["stay"], bytes("s")),
]

private let scenario: [Change] = [
    .set(["a"], bytes("new a")), .set(["big"], big2), .remove(["t"]), .set(["t", "y"], bytes("new y")),
    .set(["n", "m", "o"], bytes("new o")), .remove(["r", "s"]), .set(["u", "v"], []), .set(["a"], bytes("newer a")),
    .set(["%", ""], bytes("odd keys")), .remove(["missing"]), .set(["stay"], bytes("s")),  // the same value again
]

@Test(arguments: [0, 60_000])
func everyCrashPointLeavesOldOrNewValues(interval: Int) {
    let before = model([:], initialState)
    let full = crashRun(initial: initialState, changes: scenario, interval: interval, crashAfter: nil)
    let (crashed, clean, loaded, steps) = (full.crashed, full.clean, full.loaded, full.steps)
    #expect(!crashed && clean)
    #expect(same(loaded, model(before, scenario)))
    #expect(steps > 30)
    // With interval 0 the writer may start before all changes are queued, so a run can take a few more
    // steps than the first one (the changes are split over several writes): go past the count.
    let limit = interval == 0 ? full.steps + 8 : full.steps
    for crashAfter in 0..<limit {
        let run = crashRun(initial: initialState, changes: scenario, interval: interval, crashAfter: crashAfter)
        let (crashed, clean, loaded) = (run.crashed, run.clean, run.loaded)
        #expect(crashed || interval == 0, "crash after \(crashAfter) steps")
        #expect(clean, "crash after \(crashAfter) steps")
        let problems = violations(loaded, before: before, changes: scenario)
        #expect(problems.isEmpty, "crash after \(crashAfter) of \(full.steps) steps: \(problems)")
        if !crashed { #expect(same(loaded, model(before, scenario)), "crash after \(crashAfter) steps") }
    }
}

@Test func crashingWhileWritingContinuously() {
    // Stands in for "a child writing continuously, killed at a random moment": changes keep coming from
    // this thread while the writer works on its own queue and dies after a random number of steps.
    let keys = ["a", "b", "%", "0123456789abcdef0123456789abcdef"]
    var crashes = 0
    for seed in UInt64(1)...40 {
        var random = SeededGenerator(state: seed)
        func randomPath() -> [String] {
            (0..<Int.random(in: 1...3, using: &random)).map { _ in keys.randomElement(using: &random)! }
        }
        func randomChanges(_ count: Int, tag: String) -> [Change] {
            (0..<count).map { index in
                let roll = Int.random(in: 0..<100, using: &random)
                if roll < 12 { return .remove(roll == 0 ? [] : randomPath()) }
                if roll < 15 {  // two write chunks
                    return .set(randomPath(), [UInt8](repeating: UInt8(index % 251), count: 70_000 + index))
                }
                return .set(randomPath(), bytes("\(tag)-\(index)"))
            }
        }
        let initial = randomChanges(20, tag: "initial").filter { if case .remove = $0 { false } else { true } }
        let changes = randomChanges(300, tag: "seed\(seed)")
        let interval = [0, 0, 2][Int(seed % 3)]
        let crashAfter = Int.random(in: 0..<400, using: &random)
        let run = crashRun(initial: initial, changes: changes, interval: interval, crashAfter: crashAfter)
        let (crashed, clean, loaded) = (run.crashed, run.clean, run.loaded)
        #expect(clean, "seed \(seed)")
        let before = model([:], initial)
        let problems = violations(loaded, before: before, changes: changes)
        #expect(problems.isEmpty, "seed \(seed), crash after \(crashAfter): \(problems)")
        if crashed { crashes += 1 } else { #expect(same(loaded, model(before, changes)), "seed \(seed)") }
    }
    #expect(crashes >= 20)  // most runs stop in the middle of the changes
}

/// `data.t = nil; data.t = {…}`: a removed entry written again in the same batch.
private let replacedTable: [Change] = [
    .remove(["t"]), .set(["t", "x"], bytes("new x")), .set(["t", "z", "w"], bytes("new w")), .set(["t"], bytes("new t")),
]

@Test(arguments: [0, 60_000])
func aTableRemovedAndWrittenAgainIsWhollyOldOrWhollyNewAtEveryCrashPoint(interval: Int) {
    let initial: [Change] = [.set(["t", "x"], bytes("old x")), .set(["t", "b", "c"], bytes("old c")), .set(["stay"], bytes("s"))]
    let before = model([:], initial)
    let after = model(before, replacedTable)
    /// The run of `crashRun`, with the changes sent between holdWrites and releaseWrites (one Lua call).
    func run(crashAfter: Int?) -> (loaded: [[String]: [UInt8]], steps: Int, crashed: Bool, clean: Bool) {
        let scratch = Scratch()
        let data = scratch.at("data")
        let store = makeStore(data, interval: interval)
        for change in initial { change.send(to: store) }
        store.flush()
        let start = store.setCrashBudget(crashAfter)
        store.holdWrites()
        for change in replacedTable { change.send(to: store) }
        store.releaseWrites()
        store.flush()
        let steps = store.setCrashBudget(nil) - start
        let loaded = makeStore(data).load()
        return (asMap(loaded), steps, store.crashed, leftovers(data).isEmpty && makeStore(data).load() == loaded)
    }
    let full = run(crashAfter: nil)
    #expect(!full.crashed && full.clean)
    #expect(same(full.loaded, after))
    for crashAfter in 0..<full.steps {
        let crash = run(crashAfter: crashAfter)
        #expect(crash.crashed && crash.clean, "crash after \(crashAfter) of \(full.steps) steps")
        #expect(crash.loaded == before || crash.loaded == after,
                "crash after \(crashAfter) of \(full.steps) steps: \(crash.loaded.keys.sorted { $0.joined(separator: "/") < $1.joined(separator: "/") })")
    }
}
