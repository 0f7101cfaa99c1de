import Testing
@testable import RTMPPlugin

@Suite struct ChunkStreamTableTests {
    /// Ids of the one-byte basic header and the longer forms behave alike: set, change in place, remove.
    @Test func directAndHashedIDs() {
        var table = RTMPChunkStreamTable<[UInt8]>()
        let ids: [UInt32] = [2, 3, 63, 64, 319, 320, 65599]
        for id in ids { table[id] = [UInt8(truncatingIfNeeded: id)] }
        for id in ids { table[id]!.append(1) }
        #expect(ids.map { table[$0]! } == ids.map { [UInt8(truncatingIfNeeded: $0), 1] })
        #expect(table[4] == nil && table[65] == nil)
        #expect(table.removeValue(forKey: 63) == [63, 1] && table[63] == nil)
        #expect(table.removeValue(forKey: 320) == [64, 1] && table[320] == nil)
        #expect(table.removeValue(forKey: 320) == nil)
        table.removeAll()
        #expect(ids.allSatisfy { table[$0] == nil })
    }
}
