// MonaCodecs / AMF: Action Message Format (AMF0 and AMF3) <-> MonaValue.
//
// Behaviour follows MonaServer 1.x as documented in /work/shared/reference/lua-api.md §3.3 and §3.8
// (mona:toAMF / mona:toAMF0 / mona:fromAMF), with one deliberate change: in pure AMF0 mode a MIXED
// value is written as an AMF0 ECMA array (0x08) instead of switching to AMF3, so AMF0-only clients
// (librtmp, FFmpeg) can parse it. Pure Swift, no Foundation.

import MonaValues

/// AMF encoding and decoding between byte streams and `MonaValue` lists.
///
/// One call handles one stream: AMF3 string, object and traits tables (and AMF0 references) are
/// shared by every top-level value of that call, as in MonaServer 1.x, and `.reference(i)` values
/// use the MVS numbering (the i-th ARRAY/OBJECT/MIXED/MAP of the whole value list, from 0).
public enum AMF {
    /// The deepest nesting of complex values a decoder accepts (a top-level array is at depth 1).
    public static let maxDepth = 512

    /// Encodes `values` as one AMF stream (each value one top-level AMF0 value, possibly switched
    /// to AMF3 with the AVM+ marker 0x11). Never fails: what AMF cannot carry is reported in
    /// `warnings` and written in the closest form (see `AMFMode`).
    public static func encode(_ values: [MonaValue], mode: AMFMode) -> AMFOutput {
        var writer = AMFWriter(values: values, mode: mode)
        for value in values {
            writer.writeTopLevel(value)
        }
        return AMFOutput(bytes: writer.bytes, warnings: writer.warnings)
    }

    /// Decodes an AMF0 stream (with AVM+ switches to AMF3 values) into every top-level value it
    /// holds, until the end of `bytes`. An empty input is an empty list. (RTMP "AMF3" command and
    /// data messages, types 17 and 15, carry one leading 0x00 byte before this AMF0 stream.)
    /// The result is always a valid MVS value list: nesting within `maxDepth`, and every
    /// `.reference(i)` naming a complex value that precedes it.
    public static func decode(_ bytes: [UInt8]) throws(AMFError) -> [MonaValue] {
        var reader = AMFReader(bytes)
        var roots: [AMFSlot] = []
        while !reader.isAtEnd {
            roots.append(try reader.readAMF0(depth: 0))
        }
        return try reader.finish(roots)
    }

    /// Decodes a pure AMF3 stream (no AMF0 framing) into every top-level value it holds.
    public static func decodeAMF3(_ bytes: [UInt8]) throws(AMFError) -> [MonaValue] {
        var reader = AMFReader(bytes)
        var roots: [AMFSlot] = []
        while !reader.isAtEnd {
            roots.append(try reader.readAMF3(depth: 0))
        }
        return try reader.finish(roots)
    }
}

/// Which AMF flavour `AMF.encode` writes.
public enum AMFMode: Sendable, Equatable {
    /// MonaServer's `mona:toAMF`: an AMF0 stream where strings, integers, arrays, objects, mixed
    /// arrays, dates, byte arrays and maps are switched to AMF3 (0x11 marker before each such
    /// top-level value); booleans, nil and non-integral numbers stay AMF0.
    case amf3Switching
    /// Pure AMF0 (`mona:toAMF0`, and what RTMP sends to AMF0 clients). MIXED becomes an ECMA array
    /// (0x08); byte arrays and maps have no AMF0 form and are written as AMF3, with a warning.
    case amf0
}

/// The result of `AMF.encode`: the bytes, and what could not be written faithfully.
public struct AMFOutput: Sendable, Equatable {
    /// The encoded stream.
    public var bytes: [UInt8]
    /// Human-readable notes, each listed once (e.g. "AMF0 has no byte array type: written as AMF3").
    public var warnings: [String]

    /// Creates an output.
    public init(bytes: [UInt8], warnings: [String]) {
        self.bytes = bytes
        self.warnings = warnings
    }
}

