import Dispatch
import Glibc
import Testing

@testable import MonaPersistence

@Test func setFlushAndReloadInThe1xLayout() {
    let scratch = Scratch()
    let data = scratch.at("app/data")  // missing parents are created
    let store = makeStore(data)
    store.set(["FunctionalTests", "LUATests", "Databases", "init"], bytes("true"))
    store.set(["t", "b", "c"], bytes("1"))
    store.set(["t"], bytes("parent value"))
    store.set(["empty"], [])
    store.set(["binary"], [0, 1, 2, 255])
    store.flush()
    let initFile = data + "/FunctionalTests/LUATests/Databases/init/b326b5062b2f0e69046810717534cb09"
    #expect(readFile(initFile) == bytes("true"))
    #expect(readFile(data + "/t/b/c/c4ca4238a0b923820dcc509a6f75849b") == bytes("1"))
    #expect(readFile(data + "/empty/d41d8cd98f00b204e9800998ecf8427e") == [])
    #expect(tree(data + "/t") == ["b/", "b/c/", "b/c/c4ca4238a0b923820dcc509a6f75849b", md5("parent value")])
    #expect(makeStore(data).load() == [
        PersistentStore.Entry(path: ["FunctionalTests", "LUATests", "Databases", "init"], value: bytes("true")),
        PersistentStore.Entry(path: ["binary"], value: [0, 1, 2, 255]),
        PersistentStore.Entry(path: ["empty"], value: []),
        PersistentStore.Entry(path: ["t"], value: bytes("parent value")),
        PersistentStore.Entry(path: ["t", "b", "c"], value: bytes("1")),
    ])
}

@Test func overwritingKeepsOneValueFile() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data)
    for value in ["1", "2", "3", "2"] {
        store.set(["k"], bytes(value))
        store.flush()
        #expect(tree(data) == ["k/", "k/" + md5(value)])
    }
    #expect(makeStore(data).load() == [PersistentStore.Entry(path: ["k"], value: bytes("2"))])
}

@Test func removalIsRecursiveAndTidiesEmptyParents() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data)
    store.set(["t"], bytes("3"))
    store.set(["t", "b", "c"], bytes("1"))
    store.set(["t", "x"], bytes("2"))
    store.set(["u", "v", "w"], bytes("4"))
    store.set(["u", "keep"], bytes("5"))
    store.flush()
    writeFile(data + "/t/b/foreign.txt", "foreign files go with a removed entry")
    store.remove(["t"])  // 1.x left t/b and t/x behind, and they came back after a restart
    store.remove(["u", "v", "w"])
    store.remove(["missing", "path"])
    store.flush()
    #expect(tree(data) == ["u/", "u/keep/", "u/keep/" + md5("5")])  // u/v emptied: deleted
    #expect(makeStore(data).load() == [PersistentStore.Entry(path: ["u", "keep"], value: bytes("5"))])
    store.remove(["u", "keep"])
    store.flush()
    #expect(tree(data).isEmpty)
}

@Test func removingTheEmptyPathClearsEveryEntry() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data)
    store.set(["a"], bytes("1"))
    store.set(["b", "c"], bytes("2"))
    store.flush()
    writeFile(data + "/readme.txt", "foreign")
    store.remove([])
    store.set(["after"], bytes("3"))
    store.flush()
    #expect(tree(data) == ["after/", "after/" + md5("3"), "readme.txt"])
}

@Test func coalescesChangesWithinTheInterval() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data, interval: 60_000)
    for index in 0..<1000 { store.set(["counter"], bytes(String(index))) }
    store.set(["a", "b"], bytes("1"))
    store.remove(["a"])  // an ancestor removal cancels the set before it...
    store.set(["a", "c"], bytes("2"))  // ...but not the set after it
    store.set(["x"], bytes("1"))
    store.remove(["x"])
    store.set(["y", "z"], bytes("1"))
    store.remove(["y", "z"])
    #expect(!exists(data))  // nothing written before the interval or a flush
    store.flush()
    #expect(store.valuesWritten == 2)  // counter once, a/c once
    #expect(readFile(data + "/counter/" + md5("999")) == bytes("999"))
    #expect(makeStore(data).load() == [
        PersistentStore.Entry(path: ["a", "c"], value: bytes("2")),
        PersistentStore.Entry(path: ["counter"], value: bytes("999")),
    ])
    #expect(!exists(data + "/y"))
}

@Test func coalescedChangesAreWrittenWhenTheIntervalEnds() async throws {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data, interval: 50)
    for index in 0..<100 { store.set(["k"], bytes(String(index))) }
    var waited = 0
    while !exists(data + "/k/" + md5("99")) && waited < 5000 {
        try await Task.sleep(for: .milliseconds(10))
        waited += 10
    }
    #expect(readFile(data + "/k/" + md5("99")) == bytes("99"))
    #expect(store.valuesWritten == 1)
}

@Test func writesInTheBackgroundWithoutFlush() async throws {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data)
    store.set(["bg"], bytes("value"))
    var waited = 0
    while !exists(data + "/bg/" + md5("value")) && waited < 5000 {
        try await Task.sleep(for: .milliseconds(10))
        waited += 10
    }
    #expect(readFile(data + "/bg/" + md5("value")) == bytes("value"))
}

