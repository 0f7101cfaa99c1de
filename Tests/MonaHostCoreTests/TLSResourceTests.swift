import Foundation
import Testing

/// What TLS peers cost the server: idle connections a bounded amount each, freed when they end; a
/// peer that never reads nothing beyond TCP's buffers; a peer that never finishes its handshake a
/// handshake time-out.
@Suite("TLS peers cost bounded memory", .serialized)
struct TLSResourceTests {
    static let idle = """
    import socket, ssl, sys

    port, count = int(sys.argv[1]), int(sys.argv[2])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for cycle in range(2):
        held = [context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) for _ in range(count)]
        print("held", cycle, flush=True)
        sys.stdin.readline()
        for tls in held: tls.close()
        print("closed", cycle, flush=True)
        sys.stdin.readline()
    """

    static let stalled = """
    import socket, ssl, sys

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    tls = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10))
    tls.sendall(b"GET /big.bin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" * 30)
    print("sent", flush=True)
    sys.stdin.readline()
    """

    static func server() throws -> (ServerProcess, UInt16, String) {
        let tlsPort = TestEnvironment.freePort()
        let ini = "[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[HTTP]\nhost=127.0.0.1\nport=0\ntlsPort=\(tlsPort)\ntimeout=60\n"
        let (server, folder) = try TLSIntegrationTests.server(ini, off: ["RTMFP.port", "RTMP.port", "RTSP.port"])
        #expect(FileManager.default.createFile(atPath: "\(folder)/www/big.bin", contents: Data(repeating: 0x62, count: 3 << 20)))
        return (server, tlsPort, folder)
    }

    @Test func idleConnectionsCostABoundedAmountAndAreFreedWhenTheyEnd() throws {
        let (server, tlsPort, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        #expect(try TLSIntegrationTests.curl(["--cacert", "\(folder)/cert.pem", "https://127.0.0.1:\(tlsPort)/hello.txt"]) == "hello world")
        try Self.idle.write(toFile: "\(folder)/idle.py", atomically: true, encoding: .utf8)
        let count = 500
        let before = server.residentKiB()
        let client = try InteractiveProcess("/usr/bin/timeout", ["60", "/usr/bin/python3", "\(folder)/idle.py", "\(tlsPort)", "\(count)"])
        #expect(client.waitFor("held 0", timeout: 30), "\(client.output)")
        let held = server.residentKiB()
        // Each established, idle connection: its SSL (record buffers released), socket and plugin session.
        #expect((held - before) / count < 48, "\(held - before) KiB for \(count) connections")
        client.send("close")
        #expect(client.waitFor("closed 0"))
        client.send("again")
        #expect(client.waitFor("held 1", timeout: 30), "\(client.output)")
        client.send("close")
        #expect(client.waitFor("closed 1"))
        client.send("end")
        #expect(client.wait(timeout: 10) == 0)
        // A second round reuses what the first freed.
        let after = server.residentKiB()
        #expect(after - held < 2048, "\(held) KiB with the first \(count), \(after) KiB after the second round")
    }

    @Test func aPeerThatNeverReadsOrNeverFinishesItsHandshakeCostsBoundedMemory() throws {
        let (server, tlsPort, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // Peers that start a handshake and never send more: each closed at the time-out, one line each.
        let silent = try (0..<20).map { _ in try TestSocket(tcpPort: tlsPort, timeout: 20) }
        for peer in silent { try peer.send([0x16]) }
        let before = server.residentKiB()
        // 30 requests of a 3 MiB file, never read: the answers wait on the plugin's back-pressure.
        try Self.stalled.write(toFile: "\(folder)/stalled.py", atomically: true, encoding: .utf8)
        let client = try InteractiveProcess("/usr/bin/timeout", ["60", "/usr/bin/python3", "\(folder)/stalled.py", "\(tlsPort)"])
        #expect(client.waitFor("sent"), "\(client.output)")
        // Meanwhile the server serves others.
        #expect(try TLSIntegrationTests.curl(["--cacert", "\(folder)/cert.pem", "https://127.0.0.1:\(tlsPort)/big.bin"]).utf8.count == 3 << 20)
        #expect(server.residentKiB() - before < 16 * 1024, "90 MiB asked by a peer that does not read")
        client.send("end")
        #expect(client.wait(timeout: 10) == 0)
        for peer in silent {
            #expect(peer.waitForEOF())
            #expect(server.waitFor("TLS handshake with 127.0.0.1:\(Self.localPort(peer)) not done within 10 s; connection closed"))
        }
        #expect(server.output.components(separatedBy: "not done within 10 s").count - 1 == silent.count)
    }

    /// The port a test socket connected from.
    static func localPort(_ socket: TestSocket) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket.fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}
