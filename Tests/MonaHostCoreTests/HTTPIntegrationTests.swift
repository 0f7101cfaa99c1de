import Foundation
import Testing

/// The HTTP plugin in the real server, driven by curl and by raw sockets.
@Suite("HTTP plugin with curl", .serialized)
struct HTTPIntegrationTests {
    static let app = """
    function onConnection(client, query)
        function client:add(a, b) return a + b end
        function client:sum(values) return values.a + values.b end
        function client:fail() error("kaboom", 0) end
        function client:wait() end
        function client:release()
            for id, other in pairs(mona.clients) do
                if other ~= client then other.writer:writeMessage("done") end
            end
            return "released"
        end
        function client:remember(query)
            client.properties("session", query.value, { expires = 3600, path = "/", httponly = true })
            client.properties("old", "x", { expires = -1 })
            local count = client.properties("count", 30) -- 1.x: the value as given; the property is its text
            return client.properties("session"), client.properties("bad name", "x"), client.properties(1, "x"), count, client.count
        end
        function client:whoami() return client.session, client["X-Custom"] end
        function client:pushOnly() client.writer:writeMessage("pushed") end
        function client:pushAndReturn() client.writer:writeMessage("first") return "second" end
        function client:onRead(file)
            if file == "secret.txt" then return nil end
            if file == "page.html" then return "page.html", { name = "World" } end
        end
    end
    """

