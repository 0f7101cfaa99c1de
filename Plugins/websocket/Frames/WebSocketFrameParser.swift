// A sans-IO parser of the frames a WebSocket client sends (RFC 6455 §5), with message reassembly.
//
// It consumes every byte it is given: a frame may be split anywhere and several frames may arrive in one
// read. Memory stays bounded: a header is at most 14 bytes and a message never grows past
// `maxMessageSize` (a frame that would make it bigger is refused as soon as its header is read).

/// What complete frames and messages mean to the session.
enum WebSocketEvent: Equatable, Sendable {
    /// A complete text message (valid UTF-8).
    case text([UInt8])
    /// A complete binary message.
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// The peer's close frame: its code (nil when it sent none) and reason.
    case close(code: UInt16?, reason: String)
}

extension WebSocketEvent {
    /// A data message (text or binary), not a control frame.
    var isMessage: Bool {
        switch self {
        case .text, .binary: true
        case .ping, .pong, .close: false
        }
    }
}

/// Why the peer broke the protocol: the close code to answer with and a reason for the log.
struct WebSocketFailure: Error, Equatable, Sendable {
    let code: UInt16
    let reason: String
}

/// Parses client frames into `WebSocketEvent`s; after a failure or a close frame it ignores the rest.
struct WebSocketFrameParser {
    /// The largest message (all fragments together) accepted.
    let maxMessageSize: Int

    /// A frame header being read.
    private struct Header {
        var fin: Bool
        var opcode: WebSocketOpcode
        var length: Int
        var mask: (UInt8, UInt8, UInt8, UInt8)
    }

    private enum State {
        case header
        case payload(Header, offset: Int)
        case done
    }

    private var state = State.header
    private var headerBytes: [UInt8] = []
    /// The control frame being read (its payload stays apart from the message it may interrupt).
    private var control: [UInt8] = []
    /// The data message being assembled, its opcode (nil between messages) and its UTF-8 check.
    private var message: [UInt8] = []
    private var messageOpcode: WebSocketOpcode?
    private var validator = UTF8Validator()

    init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// True when no frame or fragmented message is partly received.
    var isBetweenMessages: Bool {
        guard case .header = state else { return false }
        return headerBytes.isEmpty && messageOpcode == nil
    }

    /// True after a close frame or a failure: nothing more is parsed.
    var isDone: Bool { if case .done = state { return true } else { return false } }

