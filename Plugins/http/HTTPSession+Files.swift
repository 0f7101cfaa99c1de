import MonaPluginKit
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Files and folders: every look at the file system runs on the host's blocking pool (BlockingJob), opened
/// without following symbolic links (ConfinedOpen); answers are conditional (304/412), ranged (206/416),
/// templated, or streamed with back-pressure.
extension HTTPSession {
    /// Most bytes queued in the host before a file stream waits for tcp_writable.
    static let streamWindow: Int64 = 256 * 1024
    /// Parts of large files up to this size are sent in one piece.
    static let smallFile = 64 * 1024
    /// The size of each read of a streamed file.
    static let streamChunk = 256 * 1024

    /// Serves a file: a small one from the plugin's FileCache when it was checked less than a second ago,
    /// anything else opened (and a small file read) on the pool, then answered on the loop.
    func serve(_ head: HTTPRequestHead, path: String, templateValues: [String: String]) {
        let files = plugin.files
        if let (facts, content) = files.fresh(path, nowMs: host.monotonicMs) {
            serve(head, facts: facts, content: content, fd: -1, templateValues: templateValues)
            return
        }
        let known = files.identity(of: path)
        offLoop({ FileCache.load(path, known: known) }, discard: { loaded in
            if case .large(_, let fd) = loaded { Glibc.close(fd) }
        }) { session, loaded in
            session.serve(head, path: path, loaded: loaded, templateValues: templateValues)
        }
    }

    /// Goes on with what the pool found at `path`.
    func serve(_ head: HTTPRequestHead, path: String, loaded: FileCache.Loaded, templateValues: [String: String]) {
        let files = plugin.files
        switch loaded {
        case .failed(let code):
            files.forget(path)
            fail(head, status: code == EACCES ? 403 : 404, message: "File \(head.path) doesn't exist")
        case .unchanged:
            guard let (facts, content) = files.confirm(path, nowMs: host.monotonicMs) else {
                serve(head, path: path, templateValues: templateValues) // dropped meanwhile: read it again
                return
            }
            serve(head, facts: facts, content: content, fd: -1, templateValues: templateValues)
        case .small(let identity, let content):
            let facts = FileCache.Facts(identity, path: path)
            files.keep(path, facts, content, wallMs: host.timeMs, nowMs: host.monotonicMs)
            serve(head, facts: facts, content: content, fd: -1, templateValues: templateValues)
        case .large(let identity, let fd):
            files.forget(path)
            serve(head, facts: FileCache.Facts(identity, path: path), content: nil, fd: fd, templateValues: templateValues)
        }
    }

    /// The listing page of a folder (read on the pool).
    func list(_ head: HTTPRequestHead, folder: String) {
        offLoop({ FolderListing.entries(in: folder) }, discard: { _ in }) { session, entries in
            guard let entries else {
                session.fail(head, status: 404, message: "File \(head.path) doesn't exist")
                return
            }
            session.respond(head, status: 200, extra: [("Content-Type", "text/html; charset=utf-8")],
                            body: FolderListing.page(urlPath: head.path, entries: entries))
        }
    }

    /// Serves a file version from its content in memory, or from `fd` (closed here) when `content` is nil.
    func serve(_ head: HTTPRequestHead, facts: FileCache.Facts, content: [UInt8]?, fd: Int32,
                       templateValues: [String: String]) {
        let validators = facts.validators
        let type = facts.type
        if !templateValues.isEmpty, MIMETypes.isText(type) {
            let extra = [("Content-Type", type), ("Cache-Control", "no-cache")]
            if let content {
                respond(head, status: 200, extra: extra, body: Template.apply(content, values: templateValues))
                return
            }
            read(fd, from: 0, count: validators.size) { session, content in
                Glibc.close(fd)
                session.respond(head, status: 200, extra: extra, body: Template.apply(content, values: templateValues))
            }
            return
        }
        // Content-Type, Last-Modified, ETag and Accept-Ranges (written once per file version), then Content-Range.
        let lines = facts.headerLines
        var headers: [(String, String)] = []
        switch FileConditions.evaluate(method: head.method, header: head.header, validators: validators) {
        case .notModified:
            if fd >= 0 { Glibc.close(fd) }
            respond(head, status: 304, extra: [("Last-Modified", facts.modified), ("ETag", validators.etag),
                                               ("Accept-Ranges", "bytes")], body: [])
            return
        case .preconditionFailed:
            if fd >= 0 { Glibc.close(fd) }
            fail(head, status: 412, message: "Precondition failed")
            return
        case .send:
            break
        }
        var status = 200
        var first = 0
        var length = validators.size
        switch ByteRange.evaluate(rangeHeader: head.header("Range"), ifRange: head.header("If-Range"), validators: validators) {
        case .unsatisfiable:
            if fd >= 0 { Glibc.close(fd) }
            respond(head, status: 416, extra: [("Content-Range", "bytes */\(validators.size)")], body: [])
            return
        case .partial(let from, let last):
            status = 206
            first = from
            length = last - from + 1
            headers.append(("Content-Range", "bytes \(from)-\(last)/\(validators.size)"))
        case .full:
            break
        }
        if head.method == "HEAD" || length == 0 {
            if fd >= 0 { Glibc.close(fd) }
            respond(head, status: status, lines: lines, extra: headers, body: [], contentLength: length)
            return
        }
        if let content {
            // As read: a file that shrank meanwhile gives fewer bytes (and a Content-Length that says so).
            let end = min(first + length, content.count)
            let body = first == 0 && end == content.count ? content : first < end ? Array(content[first..<end]) : []
            respond(head, status: status, lines: lines, extra: headers, body: body)
            return
        }
        if length <= Self.smallFile {
            read(fd, from: first, count: length) { session, content in
                Glibc.close(fd)
                session.respond(head, status: status, lines: lines, extra: headers, body: content)
            }
            return
        }
        // A large file: headers now, then the content as the socket drains.
        respond(head, status: status, lines: lines, extra: headers, body: [], contentLength: length, bodyFollows: true)
        stream = FileStream(fd: fd, offset: first, remaining: length, keepAlive: head.keepAlive)
        continueStream()
    }

