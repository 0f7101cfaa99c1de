import Foundation
import Testing
@testable import HTTPPlugin
@testable import MonaMedia

/// The fMP4 segmenter over a real stream: ffmpeg makes an FLV file (H.264 + AAC), its tags feed the
/// segmenter, and ffprobe reads the init segment and the segments joined.
@Suite struct HLSSegmenterTests {
    /// The tags of an FLV file: type, time, body.
    static func tags(_ file: [UInt8]) -> [(type: UInt8, time: UInt32, body: [UInt8])] {
        var tags: [(UInt8, UInt32, [UInt8])] = []
        var at = 13
        while file.count - at >= 15 {
            let size = Int(file[at + 1]) << 16 | Int(file[at + 2]) << 8 | Int(file[at + 3])
            let time = UInt32(file[at + 7]) << 24 | UInt32(file[at + 4]) << 16 | UInt32(file[at + 5]) << 8 | UInt32(file[at + 6])
            guard file.count - at >= 15 + size else { break }
            tags.append((file[at], time, Array(file[(at + 11)..<(at + 11 + size)])))
            at += 15 + size
        }
        return tags
    }

    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["30"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// 5 s of H.264 (B-frames, a key frame a second) and AAC in FLV, made by ffmpeg in `folder`: the file's bytes.
    static func stream(fps: Int, in folder: String) throws -> [UInt8] {
        _ = try run(["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=\(fps)",
                     "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "5", "-c:v", "libx264", "-preset", "ultrafast",
                     "-bf", "2", "-g", "\(fps)", "-c:a", "aac", "-f", "flv", "\(folder)/in.flv"])
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(folder)/in.flv")))
    }

    @Test func segmentsOfAnFFmpegStreamDecodeInFFprobe() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mona-hls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try Self.stream(fps: 25, in: folder)
        var segmenter = HLSSegmenter(targetMs: 1000, windowSize: 100, withTS: true)
        var cuts = 0
        for tag in Self.tags(file) {
            if tag.type == 9, segmenter.video(time: tag.time, body: tag.body, wallMs: 1_700_000_000_000 + Int64(tag.time)) { cuts += 1 }
            if tag.type == 8, segmenter.audio(time: tag.time, body: tag.body, wallMs: 1_700_000_000_000 + Int64(tag.time)) { cuts += 1 }
        }
        segmenter.end()
        #expect(cuts == 4, "a cut on each key frame after 1 s")
        #expect(segmenter.segments.count == 5, "the last second ends the stream")
        let playlist = segmenter.playlist(name: "cam")
        #expect(playlist.contains("#EXT-X-MAP:URI=\"cam.init.mp4\""))
        #expect(playlist.contains("#EXTINF:1.000,\ncam.0.m4s"), "\(playlist)")
        #expect(playlist.contains("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z"), "\(playlist)")
        #expect(playlist.hasSuffix("#EXT-X-ENDLIST\n"))
        let joined = try #require(segmenter.initSegment) + segmenter.segments.flatMap(\.bytes)
        try Data(joined).write(to: URL(fileURLWithPath: "\(folder)/out.mp4"))
        let codecs = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,sample_rate",
                                   "-of", "csv=p=0", "\(folder)/out.mp4"])
        #expect(codecs.contains("h264,320,240"), "\(codecs)")
        #expect(codecs.contains("aac,44100"), "\(codecs)")
        let frames = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
                                   "stream=nb_read_frames", "-of", "csv=p=0", "\(folder)/out.mp4"])
        #expect(frames.trimmingCharacters(in: .whitespacesAndNewlines) == "125", "every frame decodes: \(frames)")
        let audio = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-count_frames", "-select_streams", "a", "-show_entries",
                                  "stream=nb_read_frames", "-of", "csv=p=0", "\(folder)/out.mp4"])
        #expect((Int(audio.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 210, "5 s of 1024-sample AAC frames: \(audio)")
        let times = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=dts", "-of", "csv=p=0",
                                  "\(folder)/out.mp4"]).split(separator: "\n").compactMap { Int($0) }
        #expect(times.count == 125 && zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "decode times increase")
        // The MPEG-TS variant of the same segments, joined.
        #expect(segmenter.playlist(name: "cam", ts: true).contains("#EXTINF:1.000,\ncam.0.ts\n"))
        #expect(!segmenter.playlist(name: "cam", ts: true).contains("EXT-X-MAP"))
        let ts = segmenter.segments.flatMap(\.ts)
        #expect(ts.count % 188 == 0 && stride(from: 0, to: ts.count, by: 188).allSatisfy { ts[$0] == 0x47 }, "188-byte packets")
        try Data(ts).write(to: URL(fileURLWithPath: "\(folder)/out.ts"))
        let tsCodecs = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,sample_rate",
                                     "-of", "csv=p=0", "\(folder)/out.ts"])
        #expect(tsCodecs.contains("h264,320,240"), "\(tsCodecs)")
        #expect(tsCodecs.contains("aac,44100"), "\(tsCodecs)")
        let tsFrames = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
                                     "-of", "csv=p=0", "\(folder)/out.ts"]).split(separator: "\n").compactMap { Int($0) }
        // (Each stream is listed twice: in its program and on its own.)
        #expect(Set(tsFrames).count == 2 && tsFrames.contains(125) && (tsFrames.filter { $0 != 125 }.min() ?? 0) >= 210,
                "every frame decodes: \(tsFrames)")
        let errors = try Self.run(["/usr/bin/ffmpeg", "-v", "error", "-i", "\(folder)/out.ts", "-f", "null", "-"])
        #expect(errors.isEmpty, "no decoding error, no continuity error: \(errors)")
    }

    /// Low-latency HLS over a real stream (30 fps, a key frame a second): parts of at most the
    /// part target, whose fragments end to end are their segment and decode in ffprobe; the playlist's
    /// server control, parts of the last three target durations and hint; blocking reloads and parts.
    @Test func partsOfAnFFmpegStreamDecodeAndThePlaylistListsThem() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mona-llhls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try Self.stream(fps: 30, in: folder)
        var segmenter = HLSSegmenter(targetMs: 1000, windowSize: 100, partTargetMs: 250)
        var parts: [HLSSegmenter.Part] = [], hints: [String] = []
        for tag in Self.tags(file) {
            let revision = segmenter.revision, sequence = segmenter.nextSequence, made = segmenter.pendingParts.count
            if tag.type == 9 { segmenter.video(time: tag.time, body: tag.body, wallMs: 1_700_000_000_000 + Int64(tag.time)) }
            if tag.type == 8 { segmenter.audio(time: tag.time, body: tag.body, wallMs: 1_700_000_000_000 + Int64(tag.time)) }
            guard segmenter.revision != revision else { continue }
            // Each change made one part, listed at once, and what the hint named before it.
            let part = segmenter.nextSequence == sequence ? try #require(segmenter.pendingParts.last) : try #require(segmenter.segments.last?.parts.last)
            parts.append(part)
            let playlist = segmenter.playlist(name: "cam")
            #expect(playlist.contains("#EXT-X-PART:DURATION=\(String(format: "%.3f", part.duration)),URI=\"cam.\(sequence).p\(made).m4s\""), "\(playlist)")
            #expect(hints.last.map { $0 == "cam.\(sequence).p\(made).m4s" } ?? true, "the hint named the part made: \(hints.last ?? "")")
            hints.append(try #require(playlist.components(separatedBy: "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"").last?.prefix { $0 != "\"" }).description)
            #expect(segmenter.reload(msn: sequence, part: made) == .ready)
            #expect(segmenter.part(sequence, made).bytes == part.bytes)
        }
        segmenter.end()
        parts.append(try #require(segmenter.segments.last?.parts.last)) // the end made the last one
        let durations = parts.map { Int(($0.duration * 1000).rounded()) }
        #expect(durations.allSatisfy { $0 <= 250 }, "no part longer than the target: \(durations)")
        #expect(segmenter.segments.count == 5)
        for segment in segmenter.segments.dropLast(3) { #expect(segment.parts.isEmpty, "parts older than three target durations are dropped") }
        for segment in segmenter.segments.suffix(3) {
            let whole = segment.bytes == segment.parts.flatMap(\.bytes)
            #expect(whole, "a segment is its parts end to end")
            #expect(abs(segment.parts.map(\.duration).reduce(0, +) - segment.duration) < 0.0015)
            #expect(segment.parts.first?.independent == true && segment.parts.dropFirst().allSatisfy { !$0.independent })
            // 30 fps in whole ms (33, 33, 34): 7 frames a part, never one early; only a segment's last part is short.
            #expect(segment.parts.dropLast().allSatisfy { $0.duration >= 0.2125 }, "85% of the target: \(segment.parts.map(\.duration))")
        }
        let playlist = segmenter.playlist(name: "cam")
        #expect(playlist.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750\n#EXT-X-PART-INF:PART-TARGET=0.250\n"))
        #expect(!playlist.contains("cam.1.p0.m4s") && playlist.contains("cam.2.p0.m4s\",INDEPENDENT=YES\n"), "\(playlist)")
        #expect(playlist.hasSuffix("#EXT-X-ENDLIST\n") && !playlist.contains("PRELOAD-HINT"), "an ended stream has no hint")
        #expect(!segmenter.playlist(name: "cam", ts: true).contains("PART"), "MPEG-TS has no parts")
        // Blocking reloads once ended: everything is ready.
        #expect(segmenter.reload(msn: 99, part: 0) == .ready)
        // The parts, joined behind the init segment, decode whole.
        let joined = try #require(segmenter.initSegment) + parts.flatMap(\.bytes)
        try Data(joined).write(to: URL(fileURLWithPath: "\(folder)/parts.mp4"))
        let frames = try Self.run(["/usr/bin/ffprobe", "-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
                                   "stream=nb_read_frames", "-of", "csv=p=0", "\(folder)/parts.mp4"])
        #expect(frames.trimmingCharacters(in: .whitespacesAndNewlines) == "150", "every frame decodes: \(frames)")
        let errors = try Self.run(["/usr/bin/ffmpeg", "-v", "error", "-i", "\(folder)/parts.mp4", "-f", "null", "-"])
        #expect(errors.isEmpty, "\(errors)")
    }

    /// Where blocking reloads stand while a stream is made: a segment once complete, a part once cut,
    /// 400 past the next segment; the next part is worth waiting for, others not.
    @Test func blockingReloadsAndPartsAgainstALiveWindow() {
        var segmenter = HLSSegmenter(targetMs: 1000, windowSize: 3, partTargetMs: 500)
        let config: [UInt8] = [0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 0]
        segmenter.video(time: 0, body: config, wallMs: 0)
        #expect(segmenter.reload(msn: 0, part: 0) == .wait)
        #expect(segmenter.reload(msn: 2, part: nil) == .tooFar)
        for index in 0...38 { // 25 fps: segment 0 cut at 1 s (parts of 480, 480 and 40 ms), segment 1's part 0 (480 ms) made
            let key = index % 25 == 0
            segmenter.video(time: UInt32(index * 40), body: [key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88], wallMs: Int64(index * 40))
        }
        #expect(segmenter.nextSequence == 1 && segmenter.segments[0].parts.count == 3, "\(segmenter.segments.map(\.parts.count))")
        #expect(segmenter.reload(msn: 0, part: nil) == .ready)
        #expect(segmenter.reload(msn: 0, part: 7) == .ready, "a part past a completed segment's end: the segment is there")
        #expect(segmenter.reload(msn: 1, part: nil) == .wait)
        #expect(segmenter.pendingParts.count == 1 && segmenter.reload(msn: 1, part: 0) == .ready)
        #expect(segmenter.reload(msn: 1, part: 1) == .wait)
        #expect(segmenter.reload(msn: 2, part: 0) == .wait)
        #expect(segmenter.reload(msn: 3, part: nil) == .tooFar)
        #expect(segmenter.part(1, 0).bytes != nil && segmenter.part(1, 1).bytes == nil && segmenter.part(1, 1).comingNext)
        #expect(!segmenter.part(1, 2).comingNext && !segmenter.part(0, 3).comingNext && segmenter.part(0, 2).bytes != nil)
        #expect(segmenter.playlist(name: "cam").hasSuffix("cam.1.p0.m4s\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"cam.1.p1.m4s\"\n"))
    }

    @Test func aacConfigsGiveRateAndChannels() {
        let config = AACConfig([0x12, 0x10][...]) // AAC-LC, 44.1 kHz, 2 channels
        #expect(config?.sampleRate == 44100)
        #expect(config?.channels == 2)
        #expect(AACConfig([0x11, 0x90][...])?.sampleRate == 48000)
        #expect(AACConfig([0x17][...]) == nil)
    }

    @Test func hlsFileNamesNameAPublicationAndAPart() {
        #expect(HTTPSession.hlsRequest("cam.m3u8")?.name == "cam")
        #expect(HTTPSession.hlsRequest("cam.m3u8")?.request == .playlist)
        #expect(HTTPSession.hlsRequest("my.cam.init.mp4")?.name == "my.cam")
        #expect(HTTPSession.hlsRequest("my.cam.init.mp4")?.request == .initSegment)
        #expect(HTTPSession.hlsRequest("cam.12.m4s")?.request == .segment(12))
        #expect(HTTPSession.hlsRequest("cam.12.m4s")?.name == "cam")
        #expect(HTTPSession.hlsRequest("cam.x.m4s") == nil)
        #expect(HTTPSession.hlsRequest("cam.12.p3.m4s")?.request == .part(12, 3))
        #expect(HTTPSession.hlsRequest("my.cam.12.p3.m4s")?.name == "my.cam")
        #expect(HTTPSession.hlsRequest("cam.p3.m4s") == nil, "a part names its segment")
        #expect(HTTPSession.hlsRequest("cam.12.p.m4s") == nil && HTTPSession.hlsRequest("cam.-1.m4s") == nil)
        #expect(HTTPSession.hlsReload("_HLS_msn=4&_HLS_part=2") == .asks(msn: 4, part: 2))
        #expect(HTTPSession.hlsReload("a=1&_HLS_msn=4") == .asks(msn: 4, part: nil))
        #expect(HTTPSession.hlsReload("a=1") == .none)
        #expect(HTTPSession.hlsReload("_HLS_part=2") == .invalid && HTTPSession.hlsReload("_HLS_msn=x") == .invalid)
        #expect(HTTPSession.hlsRequest(".m3u8") == nil)
        #expect(HTTPSession.hlsRequest("cam.mp4") == nil)
    }

    /// Frames from an untrusted publisher: random bodies behind valid FLV headers, configurations of
    /// any size, times that jump back and forth; nothing traps, every segment and fragment is whole.
    @Test func arbitraryFramesNeverTrapTheMuxers() {
        var random = SystemRandomNumberGenerator()
        var segmenter = HLSSegmenter(targetMs: 200, windowSize: 3, withTS: true)
        var parted = HLSSegmenter(targetMs: 200, windowSize: 3, partTargetMs: 60)
        var fragmenter = FMP4Fragmenter()
        let heads: [[UInt8]] = [[0x17, 0], [0x17, 1], [0x27, 1], [0x1C, 0], [0x1C, 1], [0x90, 0x68, 0x76, 0x63, 0x31], [0x91, 0x68, 0x76, 0x63, 0x31],
                                [0x93, 0x61, 0x76, 0x63, 0x31], [0xAF, 0], [0xAF, 1]]
        var time: UInt32 = 0
        for round in 0..<20_000 {
            let head = heads[Int.random(in: 0..<heads.count, using: &random)]
            let size = round % 500 == 0 ? Int.random(in: 9_000...70_000, using: &random) : Int.random(in: 0...64, using: &random)
            let body = head + (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
            time = UInt32(truncatingIfNeeded: Int64(time) + Int64.random(in: -100...300, using: &random))
            if head[0] == 0xAF {
                _ = segmenter.audio(time: time, body: body, wallMs: 0)
                _ = parted.audio(time: time, body: body, wallMs: 0)
                _ = fragmenter.audio(time: time, body: body)
            } else {
                _ = segmenter.video(time: time, body: body, wallMs: 0)
                _ = parted.video(time: time, body: body, wallMs: 0)
                _ = fragmenter.video(time: time, body: body)
            }
            if round % 97 == 0 { _ = parted.playlist(name: "x") }
            if round % 7 == 0, let fragment = fragmenter.fragment() {
                #expect(Int(fragment[0]) << 24 | Int(fragment[1]) << 16 | Int(fragment[2]) << 8 | Int(fragment[3]) < fragment.count)
            }
        }
        segmenter.end()
        parted.end()
        for segment in segmenter.segments { #expect(segment.ts.count % 188 == 0) }
        for segment in parted.segments where !segment.parts.isEmpty {
            let whole = segment.bytes == segment.parts.flatMap(\.bytes)
            #expect(whole, "a segment is its parts, whatever the times")
        }
    }
}
