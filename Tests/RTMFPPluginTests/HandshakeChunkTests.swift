import PluginABI
import Testing
@testable import RTMFPPlugin

@Suite("RTMFP handshake chunks: addresses, Redirect, FIHello, and the bounded tables")
struct HandshakeChunkTests {
    static func ipv6(_ last: UInt8, port: UInt16) -> mona_addr {
        var address = mona_addr()
        address.family = UInt16(MONA_AF_INET6)
        address.port = port
        address.ip.0 = 0x20
        address.ip.1 = 0x01
        address.ip.15 = last
        return address
    }

    @Test func addressesAreFlagsIPAndPort() throws {
        var bytes: [UInt8] = []
        let ipv4Written = RTMFPAddressEncoding.append(handshakeAddress(0x0102), origin: .observed, to: &bytes)
        #expect(ipv4Written && bytes == [0x02, 10, 0, 1, 2, 0x04, 0xEA]) // 10.0.1.2:1258
        bytes = []
        let ipv6Written = RTMFPAddressEncoding.append(Self.ipv6(9, port: 1935), origin: .relay, to: &bytes)
        #expect(ipv6Written && bytes == [0x83, 0x20, 0x01] + [UInt8](repeating: 0, count: 13) + [9, 0x07, 0x8F])
        let noneWritten = RTMFPAddressEncoding.append(mona_addr(), origin: .local, to: &bytes)
        #expect(!noneWritten && bytes.count == 19, "no family: nothing written")
        var reader = RTMFPReader(bytes)
        let decoded = RTMFPAddressEncoding.read(&reader)
        let read = try #require(decoded)
        #expect(sameAddress(read.address, Self.ipv6(9, port: 1935)) && read.origin == .relay && reader.atEnd)
        for size in 0..<bytes.count {
            var truncated = RTMFPReader(Array(bytes.prefix(size)))
            let result = RTMFPAddressEncoding.read(&truncated)
            #expect(result == nil && truncated.position == 0, "prefix \(size)")
        }
    }

    @Test func aRedirectEchoesTheTagThenListsAddresses() throws {
        let tag = [UInt8](repeating: 0x7E, count: 16)
        let addresses: [(address: mona_addr, origin: RTMFPAddressOrigin)] = [
            (handshakeAddress(1), .observed), (Self.ipv6(2, port: 5), .local), (mona_addr(), .local), (handshakeAddress(3), .relay),
        ]
        let value = RTMFPRedirect.encode(tag: tag, addresses: addresses)
        #expect(Array(value.prefix(17)) == [16] + tag)
        #expect(value.count == 17 + 7 + 19 + 7, "the address without a family is left out")
        let decoded = try #require(RTMFPRedirect.decode(value[...]))
        #expect(decoded.tag == tag && decoded.addresses.map(\.origin) == [.observed, .local, .relay])
        #expect(sameAddress(decoded.addresses[1].address, Self.ipv6(2, port: 5)))
        #expect(RTMFPRedirect.decode(RTMFPRedirect.encode(tag: tag, addresses: [])[...])?.addresses.isEmpty == true)
        for size in 0..<value.count where ![17, 24, 43].contains(size) {
            #expect(RTMFPRedirect.decode(value.prefix(size)) == nil, "prefix \(size)")
        }
    }

    @Test func aForwardedHelloNamesThePeerTheReplyAddressAndTheTag() throws {
        let peerID = (0..<32).map { UInt8($0) }
        let tag = [UInt8](repeating: 0x33, count: 16)
        let value = RTMFPForwardedHello.encode(peerID: peerID, replyAddress: handshakeAddress(4), origin: .observed, tag: tag)
        #expect(Array(value.prefix(3)) == [0x22, 0x21, 0x0F] && Array(value[3..<35]) == peerID)
        #expect(Array(value[35..<42]) == [0x02, 10, 0, 0, 4, 0x03, 0xEC] && Array(value[42...]) == tag)
        let decoded = try #require(RTMFPForwardedHello.decode(value[...]))
        #expect(decoded.peerID == peerID && decoded.tag == tag && decoded.origin == .observed)
        #expect(sameAddress(decoded.replyAddress, handshakeAddress(4)))
        for size in 0..<42 {
            #expect(RTMFPForwardedHello.decode(value.prefix(size)) == nil, "prefix \(size)")
        }
    }

    @Test func optionsStopAtAMarkerAndRefuseTruncation() throws {
        var bytes: [UInt8] = []
        bytes.appendOption(type: 0x0A, value: [UInt8]())
        bytes.appendOption(type: 0x15, value: [2])
        bytes.append(0x00) // marker
        bytes.appendOption(type: 0x1D, value: [2, 9])
        #expect(bytes == [0x01, 0x0A, 0x02, 0x15, 0x02, 0x00, 0x03, 0x1D, 0x02, 0x09])
        let options = try #require(RTMFPOption.list(bytes[...]))
        #expect(options.map(\.type) == [0x0A, 0x15] && options.map { Array($0.value) } == [[], [2]])
        #expect(RTMFPOption.list(bytes.dropLast()) == nil, "what follows the marker must be well-formed too")
        var large: [UInt8] = []
        large.appendOption(type: 0x2000, value: [UInt8](repeating: 1, count: 200))
        #expect(Array(large.prefix(4)) == [0x81, 0x4A, 0xC0, 0x00])
        #expect(try #require(RTMFPOption.list(large[...])).first?.value.count == 200)
    }

    @Test func theExpiringTableBoundsAndAgesItsEntries() {
        var table = RTMFPExpiringTable<Int, String>(capacity: 3, lifetime: 100)
        for key in 0..<5 { table.insert("v\(key)", for: key, now: UInt64(key)) }
        #expect(table.count == 3)
        #expect(table.value(for: 1, now: 10) == nil && table.value(for: 2, now: 10) == "v2")
        let updatedLive = table.update(4, now: 50) { $0 = "four" }
        let updatedGone = table.update(0, now: 50) { $0 = "zero" }
        #expect(updatedLive && !updatedGone)
        #expect(table.value(for: 4, now: 103) == "four" && table.value(for: 4, now: 104) == nil, "an update keeps the age")
        table.remove(3)
        table.insert("again", for: 2, now: 60) // a new entry for key 2: it ages from 60
        table.expire(now: 104)
        #expect(table.count == 1 && table.value(for: 2, now: 104) == "again")
        table.expire(now: 160)
        #expect(table.count == 0)
    }

    @Test func theExpiringTableStaysExactThroughChurn() {
        var table = RTMFPExpiringTable<Int, Int>(capacity: 4, lifetime: 1_000_000)
        for key in 0..<100_000 {
            table.insert(key, for: key, now: 1)
            if key % 3 != 0 { table.remove(key) }
        }
        // Kept: the multiples of 3, the 4 newest of them.
        #expect(table.count == 4)
        #expect([99_999, 99_996, 99_993, 99_990].allSatisfy { table.value(for: $0, now: 2) == $0 })
        table.insert(-1, for: -1, now: 2)
        #expect(table.value(for: 99_990, now: 2) == nil && table.count == 4, "the oldest went")
    }
}
