import Foundation
import MonaValues
import Testing

/// TLS in the host with real clients: RTMPS (ffmpeg, ffprobe), HTTPS (curl), WSS (python websockets),
/// protocol versions, ALPN and plain clients (openssl s_client, raw sockets), certificate reload on
/// SIGHUP. Each test makes its own self-signed certificate with openssl.
@Suite("TLS with ffmpeg, curl, websockets and openssl", .serialized)
struct TLSIntegrationTests {
    static let app = """
    function onConnection(client)
        NOTE("connected over ", client.protocol, ", secure ", tostring(client.secure))
        function client:isSecure() return client.secure end
        function client:onMessage(data) return data end
        function client:onPublish(publication) NOTE("publishing ", publication.name) end
    end
    """

    /// Makes a self-signed certificate for 127.0.0.1 and its key: `<name>.pem`, `<name>-key.pem`.
    static func certificate(_ name: String, in folder: String) throws {
        let run = try TestEnvironment.run("/usr/bin/timeout", ["20", "/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
                                                               "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                               "-keyout", "\(folder)/\(name)-key.pem", "-out", "\(folder)/\(name).pem",
                                                               "-days", "1", "-subj", "/CN=\(name)",
                                                               "-addext", "subjectAltName=IP:127.0.0.1"])
        guard run.status == 0 else { throw TestFailure("openssl req: \(run.output)") }
    }

    /// A server in a new folder with www/main.lua, a certificate `cert` and the ini `ini` (after the
    /// sections that switch off what the test does not use).
    static func server(_ ini: String, off: [String]) throws -> (ServerProcess, String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try certificate("cert", in: folder)
        try LuaHarness.write(app, to: "\(folder)/www/main.lua")
        try LuaHarness.write(app, to: "\(folder)/www/live/main.lua")
        try LuaHarness.write("hello world", to: "\(folder)/www/hello.txt")
        let server = try ServerProcess(directory: folder, ini: off.map { "\($0)=0\n" }.joined() + ini)
        try server.waitUntilStarted()
        return (server, folder)
    }

    static func curl(_ arguments: [String]) throws -> String {
        try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10"] + arguments).output
    }

    /// `openssl s_client` to 127.0.0.1:port with `options`, its standard input empty; its output.
    static func sClient(_ port: UInt16, _ options: [String]) throws -> String {
        try TestEnvironment.run("/bin/sh", ["-c", "timeout 10 openssl s_client -connect 127.0.0.1:\(port) \(options.joined(separator: " ")) < /dev/null"]).output
    }

