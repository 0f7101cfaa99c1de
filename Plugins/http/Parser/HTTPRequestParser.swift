// A sans-IO, incremental HTTP/1.1 request parser (RFC 9112) for one TCP connection.
//
// Bytes may arrive split anywhere or hold several pipelined requests. Memory stays bounded: the head is
// kept until complete but never past `maxHeadBytes` (+1 byte), a chunk-size line never past
// `maxChunkLineBytes`, trailers are counted and dropped, and body bytes are handed out as they arrive.

/// Parses the requests of one connection from the bytes fed to it, producing `HTTPParseEvent`s.
struct HTTPRequestParser {
    /// The longest chunk-size line accepted (size and extensions), in bytes.
    static let maxChunkLineBytes = 4096

    /// How the body of the current request is delimited.
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// Where the parser is in the byte stream.
    private enum State {
        /// Collecting a request head in `buffer`.
        case head
        /// Inside a Content-Length body.
        case body(remaining: Int)
        /// Collecting a chunk-size line in `buffer`.
        case chunkSize
        /// Inside the data of a chunk.
        case chunkData(remaining: Int)
        /// After the data of a chunk, expecting its CRLF.
        case chunkDataEnd(sawCR: Bool)
        /// Skipping the trailer section after the last chunk.
        case trailers(lineLength: Int, total: Int)
        /// After a WebSocket upgrade request: every byte is handed out as `.tunnel`.
        case tunnel
        /// Refused: every later call throws this.
        case failed(HTTPParseError)
    }

    /// Progress through the head being collected.
    private enum HeadPhase {
        case method, target, version, fields
    }

    let limits: HTTPLimits
    private var state = State.head
    private var buffer: [UInt8] = []
    private var phase = HeadPhase.method
    private var targetLength = 0
    private var requestLineEnd = 0
    private var lineStart = 0
    private var fieldLines = 0
    private var chunkedTotal = 0

    init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// True between requests (nothing partial buffered): the connection may be closed by an idle timeout
    /// without cutting a request.
    var isIdle: Bool {
        if case .head = state { return buffer.isEmpty }
        return false
    }

    /// Bytes held for an incomplete head or chunk-size line (for tests: it stays bounded).
    var bufferedByteCount: Int { buffer.count }

    /// True while part of a request head is buffered (the head time-out runs).
    var isReceivingHead: Bool {
        if case .head = state { return !buffer.isEmpty }
        return false
    }

    /// Consumes bytes, returns the events they complete, in order. After an error the parser stays failed
    /// (every later call throws the same error).
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> [HTTPParseEvent] {
        try feed(bytes, maxRequests: .max).events
    }

    /// Consumes bytes up to the end of the `maxRequests`-th request they complete (or all of them), and
    /// returns the events with the count of bytes consumed: the caller keeps the rest for later, so a
    /// connection's pipelined requests are parsed only as fast as they are answered.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, maxRequests: Int) throws(HTTPParseError)
        -> (events: [HTTPParseEvent], consumed: Int) {
        if case .failed(let error) = state { throw error }
        var events: [HTTPParseEvent] = []
        events.reserveCapacity(4) // a request without body gives two (head, end): one allocation
        var index = 0
        var requests = 0
        do throws(HTTPParseError) {
            while index < bytes.count, requests < maxRequests {
                let before = events.count
                index = try step(bytes, from: index, into: &events)
                for event in events[before...] { if case .end = event { requests += 1 } }
            }
        } catch {
            state = .failed(error)
            buffer = []
            throw error
        }
        return (events, index)
    }

