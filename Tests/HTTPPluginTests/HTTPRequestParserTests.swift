import Testing
@testable import HTTPPlugin

// Requests are written by hand from RFC 9112; each valid one is also fed byte by byte.

/// `parser.feed(bytes)` (Array.withUnsafeBytes only rethrows untyped errors).
private func feed(_ parser: inout HTTPRequestParser, _ bytes: [UInt8]) throws(HTTPParseError) -> [HTTPParseEvent] {
    try bytes.withUnsafeBytes { bytes in Result { () throws(HTTPParseError) in try parser.feed(bytes) } }.get()
}

/// Feeds `chunks` to a fresh parser, one `feed` call each.
private func events(_ chunks: [[UInt8]], limits: HTTPLimits = HTTPLimits()) throws(HTTPParseError) -> [HTTPParseEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var result: [HTTPParseEvent] = []
    for chunk in chunks {
        result += try feed(&parser, chunk)
    }
    return result
}

/// Adjacent body pieces joined, so that differently split inputs compare equal.
private func joined(_ events: [HTTPParseEvent]) -> [HTTPParseEvent] {
    var result: [HTTPParseEvent] = []
    for event in events {
        if case .body(let piece) = event, case .body(let previous)? = result.last {
            result[result.count - 1] = .body(previous + piece)
        } else {
            result.append(event)
        }
    }
    return result
}

/// The events of `text` fed at once, after checking that feeding it byte by byte gives the same ones.
private func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) throws -> [HTTPParseEvent] {
    let bytes = Array(text.utf8)
    let whole = try events([bytes], limits: limits)
    let single = try events(bytes.map { [$0] }, limits: limits)
    #expect(joined(single) == joined(whole), "byte by byte differs")
    return joined(whole)
}

/// The only head in `events`.
private func head(_ events: [HTTPParseEvent]) -> HTTPRequestHead? {
    let heads = events.compactMap { event -> HTTPRequestHead? in
        if case .head(let head) = event { return head }
        return nil
    }
    #expect(heads.count == 1)
    return heads.first
}

/// The error `bytes` fail with (at once and byte by byte, which must agree), or nil.
private func failure(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
    func run(_ chunks: [[UInt8]]) -> HTTPParseError? {
        do throws(HTTPParseError) {
            _ = try events(chunks, limits: limits)
            return nil
        } catch {
            return error
        }
    }
    let whole = run([bytes])
    #expect(run(bytes.map { [$0] }) == whole, "byte by byte fails differently")
    return whole
}

private func failure(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
    failure(Array(text.utf8), limits: limits)
}

@Suite struct HTTPRequestParserTests {
    @Test func simpleGet() throws {
        let result = try parse("GET /app/file.txt?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  curl/8 \r\n\r\n")
        let expected = HTTPRequestHead(method: "GET", target: "/app/file.txt?x=1&y=2", path: "/app/file.txt",
                                       query: "x=1&y=2", versionMinor: 1,
                                       headers: [("Host", "example.com"), ("User-Agent", "curl/8")],
                                       keepAlive: true, expectsContinue: false)
        #expect(result == [.head(expected), .end])
        #expect(expected.header("host") == "example.com")
        #expect(expected.header("USER-AGENT") == "curl/8")
        #expect(expected.header("Accept") == nil)
    }

    @Test func bareLineFeedsAndLeadingEmptyLines() throws {
        let result = try parse("\r\n\n\r\nGET / HTTP/1.0\nA: 1\n\n")
        let request = try #require(head(result))
        #expect(request.versionMinor == 0 && request.path == "/" && request.header("a") == "1")
        #expect(result.last == .end)
    }

