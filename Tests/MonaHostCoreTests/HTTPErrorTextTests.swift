import Foundation
import Testing

/// What peers read of the server's errors: never a path of the server nor the text of a script's failure
/// (both stay in the log); the message of a failed call (RPC) is kept, its paths cut to file names.
@Suite("Error text shown to peers", .serialized)
struct HTTPErrorTextTests {
    static let app = """
    function onConnection(client)
        function client:boom() local t = nil; return t.x end
        function client:onRead(file) if file == "x.txt" then error("no way") end end
    end
    """

    static func server() throws -> (ServerProcess, UInt16, String) {
        let folder = try TestEnvironment.temporaryDirectory()
        for (path, content) in ["www/main.lua": app, "www/bad/main.lua": "x = = 1\n", "www/x.txt": "x",
                                "www/rejecting/main.lua": "function onConnection(client) error('go away') end\n"] {
            try LuaHarness.write(content, to: "\(folder)/\(path)")
        }
        let port = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTMP.port=0\nRTSP.port=0\n[HTTP]\nhost=127.0.0.1\nport=\(port)\n"
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, port, folder)
    }

    @Test func httpPagesAndRPCErrorsNeverShowServerPaths() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let base = "http://127.0.0.1:\(port)"
        let cases: [(path: String, status: String, shows: String)] = [
            ("/boom", "500", "main.lua:2: attempt to index local"), // an RPC: the API's message, no path
            ("/bad/", "500", "The application could not answer this request"), // a script that does not load
            ("/rejecting/", "500", "The application could not answer this request"), // onConnection raised
            ("/x.txt", "500", "The application could not answer this request"), // onRead raised
        ]
        for (path, status, shows) in cases {
            let page = try HTTPIntegrationTests.curl(["-i", "\(base)\(path)"])
            #expect(page.hasPrefix("HTTP/1.1 \(status)"), "\(path): \(page)")
            #expect(page.contains(shows), "\(path): \(page)")
            #expect(!page.contains(folder) && !page.contains("www/"), "\(path) shows a server path: \(page)")
            #expect(!page.contains("go away") && !page.contains("no way") && !page.contains("unexpected symbol"),
                    "\(path) shows a script's failure: \(page)")
        }
        // The log has the whole text.
        #expect(server.waitFor("\(folder)/www/bad/main.lua:1: unexpected symbol"))
        #expect(server.waitFor("\(folder)/www/rejecting/main.lua:1: go away"))
        #expect(server.waitFor("\(folder)/www/main.lua:3: no way"))
    }

    @Test func webSocketErrorsNeverShowServerPaths() throws {
        let (server, port, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let client = try WebSocketTestClient(port: port)
        #expect(client.status == 101)
        try client.sendText(#"["boom"]"#)
        let answer = try client.readText()
        #expect(answer.hasPrefix(#"["__error","boom","main.lua:2: attempt to index local"#), "\(answer)")
        #expect(!answer.contains(folder))
        let refused = try WebSocketTestClient(port: port, path: "/rejecting/")
        #expect(refused.status == 500)
        let body = try refused.body()
        #expect(body.contains("The application could not answer this request") && !body.contains("go away")
                && !body.contains(folder), "\(body)")
    }
}