    @Test func rtmpsAloneCarriesAnFFmpegPublicationToFFprobe() throws {
        let tlsPort = TestEnvironment.freePort()
        let (server, folder) = try Self.server("[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[RTMP]\nhost=127.0.0.1\nport=0\ntlsPort=\(tlsPort)\n",
                                               off: ["RTMFP.port", "HTTP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        // port = 0: TLS alone.
        #expect(server.output.contains("RTMP: listening on TLS 127.0.0.1:\(tlsPort)"))
        #expect(!server.output.contains("RTMP: listening on TCP"))
        let url = "rtmps://127.0.0.1:\(tlsPort)/live/test"
        let publisher = try RTMPIntegrationTests.publisher(url, seconds: 6)
        #expect(server.waitFor("publishing test", timeout: 15), "\(server.output)")
        // ffprobe plays it over TLS: the player's frames go through the shared fan-out, encrypted.
        #expect(try RTMPIntegrationTests.codecs(url) == ["aac", "h264"])
        let published = publisher.wait(timeout: 20)
        #expect(published.status == 0, "\(published.output)")
        #expect(server.output.contains("connected over RTMP, secure true"))
        #expect(!server.output.contains("secure false"))
    }

    @Test func aTLSPortWithoutItsFilesTurnsThatProtocolOffAndTheOthersStart() throws {
        let (rtmpPort, echoPort, tlsPort) = (TestEnvironment.freePort(), TestEnvironment.freePort(), TestEnvironment.freePort())
        let ini = "[HTTP]\nhost=127.0.0.1\nport=0\ntlsPort=\(tlsPort)\n[RTMP]\nhost=127.0.0.1\nport=\(rtmpPort)\n"
            + "[echo]\nlibrary=libMonaEcho.so\nhost=127.0.0.1\nport=\(echoPort)\nudpPort=0\ntlsPort=\(tlsPort)\ncertificate=none.pem\nkey=cert-key.pem\n"
        let (server, folder) = try Self.server(ini, off: ["RTMFP.port", "RTSP.port", "WebSocket.enabled"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        #expect(server.output.contains("HTTP: HTTP.tlsPort needs a certificate and a key: certificate= and key= in [TLS] or in [HTTP]; HTTP is off"))
        #expect(server.output.contains("echo: \(folder)/none.pem, \(folder)/cert-key.pem: certificate: "), "\(server.output)")
        #expect(server.output.contains("MonaServer started with RTMP\n"), "\(server.output)")
        let client = try RTMPTestClient(port: rtmpPort)
        #expect(try client.connect(app: "live", port: rtmpPort).first == .string("_result"))
    }

    static let python = """
    import asyncio, json, ssl, sys, websockets

    async def main(port, ca):
        context = ssl.create_default_context(cafile=ca)
        async with websockets.connect(f"wss://127.0.0.1:{port}/", ssl=context) as ws:
            await ws.send(json.dumps(["isSecure"]))
            print("secure", await ws.recv())
            await ws.send("x" * 300000)
            print("echo", len(await ws.recv()))
            print("version", ws.transport.get_extra_info("ssl_object").version())

    asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2]), 20))
    """

    @Test func httpsWithCurlAndWSSWithPythonBesideThePlainPort() throws {
        let (port, tlsPort) = (TestEnvironment.freePort(), TestEnvironment.freePort())
        // The section's own certificate overrides [TLS]'s (which does not exist).
        let ini = "[TLS]\ncertificate=missing.pem\nkey=missing.pem\n[HTTP]\nhost=127.0.0.1\nport=\(port)\ntlsPort=\(tlsPort)\ncertificate=cert.pem\nkey=cert-key.pem\n"
        let (server, folder) = try Self.server(ini, off: ["RTMFP.port", "RTMP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let secure = "https://127.0.0.1:\(tlsPort)"
        #expect(try Self.curl(["--cacert", "\(folder)/cert.pem", "\(secure)/hello.txt"]) == "hello world")
        let call = ["-H", "Content-Type: application/json", "--data-binary", #"["isSecure"]"#]
        #expect(try Self.curl(["--cacert", "\(folder)/cert.pem"] + call + ["\(secure)/"]) == "[true]")
        #expect(try Self.curl(call + ["http://127.0.0.1:\(port)/"]) == "[false]")
        // curl checks the certificate: without the CA it refuses.
        #expect(try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10", "\(secure)/hello.txt"]).status != 0)
        try Self.python.write(toFile: "\(folder)/client.py", atomically: true, encoding: .utf8)
        let run = try TestEnvironment.run("/usr/bin/timeout", ["30", "/usr/bin/python3", "\(folder)/client.py", "\(tlsPort)", "\(folder)/cert.pem"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.split(separator: "\n") == ["secure [true]", "echo 300000", "version TLSv1.3"], "\(run.output)")
        #expect(server.output.contains("connected over WebSocket, secure true"))
    }

    @Test func versionsALPNAndPlainClientsOnATLSPort() throws {
        let (port, tlsPort) = (TestEnvironment.freePort(), TestEnvironment.freePort())
        let ini = "[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[HTTP]\nhost=127.0.0.1\nport=\(port)\ntlsPort=\(tlsPort)\n"
        let (server, folder) = try Self.server(ini, off: ["RTMFP.port", "RTMP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        #expect(try Self.sClient(tlsPort, ["-tls1_2"]).contains("New, TLSv1.2, Cipher is"))
        let modern = try Self.sClient(tlsPort, ["-tls1_3", "-alpn", "h2,http/1.1"])
        #expect(modern.contains("New, TLSv1.3, Cipher is") && modern.contains("ALPN protocol: http/1.1"), "\(modern)")
        #expect(try Self.sClient(tlsPort, ["-tls1_3"]).contains("No ALPN negotiated"))
        // TLS 1.1 is refused (the client allowed to offer it): one line, the connection closed.
        let old = try Self.sClient(tlsPort, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(old.contains("alert protocol version") && !old.contains("New, TLSv1.1"), "\(old)")
        #expect(server.waitFor("failed (unsupported protocol); connection closed"), "\(server.output)")
        // A plain HTTP client on the TLS port: closed, one line naming it.
        let plain = try TestSocket(tcpPort: tlsPort)
        try plain.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(plain.waitForEOF())
        #expect(server.waitFor("failed (http request); connection closed"), "\(server.output)")
        // A client that leaves in the middle of its handshake.
        let leaving = try TestSocket(tcpPort: tlsPort)
        try leaving.send([0x16, 0x03, 0x01])
        leaving.shutdownWrite()
        #expect(leaving.waitForEOF())
        #expect(server.waitFor("failed (the peer closed); connection closed"), "\(server.output)")
        // Nothing else was affected: both ports serve, and each failure was one line.
        #expect(try Self.curl(["--cacert", "\(folder)/cert.pem", "https://127.0.0.1:\(tlsPort)/hello.txt"]) == "hello world")
        #expect(try Self.curl(["http://127.0.0.1:\(port)/hello.txt"]) == "hello world")
        #expect(server.output.components(separatedBy: "TLS handshake with").count - 1 == 3, "\(server.output)")
    }

    /// One thread: OpenSSL's state may not be used by two threads at once, and Python's threaded
    /// `sendall` beside `recv` on one SSLSocket races on TLS 1.3's post-handshake messages (a client
    /// bug that showed as an empty echo one run in five).
    static let echo = """
    import asyncio, hashlib, os, ssl, sys

    async def main(port):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        data = os.urandom(4 << 20)
        async def send():
            writer.write(data)
            await writer.drain()
        sender = asyncio.ensure_future(send())
        received = bytearray()
        while len(received) < len(data):
            chunk = await reader.read(65536)
            if not chunk: break
            received += chunk
        await sender
        print("echoed", len(received), hashlib.sha256(received).digest() == hashlib.sha256(data).digest())
        writer.close()

    asyncio.run(asyncio.wait_for(main(int(sys.argv[1])), 20))
    """

    @Test func aDropInPluginServesTLSUnchanged() throws {
        // The echo plugin knows nothing of TLS: 4 MiB go through it and back, its back-pressure pausing
        // and resuming the decryption.
        let (port, tlsPort) = (TestEnvironment.freePort(), TestEnvironment.freePort())
        let ini = "[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[echo]\nlibrary=libMonaEcho.so\nhost=127.0.0.1\nport=\(port)\nudpPort=0\ntlsPort=\(tlsPort)\n"
        let (server, folder) = try Self.server(ini, off: ["RTMFP.port", "RTMP.port", "HTTP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        #expect(server.output.contains("echo: listening on TLS 127.0.0.1:\(tlsPort)"))
        try Self.echo.write(toFile: "\(folder)/echo.py", atomically: true, encoding: .utf8)
        let run = try TestEnvironment.run("/usr/bin/timeout", ["30", "/usr/bin/python3", "\(folder)/echo.py", "\(tlsPort)"])
        #expect(run.output == "echoed \(4 << 20) True\n", "\(run.output)")
    }

    static let lines = """
    import socket, ssl, sys

    port, plain = int(sys.argv[1]), int(sys.argv[2])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    tls = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    received = b""

    def line():
        global received
        while b"\\n" not in received:
            chunk = tls.recv(4096)
            if not chunk: return "closed"
            received += chunk
        first, received = received.split(b"\\n", 1)
        return first.decode()

    tls.sendall(b"hel")
    tls.sendall(b"lo\\n!unlisten\\n")
    print(line(), line())
    for name, number in (("tls", port), ("plain", plain)):
        try:
            socket.create_connection(("127.0.0.1", number), timeout=5)
            print(name, "open")
        except ConnectionRefusedError:
            print(name, "refused")
    tls.sendall(b"still here\\n!close\\n")
    print(line(), "|", line())
    """

    @Test func aCPluginSeesLinesAndItsUnlistenClosesBothListeners() throws {
        // cecho consumes whole lines only: the host keeps a partial line, decrypted, as for plain TCP.
        let folder = try TestEnvironment.temporaryDirectory()
        let library = try TestEnvironment.buildCPlugin("cecho", into: folder)
        let (port, tlsPort) = (TestEnvironment.freePort(), TestEnvironment.freePort())
        let ini = "[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[cecho]\nlibrary=\(library)\nhost=127.0.0.1\nport=\(port)\ntlsPort=\(tlsPort)\n"
        let (server, root) = try Self.server(ini, off: ["RTMFP.port", "RTMP.port", "HTTP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: folder) }
        try Self.lines.write(toFile: "\(root)/lines.py", atomically: true, encoding: .utf8)
        let run = try TestEnvironment.run("/usr/bin/timeout", ["30", "/usr/bin/python3", "\(root)/lines.py", "\(tlsPort)", "\(port)"])
        // tcp_unlisten closed the plain and the TLS listener; the connection goes on; the graceful
        // close ends with a close_notify (Python reads a clean end, not an EOF error).
        #expect(run.output.split(separator: "\n") == ["hello unlisten 0", "tls refused", "plain refused", "still here | closed"], "\(run.output)")
    }

    static let reloading = """
    import hashlib, socket, ssl, sys

    port = int(sys.argv[1])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def connect():
        tls = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        return tls, hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()[:16]

    def get(tls):
        tls.sendall(b"GET /hello.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        answer = b""
        while not answer.endswith(b"hello world"):
            chunk = tls.recv(4096)
            if not chunk: return "closed"
            answer += chunk
        return answer.split(b"\\r\\n")[0].decode()

    old, first = connect()
    print("first", first, get(old), flush=True)
    sys.stdin.readline()
    fresh, second = connect()
    print("after", second, get(fresh), "old connection", get(old), flush=True)
    """

    @Test func sighupReloadsTheCertificateWithoutDroppingConnections() throws {
        let tlsPort = TestEnvironment.freePort()
        let ini = "[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[HTTP]\nhost=127.0.0.1\nport=0\ntlsPort=\(tlsPort)\ntimeout=60\n"
        let (server, folder) = try Self.server(ini, off: ["RTMFP.port", "RTMP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try Self.reloading.write(toFile: "\(folder)/client.py", atomically: true, encoding: .utf8)
        let client = try InteractiveProcess("/usr/bin/timeout", ["30", "/usr/bin/python3", "\(folder)/client.py", "\(tlsPort)"])
        #expect(client.waitFor("HTTP/1.1 200 OK\n"), "\(client.output)")
        // A broken certificate is not taken: the previous one stays.
        try "not a certificate".write(toFile: "\(folder)/cert.pem", atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(server.waitFor("HTTP: TLS certificate not reloaded"), "\(server.output)")
        // New files, by rename as a certificate manager does.
        try Self.certificate("renewed", in: folder)
        #expect(rename("\(folder)/renewed.pem", "\(folder)/cert.pem") == 0 && rename("\(folder)/renewed-key.pem", "\(folder)/cert-key.pem") == 0)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(server.waitFor("HTTP: TLS certificate reloaded"), "\(server.output)")
        client.send("go")
        #expect(client.waitFor("old connection HTTP/1.1 200 OK"), "\(client.output)")
        let words = client.output.split(whereSeparator: \.isWhitespace)
        let first = words.firstIndex(of: "first").map { words[$0 + 1] }
        let after = words.firstIndex(of: "after").map { words[$0 + 1] }
        #expect(first != nil && after != nil && first != after, "a new connection gets the new certificate: \(client.output)")
        #expect(client.wait(timeout: 10) == 0)
    }
}
