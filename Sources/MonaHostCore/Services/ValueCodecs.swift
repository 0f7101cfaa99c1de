import MonaValues
import PluginABI

/// The host's translations between MVS and wire formats (host->value_encode / value_decode).
///
/// MVS is checked and copied, RAW wraps or unwraps one BYTES value. AMF, JSON, XML-RPC and query
/// strings arrive with the Lua runtime's serializers and answer MONA_E_UNSUPPORTED until then.
enum ValueCodecs {
    /// Encoded bytes, or a MONA_E_* code.
    enum Outcome {
        case success([UInt8])
        case failure(Int32)
    }

    static func encode(format: Int32, mvs: [UInt8]) -> Outcome {
        guard let values = try? MVSReader.decode(mvs) else { return .failure(MONA_E_INVAL) }
        switch format {
        case MONA_FORMAT_MVS:
            return .success(mvs)
        case MONA_FORMAT_RAW:
            guard values.count == 1 else { return .failure(MONA_E_INVAL) }
            switch values[0] {
            case .bytes(let bytes): return .success(bytes)
            case .string(let text): return .success(Array(text.utf8))
            default: return .failure(MONA_E_INVAL)
            }
        default:
            return .failure(MONA_E_UNSUPPORTED)
        }
    }

    static func decode(format: Int32, data: [UInt8]) -> Outcome {
        switch format {
        case MONA_FORMAT_MVS:
            return (try? MVSReader.decode(data)) == nil ? .failure(MONA_E_INVAL) : .success(data)
        case MONA_FORMAT_RAW:
            return .success(MVSWriter.encode([.bytes(data)]))
        default:
            return .failure(MONA_E_UNSUPPORTED)
        }
    }
}

extension ValueCodecs {
    /// Lua's mona:toX(...) for format X ("AMF", "AMF0", "JSON", "XMLRPC", "Query"); nil when unknown.
    static func encode(named format: String, _ values: [MonaValue]) -> (bytes: [UInt8], warnings: [String])? {
        nil
    }

    /// Lua's mona:fromX(text); nil when the format is unknown, a failure with the reason when malformed.
    static func decode(named format: String, _ bytes: [UInt8]) -> LuaDecoded? {
        nil
    }

    /// Decoded values or why they could not be.
    enum LuaDecoded {
        case success([MonaValue])
        case failure(String)
    }
}