/// Why an AMF stream could not be decoded. Every offset is a byte position in the input.
public enum AMFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ends inside the item starting at `offset`, or a length/count declared there does
    /// not fit in the bytes left.
    case truncated(offset: Int)
    /// A type marker that AMF0 (or AMF3) does not define or that is not supported, at `offset`.
    case unknownMarker(UInt8, offset: Int)
    /// An AMF0 object-end marker (00 00 09) where a value was expected, at `offset`.
    case unexpectedObjectEnd(offset: Int)
    /// An AMF3 string reference to an entry not in the string table yet.
    case badStringReference(Int, offset: Int)
    /// An AMF0 or AMF3 object reference to an entry not in the table yet (or to an
    /// externalizable object still being read).
    case badObjectReference(Int, offset: Int)
    /// An AMF3 traits reference to an entry not in the traits table yet.
    case badTraitsReference(Int, offset: Int)
    /// The complex value at `offset` nests deeper than `AMF.maxDepth`.
    case tooDeep(offset: Int)
    /// An AMF3 externalizable object of a class this decoder cannot read, at `offset`.
    case unsupportedExternalizable(String, offset: Int)

    /// A one-line human description.
    public var description: String {
        switch self {
        case .truncated(let offset):
            return "AMF: truncated input at offset \(offset)"
        case .unknownMarker(let marker, let offset):
            return "AMF: unknown type marker \(marker) at offset \(offset)"
        case .unexpectedObjectEnd(let offset):
            return "AMF: unexpected object end marker at offset \(offset)"
        case .badStringReference(let index, let offset):
            return "AMF: bad string reference \(index) at offset \(offset)"
        case .badObjectReference(let index, let offset):
            return "AMF: bad object reference \(index) at offset \(offset)"
        case .badTraitsReference(let index, let offset):
            return "AMF: bad traits reference \(index) at offset \(offset)"
        case .tooDeep(let offset):
            return "AMF: nesting deeper than \(AMF.maxDepth) at offset \(offset)"
        case .unsupportedExternalizable(let name, let offset):
            return "AMF: unsupported externalizable class '\(name)' at offset \(offset)"
        }
    }
}

/// AMF0 type markers.
enum AMF0Marker {
    static let number: UInt8 = 0x00
    static let boolean: UInt8 = 0x01
    static let string: UInt8 = 0x02
    static let object: UInt8 = 0x03
    static let null: UInt8 = 0x05
    static let undefined: UInt8 = 0x06
    static let reference: UInt8 = 0x07
    static let ecmaArray: UInt8 = 0x08
    static let objectEnd: UInt8 = 0x09
    static let strictArray: UInt8 = 0x0A
    static let date: UInt8 = 0x0B
    static let longString: UInt8 = 0x0C
    static let xmlDocument: UInt8 = 0x0F
    static let typedObject: UInt8 = 0x10
    static let avmPlus: UInt8 = 0x11
}

/// AMF3 type markers.
enum AMF3Marker {
    static let undefined: UInt8 = 0x00
    static let null: UInt8 = 0x01
    static let `false`: UInt8 = 0x02
    static let `true`: UInt8 = 0x03
    static let integer: UInt8 = 0x04
    static let double: UInt8 = 0x05
    static let string: UInt8 = 0x06
    static let xmlDocument: UInt8 = 0x07
    static let date: UInt8 = 0x08
    static let array: UInt8 = 0x09
    static let object: UInt8 = 0x0A
    static let xml: UInt8 = 0x0B
    static let byteArray: UInt8 = 0x0C
    static let vectorInt: UInt8 = 0x0D
    static let vectorUInt: UInt8 = 0x0E
    static let vectorDouble: UInt8 = 0x0F
    static let vectorObject: UInt8 = 0x10
    static let dictionary: UInt8 = 0x11
}

/// Numeric limits of the AMF3 29-bit integer (U29) and of AMF3 lengths.
enum AMF3Limits {
    /// The smallest number written as an AMF3 integer.
    static let minInteger: Double = -268_435_456
    /// The largest number written as an AMF3 integer.
    static let maxInteger: Double = 268_435_455
    /// The largest length or count an AMF3 U29 header (value << 1 | 1) can carry.
    static let maxLength = 0x0FFF_FFFF
}
