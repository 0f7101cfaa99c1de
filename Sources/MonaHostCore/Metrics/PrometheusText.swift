/// Prometheus' text exposition format 0.0.4: for each metric family a `# HELP` and a `# TYPE` line,
/// then its samples, `name{label="value",…} number`, one per line.
struct PrometheusText {
    /// One sample: its labels (in order) and its value.
    struct Sample {
        let labels: [(String, String)]
        /// The value as written.
        let value: String

        init(_ labels: [(String, String)] = [], _ value: Double) {
            self.labels = labels
            self.value = PrometheusText.number(value)
        }

        /// Integers are written exactly (a Double would round counters past 2^53).
        init(_ labels: [(String, String)] = [], _ value: UInt64) {
            self.labels = labels
            self.value = String(value)
        }
    }

    /// Kinds of families.
    enum Kind: String {
        case counter, gauge
    }

    private(set) var text = ""

    /// Appends a family; one without samples still says what it is.
    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ samples: [Sample]) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
        for sample in samples {
            text += name
            if !sample.labels.isEmpty {
                text += "{" + sample.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " \(sample.value)\n"
        }
    }

    /// A family of one sample without labels.
    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ value: Double) {
        family(name, kind, help, [Sample([], value)])
    }

    /// Integers without a fraction (exact up to 2^53), others as Swift writes a Double (which Go's and
    /// Python's parsers read), and the format's spellings of infinities and NaN.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), value.magnitude < 9.007_199_254_740_992e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabel(_ value: String) -> String {
        escape(value, quotes: true)
    }

    /// A help text: backslash and line feed escaped.
    static func escapeHelp(_ value: String) -> String {
        escape(value, quotes: false)
    }

    private static func escape(_ value: String, quotes: Bool) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in value.unicodeScalars { // scalars: "\r\n" is one Character
            switch scalar {
            case "\\": escaped.append(contentsOf: #"\\"#.unicodeScalars)
            case "\"" where quotes: escaped.append(contentsOf: #"\""#.unicodeScalars)
            case "\n": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
