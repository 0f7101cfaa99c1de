import MonaPluginKit
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Writing responses: status line and headers, error pages, files (conditional, ranges, templates,
/// streamed with back-pressure).
extension HTTPSession {
    /// Most bytes queued in the host before a file stream waits for tcp_writable.
    static let streamWindow: Int64 = 256 * 1024
    /// Parts of large files up to this size are sent in one piece.
    static let smallFile = 64 * 1024
    /// Bodies up to this size go out in the same tcp_send as the head.
    static let joinedBody = 64 * 1024
    /// The size of each read of a streamed file.
    static let streamChunk = 256 * 1024

    /// Sends a complete response; closes after it when asked or when the request does not keep alive.
    /// The head and the body go out in one tcp_send (one write) unless the body is large.
    /// `lines`: header lines ready to send ("Name: value\r\n"…), written before `extra`.
    func respond(_ head: HTTPRequestHead, status: Int, lines: [UInt8] = [], extra: [(String, String)] = [], body: [UInt8],
                 close: Bool = false, contentLength: Int? = nil, bodyFollows: Bool = false) {
        if let current, current == head { self.current = nil }
        let keepAlive = head.keepAlive && !close
        let withBody = !body.isEmpty && head.method != "HEAD"
        let joined = withBody && body.count <= Self.joinedBody
        var out: [UInt8] = []
        out.reserveCapacity(320 + (joined ? body.count : 0))
        out += plugin.heads.statusLine(status)
        out += plugin.heads.dateAndServer(Int(host.timeMs / 1000))
        if keepAlive { out.append(literal: "Connection: keep-alive\r\n") } else { out.append(literal: "Connection: close\r\n") }
        if let origin = head.header("Origin") {
            out.append(literal: "Access-Control-Allow-Origin: ")
            out.append(text: origin)
            out.append(literal: "\r\nVary: Origin\r\n")
        }
        out += lines
        for (name, value) in extra {
            out.append(text: name)
            out.append(literal: ": ")
            out.append(text: value)
            out.append(literal: "\r\n")
        }
        if !cookies.isEmpty {
            for cookie in cookies {
                out.append(literal: "Set-Cookie: ")
                out.append(text: cookie)
                out.append(literal: "\r\n")
            }
            cookies.removeAll()
        }
        if status != 304, status != 204, !(100..<200).contains(status) {
            out.append(literal: "Content-Length: ")
            out.append(decimal: contentLength ?? body.count)
            out.append(literal: "\r\n")
        }
        out.append(literal: "\r\n")
        if joined { out += body }
        send(out)
        if withBody, !joined { send(body) }
        if !keepAlive, !bodyFollows { finish() } // a streamed body closes when it ends
    }

    /// An error page; `close` also ends the connection.
    func fail(_ head: HTTPRequestHead, status: Int, message: String, close: Bool = false) {
        respond(head, status: status, extra: [("Content-Type", "text/html; charset=utf-8")],
                body: ErrorPage.html(status: status, reason: HTTPStatus.reason(status), message: message), close: close)
    }

    /// An error before any request head could be read: answer it and close.
    func fail(status: Int, message: String) {
        let body = ErrorPage.html(status: status, reason: HTTPStatus.reason(status), message: message)
        var lines = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\nServer: Mona\r\nConnection: close\r\n"
        lines += "Content-Type: text/html; charset=utf-8\r\nContent-Length: \(body.count)\r\n\r\n"
        send(Array(lines.utf8) + body)
        finish()
    }

    /// Queues bytes; what the host keeps queued afterwards holds back the next answers (`outputWindow`).
    func send(_ bytes: [UInt8]) {
        let queued = bytes.withUnsafeBytes { host.send(connection, $0) }
        if queued >= 0 { queuedBytes = queued }
    }

    /// Closes once what is queued is written.
    func finish() {
        closing = true
        host.close(connection)
    }

    // MARK: files

    /// Serves a file: 304/412 by its validators, 206/416 by Range, a template when values are given.
    /// Only metadata is read on the loop: a small file comes from the plugin's FileCache or is read on the
    /// host's blocking pool once (then kept); a larger one is read on the pool and streamed.
    func serve(_ head: HTTPRequestHead, path: String, templateValues: [String: String]) {
        switch plugin.files.open(path) {
        case .failed(let code):
            fail(head, status: code == EACCES ? 403 : 404, message: "File \(head.path) doesn't exist")
        case .cached(let facts, let content):
            serve(head, facts: facts, content: content, fd: -1, templateValues: templateValues)
        case .small(let facts, let fd):
            read(fd, from: 0, count: facts.validators.size) { session, content in
                Glibc.close(fd)
                session.plugin.files.keep(path, facts, content, nowMs: session.host.timeMs)
                session.serve(head, facts: facts, content: content, fd: -1, templateValues: templateValues)
            }
        case .large(let facts, let fd):
            serve(head, facts: facts, content: nil, fd: fd, templateValues: templateValues)
        }
    }

    /// Serves a file version from its content in memory, or from `fd` (closed here) when `content` is nil.
    private func serve(_ head: HTTPRequestHead, facts: FileCache.Facts, content: [UInt8]?, fd: Int32,
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

    /// Reads part of a file on the host's blocking pool, then goes on with it on the loop. Requests
    /// wait meanwhile (answers stay in order).
    func read(_ fd: Int32, from offset: Int, count: Int, then completion: @escaping (HTTPSession, [UInt8]) -> Void) {
        reading = true
        let job = FileRead(fd: fd, offset: offset, count: count) { [self] bytes in
            reading = false
            guard !closing else {
                if stream == nil { Glibc.close(fd) }
                return
            }
            completion(self, bytes)
            process()
        }
        let context = Unmanaged.passRetained(job).toOpaque()
        if host.runBlocking(FileRead.work, context: context) != MONA_OK {
            Unmanaged<FileRead>.fromOpaque(context).release()
            reading = false
            Glibc.close(fd)
            finish()
        }
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

    /// The entries of a folder for its listing page (hidden files left out).
    static func entries(of folder: String) -> [(name: String, isFolder: Bool, size: Int, modified: Int)] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var result: [(name: String, isFolder: Bool, size: Int, modified: Int)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") || name.lowercased().hasSuffix(".lua") { continue }
            var info = stat()
            guard stat(folder + name, &info) == 0 else { continue }
            result.append((name, (info.st_mode & S_IFMT) == S_IFDIR, Int(info.st_size), Int(info.st_mtim.tv_sec)))
        }
        return result
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

/// One read of a file, done on the host's blocking pool (run_blocking), then handed back on the loop.
final class FileRead: @unchecked Sendable {
    let fd: Int32
    let offset: Int
    let count: Int
    var bytes: [UInt8] = []
    let completion: ([UInt8]) -> Void

    init(fd: Int32, offset: Int, count: Int, completion: @escaping ([UInt8]) -> Void) {
        self.fd = fd
        self.offset = offset
        self.count = count
        self.completion = completion
    }

    /// The pool side: reads into `bytes` (short only at the end of the file or on an error).
    static let work: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
        let job = Unmanaged<FileRead>.fromOpaque(context!).takeUnretainedValue()
        var content = [UInt8](repeating: 0, count: job.count)
        var done = 0
        while done < job.count {
            let read = content.withUnsafeMutableBytes { pread(job.fd, $0.baseAddress! + done, job.count - done, off_t(job.offset + done)) }
            if read <= 0 { break }
            done += read
        }
        content.removeLast(job.count - done)
        job.bytes = content
    }

    /// The loop side (plugin->work_done).
    static func finish(_ context: UnsafeMutableRawPointer?) {
        guard let context else { return }
        let job = Unmanaged<FileRead>.fromOpaque(context).takeRetainedValue()
        job.completion(job.bytes)
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
