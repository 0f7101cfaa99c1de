import Foundation
import PluginABI
import Testing
@testable import MonaHostCore

/// The metrics' parts that need no server: who may read them (loopback and `metrics.allow`, CIDR
/// blocks of both families), the text format, Lua's events by name and the loop-lag window.
@Suite("Metrics: allow list, text format, Lua events, loop lag")
struct MetricsTests {
    static func address(_ ip: String) -> mona_addr { mona_addr(ip: ip, port: 1)! }

    @Test func loopbackAloneByDefault() {
        let list = AddressAllowList(nil)
        for ip in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] { #expect(list.allows(Self.address(ip)), "\(ip)") }
        for ip in ["192.0.2.2", "10.0.0.1", "::2", "fd00::2", "::ffff:10.0.0.1", "128.0.0.1"] { #expect(!list.allows(Self.address(ip)), "\(ip)") }
        #expect(!list.allows(mona_addr()), "no address: refused")
        #expect(AddressAllowList("").invalid.isEmpty)
    }

    @Test func addressesAndBlocksOfBothFamilies() {
        let list = AddressAllowList("10.0.0.0/8, 192.0.2.7;fd00::/8\t2001:db8::1 198.51.100.128/25")
        #expect(list.invalid.isEmpty)
        for ip in ["10.1.2.3", "10.255.255.255", "192.0.2.7", "::ffff:192.0.2.7", "fd12::5", "2001:db8::1", "198.51.100.200", "127.0.0.1"] {
            #expect(list.allows(Self.address(ip)), "\(ip)")
        }
        for ip in ["11.0.0.1", "192.0.2.8", "fe80::1", "2001:db8::2", "198.51.100.127", "9.255.255.255"] {
            #expect(!list.allows(Self.address(ip)), "\(ip)")
        }
        // Prefixes that are not on a byte boundary, and the extremes.
        #expect(AddressAllowList("172.16.0.0/12").allows(Self.address("172.31.255.1")))
        #expect(!AddressAllowList("172.16.0.0/12").allows(Self.address("172.32.0.1")))
        #expect(AddressAllowList("0.0.0.0/0").allows(Self.address("203.0.113.9")))
        #expect(!AddressAllowList("0.0.0.0/0").allows(Self.address("fd00::1")), "an IPv4 block holds no IPv6 address")
        #expect(AddressAllowList("::/0").allows(Self.address("fd00::1")))
        #expect(AddressAllowList("2001:db8::/33").allows(Self.address("2001:db8:7fff::1")))
        #expect(!AddressAllowList("2001:db8::/33").allows(Self.address("2001:db8:8000::1")))
    }

    @Test func entriesThatAreNoAddressAreSetAside() {
        let list = AddressAllowList("10.0.0.0/33, example.org, 10.0.0.1/, ::1/129, 10.0.0.0/+8, 192.0.2.1/32")
        #expect(list.invalid == ["10.0.0.0/33", "example.org", "10.0.0.1/", "::1/129", "10.0.0.0/+8"])
        #expect(list.allows(Self.address("192.0.2.1")))
        #expect(!list.allows(Self.address("10.0.0.1")))
    }

    @Test func theTextFormat() {
        var text = PrometheusText()
        text.family("x_total", .counter, "Things, \\ counted\nhere.", [PrometheusText.Sample([("protocol", "a\"b\\c\nd")], UInt64(18_446_744_073_709_551_615))])
        text.family("y_seconds", .gauge, "Y.", 0.25)
        text.family("z", .gauge, "Nothing yet.", [])
        #expect(text.text == """
        # HELP x_total Things, \\\\ counted\\nhere.
        # TYPE x_total counter
        x_total{protocol="a\\"b\\\\c\\nd"} 18446744073709551615
        # HELP y_seconds Y.
        # TYPE y_seconds gauge
        y_seconds 0.25
        # HELP z Nothing yet.
        # TYPE z gauge

        """)
        #expect(PrometheusText.number(3) == "3")
        #expect(PrometheusText.number(1.5e-6) == "1.5e-06")
        #expect(PrometheusText.number(.infinity) == "+Inf")
        #expect(PrometheusText.number(-.infinity) == "-Inf")
        #expect(PrometheusText.number(.nan) == "NaN")
        #expect(PrometheusText.escapeLabel("a\r\nb") == "a\r\\nb")
    }

    @Test func luaEntriesAddUpByEvent() {
        var times = LuaEventTimes()
        times.record("connect", nanoseconds: 1_000)
        times.record("connect", nanoseconds: 500)
        times.record("invoke", nanoseconds: 7)
        times.record("mediaHook", nanoseconds: 2)
        times.record("loadData", nanoseconds: 1)
        let events = times.byEvent
        #expect(events.map(\.event) == ["loadData", "onConnection", "publication:hook", "rpc"])
        #expect(events[1].total == LuaEventTimes.Total(calls: 2, nanoseconds: 1_500))
        #expect(events[3].total == LuaEventTimes.Total(calls: 1, nanoseconds: 7))
    }

    @Test func theLagWindowKeepsTheLargestOfTheLastMinute() {
        var window = LagWindow()
        window.start(atMs: 1_000)
        window.note(lateNs: 5_000_000, atMs: 1_500)
        window.note(lateNs: 1_000_000, atMs: 2_000)
        #expect(window.lastNs == 1_000_000 && window.maxNs == 5_000_000)
        window.note(lateNs: 0, atMs: 31_000) // a new window: the previous one's largest is still shown
        #expect(window.lastNs == 0 && window.maxNs == 5_000_000)
        window.note(lateNs: 2_000_000, atMs: 61_000) // two windows later: forgotten
        #expect(window.maxNs == 2_000_000)
        window.note(lateNs: 0, atMs: 200_000) // after a long silence nothing older counts
        #expect(window.maxNs == 0)
    }

    @Test func offByDefaultOnInTheShippedIni() throws {
        #expect(!HostMetrics(config: ServerConfig(ini: nil)).enabled)
        let shipped = try String(contentsOfFile: "\(TestEnvironment.repository)/MonaServer.ini", encoding: .utf8)
        let metrics = HostMetrics(config: ServerConfig(ini: IniFile(text: shipped)))
        #expect(metrics.enabled)
        #expect(metrics.allowed == AddressAllowList(nil), "loopback alone")
        #expect(!HostMetrics(config: ServerConfig(ini: IniFile(text: "[metrics]\nenabled=off\n"))).enabled)
    }
}
