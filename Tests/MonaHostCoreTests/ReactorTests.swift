import Foundation
import Testing

/// The libuv reactor under conditions a protocol test does not reach: the descriptor limit, bursts
/// of datagrams, large sends the kernel takes in pieces.
@Suite("Reactor: descriptor limit, datagram bursts, partial writes", .serialized)
struct ReactorTests {
    /// The server's CPU time so far (utime + stime, in clock ticks).
    static func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) // utime, stime
    }

    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    @Test func atTheDescriptorLimitTheLoopNeitherSpinsNorStopsServing() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: ServerTests.protocolsOff + ServerTests.echoSection(port: port))
        try server.waitUntilStarted()
        let pid = server.process.processIdentifier
        // Room for a few connections only (util-linux's prlimit: glibc's is not visible from Swift).
        let limit = Self.openDescriptors(pid) + 4
        let prlimit = Process()
        prlimit.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        prlimit.arguments = ["--pid", "\(pid)", "--nofile=\(limit):\(limit)"]
        try prlimit.run()
        prlimit.waitUntilExit()
        #expect(prlimit.terminationStatus == 0)

        var clients: [TestSocket] = []
        for _ in 0..<40 { clients.append(try TestSocket(tcpPort: port, timeout: 5)) }
        #expect(server.waitFor("the descriptor limit (\(limit)) is reached on TCP"))
        // Connections over the limit were accepted and closed at once (libuv's reserve descriptor);
        // the others echo.
        var echoed = 0
        var refused = 0
        for client in clients {
            try? client.send("x")
            switch client.receiveSome() {
            case [UInt8(ascii: "x")]?: echoed += 1
            case []?: refused += 1
            default: break
            }
        }
        #expect(echoed > 0 && refused > 0 && echoed + refused == clients.count, "echoed \(echoed), refused \(refused)")

        // With the waiting connections gone the loop is quiet: no spinning on accept.
        let before = Self.cpuTicks(pid)
        usleep(1_000_000)
        let spent = Self.cpuTicks(pid) - before
        #expect(spent < 20, "\(spent) ticks in 1 s at the descriptor limit")
        let reports = server.output.components(separatedBy: "the descriptor limit").count - 1
        #expect(reports == 1, "the limit was reported \(reports) times")

        // Below the limit again, a newcomer is served.
        clients.removeAll()
        let deadline = Date().addingTimeInterval(5)
        var served = false
        while !served, Date() < deadline {
            let client = try TestSocket(tcpPort: port, timeout: 1)
            try? client.send("ping\n")
            served = (try? client.readLine()) == "ping"
        }
        #expect(served)
        #expect(server.terminate().status == 0)
    }

    @Test func aBurstOfDatagramsComesBackWhole() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let udpPort = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder,
                                       ini: ServerTests.protocolsOff + ServerTests.echoSection(port: 0, udpPort: udpPort))
        try server.waitUntilStarted()
        let client = TestSocket(udpTimeout: 5)
        // Bursts of 64 datagrams (read by the server many per recvmmsg), each burst answered in full
        // and in order before the next, so no kernel buffer overflows.
        for burst in 0..<20 {
            let payloads = (0..<64).map { index in Array("\(burst):\(index):".utf8) + [UInt8](repeating: UInt8(index), count: 1000) }
            for payload in payloads { client.sendDatagram(payload, port: udpPort) }
            for payload in payloads {
                let answer = client.receiveDatagram()
                #expect(answer == payload)
                if answer != payload { return }
            }
        }
        #expect(server.terminate().status == 0)
    }

    @Test func aLargeSendIsWrittenInOrderAsTheSocketDrains() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: ServerTests.protocolsOff + ServerTests.echoSection(port: port))
        try server.waitUntilStarted()
        let client = try TestSocket(tcpPort: port, timeout: 10)
        // 8 MiB sent from one thread and read from another: the echo's sends meet a full socket, are
        // queued and written in order as it drains, and the echo pauses and resumes its reading.
        let size = 8 << 20
        let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        nonisolated(unsafe) let sender = client
        let writer = Thread {
            try? sender.send(data)
        }
        writer.start()
        let echoed = try client.receive(count: size)
        #expect(echoed == data)
        #expect(server.terminate().status == 0)
    }
}

extension ReactorTests {
    /// Many small sends to a peer that never reads: the host queues their bytes in one growing write
    /// (not a request each), so the WebSocket plugin's limit per client (32 MiB queued) bounds memory.
    @Test func aPingFloodFromAPeerThatNeverReadsCostsBoundedMemory() throws {
        let (server, port, folder) = try WebSocketIntegrationTests.server()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let client = try WebSocketTestClient(port: port)
        let ping = WebSocketTestClient.frame(0x9, [UInt8](repeating: 7, count: 125))
        let burst = Array((0..<512).map { _ in ping }.joined())
        // Pings until the server drops us (its answers fill our receive buffer, then its queue).
        let deadline = Date().addingTimeInterval(30)
        var peak = 0
        var sent = 0
        while Date() < deadline, (try? client.send(burst)) != nil {
            sent += burst.count
            if sent % (4 << 20) < burst.count { peak = max(peak, server.residentKiB()) }
        }
        peak = max(peak, server.residentKiB())
        #expect(server.waitFor("reads too slowly"), "the plugin dropped the client at its limit")
        // 32 MiB of pongs queued, plus the server's own ~25 MiB; a request per pong cost 4 times that.
        #expect(peak < 100 << 10, "peak RSS \(peak) KiB")
        #expect(server.terminate().status == 0)
    }
}