    /// A server with the HTTP plugin on a free port and a small www/ tree.
    static func server(extraIni: String = "") throws -> (ServerProcess, UInt16, String) {
        let folder = try TestEnvironment.temporaryDirectory()
        for (path, content) in ["www/main.lua": app, "www/hello.txt": "hello world", "www/page.html": "Hello <% name %>!",
                                "www/sub/inside.txt": "inside", "www/secret.txt": "secret"] {
            try LuaHarness.write(content, to: "\(folder)/\(path)")
        }
        let big = [UInt8](repeating: 0x62, count: 3 << 20)
        #expect(FileManager.default.createFile(atPath: "\(folder)/www/big.bin", contents: Data(big)))
        let port = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTMP.port=0\nRTSP.port=0\nWebSocket.enabled=false\n[HTTP]\nhost=127.0.0.1\nport=\(port)\n\(extraIni)"
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, port, folder)
    }

    static func curl(_ arguments: [String]) throws -> String {
        try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10"] + arguments).output
    }

    @Test func staticFilesConditionalAndRanges() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let base = "http://127.0.0.1:\(port)"
        let full = try Self.curl(["-i", "\(base)/hello.txt"])
        #expect(full.hasPrefix("HTTP/1.1 200 OK"))
        #expect(full.contains("Content-Type: text/plain; charset=utf-8"))
        #expect(full.hasSuffix("\r\n\r\nhello world"))
        let etag = full.split(separator: "\r\n").first { $0.hasPrefix("ETag: ") }.map { String($0.dropFirst(6)) } ?? "?"
        let notModified = try Self.curl(["-i", "-H", "If-None-Match: \(etag)", "\(base)/hello.txt"])
        #expect(notModified.hasPrefix("HTTP/1.1 304"))
        let head = try Self.curl(["-I", "\(base)/hello.txt"])
        #expect(head.contains("Content-Length: 11") && head.hasSuffix("\r\n\r\n"))
        #expect(try Self.curl(["-r", "0-3", "\(base)/hello.txt"]) == "hell")
        let unsatisfiable = try Self.curl(["-i", "-r", "50-60", "\(base)/hello.txt"])
        #expect(unsatisfiable.hasPrefix("HTTP/1.1 416"))
        let big = try TestEnvironment.run("/usr/bin/curl", ["-s", "--max-time", "10", "-o", "\(folder)/copy.bin", "-w", "%{http_code} %{size_download}", "\(base)/big.bin"])
        #expect(big.output == "200 \(3 << 20)")
        #expect(try Self.curl(["\(base)/page.html"]) == "Hello World!", "onRead's table fills the template")
        // Two requests on one connection.
        let verbose = try TestEnvironment.run("/usr/bin/curl", ["-sv", "--max-time", "10", "\(base)/hello.txt", "\(base)/sub/inside.txt"])
        #expect(verbose.output.contains("hello world") && verbose.output.contains("inside"))
        #expect(verbose.output.contains("Re-using existing connection") || verbose.output.contains("Reusing existing connection"))
    }

    @Test func scriptsTraversalFoldersAndErrors() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let base = "http://127.0.0.1:\(port)"
        func status(_ path: String, _ more: [String] = []) throws -> String {
            try Self.curl(more + ["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", "\(base)\(path)"])
        }
        #expect(try status("/main.lua") == "404", "scripts are never served")
        #expect(try status("/../../hello.txt") == "200", "'..' is clamped at the root of www/")
        #expect(try status("/%2e%2e/%2e%2e/etc/passwd") == "404")
        #expect(try status("/secret.txt") == "403")
        #expect(try status("/missing.txt") == "404")
        #expect(try status("/sub") == "301")
        #expect(try status("/sub/") == "200")
        #expect(try Self.curl(["\(base)/sub/"]).contains("inside.txt"), "folder listing")
        #expect(try status("/", ["-X", "DELETE"]) == "405")
    }

    @Test func rpcByGetAndPostAndLongPolling() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let base = "http://127.0.0.1:\(port)"
        #expect(try Self.curl(["\(base)/sum?a=1&b=2"]) == "[3]")
        #expect(try Self.curl(["-H", "Content-Type: application/json", "--data-binary", #"["add",1,2]"#, "\(base)/"]) == "[3]")
        #expect(try Self.curl(["-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked",
                               "--data-binary", #"["add",40,2]"#, "\(base)/"]) == "[42]", "a chunked body")
        let xml = try Self.curl(["-H", "Content-Type: text/xml", "--data-binary",
                                 "<?xml version=\"1.0\"?><methodCall><methodName>add</methodName><params><param><value><int>2</int></value></param><param><value><int>3</int></value></param></params></methodCall>",
                                 "\(base)/"])
        #expect(xml.contains("<int>5</int>"))
        let failing = try Self.curl(["-i", "-H", "Content-Type: application/json", "--data-binary", #"["fail"]"#, "\(base)/"])
        #expect(failing.hasPrefix("HTTP/1.1 500") && failing.contains("kaboom"))
        let unknown = try Self.curl(["-i", "-H", "Content-Type: application/json", "--data-binary", #"["nothing"]"#, "\(base)/"])
        #expect(unknown.hasPrefix("HTTP/1.1 503"))
        // Long polling: /wait returns nothing and is answered by a push from another client.
        let waiter = Process()
        waiter.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        waiter.arguments = ["-s", "--max-time", "10", "\(base)/wait"]
        let pipe = Pipe()
        waiter.standardOutput = pipe
        try waiter.run()
        var released = ""
        let deadline = Date().addingTimeInterval(5)
        // Retry until the waiting request has reached the server (its client exists).
        while Date() < deadline, waiter.isRunning {
            released = try Self.curl(["\(base)/release"])
            if !waiter.isRunning { break }
            usleep(100_000)
        }
        waiter.waitUntilExit()
        #expect(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == #"["done"]"#)
        #expect(released == #"["released"]"#)
    }

    @Test func cookiesBothWaysAndCORS() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let base = "http://127.0.0.1:\(port)"
        let set = try Self.curl(["-i", "\(base)/remember?value=abc"])
        #expect(set.hasPrefix("HTTP/1.1 200"))
        #expect(set.hasSuffix(#"["abc",null,null,30,"30"]"#), "the value comes back; a bad name or key gives nil")
        let cookies = set.split(separator: "\r\n").filter { $0.hasPrefix("Set-Cookie: ") }
        #expect(cookies.count == 3, "\(set)")
        #expect(cookies.first?.hasPrefix("Set-Cookie: session=abc; Expires=") == true)
        #expect(cookies.first?.hasSuffix("; Max-Age=3600; Path=/; HttpOnly") == true)
        #expect(cookies.dropFirst().first == "Set-Cookie: old=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0")
        #expect(cookies.last == "Set-Cookie: count=30")
        // The cookie curl keeps comes back as a property, so do headers.
        let jar = "\(folder)/jar.txt"
        _ = try Self.curl(["-c", jar, "\(base)/remember?value=xyz"])
        #expect(try Self.curl(["-b", jar, "-H", "X-Custom: 5", "\(base)/whoami"]) == #"["xyz",5]"#)
        // Cookies go out once, with the response that follows client.properties.
        #expect(!(try Self.curl(["-i", "\(base)/whoami"])).contains("Set-Cookie"))
        // CORS: the origin is echoed; a pre-flight gets the methods and the asked headers.
        let simple = try Self.curl(["-i", "-H", "Origin: http://example.org", "\(base)/hello.txt"])
        #expect(simple.contains("Access-Control-Allow-Origin: http://example.org\r\n"))
        let preflight = try Self.curl(["-i", "-X", "OPTIONS", "-H", "Origin: http://example.org",
                                       "-H", "Access-Control-Request-Method: POST",
                                       "-H", "Access-Control-Request-Headers: Content-Type", "\(base)/"])
        #expect(preflight.hasPrefix("HTTP/1.1 200"))
        #expect(preflight.contains("Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS\r\n"))
        #expect(preflight.contains("Access-Control-Allow-Headers: Content-Type\r\n"))
        #expect(preflight.contains("Access-Control-Allow-Origin: http://example.org\r\n"))
    }

    @Test func aMethodAnsweringThroughItsWriterAnswersOnce() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let base = "http://127.0.0.1:\(port)"
        // Held, the second request would get the 204 meant for a request left waiting, not the file.
        let both = try Self.curl(["\(base)/pushOnly", "\(base)/hello.txt"])
        #expect(both == #"["pushed"]hello world"#, "the next request on the connection is not held")
        // What the method returns after its writer answered is kept for the next waiting request.
        #expect(try Self.curl(["\(base)/pushAndReturn", "\(base)/pushOnly", "\(base)/wait"]) == #"["first"]["pushed"]["second"]"#)
    }

    @Test func malformedRequestsGetTheirStatusAndAClosedConnection() throws {
        let (server, port, folder) = try Self.server(extraIni: "maxBodySize=1000\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let cases: [(String, [UInt8])] = [
            ("400", Array("GARBAGE\r\n\r\n".utf8)),
            ("414", Array("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
            ("431", Array("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 20000))\r\n\r\n".utf8)),
            ("413", Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".utf8)),
            ("505", Array("GET / HTTP/2.0\r\nHost: x\r\n\r\n".utf8)),
        ]
        for (expected, bytes) in cases {
            let socket = try TestSocket(tcpPort: port)
            try socket.send(bytes)
            let line = try socket.readLine()
            #expect(line.hasPrefix("HTTP/1.1 \(expected)"), "\(expected): \(line)")
            #expect(socket.waitForEOF(), "\(expected) closes the connection")
        }
        // Byte by byte, then two pipelined requests in one packet.
        let slow = try TestSocket(tcpPort: port)
        for byte in Array("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n".utf8) { try slow.send([byte]) }
        #expect(try slow.readLine().hasPrefix("HTTP/1.1 200"))
        let piped = try TestSocket(tcpPort: port)
        try piped.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/inside.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        var all: [UInt8] = []
        while let chunk = piped.receiveSome(), !chunk.isEmpty { all += chunk }
        let text = String(decoding: all, as: UTF8.self)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(text.hasSuffix("inside"))
    }

    @Test func aWrkSmokeRunFinishesWithoutErrors() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        for path in ["/hello.txt", "/sum?a=1&b=2"] {
            let run = try TestEnvironment.run("/usr/bin/wrk", ["-t1", "-c8", "-d1s", "--timeout", "5s", "http://127.0.0.1:\(port)\(path)"])
            #expect(run.status == 0, "\(run.output)")
            #expect(!run.output.contains("Socket errors"), "\(path): \(run.output)")
            #expect(!run.output.contains("Non-2xx"), "\(path): \(run.output)")
            #expect(run.output.contains("Requests/sec"), "\(run.output)")
        }
    }
}
