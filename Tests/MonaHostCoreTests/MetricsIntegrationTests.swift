import Foundation
import Testing

/// `[metrics]` in the real server: GET /metrics over HTTP and HTTPS read by the Prometheus client's
/// own parser (python3-prometheus-client) after a known load (curl, python websockets, an ffmpeg
/// publication), the ABI call through the C fixture (peers and the allow list), and /metrics as an
/// ordinary path when metrics are off or the peer may not read them.
@Suite("Metrics with curl, websockets, ffmpeg and Prometheus' parser", .serialized)
struct MetricsIntegrationTests {
    static let app = """
    function onConnection(client)
        function client:add(a, b) return a + b end
        function client:boom() error("boom", 0) end
        function client:onPublish(publication) NOTE("publishing ", publication.name) end
    end
    """

    /// Parses metrics text with prometheus_client and prints {"samples": {"name{k=\\"v\\"}": value},
    /// "types": {family: type}}: the text read on standard input ("-"), or fetched from the URL of
    /// argv[2] after a WebSocket load on port argv[1] (the connection still open), with the bytes
    /// the load sent and received as "wsSent" and "wsReceived".
    static let python = """
    import asyncio, json, sys, urllib.request, websockets
    from prometheus_client.parser import text_string_to_metric_families

    def parse(text):
        samples, types = {}, {}
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[sample.name + ("{" + labels + "}" if labels else "")] = sample.value
        return {"samples": samples, "types": types}

    async def load(port, url):
        sent = received = 0
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            for message in (["add", 1, 2], ["add", 3, 4], ["add", 5, 6], ["boom"], ["nosuch"]):
                text = json.dumps(message)
                await ws.send(text)
                sent += len(text)
                received += len(await ws.recv())
            result = parse(urllib.request.urlopen(url, timeout=10).read().decode())
        result.update(wsSent=sent, wsReceived=received)
        return result

    if sys.argv[1] == "-":
        print(json.dumps(parse(sys.stdin.read())))
    else:
        print(json.dumps(asyncio.run(asyncio.wait_for(load(int(sys.argv[1]), sys.argv[2]), 30))))
    """

    /// What the parser made of a metrics text.
    struct Parsed {
        let samples: [String: Double]
        let types: [String: String]
        let json: [String: Any]

        init(_ output: String) throws {
            guard let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
                  let samples = object["samples"] as? [String: Double], let types = object["types"] as? [String: String]
            else { throw TestFailure("not the parser's JSON: \(output)") }
            self.samples = samples
            self.types = types
            json = object
        }

        subscript(_ name: String, _ labels: String = "") -> Double? { samples[labels.isEmpty ? name : "\(name){\(labels)}"] }
    }

    /// A server in a new folder with the app, www/hello.txt, a certificate and `ini` (plus the ports off).
    static func server(_ ini: String, off: [String] = ["RTMFP.port", "RTMP.port", "RTSP.port"]) throws -> (ServerProcess, String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try TLSIntegrationTests.certificate("cert", in: folder)
        try LuaHarness.write(app, to: "\(folder)/www/main.lua")
        try LuaHarness.write(app, to: "\(folder)/www/live/main.lua")
        try LuaHarness.write("hello world", to: "\(folder)/www/hello.txt")
        try LuaHarness.write(python, to: "\(folder)/metrics.py")
        let server = try ServerProcess(directory: folder, ini: off.map { "\($0)=0\n" }.joined() + ini)
        try server.waitUntilStarted()
        return (server, folder)
    }

    /// curl with `arguments`; the body and the bytes the request and response took (-w).
    static func curl(_ arguments: [String]) throws -> (body: String, requestBytes: Int, responseBytes: Int) {
        let run = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10", "-w", "\n%{size_request} %{size_header} %{size_download}"] + arguments)
        let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        let sizes = (lines.last ?? "").split(separator: " ").compactMap { Int($0) }
        guard sizes.count == 3 else { throw TestFailure("curl \(arguments): \(run.output)") }
        return (lines.dropLast().joined(separator: "\n"), sizes[0], sizes[1] + sizes[2])
    }

    /// The metrics at `url` (curl `options`), parsed.
    static func scrape(_ url: String, _ options: [String] = [], folder: String) throws -> Parsed {
        let command = "curl -s --max-time 10 \(options.joined(separator: " ")) '\(url)' | /usr/bin/python3 \(folder)/metrics.py -"
        let run = try TestEnvironment.run("/usr/bin/timeout", ["30", "/bin/sh", "-c", command])
        guard run.status == 0 else { throw TestFailure("scrape \(url): \(run.output)") }
        return try Parsed(run.output)
    }

