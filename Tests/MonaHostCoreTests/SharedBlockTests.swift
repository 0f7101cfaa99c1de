import Foundation
@testable import MonaHostCore
import Testing

/// Host shared blocks: small ones on the heap, large ones in an in-memory file (sendfile), which from
/// 1 MiB is rounded up to 2 MiB pages (a huge-page hint); every mapping goes when the block goes.
@Suite struct SharedBlockTests {
    /// The mapping of /proc/self/maps that starts at `address`: its length and path, if any.
    private static func mapping(at address: UnsafeMutableRawPointer) -> (length: Int, path: String)? {
        // /proc files report no size: read to the end by hand.
        let fd = open("/proc/self/maps", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        let maps = String(decoding: bytes, as: UTF8.self)
        let start = UInt(bitPattern: address)
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let low = UInt(range[0], radix: 16), let high = UInt(range[1], radix: 16),
                  low == start else { continue }
            return (Int(high - low), fields.count > 5 ? fields[5...].joined(separator: " ") : "")
        }
        return nil
    }

    @Test(arguments: [(100, 100, false), (256 << 10, 256 << 10, true), ((1 << 20) - 1, (1 << 20) - 1, true),
                      (1 << 20, 2 << 20, true), (1_572_864, 2 << 20, true), ((4 << 20) + 1, 6 << 20, true)])
    func aBlockIsMappedAsLargeAsItsPagesAndUnmappedWhenItGoes(size: Int, mapped: Int, file: Bool) throws {
        var address: UnsafeMutableRawPointer?
        do {
            let block = try #require(SharedBlock(size: size))
            #expect((block.fd >= 0) == file)
            memset(block.bytes, 0x5a, size) // every byte is writable
            #expect(block.bytes.load(fromByteOffset: size - 1, as: UInt8.self) == 0x5a)
            address = block.bytes
            if file {
                let found = try #require(Self.mapping(at: block.bytes))
                #expect(found.length == (mapped + 4095) & ~4095, "size \(size)")
                #expect(found.path.contains("mona-shared"))
                #expect(lseek(block.fd, 0, SEEK_END) == off_t(mapped), "the file is as long as the mapping")
            }
        }
        if file, let address {
            #expect(Self.mapping(at: address)?.path.contains("mona-shared") != true, "unmapped with its block")
        }
    }

    /// From 1 MiB a block is mapped at a 2 MiB boundary (a huge page maps only an aligned range), and
    /// moving its pages into huge pages (done at its first send) keeps every byte.
    @Test func aLargeBlockIsAlignedAndKeepsItsBytesWhenItsPagesAreCollapsed() throws {
        let size = 1_572_864
        let block = try #require(SharedBlock(size: size))
        try #require(block.fd >= 0)
        #expect(UInt(bitPattern: block.bytes) % UInt(2 << 20) == 0)
        let bytes = block.bytes.assumingMemoryBound(to: UInt8.self)
        for index in 0..<size { bytes[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 12) }
        let status = block.collapse()
        // 0 here (Linux 6.1 on); EAGAIN/ENOMEM when no huge page could be had, EINVAL on older kernels.
        #expect([0, -EAGAIN, -ENOMEM, -EINVAL].contains(status), "\(status)")
        var same = true
        for index in 0..<size where bytes[index] != UInt8(truncatingIfNeeded: index &* 31 &+ index >> 12) {
            same = false
            break
        }
        #expect(same, "the bytes are unchanged")
        let small = try #require(SharedBlock(size: 512 << 10))
        #expect(small.collapse() == 0, "below 1 MiB: nothing to do")
    }
}
