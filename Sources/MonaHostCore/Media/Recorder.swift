import Dispatch
import MonaCodecs
import MonaMedia
import MonaValues
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The recording of one publication into a file: FLV, or fragmented MP4 (one fragment per GOP of a
/// second or more, each written whole: a server that dies leaves a playable file). It starts on a key
/// frame, with the metadata and the codec configurations first, on a timeline starting at 0. Frames
/// are muxed on the loop; the file is created and written on a serial queue of the recorder's own.
final class Recorder {
    enum Format {
        case flv, mp4
    }

    let path: String
    let format: Format
    private let file: RecordingFile
    private var segmenter = HLSSegmenter(targetMs: 1000, windowSize: 2)
    private var wroteInit = false
    /// FLV: the key frame that starts the recording came; the metadata and configurations to write before it.
    private var started = false
    private var metadata: MonaValue?
    private var audioConfig: [UInt8]?
    private var videoConfig: [UInt8]?
    /// The publisher's time of the first frame recorded.
    private var firstTime: UInt32 = 0

    /// The format a file name asks for (.flv, .mp4), nil for another one.
    static func format(of path: String) -> Format? {
        let lower = path.lowercased()
        return lower.hasSuffix(".flv") ? .flv : lower.hasSuffix(".mp4") ? .mp4 : nil
    }

    /// A recording into `path` (created with its folders, replaced if it exists) of a publication
    /// whose cached metadata and configurations are given; `report` tells (from the queue) a file
    /// error (true) or the file's completion (false).
    init?(path: String, metadata: MonaValue?, audioConfig: [UInt8]?, videoConfig: [UInt8]?,
          report: @escaping @Sendable (_ error: Bool, _ message: String) -> Void) {
        guard let format = Self.format(of: path) else { return nil }
        self.path = path
        self.format = format
        file = RecordingFile(path: path, report: report)
        self.audioConfig = audioConfig
        self.videoConfig = videoConfig
        if let metadata { self.metadata(metadata) }
        if format == .mp4 {
            if let audioConfig { _ = segmenter.audio(time: 0, body: audioConfig, wallMs: 0) }
            if let videoConfig { _ = segmenter.video(time: 0, body: videoConfig, wallMs: 0) }
        } else {
            file.write(FLVTags.fileHeader)
        }
    }

    /// New metadata (FLV: an onMetaData tag; MP4: the video size).
    func metadata(_ value: MonaValue) {
        guard case .object(_, let fields) = value else { return }
        switch format {
        case .mp4:
            func number(_ key: String) -> Int {
                guard case .number(let value)? = fields.first(where: { $0.key == key })?.value, value >= 0, value < 65536 else { return 0 }
                return Int(value)
            }
            segmenter.setSize(width: number("width"), height: number("height"))
        case .flv:
            if started { writeMetadata(value) } else { metadata = value }
        }
    }

    /// One frame of the publication (flags MONA_MEDIA_*, time on the publisher's clock).
    func frame(video: Bool, time: UInt32, data: UnsafeRawBufferPointer, flags: UInt32) {
        guard data.count <= FLVTags.maxBody else { return } // no FLV tag carries it
        let config = flags & MONA_MEDIA_CONFIG != 0
        if !started {
            if config {
                let body = Array(data)
                if video { videoConfig = body } else { audioConfig = body }
                if format == .mp4 { _ = video ? segmenter.video(time: 0, body: body, wallMs: 0) : segmenter.audio(time: 0, body: body, wallMs: 0) }
                return
            }
            guard video, flags & MONA_MEDIA_KEY != 0 else { return }
            started = true
            firstTime = time
            if format == .flv {
                if let metadata { writeMetadata(metadata) }
                if let audioConfig { tag(FLVTags.audio, time: 0, audioConfig) }
                if let videoConfig { tag(FLVTags.video, time: 0, videoConfig) }
            }
        }
        let rebased = UInt32(max(Int32(bitPattern: time &- firstTime), 0))
        switch format {
        case .flv:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(data.count + 15)
            FLVTags.append(video ? FLVTags.video : FLVTags.audio, time: rebased, body: data, to: &bytes)
            file.write(bytes)
        case .mp4:
            let body = Array(data)
            let cut = video ? segmenter.video(time: rebased, body: body, wallMs: 0) : segmenter.audio(time: rebased, body: body, wallMs: 0)
            writeFragments(cut)
        }
    }

    /// Ends the recording: the last fragment, then the file is closed.
    func stop() {
        if format == .mp4 {
            let before = segmenter.nextSequence
            segmenter.end()
            writeFragments(segmenter.nextSequence > before)
        }
        file.close()
    }

    /// Blocks until the file is written and closed (after `stop`).
    func waitUntilWritten() { file.drain() }

    private func writeFragments(_ cut: Bool) {
        if !wroteInit, let initSegment = segmenter.initSegment {
            wroteInit = true
            file.write(initSegment)
        }
        if cut, let last = segmenter.segments.last { file.write(last.bytes) }
    }

    private func writeMetadata(_ value: MonaValue) {
        guard case .object(_, let fields) = value else { return }
        let body = AMF.encode([.string("onMetaData"), .mixed(dense: [], fields: fields)], mode: .amf0).bytes
        tag(FLVTags.script, time: 0, body)
    }

    private func tag(_ type: UInt8, time: UInt32, _ body: [UInt8]) {
        var bytes: [UInt8] = []
        body.withUnsafeBytes { FLVTags.append(type, time: time, body: $0, to: &bytes) }
        file.write(bytes)
    }
}

/// The file of a recording, touched only on its serial queue: created (with its folders) by the first
/// write, appended to, closed.
final class RecordingFile: @unchecked Sendable {
    private let path: String
    private let queue = DispatchQueue(label: "mona.recording")
    private let report: @Sendable (Bool, String) -> Void
    private var fd: Int32 = -1
    private var broken = false
    private var written = 0

    init(path: String, report: @escaping @Sendable (Bool, String) -> Void) {
        self.path = path
        self.report = report
    }

    func write(_ bytes: [UInt8]) {
        queue.async { [self] in
            guard !broken else { return }
            if fd < 0 {
                makeFolders()
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { return fail("cannot create \(path): \(String(cString: strerror(errno)))") }
            }
            var done = 0
            while done < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return fail("cannot write \(path): \(String(cString: strerror(errno)))") }
                done += written
            }
            self.written += done
        }
    }

    func close() {
        queue.async { [self] in
            guard fd >= 0 else { return }
            Glibc.close(fd)
            fd = -1
            broken = true
            report(false, "\(path) complete (\(written) bytes)")
        }
    }

    /// Waits until what was queued so far is done.
    func drain() { queue.sync {} }

    private func fail(_ message: String) {
        broken = true
        report(true, message)
    }

    private func makeFolders() {
        var folder = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/").dropLast() {
            folder += "/" + part
            mkdir(folder, 0o755)
        }
    }
}