    @Test func postAndHeadWithContentLength() throws {
        let post = try parse("POST /form HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(head(post)?.method == "POST")
        #expect(Array(post.dropFirst()) == [.body(Array("hello world".utf8)), .end])
        let headRequest = try parse("HEAD /x HTTP/1.1\r\ncontent-length: 3\r\nContent-Length: 3\r\n\r\nabc")
        #expect(Array(headRequest.dropFirst()) == [.body(Array("abc".utf8)), .end])
        let empty = try parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(empty.count == 2 && empty.last == .end)
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() throws {
        let text = "POST /up HTTP/1.1\r\nTransfer-Encoding: gzip-not, chunked\r\n\r\n"
        #expect(failure(text) == .notImplemented("gzip-not"))
        let result = try parse("POST /up HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5;name=value;flag\r\nhello\r\n0006 \r\n world\r\nA\r\n0123456789\r\n0;last\r\nX-Sum: 21\r\nY: 2\r\n\r\n")
        #expect(Array(result.dropFirst()) == [.body(Array("hello world0123456789".utf8)), .end])
        // Body pieces are handed out as they arrive, not when the request ends.
        var parser = HTTPRequestParser()
        let start = Array("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123".utf8)
        let first = try feed(&parser, start)
        #expect(first.last == .body(Array("0123".utf8)))
        #expect(!parser.isIdle)
    }

    @Test func pipelinedRequestsInOneFeed() throws {
        let result = try parse("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
            + "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n!\r\n0\r\n\r\n")
        let paths = result.compactMap { event -> String? in
            if case .head(let head) = event { return head.path }
            return nil
        }
        #expect(paths == ["/a", "/b", "/c"])
        #expect(result.filter { $0 == .end }.count == 3)
        #expect(result.contains(.body(Array("hi".utf8))) && result.contains(.body(Array("!".utf8))))
        #expect(result.last == .end)
    }

    @Test func bytesAfterAWebSocketUpgradeAreATunnel() throws {
        let upgrade = Array("GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n".utf8)
        let frame: [UInt8] = [0x81, 0x82, 1, 2, 3, 4, 0x47, 0x4D]
        let all = try events([upgrade + frame, Array("GET / HTTP/1.1\r\n\r\n".utf8)])
        #expect(all.count == 4)
        if case .head(let head) = all[0] { #expect(head.isWebSocketUpgrade) }
        #expect(all[1] == .end)
        #expect(all[2] == .tunnel(frame))
        #expect(all[3] == .tunnel(Array("GET / HTTP/1.1\r\n\r\n".utf8)), "no more HTTP after the upgrade")
        // A POST asking for an upgrade is no WebSocket handshake: parsing goes on.
        let post = try parse("POST / HTTP/1.1\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        #expect(post.filter { $0 == .end }.count == 2)
    }

    @Test func idleOnlyBetweenRequests() throws {
        var parser = HTTPRequestParser()
        #expect(parser.isIdle)
        for (text, idle) in [("GET / HT", false), ("TP/1.1\r\nContent-Length: 2\r\n\r\n", false), ("o", false),
                             ("k", true), ("\r\n", true), ("G", false)] {
            _ = try feed(&parser, Array(text.utf8))
            #expect(parser.isIdle == idle, "after \(text)")
        }
    }

    @Test func keepAliveRules() throws {
        func keepAlive(_ version: String, _ connection: String?) throws -> Bool? {
            let field = connection.map { "Connection: \($0)\r\n" } ?? ""
            return head(try parse("GET / HTTP/\(version)\r\n\(field)\r\n"))?.keepAlive
        }
        #expect(try keepAlive("1.1", nil) == true)
        #expect(try keepAlive("1.1", "close") == false)
        #expect(try keepAlive("1.1", "Upgrade, CLOSE") == false)
        #expect(try keepAlive("1.1", "keep-alive, Upgrade") == true)
        #expect(try keepAlive("1.1", "whatever") == true)
        #expect(try keepAlive("1.0", nil) == false)
        #expect(try keepAlive("1.0", "Keep-Alive") == true)
        #expect(try keepAlive("1.0", "keep-alive, Upgrade") == true)
        #expect(try keepAlive("1.0", "keep-alive, close") == false)
        #expect(try keepAlive("1.0", "close") == false)
    }

    @Test func expectContinue() throws {
        let text = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx"
        #expect(head(try parse(text))?.expectsContinue == true)
        #expect(head(try parse("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"))?.expectsContinue == false)
        #expect(head(try parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"))?.expectsContinue == false)
    }

    @Test func pathDecoding() throws {
        func decoded(_ target: String) throws -> HTTPRequestHead? {
            head(try parse("GET \(target) HTTP/1.1\r\n\r\n"))
        }
        #expect(try decoded("/a%20b/c%2Fd+e?q=a%20b+c")?.path == "/a b/c/d+e")
        #expect(try decoded("/a%20b/c%2Fd+e?q=a%20b+c")?.query == "q=a%20b+c")
        #expect(try decoded("/%2e%2e/%2E%2E/etc")?.path == "/../../etc")
        #expect(try decoded("/caf%C3%A9")?.path == "/café")
        #expect(try decoded("/x?")?.query == "")
        let absolute = try decoded("http://example.com:8080/dir/a%41?k=v")
        #expect(absolute?.path == "/dir/aA" && absolute?.query == "k=v")
        #expect(absolute?.target == "http://example.com:8080/dir/a%41?k=v")
        #expect(try decoded("HTTPS://example.com")?.path == "/")
        #expect(head(try parse("OPTIONS * HTTP/1.1\r\n\r\n"))?.path == "*")
        #expect(failure("GET /a%2 HTTP/1.1\r\n\r\n") == .badRequest("invalid percent-encoding in path"))
        #expect(failure("GET /a%zz HTTP/1.1\r\n\r\n") == .badRequest("invalid percent-encoding in path"))
        #expect(failure("GET /a%00b HTTP/1.1\r\n\r\n") == .badRequest("NUL in path"))
        #expect(failure("GET /%FF HTTP/1.1\r\n\r\n")?.status == 400)
        #expect(failure("GET * HTTP/1.1\r\n\r\n")?.status == 400)
        #expect(failure("GET example.com:80 HTTP/1.1\r\n\r\n")?.status == 400)
        #expect(failure("GET http:///x HTTP/1.1\r\n\r\n")?.status == 400)
    }

    @Test func requestLineAndVersionErrors() {
        for text in ["GET\r\n\r\n", "GET \r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n", "GET /  \r\n\r\n",
                     " GET / HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "\rGET / HTTP/1.1\r\n\r\n",
                     "GET / http/1.1\r\n\r\n", "GET / HTTP/1\r\n\r\n", "GET / HTTP/1.10\r\n\r\n",
                     "GET / HTTP/1.x\r\n\r\n", "GET / FTP/1.1\r\n\r\n", "GET /a#b HTTP/1.1\r\n\r\n"] {
            #expect(failure(text)?.status == 400, "\(text.debugDescription)")
        }
        for text in ["GET / HTTP/2.0\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/0.9\r\n\r\n",
                     "GET / HTTP/3\r\n\r\n"] {
            #expect(failure(text) == .versionNotSupported, "\(text.debugDescription)")
        }
        #expect(HTTPParseError.versionNotSupported.status == 505)
        // 1.x: a line without its version is HTTP/1.1 (its FunctionalTests send "POST /app/ " then headers).
        for text in ["GET /a\r\n\r\n", "GET /a \r\n\r\n"] {
            let parsed = (try? parse(text)).flatMap(head)
            #expect(parsed?.path == "/a" && parsed?.versionMinor == 1 && parsed?.keepAlive == true, "\(text.debugDescription)")
        }
        #expect(failure("GET /a\0b HTTP/1.1\r\n\r\n") == .badRequest("control character in request target"))
        #expect(failure("GET /a\rb HTTP/1.1\r\n\r\n") == .badRequest("control character in request target"))
        #expect(failure("GET /a\r\r\n\r\n") == .badRequest("control character in request target"))
        #expect(failure("GET /a\u{7F} HTTP/1.1\r\n\r\n")?.status == 400)
    }

    @Test func headerErrors() {
        #expect(failure("GET / HTTP/1.1\r\nHost example.com\r\n\r\n") == .badRequest("header without colon"))
        #expect(failure("GET / HTTP/1.1\r\nHost : example.com\r\n\r\n") == .badRequest("invalid header name"))
        #expect(failure("GET / HTTP/1.1\r\n: empty\r\n\r\n") == .badRequest("invalid header name"))
        #expect(failure("GET / HTTP/1.1\r\nA: 1\r\n  continued\r\n\r\n")
            == .badRequest("obsolete line folding in header"))
        #expect(failure("GET / HTTP/1.1\r\n\tB: 1\r\n\r\n")?.status == 400)
        #expect(failure("GET / HTTP/1.1\r\nA: x\0y\r\n\r\n")?.status == 400)
        #expect(failure("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n")?.status == 400)
    }

    @Test func framingErrors() {
        for value in ["", "-1", "+5", "5 5", "5,5", "0x10", "1.0"] {
            #expect(failure("POST / HTTP/1.1\r\nContent-Length: \(value)\r\n\r\n") == .badRequest("invalid Content-Length"),
                    "\(value)")
        }
        #expect(failure("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
            == .badRequest("conflicting Content-Length values"))
        #expect(failure("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == 400)
        #expect(failure("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == .notImplemented("gzip"))
        #expect(HTTPParseError.notImplemented("gzip").status == 501)
        #expect(failure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")?.status == 400)
        #expect(failure("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n")?.status == 400)
        #expect(failure("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == 400)
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        for bad in ["g\r\n", "\r\n", "5x\r\nhello\r\n", "-5\r\n", "5\r\nhelloX\r\n", "5\r\nhello\r\nz\r\n", " 5\r\n"] {
            #expect(failure(chunked + bad)?.status == 400, "\(bad.debugDescription)")
        }
        #expect(failure(chunked + "3\r\nabcd\r\n") == .badRequest("chunk data not followed by CRLF"))
        #expect(failure(chunked + "3\r\nabc\n0\n\n") == nil)
        #expect(failure(chunked + String(repeating: "0", count: 5000) + "1\r\n") == .badRequest("chunk-size line too long"))
    }

    @Test func sizeLimits() {
        let limits = HTTPLimits(maxHeadBytes: 1024, maxHeaderCount: 5, maxTargetLength: 64, maxBodyBytes: 100)
        #expect(failure("GET /\(String(repeating: "a", count: 64)) HTTP/1.1\r\n\r\n", limits: limits) == .uriTooLong)
        #expect(failure("GET /\(String(repeating: "a", count: 63)) HTTP/1.1\r\n\r\n", limits: limits) == nil)
        #expect(HTTPParseError.uriTooLong.status == 414)
        // The target is refused as soon as it is too long, before its line ends.
        #expect(failure("GET /" + String(repeating: "a", count: 64), limits: limits) == .uriTooLong)
        let fields = (1...6).map { "H\($0): v\r\n" }.joined()
        #expect(failure("GET / HTTP/1.1\r\n\(fields)\r\n", limits: limits) == .headersTooLarge)
        #expect(failure("GET / HTTP/1.1\r\n\(fields.dropFirst(7))\r\n", limits: limits) == nil)
        #expect(HTTPParseError.headersTooLarge.status == 431)
        let big = "GET / HTTP/1.1\r\nCookie: \(String(repeating: "c", count: 1000))\r\n\r\n"
        #expect(failure(big, limits: limits) == .headersTooLarge)
        #expect(failure("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", limits: limits) == .payloadTooLarge)
        #expect(failure("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n") == .payloadTooLarge)
        #expect(HTTPParseError.payloadTooLarge.status == 413)
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body50 = "32\r\n" + String(repeating: "b", count: 50) + "\r\n"
        #expect(failure(chunked + body50 + body50 + "0\r\n\r\n", limits: limits) == nil)
        #expect(failure(chunked + body50 + body50 + "1\r\n", limits: limits) == .payloadTooLarge)
        #expect(failure(chunked + "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\r\n") == .payloadTooLarge)
        let trailers = "0\r\n" + String(repeating: "T: 1234567890\r\n", count: 100) + "\r\n"
        #expect(failure(chunked + trailers, limits: limits) == .headersTooLarge)
    }

    /// The method and the target are taken in runs, not byte by byte: a run must stop exactly where the
    /// byte-by-byte checks would refuse, wherever the input is cut.
    @Test func runsOfTheRequestLineStopAtTheSameBytesWhereverTheInputIsCut() throws {
        let limits = HTTPLimits(maxHeadBytes: 64, maxHeaderCount: 5, maxTargetLength: 16, maxBodyBytes: 100)
        let cases: [(String, HTTPParseError?)] = [
            ("GET /\(String(repeating: "a", count: 15)) HTTP/1.1\r\n\r\n", nil),
            ("GET /\(String(repeating: "a", count: 16)) HTTP/1.1\r\n\r\n", .uriTooLong),
            ("GET /\(String(repeating: "a", count: 15))", nil), // incomplete: nothing to refuse yet
            (String(repeating: "G", count: 64), nil),
            (String(repeating: "G", count: 65), .headersTooLarge),
            ("G(T / HTTP/1.1\r\n\r\n", .badRequest("invalid method")),
            ("\rGET / HTTP/1.1\r\n\r\n", .badRequest("malformed request line")),
            ("\r\nGET /a HTTP/1.1\r\n\r\n", nil),
            ("GET /a\u{1}b HTTP/1.1\r\n\r\n", .badRequest("control character in request target")),
            ("GET /a\u{7F}b HTTP/1.1\r\n\r\n", .badRequest("control character in request target")),
            ("GET /é HTTP/1.1\r\n\r\n", nil),
            ("GET /a HTTP/1.1\r\nH: \(String(repeating: "v", count: 40))\r\n\r\n", nil), // 64 bytes
            ("GET /a HTTP/1.1\r\nH: \(String(repeating: "v", count: 42))\r\n\r\n", .headersTooLarge), // 65 at its last CR
        ]
        for (text, expected) in cases {
            let bytes = Array(text.utf8)
            #expect(failure(bytes, limits: limits) == expected, "\(text.debugDescription)")
            for cut in 1..<bytes.count {
                var outcome: HTTPParseError?
                do throws(HTTPParseError) {
                    _ = try events([Array(bytes[..<cut]), Array(bytes[cut...])], limits: limits)
                } catch {
                    outcome = error
                }
                #expect(outcome == expected, "\(text.debugDescription) cut at \(cut)")
            }
        }
        let parsed = try parse("GET /%C3%A9?q=1 HTTP/1.1\r\nHost: x\r\n\r\n").compactMap { event -> HTTPRequestHead? in
            if case .head(let head) = event { return head }
            return nil
        }
        #expect(parsed.map(\.method) == ["GET"] && parsed.map(\.path) == ["/é"] && parsed.map(\.query) == ["q=1"])
    }

    @Test func failedParserStaysFailed() throws {
        var parser = HTTPRequestParser()
        let bad = Array("GET / HTTP/2.0\r\n\r\n".utf8), good = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        for bytes in [bad, good, []] {
            #expect(throws: HTTPParseError.versionNotSupported) {
                _ = try feed(&parser, bytes)
            }
        }
        #expect(!parser.isIdle)
    }

