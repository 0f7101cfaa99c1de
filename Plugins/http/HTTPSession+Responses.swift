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
    /// Files up to this size are sent in one piece.
    static let smallFile = 64 * 1024

    /// Sends a complete response; closes after it when asked or when the request does not keep alive.
    func respond(_ head: HTTPRequestHead, status: Int, extra: [(String, String)] = [], body: [UInt8],
                 close: Bool = false, contentLength: Int? = nil) {
        if let current, current == head { self.current = nil }
        let keepAlive = head.keepAlive && !close
        var lines = "HTTP/1.1 \(status) \(ErrorPage.reason(status))\r\n"
        lines += "Date: \(HTTPDate.format(Int(host.timeMs / 1000)))\r\nServer: Mona\r\n"
        lines += "Connection: \(keepAlive ? "keep-alive" : "close")\r\n"
        if let origin = head.header("Origin") {
            lines += "Access-Control-Allow-Origin: \(origin)\r\nVary: Origin\r\n"
        }
        for (name, value) in extra { lines += "\(name): \(value)\r\n" }
        if status != 304, status != 204, !(100..<200).contains(status) {
            lines += "Content-Length: \(contentLength ?? body.count)\r\n"
        }
        lines += "\r\n"
        send(Array(lines.utf8))
        if head.method != "HEAD", !body.isEmpty { send(body) }
        if !keepAlive { finish() }
    }

    /// An error page; `close` also ends the connection.
    func fail(_ head: HTTPRequestHead, status: Int, message: String, close: Bool = false) {
        respond(head, status: status, extra: [("Content-Type", "text/html; charset=utf-8")],
                body: ErrorPage.html(status: status, reason: ErrorPage.reason(status), message: message), close: close)
    }

    /// An error before any request head could be read: answer it and close.
    func fail(status: Int, message: String) {
        let body = ErrorPage.html(status: status, reason: ErrorPage.reason(status), message: message)
        var lines = "HTTP/1.1 \(status) \(ErrorPage.reason(status))\r\nServer: Mona\r\nConnection: close\r\n"
        lines += "Content-Type: text/html; charset=utf-8\r\nContent-Length: \(body.count)\r\n\r\n"
        send(Array(lines.utf8) + body)
        finish()
    }

    func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = host.send(connection, $0) }
    }

    /// Closes once what is queued is written.
    func finish() {
        closing = true
        host.close(connection)
    }

    // MARK: files

    /// Serves a file: 304/412 by its validators, 206/416 by Range, a template when values are given.
    func serve(_ head: HTTPRequestHead, path: String, templateValues: [String: String]) {
        var info = stat()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            if fd >= 0 { Glibc.close(fd) }
            fail(head, status: errno == EACCES ? 403 : 404, message: "File \(head.path) doesn't exist")
            return
        }
        let validators = FileValidators(size: Int(info.st_size), modifiedSeconds: Int(info.st_mtim.tv_sec),
                                        modifiedNanoseconds: Int(info.st_mtim.tv_nsec))
        let type = MIMETypes.type(forFileName: path)
        var headers = [("Content-Type", type), ("Last-Modified", HTTPDate.format(validators.modified)),
                       ("ETag", validators.etag), ("Accept-Ranges", "bytes")]
        if !templateValues.isEmpty, MIMETypes.isText(type) {
            let content = readAll(fd, size: validators.size)
            Glibc.close(fd)
            respond(head, status: 200, extra: [("Content-Type", type), ("Cache-Control", "no-cache")],
                    body: Template.apply(content, values: templateValues))
            return
        }
        switch FileConditions.evaluate(method: head.method, header: head.header, validators: validators) {
        case .notModified:
            Glibc.close(fd)
            respond(head, status: 304, extra: headers.filter { $0.0 != "Content-Type" }, body: [])
            return
        case .preconditionFailed:
            Glibc.close(fd)
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
            Glibc.close(fd)
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
            Glibc.close(fd)
            respond(head, status: status, extra: headers, body: [], contentLength: length)
            return
        }
        if length <= Self.smallFile {
            let content = readAll(fd, size: length, from: first)
            Glibc.close(fd)
            respond(head, status: status, extra: headers, body: content)
            return
        }
        // A large file: headers now, then the content as the socket drains.
        let keepAlive = head.keepAlive
        respond(head, status: status, extra: headers, body: [], close: false, contentLength: length)
        stream = FileStream(fd: fd, offset: first, remaining: length, keepAlive: keepAlive)
        continueStream()
    }

    /// Sends file chunks until the host queue is full or the file is done.
    func continueStream() {
        guard let stream else { return }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while stream.remaining > 0 {
            let wanted = min(buffer.count, stream.remaining)
            let count = buffer.withUnsafeMutableBytes { pread(stream.fd, $0.baseAddress, wanted, off_t(stream.offset)) }
            if count <= 0 {
                stream.close()
                self.stream = nil
                finish() // the length was promised: a short file can only end the connection
                return
            }
            stream.offset += count
            stream.remaining -= count
            let queued = buffer.withUnsafeBytes { host.send(connection, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            if queued < 0 {
                stream.close()
                self.stream = nil
                return
            }
            if queued > Self.streamWindow { return } // tcp_writable resumes
        }
        stream.close()
        self.stream = nil
        if stream.keepAlive { process() } else { finish() }
    }

    private func readAll(_ fd: Int32, size: Int, from offset: Int = 0) -> [UInt8] {
        var content = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = content.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(offset + done)) }
            if count <= 0 { break }
            done += count
        }
        return Array(content[0..<done])
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

/// A request path split MonaServer's way: without a trailing slash the last segment is a file (or a
/// method) of the application that is the rest; "." and ".." are resolved and cannot climb above "/".
struct HTTPPath {
    /// "" for the root, else "/a/b".
    let application: String
    /// The file or method name, "" for the application's folder.
    let file: String
    /// False for a path with a NUL or a backslash-trick that cannot be served.
    let isValid: Bool

    init(_ path: String) {
        var parts: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(segment)
        }
        isValid = !path.utf8.contains(0) && !path.contains("\\")
        let endsWithSlash = path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..")
        if endsWithSlash || parts.isEmpty {
            application = parts.isEmpty ? "" : "/" + parts.joined(separator: "/")
            file = ""
        } else {
            application = parts.count > 1 ? "/" + parts.dropLast().joined(separator: "/") : ""
            file = String(parts.last!)
        }
    }
}
