import Foundation
import MonaValues
import Testing

/// The RTMFP plugin in the real server over real UDP on loopback: the independent test client connects,
/// calls a Lua method and gets the answer, then closes and the server sees the disconnection.
@Suite("RTMFP in the real server", .serialized)
struct RTMFPServerTests {
    /// A MonaServer of the build products in a temporary folder, killed when released.
    final class Server {
        let process = Process()
        let folder: String
        let output: URL

        init(ini: String, app: String) throws {
            folder = NSTemporaryDirectory() + "mona-rtmfp-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: folder + "/www", withIntermediateDirectories: true)
            try ini.write(toFile: folder + "/MonaServer.ini", atomically: true, encoding: .utf8)
            try app.write(toFile: folder + "/www/main.lua", atomically: true, encoding: .utf8)
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            process.executableURL = URL(fileURLWithPath: (exe as NSString).deletingLastPathComponent + "/MonaServer")
            process.arguments = ["--dir=\(folder)", "--log=7"]
            output = URL(fileURLWithPath: folder + "/console.txt")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let handle = try FileHandle(forWritingTo: output)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: folder)
        }

        var console: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        /// Waits (bounded) until the console shows `text`.
        func waitFor(_ text: String, seconds: Double = 15) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if console.contains(text) { return true }
                usleep(20_000)
            }
            return false
        }
    }

    /// A UDP socket on loopback with a receive time-out.
    final class UDP {
        let fd: Int32
        let server: sockaddr_in

        init(port: UInt16) {
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            server = address
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) {
            var to = server
            _ = withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }

        /// One datagram, or nil after the time-out.
        func receive() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 2048)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? Array(buffer.prefix(count)) : nil
        }
    }

    /// A UDP port free a moment ago below the kernel's ephemeral range (`ip_local_port_range`), from
    /// which sockets bound to port 0 get theirs: none of them takes it before the server binds it.
    static func freeUDPPort() -> UInt16 {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        var port: UInt16 = 0
        for _ in 0..<1000 {
            port = UInt16(Int.random(in: 10_000..<max(10_001, ephemeralStart)))
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if bound { break }
        }
        return port
    }

    /// Exchanges datagrams until `done` holds (bounded by `seconds`).
    static func run(_ client: RTMFPTestClient, _ udp: UDP, seconds: Double = 10, until done: () -> Bool) -> Bool {
        let start = Date()
        let clock = { UInt64(Date().timeIntervalSince(start) * 1000) + 1 }
        while Date().timeIntervalSince(start) < seconds {
            if done() { return true }
            for datagram in client.tick(now: clock()) { udp.send(datagram) }
            while let datagram = udp.receive() {
                for answer in client.receive(datagram, now: clock()) { udp.send(answer) }
            }
        }
        return done()
    }

    /// Without and with HMACs and session sequence numbers (what rtmfp-cpp requires by default).
    @Test(arguments: [false, true]) func connectCallAndCloseOverLoopback(protection: Bool) throws {
        let port = Self.freeUDPPort()
        let ini = "host=127.0.0.1\nRTMP.port=0\nHTTP.port=0\nRTSP.port=0\n[RTMFP]\nport=\(port)\n"
        let app = """
        function onConnection(client)
            function client:add(a, b) return a + b end
        end
        function onDisconnection(client) INFO("gone ", client.protocol, " ", #client.id) end
        """
        let server = try Server(ini: ini, app: app)
        try #require(server.waitFor("RTMFP: listening on UDP 127.0.0.1:\(port)"), "\(server.console)")
        let udp = UDP(port: port)
        var settings = RTMFPTestClient.Settings(url: "rtmfp://127.0.0.1:\(port)/")
        settings.protection = protection
        let client = RTMFPTestClient(settings)
        udp.send(client.start(now: 1))
        client.connect()
        #expect(Self.run(client, udp) { client.isConnected }, "\(client.errors) \(server.console)")
        let call = client.call("add", [.number(2), .number(3)])
        #expect(Self.run(client, udp) { client.reply(to: call) != nil })
        #expect(client.reply(to: call) == .result([.number(5)]))
        #expect((client.protection != nil) == protection)
        client.requestClose()
        _ = Self.run(client, udp, seconds: 3) { server.console.contains("gone RTMFP 64") }
        #expect(server.console.contains("gone RTMFP 64"), "onDisconnection with the 64-hex peer id")
    }
}
