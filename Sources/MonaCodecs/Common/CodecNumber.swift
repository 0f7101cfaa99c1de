#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Number formatting as MonaServer 1.x prints numbers: C `%.16g`.
public enum CodecNumber {
    /// `value` printed like C `printf("%.16g")`: integers without a decimal point (`3`), `1/3` as
    /// `0.3333333333333333`, `1e21` as `1e+21`, `-0` as `-0`; NaN and infinities as `nan`, `inf`, `-inf`.
    public static func format(_ value: Double) -> String {
        // %.16g uses plain notation for integers below 1e16: print them without libc.
        if value == value.rounded(.towardZero), value.magnitude < 1e16 {
            if value == 0 { return value.sign == .minus ? "-0" : "0" }
            return String(Int64(value))
        }
        if value.isNaN { return value.sign == .minus ? "-nan" : "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        var buffer = [CChar](repeating: 0, count: 48)
        let count = withVaList([value]) { arguments in
            buffer.withUnsafeMutableBufferPointer { pointer in
                vsnprintf(pointer.baseAddress, pointer.count, "%.16g", arguments)
            }
        }
        guard count > 0, Int(count) < buffer.count else { return String(value) }
        var bytes = buffer[0..<Int(count)].map { UInt8(bitPattern: $0) }
        // A host that called setlocale() could get a decimal comma: JSON needs a point.
        for index in bytes.indices where bytes[index] == CodecBytes.comma { bytes[index] = CodecBytes.dot }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value as a C `int` when it is integral and within `Int32` range (XML-RPC `<int>`).
    public static func int32(_ value: Double) -> Int32? {
        guard value == value.rounded(.towardZero), value >= -2_147_483_648, value <= 2_147_483_647 else {
            return nil
        }
        return Int32(value)
    }
}
