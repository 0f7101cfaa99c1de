import Glibc
import Testing

@testable import MonaPersistence

@Test func loadsA1xFolderAndCleansItLike1x() {
    let scratch = Scratch()
    let data = scratch.at("data")
    writeFile(data + "/FunctionalTests/LUATests/Databases/init/b326b5062b2f0e69046810717534cb09", "true")
    writeFile(data + "/t/b/c/c4ca4238a0b923820dcc509a6f75849b", "1")
    writeFile(data + "/t/readme.txt", "foreign")  // foreign file: left alone
    writeFile(data + "/corrupt/" + md5("abc"), "abd")  // md5 mismatch: deleted, then its empty folder
    writeFile(data + "/t/b/" + md5("x"), "y")  // mismatch next to a sub-folder
    makeFolders(data + "/empty/deeper")  // empty folders: deleted
    writeFile(data + "/notes.txt", "root foreign file")
    let recorder = LogRecorder()

    let entries = makeStore(data, recorder: recorder).load()

    #expect(entries == [
        PersistentStore.Entry(path: ["FunctionalTests", "LUATests", "Databases", "init"], value: bytes("true")),
        PersistentStore.Entry(path: ["t", "b", "c"], value: bytes("1")),
    ])
    #expect(tree(data) == [
        "FunctionalTests/", "FunctionalTests/LUATests/", "FunctionalTests/LUATests/Databases/",
        "FunctionalTests/LUATests/Databases/init/",
        "FunctionalTests/LUATests/Databases/init/b326b5062b2f0e69046810717534cb09",
        "notes.txt", "t/", "t/b/", "t/b/c/", "t/b/c/c4ca4238a0b923820dcc509a6f75849b", "t/readme.txt",
    ])
    #expect(recorder.count(.warn) == 2)  // the two corrupt files
    #expect(makeStore(data).load() == entries)  // a second load changes nothing
}

@Test func loadOfAMissingRootIsEmptyAndCreatesNothing() {
    let scratch = Scratch()
    #expect(makeStore(scratch.at("data")).load().isEmpty)
    #expect(!exists(scratch.at("data")))
}

@Test func loadDeletesALeftoverTempFile() {
    let scratch = Scratch()
    let data = scratch.at("data")
    writeFile(data + "/a/" + md5("old"), "old")
    writeFile(data + "/a/.mona-tmp-" + md5("new"), "ne")  // crash while writing "new"
    writeFile(data + "/b/.mona-tmp-" + md5("only"), "only")  // crash while creating b
    #expect(makeStore(data).load() == [PersistentStore.Entry(path: ["a"], value: bytes("old"))])
    #expect(tree(data) == ["a/", "a/" + md5("old")])
}

@Test func loadKeepsTheNewestOfSeveralValidFiles() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let base: Int64 = 1_700_000_000_000_000_000
    // Crash between the rename of the new value and the deletion of the old one. The newer file can have
    // the smaller name and differ by a nanosecond only.
    writeFile(data + "/a/" + md5("new"), "new", mtime: base + 1)
    writeFile(data + "/a/" + md5("old"), "old", mtime: base)
    writeFile(data + "/b/" + md5("first"), "first", mtime: base)
    writeFile(data + "/b/" + md5("second"), "second", mtime: base + 5_000_000_000)
    writeFile(data + "/b/" + md5("third"), "third", mtime: base + 1_000_000_000)
    let entries = makeStore(data).load()
    #expect(entries == [
        PersistentStore.Entry(path: ["a"], value: bytes("new")),
        PersistentStore.Entry(path: ["b"], value: bytes("second")),
    ])
    #expect(tree(data) == ["a/", "a/" + md5("new"), "b/", "b/" + md5("second")])
}

@Test func loadDeletesATornValueFile() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let base: Int64 = 1_700_000_000_000_000_000
    writeFile(data + "/a/" + md5("old value"), "old value", mtime: base)
    writeFile(data + "/a/" + md5("new value"), "new v", mtime: base + 1)  // torn (1.x wrote in place)
    writeFile(data + "/b/" + md5("torn"), "to")
    #expect(makeStore(data).load() == [PersistentStore.Entry(path: ["a"], value: bytes("old value"))])
    #expect(tree(data) == ["a/", "a/" + md5("old value")])
}

@Test func loadFinishesALeftoverTombstone() {
    let scratch = Scratch()
    let data = scratch.at("data")
    writeFile(data + "/.mona-del-1-1/" + md5("x"), "x")
    writeFile(data + "/.mona-del-1-1/deep/er/" + md5("y"), "y")
    writeFile(data + "/p/.mona-del-2-2/" + md5("z"), "z")
    writeFile(data + "/p/q/" + md5("kept"), "kept")
    #expect(makeStore(data).load() == [PersistentStore.Entry(path: ["p", "q"], value: bytes("kept"))])
    #expect(tree(data) == ["p/", "p/q/", "p/q/" + md5("kept")])
}

@Test func loadRenames1xFoldersToTheirCanonicalNames() {
    let scratch = Scratch()
    let data = scratch.at("data")
    let hex = "0123456789abcdef0123456789abcdef"
    writeFile(data + "/%foo/" + md5("1"), "1")  // 1.x key "%foo"
    writeFile(data + "/" + hex + "/" + md5("2"), "2")  // 1.x key of 32 hex characters
    writeFile(data + "/%%25bar/" + md5("3"), "3")  // canonical "%bar"
    writeFile(data + "/%bar/" + md5("4"), "4")  // 1.x "%bar" too: the canonical one wins, this one stays
    let entries = makeStore(data).load()
    #expect(entries == [
        PersistentStore.Entry(path: ["%bar"], value: bytes("3")),
        PersistentStore.Entry(path: ["%foo"], value: bytes("1")),
        PersistentStore.Entry(path: [hex], value: bytes("2")),
    ])
    #expect(tree(data).filter { $0.hasSuffix("/") } == ["%%25bar/", "%%25foo/", "%" + hex + "/", "%bar/"])
    #expect(makeStore(data).load() == entries)
}

@Test func loadNeverFollowsSymbolicLinks() {
    let scratch = Scratch()
    let data = scratch.at("data")
    writeFile(scratch.at("outside/") + md5("secret"), "secret")
    writeFile(scratch.at("outside/") + md5("bad"), "mismatch")
    makeFolders(data)
    #expect(symlink(scratch.at("outside"), data + "/link") == 0)
    #expect(makeStore(data).load().isEmpty)
    #expect(tree(scratch.at("outside")).count == 2)  // nothing deleted through the link
    #expect(tree(data) == ["link"])
}
