import Foundation
@testable import MonaHostCore
import Testing

/// The memory of confined paths that keeps hot names' look-ups off the disk: answers expire, the
/// table stays bounded whatever names are asked, and a name missing from a folder is remembered only
/// while that folder is unchanged, so a file created in it is served at once.
@Suite struct WWWConfinementTests {
    @Test func answersLiveTheirLifetimeOnly() {
        var paths = ConfinedPaths()
        paths.remember("www/a.txt", .found("/srv/www/a.txt"), now: 10_000)
        #expect(paths.lookup("www/a.txt", now: 10_000 + ConfinedPaths.lifetime - 1) == .found("/srv/www/a.txt"))
        #expect(paths.lookup("www/a.txt", now: 10_000 + ConfinedPaths.lifetime) == nil)
        #expect(paths.lookup("www/b.txt", now: 10_000) == nil)
    }

    @Test func manyDistinctNamesStayBounded() {
        var paths = ConfinedPaths()
        for index in 0..<(3 * ConfinedPaths.capacity) { paths.remember("www/\(index)", .found("/srv/www/\(index)"), now: 1) }
        #expect(paths.count <= ConfinedPaths.capacity)
    }

    @Test func aFolderIsSettledOnceItsTimesAreASecondOld() {
        let folder = ConfinedPaths.Folder(path: "www", follow: true, device: 1, inode: 2,
                                          modified: 5_000_000_000, changed: 6_000_000_000)
        #expect(!folder.isSettled(now: 6_999_999_999))
        #expect(folder.isSettled(now: 7_000_000_000))
    }

    @Test func aMissRemembersItsFolderAndANewFileThereIsFoundAtOnce() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("confine-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let www = "\(base)/www"
        try FileManager.default.createDirectory(atPath: "\(www)/live", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(www)/file.txt"))
        try Data("--".utf8).write(to: URL(fileURLWithPath: "\(www)/main.lua"))
        let resolved = try #require(realpath(www, nil))
        let real = String(cString: resolved)
        free(resolved)
        // Misses are remembered only from folders whose times are a second old: wait for that (bounded).
        func settled(_ path: String) -> Bool {
            var info = stat()
            guard stat(path, &info) == 0 else { return false }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            return ConfinedPaths.Folder(path: path, follow: true, info)
                .isSettled(now: UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec))
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !(settled(www) && settled("\(www)/live")) { usleep(50_000) }
        var confinement = WWWConfinement(root: www)
        var now: UInt64 { // the confinement's clock: monotonic milliseconds
            var clock = timespec()
            clock_gettime(CLOCK_MONOTONIC, &clock)
            return UInt64(clock.tv_sec) * 1000 + UInt64(clock.tv_nsec) / 1_000_000
        }

        #expect(confinement.confine("\(www)/live/a.m3u8") == nil)
        guard case .missing(let folder)? = confinement.answers.lookup("\(www)/live/a.m3u8", now: now) else {
            Issue.record("the miss from www/live/ was not remembered")
            return
        }
        #expect(folder.path == "\(www)/live" && !folder.follow)
        #expect(confinement.confine("\(www)/live/a.m3u8") == nil, "answered from memory")

        #expect(confinement.confine("\(www)/gone/a.m3u8") == nil)
        guard case .missing(let top)? = confinement.answers.lookup("\(www)/gone/a.m3u8", now: now) else {
            Issue.record("the miss from www/ was not remembered")
            return
        }
        #expect(top.path == www && top.follow)

        // What is not a plain miss from a folder is not remembered as one.
        for refused in ["\(www)/main.lua", "\(www)/file.txt/x", "\(www)/file.txt/"] {
            #expect(confinement.confine(refused) == nil, "\(refused)")
            #expect(confinement.answers.lookup(refused, now: now) == nil, "\(refused)")
        }

        // A file created in the folder is found at once, and then remembered.
        try Data("#EXTM3U".utf8).write(to: URL(fileURLWithPath: "\(www)/live/a.m3u8"))
        #expect(confinement.confine("\(www)/live/a.m3u8") == "\(real)/live/a.m3u8")
        #expect(confinement.answers.lookup("\(www)/live/a.m3u8", now: now) == .found("\(real)/live/a.m3u8"))
        try FileManager.default.createDirectory(atPath: "\(www)/gone", withIntermediateDirectories: false)
        try Data("#EXTM3U".utf8).write(to: URL(fileURLWithPath: "\(www)/gone/a.m3u8"))
        #expect(confinement.confine("\(www)/gone/a.m3u8") == "\(real)/gone/a.m3u8")

        // A miss from a folder changed less than a second ago is not remembered.
        #expect(confinement.confine("\(www)/live/b.m3u8") == nil)
        #expect(confinement.answers.lookup("\(www)/live/b.m3u8", now: now) == nil)
    }
}
