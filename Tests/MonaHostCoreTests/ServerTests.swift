import Foundation
import PluginABI
import Testing

/// The real executable, started with a temporary folder and ini, driven over loopback sockets.
@Suite("MonaServer process: plugins over real sockets", .serialized)
struct ServerTests {
    /// Every built-in protocol off: these tests use the echo and C fixture plugins only.
    static let protocolsOff = "RTMFP.port=0\nRTMP.port=0\nHTTP.port=0\nRTSP.port=0\n"

    /// A folder with the C echo fixture built into its plugins/ folder.
    static func folderWithCEcho() throws -> String {
        let folder = try TestEnvironment.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(folder)/plugins", withIntermediateDirectories: true)
        try TestEnvironment.buildCPlugin("cecho", into: "\(folder)/plugins")
        return folder
    }

    static func cechoSection(port: UInt16) -> String {
        "[cecho]\nlibrary=libcecho.so\nhost=127.0.0.1\nport=\(port)\n"
    }

    static func echoSection(port: UInt16, udpPort: UInt16 = 0) -> String {
        "[echo]\nlibrary=libMonaEcho.so\nhost=127.0.0.1\nport=\(port)\nudpPort=\(udpPort)\n"
    }

    @Test func theCDropInServesThroughTheHost() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: port),
                                       extra: ["--custom=42"])
        try server.waitUntilStarted()
        #expect(server.output.contains("cecho: C plugin started"))
        #expect(server.output.contains("cecho: listening on TCP 127.0.0.1:\(port)"))

        let client = try TestSocket(tcpPort: port)
        try client.send("hel")
        try client.send("lo\n")
        #expect(try client.readLine() == "hello")
        try client.send("a\nb\nc\n")
        #expect(try [client.readLine(), client.readLine(), client.readLine()] == ["a", "b", "c"])
        try client.send("!config cecho.port\n!config arguments.custom\n!config no.such.key\n")
        #expect(try client.readLine() == "config cecho.port=\(port)")
        #expect(try client.readLine() == "config arguments.custom=42")
        #expect(try client.readLine() == "config no.such.key absent")
        try client.send("!sha256 abc\n")
        #expect(try client.readLine() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        try client.send("!close\n")
        #expect(client.waitForEOF())
        #expect(server.waitFor("cecho: connection closed, reason 0"))
        #expect(server.terminate().status == 0)
    }

    /// udp_send_segments (ABI 1.6) from the C drop-in: runs of datagrams arrive as the datagrams they
    /// hold, in order, whatever the run's length (past the system's per-call limits too).
    @Test func theCDropInSendsRunsOfDatagrams() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: port))
        try server.waitUntilStarted()
        let receiver = TestSocket(udpTimeout: 5)
        let udpPort = receiver.bindLoopback()
        try #require(udpPort != 0)
        let client = try TestSocket(tcpPort: port)
        for (segment, size) in [(1000, 5500), (1200, 84_000), (700, 700)] {
            try client.send("!udp \(udpPort) \(segment) \(size)\n")
            let reply = try client.readLine()
            #expect(reply == "udp 0", "\(reply)")
            // Each datagram as "<size>x<its byte>", received and expected.
            var expected: [String] = []
            for start in stride(from: 0, to: size, by: segment) { expected.append("\(min(segment, size - start))x\(start / segment % 256)") }
            var received: [String] = []
            while received.count < expected.count, let datagram = receiver.receiveDatagram() {
                received.append(Set(datagram).count == 1 ? "\(datagram.count)x\(datagram[0])" : "\(datagram.count) mixed")
            }
            #expect(received == expected, "segment \(segment), size \(size)")
        }
        try client.send("!udp \(udpPort) 0 100\n")
        #expect(try client.readLine() == "udp \(MONA_E_INVAL)")
        #expect(server.terminate().status == 0)
    }

    @Test func aCxxDropInBuiltWithHiddenVisibilityServes() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: "\(folder)/plugins", withIntermediateDirectories: true)
        try TestEnvironment.buildCxxPlugin("cppecho", into: "\(folder)/plugins", flags: ["-fvisibility=hidden"])
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + "[cpp]\nlibrary=libcppecho.so\nport=\(port)\n")
        try server.waitUntilStarted()
        #expect(server.output.contains("cpp: C++ plugin started"))
        let client = try TestSocket(tcpPort: port)
        try client.send("hello\nworld\n")
        #expect(try [client.readLine(), client.readLine()] == ["c++ 1 hello", "c++ 2 world"])
        #expect(server.terminate().status == 0)
    }

    @Test func aLibraryPathInTheIniIsRelativeToTheIni() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: "\(folder)/conf/lib", withIntermediateDirectories: true)
        try TestEnvironment.buildCPlugin("cecho", into: "\(folder)/conf/lib")
        let port = TestEnvironment.freePort()
        let ini = Self.protocolsOff + "[cecho]\nlibrary=lib/libcecho.so\nhost=127.0.0.1\nport=\(port)\n[gone]\nlibrary=lib/libgone.so\n"
        try TestEnvironment.write(ini, to: "\(folder)/conf/MonaServer.ini")
        // The root (--dir) and the working directory are not the ini's folder.
        let server = try ServerProcess(directory: folder, ini: nil, extra: ["--ini=\(folder)/conf/MonaServer.ini"])
        try server.waitUntilStarted()
        #expect(server.output.contains("cecho: C plugin started"))
        #expect(server.output.contains("gone: plugin lib/libgone.so not found (tried \(folder)/conf/lib/libgone.so)"))
        let client = try TestSocket(tcpPort: port)
        try client.send("here\n")
        #expect(try client.readLine() == "here")
        #expect(server.terminate().status == 0)
    }

    @Test func timersFireOnceOrPeriodically() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: port))
        try server.waitUntilStarted()
        let client = try TestSocket(tcpPort: port)
        let start = Date()
        try client.send("!timer 150 1\n")
        #expect(try client.readLine() == "tick 1")
        #expect(Date().timeIntervalSince(start) >= 0.14)
        try client.send("!timer 20 3\n")
        #expect(try [client.readLine(), client.readLine(), client.readLine()] == ["tick 1", "tick 2", "tick 3"])
        client.setTimeout(0.3)
        #expect(client.receiveSome() == nil, "a cancelled periodic timer must not fire again")
        #expect(server.terminate().status == 0)
    }

    @Test func aConnectionCanBeHandedToAnotherPlugin() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cechoPort = TestEnvironment.freePort()
        let echoPort = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: cechoPort)
                                           + Self.echoSection(port: echoPort))
        try server.waitUntilStarted()
        let client = try TestSocket(tcpPort: cechoPort)
        try client.send("!handoff nowhere\n")
        #expect(try client.readLine() == "handoff failed -2")
        let early = "already read, no newline"
        try client.send("!handoff echo\n" + early)
        #expect(String(decoding: try client.receive(count: early.utf8.count), as: UTF8.self) == early)
        try client.send("!timer 1 1")   // the echo plugin does not interpret lines: it sends them back
        #expect(String(decoding: try client.receive(count: 10), as: UTF8.self) == "!timer 1 1")
        #expect(server.terminate().status == 0)
    }

    @Test func aHalfClosedPeerStillGetsItsAnswer() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: port))
        try server.waitUntilStarted()
        let client = try TestSocket(tcpPort: port)
        try client.send("last line\n")
        client.shutdownWrite()
        #expect(try client.readLine() == "last line")
        #expect(try client.readLine() == "bye")
        #expect(client.waitForEOF())
        #expect(server.terminate().status == 0)
    }

    @Test func udpDatagramsMakeTheRoundTrip() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let udpPort = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.echoSection(port: 0, udpPort: udpPort))
        try server.waitUntilStarted()
        #expect(server.output.contains("echo: listening on UDP 127.0.0.1:\(udpPort)"))
        let client = TestSocket(udpTimeout: 5)
        for size in [1, 1200, 60000] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            client.sendDatagram(payload, port: udpPort)
            #expect(client.receiveDatagram() == payload)
        }
        #expect(server.terminate().status == 0)
    }

    @Test func aSlowReaderDoesNotGrowTheServersMemory() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.echoSection(port: port), log: 6)
        try server.waitUntilStarted()
        let client = try TestSocket(tcpPort: port, timeout: 10)
        _ = fcntl(client.fd, F_SETFL, fcntl(client.fd, F_GETFL) | O_NONBLOCK)
        let baseline = server.residentKiB()
        let limit = 512 << 20
        let chunk = (0..<65536).map { UInt8($0 % 251) }
        var sent = 0
        var stalled = false
        while sent < limit {
            let offset = sent % 251
            let count = chunk.withUnsafeBytes { raw in
                Glibc.send(client.fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                sent += count
                continue
            }
            #expect(errno == EAGAIN)
            var pollfd = pollfd(fd: client.fd, events: Int16(POLLOUT), revents: 0)
            if poll(&pollfd, 1, 1000) == 0 {
                stalled = true // nothing moved for a second: back-pressure reached the sender
                break
            }
        }
        let grownKiB = server.residentKiB() - baseline
        #expect(stalled, "the server kept reading \(sent) bytes without anybody reading the echo")
        #expect(grownKiB < 32 * 1024, "the server grew by \(grownKiB) KiB while \(sent) bytes were stuck")

        // Every byte comes back, in order, once the client reads.
        _ = fcntl(client.fd, F_SETFL, fcntl(client.fd, F_GETFL) & ~O_NONBLOCK)
        var received = 0
        var intact = true
        while received < sent, let data = client.receiveSome(), !data.isEmpty {
            for (index, byte) in data.enumerated() where byte != UInt8((received + index) % 251) {
                intact = false
                break
            }
            received += data.count
        }
        #expect(received == sent)
        #expect(intact)
        #expect(server.terminate().status == 0)
    }

    @Test func aPluginThatNeverConsumesHitsTheHostsLimitAndOnlyItsConnectionCloses() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: port))
        try server.waitUntilStarted()
        let bystander = try TestSocket(tcpPort: port)
        // cecho consumes whole lines only: 40 MiB without a newline stay unconsumed in the host.
        let flooder = try TestSocket(tcpPort: port, timeout: 10)
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        var sent = 0
        while sent < 40 << 20 {
            let count = chunk.withUnsafeBytes { Glibc.send(flooder.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break } // the server closed the connection
            sent += count
        }
        flooder.setTimeout(2)
        #expect(flooder.waitForEOF() || sent < 40 << 20, "the flooding connection is closed")
        #expect(server.waitFor("bytes unconsumed, over the host's limit; connection closed"))
        #expect(server.waitFor("cecho: connection closed, reason 4"), "MONA_CLOSED_LIMIT")
        try bystander.send("still served\n")
        #expect(try bystander.readLine() == "still served")
        #expect(server.terminate().status == 0)
    }

    @Test func sigtermStopsGracefullyWithinTwoSeconds() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.cechoSection(port: port))
        try server.waitUntilStarted()
        let clients = try (0..<3).map { _ in try TestSocket(tcpPort: port) }
        for client in clients {
            try client.send("ping\n")
            #expect(try client.readLine() == "ping")
        }
        let (status, seconds) = server.terminate()
        #expect(status == 0)
        #expect(seconds < 2)
        for client in clients { #expect(client.waitForEOF()) }
        let output = server.output
        #expect(output.contains("cecho: C plugin stopping"))
        #expect(output.components(separatedBy: "cecho: connection closed, reason 3").count == 4)
        #expect(output.contains("MonaServer stopped"))
    }

    @Test func aPortInUseIsOneClearErrorAndTheOthersStart() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let busyPort = TestEnvironment.freePort()
        let squatter = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(squatter) }
        var address = TestSocket.loopback(busyPort)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(squatter, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0 && listen(squatter, 1) == 0)
        let cechoPort = TestEnvironment.freePort()
        let server = try ServerProcess(directory: folder, ini: Self.protocolsOff + Self.echoSection(port: busyPort)
                                           + Self.cechoSection(port: cechoPort))
        try server.waitUntilStarted()
        let output = server.output
        #expect(output.contains("ERROR") && output.contains(
            "echo: cannot listen on TCP 127.0.0.1:\(busyPort) (bind: Address already in use); change echo.port in \(folder)/MonaServer.ini"))
        #expect(output.contains("echo: failed to start"))
        #expect(output.contains("MonaServer started with cecho"))
        let client = try TestSocket(tcpPort: cechoPort)
        try client.send("still here\n")
        #expect(try client.readLine() == "still here")
        #expect(server.terminate().status == 0)
    }

    @Test func badPluginsAreRefusedOneByOneAndTheServerGoesOn() throws {
        let folder = try Self.folderWithCEcho()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["cwrongmajor", "cnoentry", "crefuse"] { try TestEnvironment.buildCPlugin(name, into: "\(folder)/plugins") }
        let port = TestEnvironment.freePort()
        let ini = """
        RTMFP.port=0
        RTMP.port=0
        HTTP.port=0
        RTSP.port=0
        [plugins]
        path=plugins
        [wrong]
        library=libcwrongmajor.so
        [noentry]
        library=libcnoentry.so
        [refuse]
        library=libcrefuse.so
        [missing]
        library=libmissing.so
        [off]
        library=libmissing.so
        enabled=false

        """ + Self.cechoSection(port: port)
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        let plugins = "\(folder)/plugins"
        let output = server.output
        #expect(output.contains("wrong: plugin \(plugins)/libcwrongmajor.so: plugin ABI 2.0 is incompatible with host ABI \(TestEnvironment.hostABI)"))
        #expect(output.contains("noentry: plugin \(plugins)/libcnoentry.so: no entry symbol"))
        #expect(output.contains("refuse: plugin \(plugins)/libcrefuse.so: the plugin refused host ABI \(TestEnvironment.hostABI)"))
        #expect(output.contains("missing: plugin libmissing.so not found (tried \(plugins)/libmissing.so, "))
        #expect(output.contains("off disabled (off.enabled=false)"))
        #expect(output.contains("MonaServer started with cecho"))
        let client = try TestSocket(tcpPort: port)
        try client.send("ok\n")
        #expect(try client.readLine() == "ok")
        #expect(server.terminate().status == 0)
    }

    @Test func withoutAnIniTheServerRunsOnDefaultsAndLogsToFiles() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A copy of the executable alone: MonaServer's defaults would bind ports 80, 554 and 1935 with
        // the protocol plugins of the build folder; here there are none to find.
        try FileManager.default.copyItem(atPath: "\(TestEnvironment.products)/MonaServer", toPath: "\(folder)/MonaServer")
        let server = try ServerProcess(directory: folder, ini: nil, executable: "\(folder)/MonaServer")
        try server.waitUntilStarted()
        #expect(server.output.contains("no configuration file at \(folder)/MonaServer.ini: MonaServer's defaults apply"))
        #expect(server.output.contains("HTTP: plugin libMonaHTTP.so not found (tried \(folder)/libMonaHTTP.so, \(folder)/plugins/libMonaHTTP.so)"))
        // A built-in the user did not mention whose library is absent is a warning, not an error.
        let missing = server.output.split(separator: "\n").first { $0.contains("RTSP: plugin libMonaRTSP.so not found (tried ") }
        #expect(missing?.contains("WARN") == true, "\(server.output)")
        #expect(server.terminate().status == 0)
        let log = try String(contentsOfFile: "\(folder)/logs/log.0", encoding: .utf8)
        #expect(log.contains("INFO") && log.contains("MonaServer started"))
        #expect(log.contains("MonaServer stopped"))
    }

    @Test func commandLineHelpVersionAndBadLevel() throws {
        let exe = "\(TestEnvironment.products)/MonaServer"
        let version = try TestEnvironment.run(exe, ["--version"])
        #expect(version.status == 0)
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == "MonaServer 0.1.0 (Swift), plugin ABI \(TestEnvironment.hostABI)")
        let help = try TestEnvironment.run(exe, ["--help"])
        #expect(help.status == 0 && help.output.contains("--log") && help.output.contains("--ini"))
        let bad = try TestEnvironment.run(exe, ["--log=12"])
        #expect(bad.status != 0 && bad.output.contains("--log takes a level from 0 to 8"))
    }
}
