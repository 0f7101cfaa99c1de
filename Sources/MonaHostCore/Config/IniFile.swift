/// Parses MonaServer's INI dialect into ordered `section.key = value` entries.
///
/// The grammar is MonaServer 1.x's: a line whose first non-blank character is `;` is a comment,
/// `[name]` opens a section whose keys become `name.key`, `key=value` defines a key (before any
/// section: a global key), a line without `=` defines the key with an empty value. Keys and values
/// are trimmed; keys are case-sensitive; quotes are kept literally; a later duplicate overrides.
public struct IniFile: Sendable {
    /// One `key = value` line, with its section already prefixed to the key.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
    }

    /// The entries in file order (a duplicate key keeps the position of its first occurrence).
    public private(set) var entries: [Entry] = []
    /// Sections in file order, as written between brackets.
    public private(set) var sections: [String] = []

    /// Parses INI text.
    public init(text: String) {
        var section = ""
        var index: [String: Int] = [:]
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingBlanks()
            if line.isEmpty || line.first == ";" { continue }
            if line.first == "[" {
                let body = line.dropFirst()
                let name = (body.firstIndex(of: "]").map { body[..<$0] } ?? body).trimmingBlanks()
                section = String(name)
                if !section.isEmpty && !sections.contains(section) { sections.append(section) }
                continue
            }
            let key: Substring
            let value: Substring
            if let eq = line.firstIndex(of: "=") {
                key = line[..<eq].trimmingBlanks()
                value = line[line.index(after: eq)...].trimmingBlanks()
            } else {
                key = line
                value = ""
            }
            if key.isEmpty { continue }
            let fullKey = section.isEmpty ? String(key) : "\(section).\(key)"
            if let at = index[fullKey] {
                entries[at].value = String(value)
            } else {
                index[fullKey] = entries.count
                entries.append(Entry(key: fullKey, value: String(value)))
            }
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingBlanks() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }
}
