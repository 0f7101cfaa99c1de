import MonaCodecs
import MonaValues
import PluginABI

/// The host's translations between values and wire formats: one implementation (MonaCodecs) serves
/// the plugins (host->value_encode / value_decode, through MVS) and Lua (mona:toJSON, fromAMF…).
/// Public for hosts of tests (MonaPluginTesting's FakeHost).
public enum ValueCodecs {
    /// Encoded bytes, or a MONA_E_* code.
    public enum Outcome {
        case success([UInt8])
        case failure(Int32)
    }

    public static func encode(format: Int32, mvs: [UInt8]) -> Outcome {
        guard let values = try? MVSReader.decode(mvs) else { return .failure(MONA_E_INVAL) }
        switch format {
        case MONA_FORMAT_MVS:
            return .success(mvs)
        case MONA_FORMAT_AMF0, MONA_FORMAT_AMF3, MONA_FORMAT_JSON, MONA_FORMAT_XMLRPC, MONA_FORMAT_QUERY:
            return .success(encode(named: name(format), values)!.bytes)
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

    public static func decode(format: Int32, data: [UInt8]) -> Outcome {
        switch format {
        case MONA_FORMAT_MVS:
            return (try? MVSReader.decode(data)) == nil ? .failure(MONA_E_INVAL) : .success(data)
        case MONA_FORMAT_AMF0, MONA_FORMAT_AMF3, MONA_FORMAT_JSON, MONA_FORMAT_XMLRPC, MONA_FORMAT_QUERY:
            guard case .success(let values)? = decode(named: name(format), data) else { return .failure(MONA_E_INVAL) }
            return .success(MVSWriter.encode(values))
        case MONA_FORMAT_RAW:
            return .success(MVSWriter.encode([.bytes(data)]))
        default:
            return .failure(MONA_E_UNSUPPORTED)
        }
    }
}


extension ValueCodecs {
    /// The Lua name of an ABI format (MONA_FORMAT_AMF3 is AMF0 with AMF3 values, what `mona:toAMF` writes).
    static func name(_ format: Int32) -> String {
        switch format {
        case MONA_FORMAT_AMF0: "AMF0"
        case MONA_FORMAT_AMF3: "AMF"
        case MONA_FORMAT_JSON: "JSON"
        case MONA_FORMAT_XMLRPC: "XMLRPC"
        default: "Query"
        }
    }

    /// Lua's mona:toX(...) for format X ("AMF", "AMF0", "JSON", "XMLRPC", "Query"); nil when unknown.
    static func encode(named format: String, _ values: [MonaValue]) -> (bytes: [UInt8], warnings: [String])? {
        switch format {
        case "AMF": AMF.encode(values, mode: .amf3Switching).pair
        case "AMF0": AMF.encode(values, mode: .amf0).pair
        case "JSON": JSON.encode(values).pair
        case "XMLRPC": XMLRPC.encode(values).pair
        case "Query": Query.encode(values).pair
        default: nil
        }
    }

    /// Lua's mona:fromX(text); nil when the format is unknown, a failure with the reason when malformed.
    static func decode(named format: String, _ bytes: [UInt8]) -> LuaDecoded? {
        if format == "AMF" || format == "AMF0" {
            do throws(AMFError) { return .success(try AMF.decode(bytes)) } catch { return .failure(error.description) }
        }
        if format == "Query" { return .success(Query.decode(bytes)) } // a query string always decodes
        do throws(CodecError) {
            switch format {
            case "JSON": return .success(try JSON.decode(bytes))
            case "XMLRPC": return .success(try XMLRPC.decode(bytes))
            default: return nil
            }
        } catch {
            return .failure(error.description)
        }
    }

    /// Decoded values or why they could not be.
    enum LuaDecoded {
        case success([MonaValue])
        case failure(String)
    }
}

extension CodecOutput {
    var pair: (bytes: [UInt8], warnings: [String]) { (bytes, warnings) }
}

extension AMFOutput {
    var pair: (bytes: [UInt8], warnings: [String]) { (bytes, warnings) }
}