@Test(arguments: [0, 5])
func concurrentCallersKeepTheOrderOfEachCaller(interval: Int) {
    let scratch = Scratch()
    let data = scratch.at("data")
    let store = makeStore(data, interval: interval)
    let threads = 4
    // Each caller owns its keys; removals of its subtree interleave with its sets.
    DispatchQueue.concurrentPerform(iterations: threads) { thread in
        for step in 0..<300 {
            store.set(["t\(thread)", "k\(step % 7)"], bytes("\(step)"))
            if step % 50 == 20 { store.remove(["t\(thread)"]) }
        }
        store.set(["t\(thread)", "last"], bytes("done"))
    }
    store.flush()
    var expected: [PersistentStore.Entry] = []
    for thread in 0..<threads {
        // After the last removal (step 270), steps 271...299 rewrote k0...k6.
        for key in 0..<7 {
            let last = (271...299).last { $0 % 7 == key }!
            expected.append(PersistentStore.Entry(path: ["t\(thread)", "k\(key)"], value: bytes("\(last)")))
        }
        expected.append(PersistentStore.Entry(path: ["t\(thread)", "last"], value: bytes("done")))
    }
    #expect(makeStore(data).load() == expected.sorted { $0.path.lexicographicallyPrecedes($1.path) })
}

@Test func unsafeKeysRoundTripAndStayInsideTheRoot() {
    let scratch = Scratch()
    let data = scratch.at("box/data")
    let store = makeStore(data)
    let hex = "0123456789abcdef0123456789abcdef"
    let keys = ["", ".", "..", "a/b", "../../escape", "/", "a\u{0}b", hex, ".mona-tmp-x", ".mona-del-x", "%", "%41",
                "%2F", "été", "plain"]
    for (index, key) in keys.enumerated() {
        store.set([key], bytes("v\(index)"))
        store.set(["nested", key, key], bytes("n\(index)"))
    }
    store.set(["..", "..", "up"], bytes("still inside"))
    store.flush()
    var expected = keys.enumerated().flatMap { index, key in
        [PersistentStore.Entry(path: [key], value: bytes("v\(index)")),
         PersistentStore.Entry(path: ["nested", key, key], value: bytes("n\(index)"))]
    }
    expected.append(PersistentStore.Entry(path: ["..", "..", "up"], value: bytes("still inside")))
    expected.sort { $0.path.lexicographicallyPrecedes($1.path) }
    #expect(makeStore(data).load() == expected)
    #expect(tree(scratch.at("box")).allSatisfy { $0.hasPrefix("data") })
    #expect(tree(scratch.path) == tree(scratch.path).filter { $0.hasPrefix("box") })
    #expect(leftovers(data).isEmpty)
    #expect(exists(data + "/plain/" + md5("v14")))  // ordinary keys keep their 1.x folder name
    for key in keys { store.remove([key]) }  // ".." takes "../../up" with it
    store.remove(["nested"])
    store.flush()
    #expect(tree(data).isEmpty)
}

@Test func errorsAreLoggedAndRetriedLater() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let recorder = LogRecorder()
    let store = makeStore(data, interval: 60_000, recorder: recorder)  // only flush() writes
    writeFile(data + "/blocked", "a file where a folder is needed")
    store.set(["blocked", "k"], bytes("1"))
    store.set(["fine"], bytes("2"))
    store.flush()  // returns although a change failed
    #expect(recorder.count(.error) == 1)
    #expect(readFile(data + "/fine/" + md5("2")) == bytes("2"))
    _ = unlink(data + "/blocked")
    store.set(["other"], bytes("3"))  // the next change retries the failed one
    store.flush()
    #expect(makeStore(data).load().map(\.path) == [["blocked", "k"], ["fine"], ["other"]])

    // A failure does not override a newer change of the same path.
    writeFile(data + "/blocked2", "file")
    store.set(["blocked2", "k"], bytes("old"))
    store.flush()
    store.remove(["blocked2"])  // a file, not an entry: nothing to remove
    store.set(["blocked2", "k"], bytes("new"))
    _ = unlink(data + "/blocked2")
    store.flush()
    #expect(asMap(makeStore(data).load())[["blocked2", "k"]] == bytes("new"))
    #expect(recorder.count(.error) == 2)
}

@Test func aKeyTooLongForTheFileSystemIsDroppedNotRetried() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let recorder = LogRecorder()
    let store = makeStore(data, recorder: recorder)
    store.set([String(repeating: "k", count: 300)], bytes("lost"))
    store.set(["short"], bytes("kept"))
    store.flush()
    store.set(["other"], bytes("kept"))
    store.flush()
    #expect(recorder.count(.error) == 1)
    #expect(makeStore(data).load().map(\.path) == [["other"], ["short"]])
}

@Test func anEmptyPathCannotHoldAValue() {
    let scratch = Scratch()
    let recorder = LogRecorder()
    let store = makeStore(scratch.at("data"), recorder: recorder)
    store.set([], bytes("x"))
    store.flush()
    #expect(recorder.count(.warn) == 1)
    #expect(!exists(scratch.at("data")))
}
