import Foundation
import Testing

/// The shipped player page (www/live/player.html) in headless Chromium, driven over the DevTools
/// protocol: ffmpeg publishes over RTMP, the page plays the publication with Media Source Extensions
/// from the WebSocket plugin's fMP4; its video time advances, frames are decoded and presented, and
/// it stays near the live edge. A screenshot goes to <temporary folder>/mona-browser-player.png.
/// Skipped when Debian's `chromium` is not installed.
@Suite("The player page in headless Chromium", .serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")))
struct BrowserPlayerTests {
    /// The shipped page, from the source tree.
    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("www/live/player.html").path

    /// A DevTools page session over the test's raw WebSocket client.
    final class DevTools {
        let socket: WebSocketTestClient
        private var nextID = 0

        init(port: UInt16) throws {
            // The browser lists its page once it is up.
            let deadline = Date().addingTimeInterval(20)
            var path: String?
            while path == nil, Date() < deadline {
                if let socket = try? TestSocket(tcpPort: port, timeout: 2) {
                    try socket.send("GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
                    var bytes: [UInt8] = []
                    while let chunk = socket.receiveSome(), !chunk.isEmpty { bytes += chunk }
                    let body = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n\r\n").dropFirst().joined()
                    let targets = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [[String: Any]] ?? []
                    path = targets.first { $0["type"] as? String == "page" }?["webSocketDebuggerUrl"]
                        .flatMap { $0 as? String }.flatMap { URL(string: $0)?.path }
                }
                if path == nil { usleep(200_000) }
            }
            guard let path else { throw TestFailure("Chromium's DevTools did not come up") }
            socket = try WebSocketTestClient(port: port, path: path, timeout: 10)
            guard socket.status == 101 else { throw TestFailure("DevTools refused the WebSocket: \(socket.responseHead)") }
        }

        /// Calls `method` and returns its result object.
        func call(_ method: String, _ parameters: [String: Any] = [:]) throws -> [String: Any] {
            nextID += 1
            let request = try JSONSerialization.data(withJSONObject: ["id": nextID, "method": method, "params": parameters])
            try socket.sendText(String(decoding: request, as: UTF8.self))
            while true {
                let text = try socket.readText()
                guard let message = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                      message["id"] as? Int == nextID else { continue } // events
                if let error = message["error"] { throw TestFailure("\(method): \(error)") }
                return message["result"] as? [String: Any] ?? [:]
            }
        }

        /// The value of a JavaScript expression (JSON-compatible).
        func evaluate(_ expression: String) throws -> Any? {
            let result = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
            return (result["result"] as? [String: Any])?["value"]
        }
    }

    @Test func thePlayerPagePlaysALivePublicationNearTheLiveEdge() throws {
        let (server, rtmp, http, folder) = try HTTPFLVIntegrationTests.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: Self.page, toPath: "\(folder)/www/live/player.html")
        // 4:2:0, which browsers decode (testsrc would otherwise give High 4:4:4).
        let publisher = try ChildProcess("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-re",
                                                             "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                                                             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "25",
                                                             "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-tune", "zerolatency",
                                                             "-g", "25", "-c:a", "aac", "-f", "flv", "rtmp://127.0.0.1:\(rtmp)/live/cam"])
        defer { _ = publisher.wait(timeout: 0) }
        #expect(server.waitFor("publishing cam"))
        let devtoolsPort = TestEnvironment.freePort()
        let profile = "\(folder)/chromium-profile"
        // Started through python3 to clear the blocked signal mask the test runner's children inherit.
        let browser = try ChildProcess("/usr/bin/python3", ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                                                             "/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
                                                             "--autoplay-policy=no-user-gesture-required", "--user-data-dir=\(profile)",
                                                             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=\(devtoolsPort)",
                                                             "--window-size=640,480", "about:blank"])
        defer { _ = browser.wait(timeout: 0) }
        let devtools = try DevTools(port: devtoolsPort)
        _ = try devtools.call("Page.navigate", ["url": "http://127.0.0.1:\(http)/live/player.html?name=cam"])
        let probe = """
            (function () { const v = document.getElementById('video'); const b = v.buffered;
              return [v.currentTime, v.getVideoPlaybackQuality().totalVideoFrames, v.videoWidth,
                      b.length ? b.end(b.length - 1) - v.currentTime : -1, document.getElementById('status').textContent]; })()
            """
        var samples: [[Any]] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let sample = try devtools.evaluate(probe) as? [Any] { samples.append(sample) }
            let time = samples.last?.first as? Double ?? 0
            if time > 4, let frames = samples.last?[1] as? Int, frames > 75 { break }
            usleep(500_000)
        }
        let last = try #require(samples.last)
        let start = try #require(samples.first { ($0.first as? Double ?? 0) > 0 })
        let time = last[0] as? Double ?? 0, frames = last[1] as? Int ?? 0, width = last[2] as? Int ?? 0, behind = last[3] as? Double ?? -1
        #expect(time - (start[0] as? Double ?? 0) > 2, "video.currentTime advances: \(samples)")
        #expect(frames > (start[1] as? Int ?? 0) + 25, "totalVideoFrames grows: \(samples)")
        #expect(width == 320, "the video track is decoded: \(last)")
        #expect(behind >= 0 && behind < 1.0, "less than a second behind what it received: \(last)")
        #expect(server.waitFor("WebSocket viewer of cam") || server.waitFor("HTTP viewer of cam"), "onSubscribe ran for the page")
        let shot = try devtools.call("Page.captureScreenshot", ["format": "png"])
        let png = try #require((shot["data"] as? String).flatMap { Data(base64Encoded: $0) })
        #expect(png.count > 1000)
        let output = (NSTemporaryDirectory() as NSString).appendingPathComponent("mona-browser-player.png")
        try png.write(to: URL(fileURLWithPath: output))
        _ = try? devtools.call("Browser.close")
    }
}
