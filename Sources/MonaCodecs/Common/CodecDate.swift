#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// ISO-8601 dates as MonaServer 1.x writes them: the server's local time with its UTC offset.
///
/// A date is milliseconds since 1970-01-01 UTC (`MonaValue.date`). The long form is
/// `2014-09-30T13:15:17.000+00:00` (JSON, XML-RPC), the short form `20140930T131517+00:00` (Query);
/// a UTC host prints `+00:00`, never `Z`.
public enum CodecDate {
    /// Dates beyond ±8.64e15 ms (the ECMAScript range, ±275760 years) are not formatted.
    public static let maxMilliseconds = 8.64e15

    /// The local UTC offset in seconds (whole minutes) at the instant `milliseconds`.
    public static func localOffsetSeconds(atMilliseconds milliseconds: Double) -> Int {
        guard milliseconds.isFinite, milliseconds.magnitude <= maxMilliseconds else { return 0 }
        var time = time_t(floorDivide(Int64(milliseconds.rounded(.down)), 1000))
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return 0 }
        let offset = Int(parts.tm_gmtoff)
        return offset - offset % 60
    }

    /// `2014-09-30T13:15:17.000+00:00` in local time, or nil for a non-finite or out-of-range date.
    public static func formatLong(_ milliseconds: Double) -> String? {
        formatLong(milliseconds, offsetSeconds: localOffsetSeconds(atMilliseconds: milliseconds))
    }

    /// `20140930T131517+00:00` in local time, or nil for a non-finite or out-of-range date.
    public static func formatShort(_ milliseconds: Double) -> String? {
        formatShort(milliseconds, offsetSeconds: localOffsetSeconds(atMilliseconds: milliseconds))
    }

    /// The long form at an explicit UTC offset (seconds east of UTC).
    public static func formatLong(_ milliseconds: Double, offsetSeconds: Int) -> String? {
        guard let fields = Fields(milliseconds, offsetSeconds: offsetSeconds) else { return nil }
        return "\(year(fields.year))-\(pad(fields.month))-\(pad(fields.day))T\(pad(fields.hour)):"
            + "\(pad(fields.minute)):\(pad(fields.second)).\(pad(fields.millisecond, 3))\(offset(offsetSeconds))"
    }

    /// The short form at an explicit UTC offset (seconds east of UTC).
    public static func formatShort(_ milliseconds: Double, offsetSeconds: Int) -> String? {
        guard let fields = Fields(milliseconds, offsetSeconds: offsetSeconds) else { return nil }
        return "\(year(fields.year))\(pad(fields.month))\(pad(fields.day))T"
            + "\(pad(fields.hour))\(pad(fields.minute))\(pad(fields.second))\(offset(offsetSeconds))"
    }

    /// A complete ISO-8601 timestamp with its zone, as the writers emit it (`2014-09-30T13:15:17.000+00:00`)
    /// and as JavaScript's `Date.toJSON` does (`2014-09-30T13:15:17.000Z`): `YYYY-MM-DDTHH:MM:SS`, an
    /// optional fraction of 1 to 9 digits, then `Z`, `±HH:MM` or `±HHMM`. Milliseconds since the epoch,
    /// or nil for anything else (a date alone, a time without zone, free text).
    public static func parseTimestamp(_ text: String) -> Double? {
        var text = text
        guard text.utf8.count >= 20, text.utf8.count <= 35, text.withUTF8(isTimestamp) else { return nil }
        return parse(text)
    }

    /// Whether the bytes have parseTimestamp's shape (the values are checked by parse).
    private static func isTimestamp(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { $0 < text.count && text[$0] >= 0x30 && text[$0] <= 0x39 } }
        func byte(_ index: Int, _ character: Unicode.Scalar) -> Bool { index < text.count && text[index] == UInt8(ascii: character) }
        // YYYY-MM-DDTHH:MM:SS
        guard digits(0..<4), byte(4, "-"), digits(5..<7), byte(7, "-"), digits(8..<10), byte(10, "T"),
              digits(11..<13), byte(13, ":"), digits(14..<16), byte(16, ":"), digits(17..<19) else { return false }
        var index = 19
        if byte(index, ".") { // a fraction of 1 to 9 digits
            let start = index + 1
            index = start
            while digits(index..<index + 1) { index += 1 }
            guard (1...9).contains(index - start) else { return false }
        }
        let zone = text.count - index
        if zone == 1 { return byte(index, "Z") }
        guard byte(index, "+") || byte(index, "-") else { return false }
        return (zone == 6 && digits(index + 1..<index + 3) && byte(index + 3, ":") && digits(index + 4..<index + 6))
            || (zone == 5 && digits(index + 1..<index + 5))
    }

    /// Parses the ISO-8601 forms the writers emit and the usual variants: `YYYY-MM-DD` or `YYYYMMDD`,
    /// then optionally `T` (or a space) and `HH:MM[:SS[.fff]]` or `HHMM[SS]`, then `Z`, `±HH:MM`, `±HHMM`,
    /// `±HH` or nothing (local time). Returns milliseconds since the epoch, or nil.
    public static func parse(_ text: String) -> Double? {
        var scanner = DateScanner(bytes: Array(text.utf8))
        return scanner.parse()
    }

    // MARK: - calendar arithmetic

    /// Broken-down local time.
    struct Fields {
        var year: Int64, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int

        init?(_ milliseconds: Double, offsetSeconds: Int) {
            guard milliseconds.isFinite, milliseconds.magnitude <= CodecDate.maxMilliseconds else { return nil }
            let local = Int64(milliseconds.rounded(.down)) + Int64(offsetSeconds) * 1000
            let days = CodecDate.floorDivide(local, 86_400_000)
            let inDay = Int(local - days * 86_400_000)
            (year, month, day) = CodecDate.civil(fromDays: days)
            hour = inDay / 3_600_000
            minute = inDay / 60_000 % 60
            second = inDay / 1000 % 60
            millisecond = inDay % 1000
        }
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (month 1...12).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let shifted = month <= 2 ? year - 1 : year
        let era = floorDivide(shifted, 400)
        let yearOfEra = shifted - era * 400
        let monthIndex = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * monthIndex + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let shifted = days + 719_468
        let era = floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysInMonth(year: Int64, month: Int) -> Int {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Milliseconds of a local wall-clock time, using the local offset in force at that time.
    static func fromLocal(_ wallClock: Int64) -> Double {
        let guess = localOffsetSeconds(atMilliseconds: Double(wallClock))
        let instant = wallClock - Int64(guess) * 1000
        let actual = localOffsetSeconds(atMilliseconds: Double(instant))
        return Double(actual == guess ? instant : wallClock - Int64(actual) * 1000)
    }

    // MARK: - text

    private static func pad(_ value: Int, _ width: Int = 2) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func year(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        let padded = digits.count >= 4 ? digits : String(repeating: "0", count: 4 - digits.count) + digits
        return value < 0 ? "-" + padded : padded
    }

    private static func offset(_ seconds: Int) -> String {
        let minutes = seconds.magnitude / 60
        return (seconds < 0 ? "-" : "+") + pad(Int(minutes / 60)) + ":" + pad(Int(minutes % 60))
    }
}

/// The parser behind `CodecDate.parse`.
private struct DateScanner {
    let bytes: [UInt8]
    var position = 0

    /// Reads exactly `count` digits.
    mutating func digits(_ count: Int) -> Int? {
        guard position + count <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[position..<(position + count)] {
            guard CodecBytes.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        position += count
        return value
    }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    var atEnd: Bool { position >= bytes.count }

    mutating func parse() -> Double? {
        guard let year = digits(4) else { return nil }
        let extended = skip(CodecBytes.minus)
        guard let month = digits(2) else { return nil }
        if extended, !skip(CodecBytes.minus) { return nil }
        guard let day = digits(2), (1...12).contains(month),
              day >= 1, day <= CodecDate.daysInMonth(year: Int64(year), month: month) else { return nil }
        var hour = 0, minute = 0, second = 0, millisecond = 0
        if !atEnd {
            guard skip(0x54) || skip(0x74) || skip(0x20) else { return nil }  // T, t or a space
            guard let hours = digits(2) else { return nil }
            let colons = skip(CodecBytes.colon)
            guard let minutes = digits(2) else { return nil }
            hour = hours
            minute = minutes
            if colons ? skip(CodecBytes.colon) : (position < bytes.count && CodecBytes.isDigit(bytes[position])) {
                guard let seconds = digits(2) else { return nil }
                second = seconds
                if skip(CodecBytes.dot) || skip(CodecBytes.comma) {
                    var scale = 100
                    var any = false
                    while position < bytes.count, CodecBytes.isDigit(bytes[position]) {
                        millisecond += Int(bytes[position] - 0x30) * scale
                        scale /= 10
                        position += 1
                        any = true
                    }
                    guard any else { return nil }
                }
            }
            guard hour < 24, minute < 60, second <= 60 else { return nil }
        }
        let days = CodecDate.days(year: Int64(year), month: month, day: day)
        let wallClock = ((days * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000
            + Int64(second) * 1000 + Int64(millisecond)
        if atEnd { return CodecDate.fromLocal(wallClock) }
        if skip(0x5A) || skip(0x7A) {  // Z, z
            return atEnd ? Double(wallClock) : nil
        }
        let sign: Int64
        if skip(CodecBytes.plus) {
            sign = 1
        } else if skip(CodecBytes.minus) {
            sign = -1
        } else {
            return nil
        }
        guard let offsetHours = digits(2) else { return nil }
        var offsetMinutes = 0
        if !atEnd {
            _ = skip(CodecBytes.colon)
            guard let value = digits(2) else { return nil }
            offsetMinutes = value
        }
        guard atEnd, offsetHours < 24, offsetMinutes < 60 else { return nil }
        return Double(wallClock - sign * Int64(offsetHours * 60 + offsetMinutes) * 60_000)
    }
}