    @Test func aKnownLoadGivesKnownValues() throws {
        let (port, tlsPort, rtmpPort) = (TestEnvironment.freePort(), TestEnvironment.freePort(), TestEnvironment.freePort())
        let ini = "[TLS]\ncertificate=cert.pem\nkey=cert-key.pem\n[HTTP]\nhost=127.0.0.1\nport=\(port)\ntlsPort=\(tlsPort)\n"
            + "[RTMP]\nhost=127.0.0.1\nport=\(rtmpPort)\n[metrics]\nenabled=true\n"
        let (server, folder) = try Self.server(ini, off: ["RTMFP.port", "RTSP.port"])
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let plain = "http://127.0.0.1:\(port)"
        // HTTP: 5 files, a method that answers, one that raises an error, one file over TLS.
        var requestBytes = 0, responseBytes = 0
        for _ in 0..<5 {
            let got = try Self.curl(["\(plain)/hello.txt"])
            #expect(got.body == "hello world")
            requestBytes += got.requestBytes
            responseBytes += got.responseBytes
        }
        let add = try Self.curl(["-H", "Content-Type: application/json", "--data-binary", #"["add",1,2]"#, "\(plain)/"])
        #expect(add.body == "[3]")
        let boom = try Self.curl(["\(plain)/boom"])
        #expect(boom.body.contains("500"))
        let secure = try Self.curl(["--cacert", "\(folder)/cert.pem", "https://127.0.0.1:\(tlsPort)/hello.txt"])
        #expect(secure.body == "hello world")
        for got in [add, boom, secure] {
            requestBytes += got.requestBytes
            responseBytes += got.responseBytes
        }
        // RTMP: a publication running while the metrics are read.
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmpPort)/live/test", seconds: 20)
        defer { _ = publisher.wait(timeout: 0) }
        #expect(server.waitFor("publishing test", timeout: 15), "\(server.output)")
        // WebSocket: 3 calls, one raising an error, one of no method; then GET /metrics, still connected.
        let run = try TestEnvironment.run("/usr/bin/timeout", ["40", "/usr/bin/python3", "\(folder)/metrics.py", "\(port)", "\(plain)/metrics"])
        #expect(run.status == 0, "\(run.output)")
        let metrics = try Parsed(run.output)
        let (http, ws, rtmp) = (#"protocol="HTTP""#, #"protocol="WebSocket""#, #"protocol="RTMP""#)
        // 5 + 3 curl connections, the WebSocket's upgrade and this request: accepted by HTTP's listeners.
        #expect(metrics["mona_connections_accepted_total", http] == 10)
        #expect(metrics["mona_connections_accepted_total", ws] == 0, "handed over, not accepted")
        #expect(metrics["mona_connections_accepted_total", rtmp] == 1)
        #expect(metrics["mona_connections", ws] == 1)
        #expect(metrics["mona_connections", rtmp] == 1)
        #expect((metrics["mona_connections", http] ?? 0) >= 1)
        #expect(metrics["mona_clients", ws] == 1)
        #expect(metrics["mona_clients", rtmp] == 1)
        #expect(metrics["mona_rpc_calls_total", http] == 2)
        #expect(metrics["mona_rpc_errors_total", http] == 1)
        #expect(metrics["mona_rpc_calls_total", ws] == 4, "a name that is no method is no call")
        #expect(metrics["mona_rpc_errors_total", ws] == 1)
        #expect(metrics["mona_publications", rtmp] == 1)
        #expect(metrics["mona_publications", #"protocol="Lua""#] == 0)
        #expect(metrics["mona_subscribers", rtmp] == 0)
        // Bytes on the wire: at least what curl and python counted (TLS adds its records and handshake).
        #expect((metrics["mona_received_bytes_total", http] ?? 0) >= Double(requestBytes))
        #expect((metrics["mona_sent_bytes_total", http] ?? 0) >= Double(responseBytes))
        #expect((metrics["mona_received_bytes_total", ws] ?? 0) >= Double(metrics.json["wsSent"] as? Int ?? .max))
        #expect((metrics["mona_sent_bytes_total", ws] ?? 0) >= Double(metrics.json["wsReceived"] as? Int ?? .max))
        #expect((metrics["mona_received_bytes_total", rtmp] ?? 0) > 3073, "the handshake (C0, C1, C2) and more")
        // Lua: onConnection once per client (8 HTTP, 1 WebSocket, 1 RTMP, and the HLS packager the
        // publication's start opens, [HLS] being on by default; none for /metrics).
        #expect(metrics["mona_lua_events_total", #"event="onConnection""#] == 11)
        #expect(metrics["mona_lua_events_total", #"event="onPublish""#] == 1)
        #expect((metrics["mona_lua_events_total", #"event="rpc""#] ?? 0) >= 7)
        #expect((metrics["mona_lua_event_seconds_total", #"event="onConnection""#] ?? 0) > 0)
        #expect(metrics.types["mona_rpc_calls"] == "counter" && metrics.types["mona_clients"] == "gauge")
        // The process.
        #expect((metrics["process_resident_memory_bytes"] ?? 0) > 1_000_000)
        let now = Date().timeIntervalSince1970
        #expect((now - 600...now).contains(metrics["process_start_time_seconds"] ?? 0))
        #expect((metrics["mona_uptime_seconds"] ?? 0) > 0)
        #expect((metrics["process_cpu_seconds_total"] ?? 0) > 0)
        #expect(metrics["mona_loop_lag_seconds"] != nil && metrics["mona_loop_lag_max_seconds"] != nil)
        // Over HTTPS too, and every request counted.
        let overTLS = try Self.scrape("https://127.0.0.1:\(tlsPort)/metrics", ["--cacert", "\(folder)/cert.pem"], folder: folder)
        #expect(overTLS["mona_connections_accepted_total", http] == 11)
        #expect(overTLS["mona_build_info", #"abi="\#(TestEnvironment.hostABI)",version="0.1.0""#] == 1)
    }

    @Test func offTheMetricsPathIsAnOrdinaryPath() throws {
        let port = TestEnvironment.freePort()
        let (server, folder) = try Self.server("[HTTP]\nhost=127.0.0.1\nport=\(port)\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let url = "http://127.0.0.1:\(port)/metrics"
        let missing = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", url])
        #expect(missing.output == "404")
        try LuaHarness.write("just a file", to: "\(folder)/www/metrics")
        #expect(try Self.curl([url]).body == "just a file")
    }

    /// A local IPv4 address that is not loopback, if the machine has one.
    static func localAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var next = list
        while let entry = next {
            defer { next = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var text = [CChar](repeating: 0, count: 64)
            var sin = UnsafeRawPointer(address).load(as: sockaddr_in.self)
            guard inet_ntop(AF_INET, &sin.sin_addr, &text, 64) != nil else { continue }
            let ip = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !ip.hasPrefix("127.") { return ip }
        }
        return nil
    }

    @Test func onlyLoopbackAndTheAllowListMayRead() throws {
        let port = TestEnvironment.freePort()
        let ini = "[HTTP]\nhost=0.0.0.0\nport=\(port)\n[metrics]\nenabled=true\nallow=203.0.113.0/24, 2001:db8::/32\n"
        let (server, folder) = try Self.server(ini)
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try LuaHarness.write("just a file", to: "\(folder)/www/metrics")
        let loopback = try Self.scrape("http://127.0.0.1:\(port)/metrics?any=query", folder: folder)
        #expect(loopback["mona_build_info", #"abi="\#(TestEnvironment.hostABI)",version="0.1.0""#] == 1, "the metrics, not the file")
        let head = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10", "-I", "http://127.0.0.1:\(port)/metrics"]).output
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), "\(head)")
        guard let ip = Self.localAddress() else {
            print("no local address besides loopback: a remote peer is only checked through the C fixture")
            return
        }
        // A peer that is not in the list: the usual 404, not the metrics nor the file; no client opened.
        let remote = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10", "--interface", ip, "-w", "\n%{http_code}", "http://\(ip):\(port)/metrics"])
        #expect(remote.output.hasSuffix("\n404"), "\(remote.output)")
        #expect(!remote.output.contains("just a file") && !remote.output.contains("mona_"))
    }

    @Test func theCFixtureReadsThemThroughTheABI() throws {
        let app = """
        function onConnection(client)
            function client:ok() return 1 end
            function client:boom() error("boom", 0) end
        end
        """
        let harness = try LuaHarness(files: ["www/main.lua": app], ini: "[metrics]\nenabled=true\nallow=10.0.0.0/8, fd00::/8\n")
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("call ok", "ok 1")
        #expect(try session.command("call boom").hasPrefix("error SCRIPT"))
        #expect(try session.command("call nosuch").hasPrefix("error NOTFOUND"))
        try session.expect(#"metrics mona_rpc_calls_total{protocol="rpc"}"#, #"metrics mona_rpc_calls_total{protocol="rpc"} 2"#)
        try session.expect(#"metrics mona_rpc_errors_total{protocol="rpc"}"#, #"metrics mona_rpc_errors_total{protocol="rpc"} 1"#)
        try session.expect(#"metrics mona_lua_events_total{event="rpc"}"#, #"metrics mona_lua_events_total{event="rpc"} 3"#)
        try session.expect(#"metrics mona_clients{protocol="rpc"}"#, #"metrics mona_clients{protocol="rpc"} 1"#)
        let other = try harness.connect()
        try other.expect(#"metrics mona_connections{protocol="rpc"}"#, #"metrics mona_connections{protocol="rpc"} 2"#)
        try other.expect(#"metrics mona_connections_accepted_total{protocol="rpc"}"#, #"metrics mona_connections_accepted_total{protocol="rpc"} 2"#)
        // The bytes the plugin read: every command line so far.
        let received = try other.command(#"metrics mona_received_bytes_total{protocol="rpc"}"#)
        #expect((Int(received.split(separator: " ").last ?? "") ?? 0) >= 200, "\(received)")
        // Peers: loopback and the allow list read them; others are refused (MONA_E_REJECTED).
        let abi = #"mona_build_info{version="0.1.0",abi="\#(TestEnvironment.hostABI)"} 1"#
        try other.expect("metricsfrom 10.1.2.3 mona_build_info", "metrics \(abi)")
        try other.expect("metricsfrom fd00::5 mona_build_info", "metrics \(abi)")
        try other.expect("metricsfrom ::1 mona_build_info", "metrics \(abi)")
        try other.expect("metricsfrom 192.0.2.7 mona_build_info", "metrics -3")
        try other.expect("metricsfrom fe80::1 mona_build_info", "metrics -3")
        try other.expect("metricsnull", "metricsnull -1 -1", "MONA_E_INVAL for a NULL peer or text")
        #expect(harness.server.waitFor("metrics_text refused: a NULL peer or text"))
        // Off: MONA_E_UNSUPPORTED.
        let off = try LuaHarness(files: ["www/main.lua": app])
        try off.connect().expect("metrics mona_", "metrics -9")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")))
    func theShippedPageShowsThemInHeadlessChromium() throws {
        let port = TestEnvironment.freePort()
        let (server, folder) = try Self.server("[HTTP]\nhost=127.0.0.1\nport=\(port)\n[metrics]\nenabled=true\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: "\(TestEnvironment.repository)/www/metrics.html", toPath: "\(folder)/www/metrics.html")
        let devtoolsPort = TestEnvironment.freePort()
        // Started through python3 to clear the blocked signal mask the test runner's children inherit.
        let browser = try ChildProcess("/usr/bin/python3", ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                                                             "/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                                             "--user-data-dir=\(folder)/chromium-profile", "--remote-debugging-address=127.0.0.1",
                                                             "--remote-debugging-port=\(devtoolsPort)", "--window-size=800,900", "about:blank"])
        defer { _ = browser.wait(timeout: 0) }
        let devtools = try BrowserPlayerTests.DevTools(port: devtoolsPort)
        _ = try devtools.call("Page.navigate", ["url": "http://127.0.0.1:\(port)/metrics.html"])
        // Polled every second: the status, the HTTP row, and points on the chart once two reads came.
        let probe = """
            (function () { const row = [...document.querySelectorAll('#protocols td')].map((td) => td.textContent);
              return [document.getElementById('status').textContent, row.slice(0, 3).join(' '), points.length,
                      document.querySelectorAll('#events td').length]; })()
            """
        var last: [Any] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let sample = try devtools.evaluate(probe) as? [Any] { last = sample }
            if last.count == 4, last[2] as? Int ?? 0 >= 2 { break }
            usleep(300_000)
        }
        #expect(last.first as? String == "live", "\(last)")
        #expect((last.count > 1 ? last[1] as? String : nil)?.hasPrefix("HTTP ") == true, "\(last)")
        #expect(last.count == 4 && (last[2] as? Int ?? 0) >= 2 && (last[3] as? Int ?? 0) > 0, "\(last)")
    }
}
