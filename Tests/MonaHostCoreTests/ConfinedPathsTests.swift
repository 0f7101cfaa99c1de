@testable import MonaHostCore
import Testing

/// The memory of confined paths that keeps hot files' look-ups off the disk: answers expire, the
/// table stays bounded whatever names are asked.
@Suite struct ConfinedPathsTests {
    @Test func answersLiveTheirLifetimeOnly() {
        var paths = ConfinedPaths()
        paths.remember("www/a.txt", "/srv/www/a.txt", now: 10_000)
        #expect(paths.lookup("www/a.txt", now: 10_000 + ConfinedPaths.lifetime - 1) == "/srv/www/a.txt")
        #expect(paths.lookup("www/a.txt", now: 10_000 + ConfinedPaths.lifetime) == nil)
        #expect(paths.lookup("www/b.txt", now: 10_000) == nil)
    }

    @Test func manyDistinctNamesStayBounded() {
        var paths = ConfinedPaths()
        for index in 0..<(3 * ConfinedPaths.capacity) { paths.remember("www/\(index)", "/srv/www/\(index)", now: 1) }
        #expect(paths.count <= ConfinedPaths.capacity)
    }
}
