// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in. Calendar
// arithmetic is the proleptic Gregorian calendar in UTC, by day counts (no Foundation, no time zones).

/// Formats and parses HTTP dates as seconds since 1970-01-01 00:00:00 UTC.
public enum HTTPDate {
    /// A broken-down UTC time.
    public struct Civil: Equatable, Sendable {
        public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
        /// 0 = Sunday … 6 = Saturday.
        public var weekday: Int
    }

    public static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    public static let longDayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    public static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT", from seconds since 1970.
    public static func format(_ seconds: Int) -> String {
        let time = civil(seconds)
        return "\(dayNames[time.weekday]), \(FileText.padded(time.day, 2)) \(monthNames[time.month - 1]) "
            + "\(FileText.padded(time.year, 4)) \(FileText.padded(time.hour, 2)):\(FileText.padded(time.minute, 2)):"
            + "\(FileText.padded(time.second, 2)) GMT"
    }

    /// Parses IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994");
    /// nil if invalid. Day and month names are matched case-insensitively; the weekday is checked to be a
    /// day name but not against the date. RFC 850 two-digit years: 70–99 → 19xx, 00–69 → 20xx.
    public static func parse(_ text: String) -> Int? {
        let tokens = FileText.trim(text).split(separator: " ")
        switch tokens.count {
        case 6: // Sun, 06 Nov 1994 08:49:37 GMT
            guard weekday(tokens[0], comma: true, names: dayNames), FileText.equalsIgnoringCase(tokens[5], "GMT"),
                  tokens[1].utf8.count <= 2, tokens[3].utf8.count == 4,
                  let day = FileText.decimal(tokens[1]), let month = month(tokens[2]),
                  let year = FileText.decimal(tokens[3]) else { return nil }
            return seconds(year: year, month: month, day: day, clock: tokens[4])
        case 4: // Sunday, 06-Nov-94 08:49:37 GMT
            let parts = tokens[1].split(separator: "-", omittingEmptySubsequences: false)
            guard weekday(tokens[0], comma: true, names: longDayNames), FileText.equalsIgnoringCase(tokens[3], "GMT"),
                  parts.count == 3, parts[0].utf8.count <= 2, parts[2].utf8.count == 2,
                  let day = FileText.decimal(parts[0]), let month = month(parts[1]),
                  let shortYear = FileText.decimal(parts[2]) else { return nil }
            let year = shortYear < 70 ? 2000 + shortYear : 1900 + shortYear
            return seconds(year: year, month: month, day: day, clock: tokens[2])
        case 5: // Sun Nov  6 08:49:37 1994
            guard weekday(tokens[0], comma: false, names: dayNames), tokens[2].utf8.count <= 2,
                  tokens[4].utf8.count == 4, let month = month(tokens[1]),
                  let day = FileText.decimal(tokens[2]), let year = FileText.decimal(tokens[4]) else { return nil }
            return seconds(year: year, month: month, day: day, clock: tokens[3])
        default:
            return nil
        }
    }

    /// The UTC calendar fields of `seconds` since 1970.
    public static func civil(_ seconds: Int) -> Civil {
        let days = floorDiv(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        // Days → (year, month, day), counting eras of 400 years from 0000-03-01.
        let shifted = days + 719_468
        let era = floorDiv(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * marchMonth + 2) / 5 + 1
        let month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = (days % 7 + 7 + 4) % 7 // 1970-01-01 was a Thursday
        return Civil(year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60,
                     second: secondOfDay % 60, weekday: weekday)
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let marchYear = month <= 2 ? year - 1 : year
        let era = floorDiv(marchYear, 400)
        let yearOfEra = marchYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The number of days in `month` of `year`.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // MARK: parsing pieces

    /// Seconds since 1970 for a validated date and an "hh:mm:ss" clock (a leap second 60 is accepted).
    private static func seconds(year: Int, month: Int, day: Int, clock: Substring) -> Int? {
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard day >= 1, day <= daysInMonth(year: year, month: month), parts.count == 3,
              parts.allSatisfy({ $0.utf8.count == 2 }),
              let hour = FileText.decimal(parts[0]), let minute = FileText.decimal(parts[1]),
              let second = FileText.decimal(parts[2]), hour < 24, minute < 60, second <= 60 else { return nil }
        return days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The month number 1…12 of a three-letter month name.
    private static func month(_ name: Substring) -> Int? {
        monthNames.firstIndex { FileText.equalsIgnoringCase(name, $0) }.map { $0 + 1 }
    }

    /// Whether `token` is one of `names`, followed by a comma when `comma`.
    private static func weekday(_ token: Substring, comma: Bool, names: [String]) -> Bool {
        var name = token
        if comma {
            guard name.last == "," else { return false }
            name = name.dropLast()
        }
        return names.contains { FileText.equalsIgnoringCase(name, $0) }
    }

    /// Division rounding towards negative infinity.
    private static func floorDiv(_ value: Int, _ divisor: Int) -> Int {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }
}
