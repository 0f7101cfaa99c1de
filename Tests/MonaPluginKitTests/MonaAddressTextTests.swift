import PluginABI
import Testing
@testable import MonaPluginKit

/// Addresses interpolated in a plugin's log lines read as ip:port.
@Suite("mona_addr as text in plugins")
struct MonaAddressTextTests {
    @Test func addressesPrintAsIPAndPort() {
        var v4 = mona_addr()
        v4.family = UInt16(MONA_AF_INET)
        v4.port = 1935
        withUnsafeMutableBytes(of: &v4.ip) { $0.copyBytes(from: [127, 0, 0, 1]) }
        #expect("\(v4)" == "127.0.0.1:1935")
        var v6 = mona_addr()
        v6.family = UInt16(MONA_AF_INET6)
        v6.port = 80
        withUnsafeMutableBytes(of: &v6.ip) { $0[15] = 1 }
        #expect("RTMP client \(v6) idle" == "RTMP client [::1]:80 idle")
        #expect("\(mona_addr())" == "none")
    }
}
