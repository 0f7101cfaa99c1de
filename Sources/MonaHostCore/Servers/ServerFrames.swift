/// One message between two MonaServers (lua-api.md §7.2).
enum ServerMessage: Equatable {
    /// Control message 1: every configuration parameter of the sender, in its order.
    case hello([ServerConfigPair])
    /// Control message 0: the link is refused, with the reason.
    case reject(String)
    /// A handler's message: `.` carries application paths, any other handler AMF values.
    case message(handler: String, payload: [UInt8])
}

/// A configuration key and its value, as a hello carries them.
struct ServerConfigPair: Equatable {
    let key: String
    let value: String
}

/// Why the bytes of a link are not MonaServer's frames.
struct ServerFrameError: Error, Equatable {
    let text: String
}

/// Writes MonaServer 1.x's server frames: `u32` length (big-endian) of what follows, `u8` length of the
/// handler's name and the name the first time this link sends it, else `0` and its reference (a 7-bit
/// varint, low group first; the sender numbers names 1, 2, 3… in the order it first sends them;
/// reference 0 is a control message), then the payload. Strings in payloads are a varint length and
/// the bytes. One per link and direction.
struct ServerFrameWriter {
    private var references: [String: UInt32] = [:]
    /// Longest handler name (a longer one is cut: the length is one byte).
    static let maxHandlerLength = 255

    /// The hello with these configuration parameters.
    func hello(_ configs: [ServerConfigPair]) -> [UInt8] {
        var payload: [UInt8] = [1]
        for pair in configs {
            Self.appendString(pair.key, to: &payload)
            Self.appendString(pair.value, to: &payload)
        }
        return control(payload)
    }

    /// The refusal with its reason.
    func reject(_ reason: String) -> [UInt8] {
        var payload: [UInt8] = [0]
        Self.appendString(reason, to: &payload)
        return control(payload)
    }

    private func control(_ payload: [UInt8]) -> [UInt8] {
        frame(head: [0, 0], payload: payload)
    }

    /// A handler's message (the name is cut to `maxHandlerLength` bytes; not empty).
    mutating func message(_ handler: String, payload: [UInt8]) -> [UInt8] {
        let name = String(decoding: Array(handler.utf8.prefix(Self.maxHandlerLength)), as: UTF8.self)
        if let reference = references[name] {
            var head: [UInt8] = [0]
            Self.appendVarint(reference, to: &head)
            return frame(head: head, payload: payload)
        }
        references[name] = UInt32(references.count + 1)
        return frame(head: [UInt8(name.utf8.count)] + Array(name.utf8), payload: payload)
    }

    private func frame(head: [UInt8], payload: [UInt8]) -> [UInt8] {
        let length = UInt32(head.count + payload.count)
        var bytes: [UInt8] = [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes.reserveCapacity(4 + Int(length))
        bytes += head
        bytes += payload
        return bytes
    }

    static func appendVarint(_ value: UInt32, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        appendVarint(UInt32(text.utf8.count), to: &bytes)
        bytes += text.utf8
    }
}

/// Reads MonaServer 1.x's server frames (see `ServerFrameWriter`), sans-IO: whole frames are taken
/// from the bytes given, the rest is left for later. One per link and direction.
struct ServerFrameReader {
    /// Handler names by reference - 1, in the order they arrived.
    private var names: [String] = []
    /// Largest frame accepted (a peer announcing more is not speaking this protocol, or is hostile).
    static let maxFrameSize = 16 << 20

    /// Reads every whole frame of `bytes`, calling `each` with its message; returns how many bytes
    /// were used. Throws on bytes that are not frames (the link is then closed).
    mutating func read(_ bytes: UnsafeRawBufferPointer, _ each: (ServerMessage) -> Void) throws(ServerFrameError) -> Int {
        var offset = 0
        while bytes.count - offset >= 4 {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length <= Self.maxFrameSize else { throw ServerFrameError(text: "a frame of \(length) bytes, over \(Self.maxFrameSize)") }
            guard length >= 1 else { throw ServerFrameError(text: "an empty frame") }
            guard bytes.count - offset - 4 >= length else { break }
            var cursor = Cursor(bytes: UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 4 + length)]))
            each(try message(&cursor))
            offset += 4 + length
        }
        return offset
    }

    private mutating func message(_ cursor: inout Cursor) throws(ServerFrameError) -> ServerMessage {
        let nameLength = Int(try cursor.byte())
        guard nameLength == 0 else {
            let name = String(decoding: try cursor.take(nameLength), as: UTF8.self)
            names.append(name)
            return .message(handler: name, payload: Array(cursor.rest))
        }
        let reference = try cursor.varint()
        guard reference == 0 else {
            guard reference <= names.count else { throw ServerFrameError(text: "an unknown handler reference \(reference)") }
            return .message(handler: names[Int(reference) - 1], payload: Array(cursor.rest))
        }
        switch try cursor.byte() {
        case 1:
            var pairs: [ServerConfigPair] = []
            while !cursor.atEnd { pairs.append(ServerConfigPair(key: try cursor.string(), value: try cursor.string())) }
            return .hello(pairs)
        case 0:
            return .reject(cursor.atEnd ? "" : try cursor.string())
        case let kind:
            throw ServerFrameError(text: "an unknown control message \(kind)")
        }
    }

    /// Reads strings (varint length and bytes) until the end: the payload of a `.` message.
    static func strings(_ payload: [UInt8]) throws(ServerFrameError) -> [String] {
        let result: Result<[String], ServerFrameError> = payload.withUnsafeBytes { bytes in
            var cursor = Cursor(bytes: bytes)
            var strings: [String] = []
            do throws(ServerFrameError) {
                while !cursor.atEnd { strings.append(try cursor.string()) }
                return .success(strings)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reading inside one frame: running past its end is an error.
    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }
        var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[offset...]) }

        mutating func byte() throws(ServerFrameError) -> UInt8 {
            guard offset < bytes.count else { throw ServerFrameError(text: "a frame cut short") }
            offset += 1
            return bytes[offset - 1]
        }

        mutating func take(_ count: Int) throws(ServerFrameError) -> UnsafeRawBufferPointer {
            guard bytes.count - offset >= count else { throw ServerFrameError(text: "a frame cut short") }
            offset += count
            return UnsafeRawBufferPointer(rebasing: bytes[(offset - count)..<offset])
        }

        mutating func varint() throws(ServerFrameError) -> UInt32 {
            var value: UInt32 = 0
            for shift in stride(from: 0, to: 35, by: 7) {
                let byte = try self.byte()
                value |= UInt32(byte & 0x7F) << UInt32(shift)
                if byte & 0x80 == 0 { return value }
            }
            throw ServerFrameError(text: "a number longer than 5 bytes")
        }

        mutating func string() throws(ServerFrameError) -> String {
            let length = try varint()
            return String(decoding: try take(Int(length)), as: UTF8.self)
        }
    }
}

/// The payload of a `.` message: application paths.
extension ServerFrameWriter {
    static func applications(_ paths: [String]) -> [UInt8] {
        var payload: [UInt8] = []
        for path in paths { appendString(path, to: &payload) }
        return payload
    }
}
