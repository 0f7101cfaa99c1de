import Foundation
import Testing

/// Pipelined requests over raw sockets: answered in order, and a client that pipelines without reading
/// is held back by TCP flow control instead of growing the server's memory or keeping it busy.
@Suite("HTTP pipelining", .serialized)
struct HTTPPipeliningTests {
    /// Seconds of CPU (user + system) the process has used, from /proc/<pid>/stat.
    static func cpuSeconds(_ pid: Int32) -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let end = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    @Test func manyPipelinedRequestsAreAnsweredInOrder() throws {
        let (server, port, folder) = try HTTPIntegrationTests.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let socket = try TestSocket(tcpPort: port, timeout: 10)
        let count = 500
        var requests = ""
        for index in 0..<count {
            let path = index % 2 == 0 ? "/hello.txt" : "/sub/inside.txt"
            requests += "GET \(path) HTTP/1.1\r\nHost: x\r\n\(index == count - 1 ? "Connection: close\r\n" : "")\r\n"
        }
        try socket.send(requests)
        var all: [UInt8] = []
        while let chunk = socket.receiveSome(), !chunk.isEmpty { all += chunk }
        let responses = String(decoding: all, as: UTF8.self).components(separatedBy: "HTTP/1.1 200 OK").dropFirst()
        #expect(responses.count == count)
        let inOrder = responses.enumerated().allSatisfy { index, text in text.hasSuffix(index % 2 == 0 ? "hello world" : "inside") }
        #expect(inOrder, "every answer follows its request")
    }

    /// 1.x's FunctionalTests `HTTPAggregated` client: three POSTs in one write, each request line
    /// without its version (`POST /path `), answered in order on the kept connection.
    @Test func requestLinesWithoutVersionArePipelinedAsIn1x() throws {
        let (server, port, folder) = try HTTPIntegrationTests.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let socket = try TestSocket(tcpPort: port, timeout: 10)
        let post = { (body: String) in "POST / \r\nContent-Type:application/json\r\nContent-Length:\(body.utf8.count)\r\n\r\n\(body)" }
        try socket.send(post(#"["sum",{"a":1,"b":2}]"#) + post(#"["sum",{"a":3,"b":4}]"#) + post(#"["sum",{"a":5,"b":6}]"#))
        var all: [UInt8] = []
        while String(decoding: all, as: UTF8.self).components(separatedBy: "HTTP/1.1 200 OK").count < 4,
              let chunk = socket.receiveSome(), !chunk.isEmpty { all += chunk }
        let bodies = String(decoding: all, as: UTF8.self).components(separatedBy: "HTTP/1.1 200 OK").dropFirst()
            .map { $0.components(separatedBy: "\r\n\r\n").last ?? "" }
        #expect(bodies == ["[3]", "[7]", "[11]"], "\(String(decoding: all, as: UTF8.self))")
    }

    @Test func aClientPipeliningWithoutReadingIsHeldBack() throws {
        let (server, port, folder) = try HTTPIntegrationTests.server(extraIni: "timeout=60\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try LuaHarness.write(String(repeating: "x", count: 3072), to: "\(folder)/www/three.txt")
        let pid = server.process.processIdentifier
        let before = server.residentKiB()
        let pipeliner = try TestSocket(tcpPort: port)
        let batch = Array(String(repeating: "GET /three.txt HTTP/1.1\r\nHost: x\r\n\r\n", count: 1000).utf8)
        // Send for at most 20 s until the sends have been refused for 2 s in a row: the server stopped reading.
        var sent = 0
        var peak = before
        var offset = 0
        var lastProgress = Date()
        let deadline = Date().addingTimeInterval(20)
        var heldBack = false
        while Date() < deadline {
            let written = batch[offset...].withUnsafeBytes { send(pipeliner.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if written > 0 {
                offset = (offset + written) % batch.count
                sent += written
                lastProgress = Date()
            } else {
                if Date().timeIntervalSince(lastProgress) > 2 {
                    heldBack = true
                    break
                }
                usleep(10_000) // the pace of the probe, not a synchronisation
            }
            peak = max(peak, server.residentKiB())
        }
        #expect(heldBack, "the server stops reading a client that does not read its answers (\(sent) bytes sent)")
        peak = max(peak, server.residentKiB())
        #expect(peak - before < 16 * 1024, "resident memory grew by \(peak - before) KiB")
        // Another client is served meanwhile.
        let other = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/hello.txt"])
        #expect(other.output == "hello world")
        // Once the pipelining client is gone, the server has nothing left to do.
        shutdown(pipeliner.fd, Int32(SHUT_RDWR))
        var idle = false
        let idleDeadline = Date().addingTimeInterval(10)
        while !idle, Date() < idleDeadline {
            let start = Self.cpuSeconds(pid)
            usleep(500_000) // a measuring window
            idle = Self.cpuSeconds(pid) - start < 0.05
        }
        #expect(idle, "the server stops working for a client that left")
    }
}