    /// Consumes all of `bytes`; returns the events they complete, in order, or the first violation.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(WebSocketFailure) -> [WebSocketEvent] {
        var events: [WebSocketEvent] = []
        var index = 0
        do throws(WebSocketFailure) {
            while index < bytes.count {
                switch state {
                case .done:
                    return events
                case .header:
                    index = try readHeader(bytes, from: index, into: &events)
                case .payload(let header, let offset):
                    index = try readPayload(bytes, from: index, header: header, offset: offset, into: &events)
                }
            }
        } catch {
            state = .done
            message = []
            control = []
            throw error
        }
        return events
    }

    /// Collects header bytes; once complete, checks the frame and enters its payload.
    private mutating func readHeader(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                     into events: inout [WebSocketEvent]) throws(WebSocketFailure) -> Int {
        var index = start
        while index < bytes.count {
            headerBytes.append(bytes[index])
            index += 1
            if headerBytes.count == 2 { try checkFirstBytes() }
            guard headerBytes.count >= 2, headerBytes.count == headerLength else { continue }
            let header = try finishHeader()
            headerBytes.removeAll(keepingCapacity: true)
            if header.length == 0 {
                try endFrame(header, into: &events)
            } else {
                state = .payload(header, offset: 0)
            }
            return index
        }
        return index
    }

    /// 2 bytes, the extended length (2 or 8), the mask (4).
    private var headerLength: Int {
        let length7 = headerBytes[1] & 0x7F
        return 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + 4
    }

    private func checkFirstBytes() throws(WebSocketFailure) {
        let first = headerBytes[0], second = headerBytes[1]
        guard first & 0x70 == 0 else { throw .init(code: WebSocketCloseCode.protocolError, reason: "reserved bits set (no extension was negotiated)") }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw .init(code: WebSocketCloseCode.protocolError, reason: "unknown opcode \(first & 0x0F)")
        }
        guard second & 0x80 != 0 else { throw .init(code: WebSocketCloseCode.protocolError, reason: "unmasked client frame") }
        let fin = first & 0x80 != 0
        if opcode.isControl {
            guard fin else { throw .init(code: WebSocketCloseCode.protocolError, reason: "fragmented control frame") }
            guard second & 0x7F <= 125 else { throw .init(code: WebSocketCloseCode.protocolError, reason: "control frame longer than 125 bytes") }
        } else if opcode == .continuation {
            guard messageOpcode != nil else { throw .init(code: WebSocketCloseCode.protocolError, reason: "continuation frame without a message to continue") }
        } else {
            guard messageOpcode == nil else { throw .init(code: WebSocketCloseCode.protocolError, reason: "new message before the previous one ended") }
        }
    }

    private func finishHeader() throws(WebSocketFailure) -> Header {
        let first = headerBytes[0], length7 = Int(headerBytes[1] & 0x7F)
        var length = length7
        var position = 2
        if length7 == 126 {
            length = Int(headerBytes[2]) << 8 | Int(headerBytes[3])
            position = 4
        } else if length7 == 127 {
            var wide: UInt64 = 0
            for byte in headerBytes[2..<10] { wide = wide << 8 | UInt64(byte) }
            guard wide >> 63 == 0 else { throw .init(code: WebSocketCloseCode.protocolError, reason: "64-bit length with its high bit set") }
            guard wide <= UInt64(maxMessageSize) else { throw tooBig(wide) }
            length = Int(wide)
            position = 10
        }
        let opcode = WebSocketOpcode(rawValue: first & 0x0F)!
        if !opcode.isControl, message.count + length > maxMessageSize { throw tooBig(UInt64(message.count + length)) }
        let mask = (headerBytes[position], headerBytes[position + 1], headerBytes[position + 2], headerBytes[position + 3])
        return Header(fin: first & 0x80 != 0, opcode: opcode, length: length, mask: mask)
    }

    private func tooBig(_ size: UInt64) -> WebSocketFailure {
        .init(code: WebSocketCloseCode.tooBig, reason: "message of \(size) bytes, more than the \(maxMessageSize) allowed")
    }

    /// Unmasks payload bytes into the control buffer or the message; validates text as it arrives.
    private mutating func readPayload(_ bytes: UnsafeRawBufferPointer, from start: Int, header: Header, offset: Int,
                                      into events: inout [WebSocketEvent]) throws(WebSocketFailure) -> Int {
        let count = min(header.length - offset, bytes.count - start)
        let firstNew = header.opcode.isControl ? control.count : message.count
        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)])
        if header.opcode.isControl {
            Self.appendUnmasked(payload, mask: header.mask, phase: offset, to: &control)
        } else {
            Self.appendUnmasked(payload, mask: header.mask, phase: offset, to: &message)
            let opcode = header.opcode == .continuation ? messageOpcode : header.opcode
            if opcode == .text {
                let valid = message.withUnsafeBytes { validator.feed(UnsafeRawBufferPointer(rebasing: $0[firstNew...])) }
                guard valid else { throw .init(code: WebSocketCloseCode.invalidData, reason: "text message is not valid UTF-8") }
            }
        }
        if offset + count == header.length {
            try endFrame(header, into: &events)
        } else {
            state = .payload(header, offset: offset + count)
        }
        return start + count
    }

    /// Appends `payload` XORed with the mask, whose byte `phase & 3` applies to the first byte.
    private static func appendUnmasked(_ payload: UnsafeRawBufferPointer, mask: (UInt8, UInt8, UInt8, UInt8), phase: Int,
                                       to out: inout [UInt8]) {
        let first = out.count
        out.append(contentsOf: payload)
        withUnsafeBytes(of: mask) { key in
            out.withUnsafeMutableBytes { bytes in
                for index in 0..<payload.count { bytes[first + index] ^= key[(phase + index) & 3] }
            }
        }
    }

    /// A frame's payload is complete: emit a control event, or end a fragment or a message.
    private mutating func endFrame(_ header: Header, into events: inout [WebSocketEvent]) throws(WebSocketFailure) {
        state = .header
        switch header.opcode {
        case .ping:
            events.append(.ping(control))
        case .pong:
            events.append(.pong(control))
        case .close:
            events.append(try Self.closeEvent(control))
            state = .done
        case .text, .binary, .continuation:
            if header.opcode != .continuation { messageOpcode = header.opcode }
            guard header.fin else { return }
            if messageOpcode == .text {
                guard validator.isComplete else { throw .init(code: WebSocketCloseCode.invalidData, reason: "text message ends inside a UTF-8 sequence") }
                events.append(.text(message))
            } else {
                events.append(.binary(message))
            }
            message = []
            messageOpcode = nil
            validator = UTF8Validator()
        }
        control.removeAll(keepingCapacity: true)
    }

    /// The meaning of a close frame's payload: nothing, or a valid code and a UTF-8 reason.
    private static func closeEvent(_ payload: [UInt8]) throws(WebSocketFailure) -> WebSocketEvent {
        guard !payload.isEmpty else { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else { throw .init(code: WebSocketCloseCode.protocolError, reason: "close frame with a 1-byte payload") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode.isValid(code) else { throw .init(code: WebSocketCloseCode.protocolError, reason: "close frame with code \(code)") }
        let reason = Array(payload[2...])
        guard UTF8Validator.isValid(reason) else { throw .init(code: WebSocketCloseCode.invalidData, reason: "close reason is not valid UTF-8") }
        return .close(code: code, reason: String(decoding: reason, as: UTF8.self))
    }
}