    /// Consumes bytes from `index` in the current state; returns the index after them.
    private mutating func step(_ bytes: UnsafeRawBufferPointer, from index: Int,
                               into events: inout [HTTPParseEvent]) throws(HTTPParseError) -> Int {
        switch state {
        case .head:
            return try scanHead(bytes, from: index, into: &events)
        case .body(let remaining):
            let end = index + min(remaining, bytes.count - index)
            events.append(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<end]))))
            if remaining == end - index {
                state = .head
                events.append(.end)
            } else {
                state = .body(remaining: remaining - (end - index))
            }
            return end
        case .tunnel:
            events.append(.tunnel(Array(UnsafeRawBufferPointer(rebasing: bytes[index...]))))
            return bytes.count
        case .chunkSize:
            return try scanChunkSize(bytes, from: index)
        case .chunkData(let remaining):
            let end = index + min(remaining, bytes.count - index)
            events.append(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<end]))))
            state = remaining == end - index ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - (end - index))
            return end
        case .chunkDataEnd(let sawCR):
            let byte = bytes[index]
            if byte == HTTPSyntax.lf {
                state = .chunkSize
            } else if byte == HTTPSyntax.cr, !sawCR {
                state = .chunkDataEnd(sawCR: true)
            } else {
                throw .badRequest("chunk data not followed by CRLF")
            }
            return index + 1
        case .trailers(var lineLength, var total):
            var position = index
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                total += 1
                guard total <= limits.maxHeadBytes else { throw .headersTooLarge }
                if byte == HTTPSyntax.lf {
                    if lineLength == 0 {
                        state = .head
                        events.append(.end)
                        return position
                    }
                    lineLength = 0
                } else if byte != HTTPSyntax.cr {
                    lineLength += 1
                }
            }
            state = .trailers(lineLength: lineLength, total: total)
            return position
        case .failed(let error):
            throw error
        }
    }

    // MARK: head

    /// Collects head bytes until the empty line, checking the request line as it arrives so that garbage,
    /// an overlong target or an overlong head is refused without waiting for a line end.
    private mutating func scanHead(_ bytes: UnsafeRawBufferPointer, from index: Int,
                                   into events: inout [HTTPParseEvent]) throws(HTTPParseError) -> Int {
        var position = index
        while position < bytes.count {
            if phase == .version || phase == .fields {
                // Only line ends and the size bound matter here: copy the run up to the next LF at once,
                // refused exactly where the byte-by-byte loop below would (one byte over the bound).
                let room = limits.maxHeadBytes - buffer.count
                var end = position
                while end < bytes.count, bytes[end] != HTTPSyntax.lf, end - position <= room { end += 1 }
                if end > position {
                    guard end - position <= room else { throw .headersTooLarge }
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
                    position = end
                    continue
                }
            }
            if phase == .method && buffer.first != HTTPSyntax.cr || phase == .target {
                // The same for the plain bytes of the method (token characters) and of the target (no space,
                // control or DEL): one run, stopped one byte before a bound, whose byte the loop below refuses.
                let room = limits.maxHeadBytes - buffer.count
                var end = position
                if phase == .method {
                    while end < bytes.count, end - position < room, HTTPSyntax.isToken(bytes[end]) { end += 1 }
                } else {
                    let allowed = min(room, limits.maxTargetLength - targetLength)
                    while end < bytes.count, end - position < allowed, bytes[end] > HTTPSyntax.space, bytes[end] != 0x7F {
                        end += 1
                    }
                    targetLength += end - position
                }
                if end > position {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
                    position = end
                    continue
                }
            }
            let byte = bytes[position]
            position += 1
            if byte == HTTPSyntax.lf {
                let hasCR = buffer.count > lineStart && buffer.last == HTTPSyntax.cr
                let lineLength = buffer.count - lineStart - (hasCR ? 1 : 0)
                if phase != .fields {
                    if phase == .method && lineLength == 0 {
                        buffer.removeAll(keepingCapacity: true)  // an empty line before a request (RFC 9112 §2.2)
                        continue
                    }
                    buffer.append(byte)
                    phase = .fields
                    requestLineEnd = buffer.count
                } else {
                    buffer.append(byte)
                    if lineLength == 0 {
                        try finishHead(into: &events)
                        return position
                    }
                    fieldLines += 1
                    guard fieldLines <= limits.maxHeaderCount else { throw .headersTooLarge }
                }
                guard buffer.count <= limits.maxHeadBytes else { throw .headersTooLarge }
                lineStart = buffer.count
                continue
            }
            buffer.append(byte)
            switch phase {
            case .method:
                if byte == HTTPSyntax.cr && buffer.count == 1 { break }  // maybe an empty line
                if buffer[0] == HTTPSyntax.cr { throw .badRequest("malformed request line") }
                if byte == HTTPSyntax.space {
                    guard buffer.count > 1 else { throw .badRequest("malformed request line") }
                    phase = .target
                } else if !HTTPSyntax.isToken(byte) {
                    throw .badRequest("invalid method")
                }
            case .target:
                if byte == HTTPSyntax.space {
                    phase = .version
                } else if byte == HTTPSyntax.cr {
                    break // the end of a line without version (1.x); a CR inside the target fails the line's check
                } else if HTTPSyntax.isControl(byte) {
                    throw .badRequest("control character in request target")
                } else {
                    targetLength += 1
                    guard targetLength <= limits.maxTargetLength else { throw .uriTooLong }
                }
            case .version, .fields:
                break
            }
            guard buffer.count <= limits.maxHeadBytes else { throw .headersTooLarge }
        }
        return position
    }

    /// Parses the collected head, emits it and enters the state of its body.
    private mutating func finishHead(into events: inout [HTTPParseEvent]) throws(HTTPParseError) {
        let head = try HTTPHeadParser.parse(buffer, requestLineEnd: requestLineEnd, limits: limits)
        let framing = try Self.framing(of: head, limits: limits)
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
        phase = .method
        targetLength = 0
        requestLineEnd = 0
        lineStart = 0
        fieldLines = 0
        events.append(.head(head))
        switch framing {
        case .none:
            events.append(.end)
            if head.isWebSocketUpgrade { state = .tunnel }
        case .length(let length):
            state = .body(remaining: length)
        case .chunked:
            chunkedTotal = 0
            state = .chunkSize
        }
    }

    /// How the body of `head` is delimited (RFC 9112 §6.3), or why it cannot be read.
    static func framing(of head: HTTPRequestHead, limits: HTTPLimits) throws(HTTPParseError) -> Framing {
        var length: Int?
        var codings: [String]?
        for field in head.headers {
            if HTTPSyntax.equalsIgnoringCase(field.name, "Content-Length") {
                let value = try contentLength(field.value)
                if let length, length != value { throw .badRequest("conflicting Content-Length values") }
                length = value
            } else if HTTPSyntax.equalsIgnoringCase(field.name, "Transfer-Encoding") {
                codings = (codings ?? []) + HTTPSyntax.listTokens(field.value)
            }
        }
        if let codings {
            guard length == nil else { throw .badRequest("both Content-Length and Transfer-Encoding") }
            guard head.versionMinor >= 1 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            let names = codings.map { coding in
                String(coding.prefix { $0 != ";" && $0 != " " && $0 != "\t" })
            }
            if let unknown = names.first(where: { $0 != "chunked" }) { throw .notImplemented(unknown) }
            guard names.count == 1 else { throw .badRequest("invalid Transfer-Encoding") }
            return .chunked
        }
        guard let length, length > 0 else { return .none }
        guard length <= limits.maxBodyBytes else { throw .payloadTooLarge }
        return .length(length)
    }

    /// A Content-Length value: digits only; a value too big for `Int` is saturated (and so over any limit).
    static func contentLength(_ value: String) throws(HTTPParseError) -> Int {
        guard !value.isEmpty, value.utf8.allSatisfy(HTTPSyntax.isDigit) else { throw .badRequest("invalid Content-Length") }
        var result = 0
        for digit in value.utf8 {
            let (times, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return Int.max }
            result = sum
        }
        return result
    }

    // MARK: chunks

    /// Collects a chunk-size line; at its end, enters the chunk data or the trailers.
    private mutating func scanChunkSize(_ bytes: UnsafeRawBufferPointer, from index: Int) throws(HTTPParseError) -> Int {
        var position = index
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == HTTPSyntax.lf {
                let size = try chunkSize(HTTPHeadParser.stripLineEnd(buffer[...]))
                buffer.removeAll(keepingCapacity: true)
                if size == 0 {
                    state = .trailers(lineLength: 0, total: 0)
                } else {
                    chunkedTotal += size
                    state = .chunkData(remaining: size)
                }
                return position
            }
            buffer.append(byte)
            guard buffer.count <= Self.maxChunkLineBytes else { throw .badRequest("chunk-size line too long") }
        }
        return position
    }

    /// The size of `line` (`1*HEXDIG [BWS ";" extensions]`), refused past the body limit before any overflow.
    private func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        let allowed = limits.maxBodyBytes - chunkedTotal
        var size = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = HTTPSyntax.hexValue(line[index]) {
            guard size <= (Int.max - digit) / 16 else { throw .payloadTooLarge }
            size = size * 16 + digit
            guard size <= allowed else { throw .payloadTooLarge }
            index += 1
        }
        guard index > line.startIndex else { throw .badRequest("invalid chunk size") }
        let rest = HTTPSyntax.trim(line[index...])
        guard rest.isEmpty || rest.first == UInt8(ascii: ";") else { throw .badRequest("invalid chunk size") }
        guard !rest.contains(where: { HTTPSyntax.isControl($0) && $0 != HTTPSyntax.tab }) else {
            throw .badRequest("control character in chunk extension")
        }
        return size
    }
}