    @Test func garbageStreamFailsWithBoundedMemory() {
        let limits = HTTPLimits()
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<(10 << 20)).map { _ -> UInt8 in
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let byte = UInt8(truncatingIfNeeded: random >> 56)
            return byte == HTTPSyntax.lf ? 0 : byte
        }
        for (stream, expected) in [(noise, 400), ([UInt8](repeating: UInt8(ascii: "A"), count: 10 << 20), 431),
                                   (Array("GET / HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: 0x41, count: 10 << 20), 431)] {
            var parser = HTTPRequestParser(limits: limits)
            var fed = 0, error: HTTPParseError?
            while fed < stream.count, error == nil {
                let end = min(fed + 65536, stream.count)
                do throws(HTTPParseError) {
                    _ = try feed(&parser, Array(stream[fed..<end]))
                } catch let caught {
                    error = caught
                }
                fed = end
                #expect(parser.bufferedByteCount <= limits.maxHeadBytes + 1)
            }
            #expect(error?.status == expected)
            #expect(fed <= 65536, "refused within the first chunk")
        }
    }

    @Test func largeBodiesAreStreamedNotBuffered() throws {
        var parser = HTTPRequestParser()
        let size = 4 << 20
        var received = 0
        let head = Array("PUT /big HTTP/1.1\r\nContent-Length: \(size)\r\n\r\n".utf8)
        _ = try feed(&parser, head)
        let piece = [UInt8](repeating: 7, count: 65536)
        var ended = false
        for _ in 0..<(size / piece.count) {
            for event in try feed(&parser, piece) {
                if case .body(let bytes) = event { received += bytes.count }
                if event == .end { ended = true }
            }
            #expect(parser.bufferedByteCount == 0)
        }
        #expect(received == size && ended && parser.isIdle)
        // A declared chunk far larger than what arrived allocates nothing for it.
        var chunked = HTTPRequestParser()
        let start = Array("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFF\r\nabc".utf8)
        let events = try feed(&chunked, start)
        #expect(events.last == .body(Array("abc".utf8)) && chunked.bufferedByteCount == 0)
    }

    @Test func feedingStopsAfterTheAskedNumberOfRequests() throws {
        let one = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        let bytes = Array((one + one + "GET /b HTTP/1.1\r\nHo").utf8)
        var parser = HTTPRequestParser()
        let (first, used) = try bytes.withUnsafeBytes { bytes in
            Result { () throws(HTTPParseError) in try parser.feed(bytes, maxRequests: 1) }
        }.get()
        #expect(used == one.utf8.count, "the second request stays unconsumed")
        #expect(first.filter { $0 == .end }.count == 1)
        #expect(!parser.isReceivingHead && parser.isIdle)
        let rest = Array(bytes[used...])
        let (more, usedMore) = try rest.withUnsafeBytes { bytes in
            Result { () throws(HTTPParseError) in try parser.feed(bytes, maxRequests: 5) }
        }.get()
        #expect(usedMore == rest.count, "everything else is taken")
        #expect(more.filter { $0 == .end }.count == 1)
        #expect(parser.isReceivingHead, "a partial head is buffered")
    }
}
