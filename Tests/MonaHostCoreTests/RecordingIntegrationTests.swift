import Foundation
import Testing

/// Recording in the real server: Lua's publication:record into FLV and fragmented MP4, `[recording]`
/// recording an application's publications, a server killed mid-recording; ffprobe reads the files.
@Suite("Recording with ffmpeg and ffprobe", .serialized)
struct RecordingIntegrationTests {
    static let app = """
    function onConnection(client)
        function client:onPublish(publication)
            if publication.name == "flvcam" or publication.name == "mp4cam" then
                local ok, why = publication:record("rec/" .. publication.name .. (publication.name == "flvcam" and ".flv" or ".mp4"))
                NOTE("record ", tostring(ok), " ", tostring(why))
            end
            if publication.name == "stopped" then
                publication:record("rec/stopped.flv")
                publication:stopRecord()
            end
            local ok, why = publication:record("../escape.flv")
            NOTE("publishing ", publication.name, " (", tostring(why), ")")
        end
    end
    """

    static func server(ini extra: String = "") throws -> (server: ServerProcess, rtmp: UInt16, folder: String) {
        let folder = try TestEnvironment.temporaryDirectory()
        try LuaHarness.write("function onConnection(client) end", to: "\(folder)/www/main.lua")
        try LuaHarness.write(app, to: "\(folder)/www/live/main.lua")
        let rtmp = TestEnvironment.freePort()
        let ini = "RTMFP.port=0\nRTSP.port=0\nHTTP.port=0\n[RTMP]\nhost=127.0.0.1\nport=\(rtmp)\n" + extra
        let server = try ServerProcess(directory: folder, ini: ini)
        try server.waitUntilStarted()
        return (server, rtmp, folder)
    }

    /// Codecs, decoded video frames and whether video decode times increase, for a file.
    static func check(_ file: String) throws -> (codecs: [String], frames: Int, increasing: Bool) {
        let codecs = try RTMPIntegrationTests.codecs(file)
        let frames = try HTTPFLVIntegrationTests.probe(file, ["-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames"])
        let times = try HTTPFLVIntegrationTests.probe(file, ["-select_streams", "v", "-show_entries", "packet=dts"]).compactMap(Int.init)
        return (codecs, Int(frames.first ?? "") ?? 0, times.count > 1 && zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func luaRecordsIntoFLVAndFragmentedMP4() throws {
        let (server, rtmp, folder) = try Self.server()
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let flv = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/flvcam", seconds: 4)
        let mp4 = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/mp4cam", seconds: 4)
        let stopped = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/stopped", seconds: 2)
        #expect(server.waitFor("record true nil"))
        #expect(server.waitFor("a recording path has no \"..\""), "\(server.output)")
        #expect(flv.wait(timeout: 20).status == 0)
        #expect(mp4.wait(timeout: 20).status == 0)
        #expect(stopped.wait(timeout: 20).status == 0)
        #expect(server.waitFor("rec/flvcam.flv complete"), "\(server.output)")
        #expect(server.waitFor("rec/mp4cam.mp4 complete"), "\(server.output)")
        for name in ["flvcam.flv", "mp4cam.mp4"] {
            let (codecs, frames, increasing) = try Self.check("\(folder)/data/rec/\(name)")
            #expect(codecs == ["aac", "h264"], "\(name)")
            #expect(frames >= 75, "\(name): \(frames) frames decoded of ~100")
            #expect(increasing, "\(name): decode times increase")
        }
        #expect(server.waitFor("rec/stopped.flv complete (13 bytes)"), "stopRecord ended it at once: the FLV header alone")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/escape.flv"))
    }

    @Test func theIniRecordsAnApplicationAndAKilledServerLeavesAPlayableMP4() throws {
        let (server, rtmp, folder) = try Self.server(ini: "[recording]\napps = /live\nfolder = recordings\n")
        defer { _ = server.terminate(); try? FileManager.default.removeItem(atPath: folder) }
        let publisher = try RTMPIntegrationTests.publisher("rtmp://127.0.0.1:\(rtmp)/live/auto", seconds: 30)
        defer { _ = publisher.wait(timeout: 1) }
        #expect(server.waitFor("recording auto into"))
        let recordings = "\(folder)/recordings"
        // Fragments of a second or more: wait for the file to hold a few of them, then kill the server.
        let deadline = Date().addingTimeInterval(15)
        var size = 0
        while size < 200_000, Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: recordings)) ?? []
            size = names.first.flatMap { try? FileManager.default.attributesOfItem(atPath: "\(recordings)/\($0)")[.size] as? Int } ?? 0
            usleep(100_000)
        }
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        let names = try FileManager.default.contentsOfDirectory(atPath: recordings)
        #expect(names.count == 1 && names[0].hasPrefix("auto-") && names[0].hasSuffix(".mp4"), "\(names)")
        let (codecs, frames, increasing) = try Self.check("\(recordings)/\(names[0])")
        #expect(codecs == ["aac", "h264"])
        #expect(frames >= 25, "what was written before the kill plays: \(frames) frames")
        #expect(increasing)
    }
}