    /// Reads part of a file on the host's blocking pool, then goes on with it on the loop.
    func read(_ fd: Int32, from offset: Int, count: Int, then completion: @escaping (HTTPSession, [UInt8]) -> Void) {
        let started = offLoop({ FileRead.bytes(of: fd, from: offset, count: count) }, discard: { [self] _ in
            if stream == nil { Glibc.close(fd) } // a stream's descriptor is closed with the stream
        }, then: completion)
        if !started, stream == nil { Glibc.close(fd) }
    }

    /// Runs `work` on the host's blocking pool, then `completion` on the loop; requests wait meanwhile
    /// (answers stay in order). If the connection closed meanwhile, `discard` releases what the work
    /// produced. False when the host refused the work: the connection is then closed.
    @discardableResult
    func offLoop<Output>(_ work: @escaping () -> Output, discard: @escaping (Output) -> Void,
                         then completion: @escaping (HTTPSession, Output) -> Void) -> Bool {
        reading = true
        let started = BlockingJob.start(on: host, work) { [self] output in
            reading = false
            guard !closing else {
                discard(output)
                return
            }
            completion(self, output)
            process()
        }
        if !started {
            reading = false
            finish()
        }
        return started
    }

    /// Sends the next chunk of the file being streamed, unless one is being read or the host queue is full.
    func continueStream() {
        guard let stream, !reading else { return }
        guard stream.remaining > 0 else {
            stream.close()
            self.stream = nil
            if stream.keepAlive { process() } else { finish() }
            return
        }
        read(stream.fd, from: stream.offset, count: min(Self.streamChunk, stream.remaining)) { session, bytes in
            guard !bytes.isEmpty else {
                stream.close()
                session.stream = nil
                session.finish() // the length was promised: a shorter file can only end the connection
                return
            }
            stream.offset += bytes.count
            stream.remaining -= bytes.count
            let queued = bytes.withUnsafeBytes { session.host.send(session.connection, $0) }
            session.queuedBytes = max(queued, 0)
            if queued < 0 {
                stream.close()
                session.stream = nil
                return
            }
            if queued <= Self.streamWindow { session.continueStream() } // else tcp_writable resumes
        }
    }

    /// Template values from onRead's table (text of each string key).
    static func templateValues(_ properties: [MonaValue]) -> [String: String] {
        guard case .object(_, let fields)? = properties.first else { return [:] }
        var values: [String: String] = [:]
        for field in fields {
            switch field.value {
            case .string(let text): values[field.key] = text
            case .number(let number): values[field.key] = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
            case .boolean(let flag): values[field.key] = flag ? "true" : "false"
            default: continue
            }
        }
        return values
    }
}

/// Reads of open files, on the host's blocking pool.
enum FileRead {
    /// `count` bytes of `fd` from `offset` (short only at the end of the file or on an error).
    static func bytes(of fd: Int32, from offset: Int, count: Int) -> [UInt8] {
        var content = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let read = content.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if read <= 0 { break }
            done += read
        }
        content.removeLast(count - done)
        return content
    }
}

/// A file being streamed to a connection.
final class FileStream {
    let fd: Int32
    var offset: Int
    var remaining: Int
    let keepAlive: Bool

    init(fd: Int32, offset: Int, remaining: Int, keepAlive: Bool) {
        self.fd = fd
        self.offset = offset
        self.remaining = remaining
        self.keepAlive = keepAlive
    }

    func close() { Glibc.close(fd) }
}
