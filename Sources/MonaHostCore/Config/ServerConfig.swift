/// The server's configuration: MonaServer.ini over MonaServer's defaults, plus `application.*` and
/// `arguments.*` keys, as one case-sensitive key → text map (what Lua sees as `mona.configs`).
public struct ServerConfig: Sendable {
    /// Every key, case-sensitive.
    public private(set) var values: [String: String]
    /// Sections in the order the ini wrote them (drop-in plugins load in this order).
    public private(set) var iniSections: [String]

    /// MonaServer 1.x defaults of the server itself (lua-api.md §5.2). A protocol's defaults (its port,
    /// time-outs…) belong to its plugin, which declares them when it starts (config_default).
    public static let defaults: [String: String] = [
        "host": "0.0.0.0",
        "servers.port": "0",
        "logs.name": "log",
        "logs.rotation": "10",
        "logs.maxSize": "1000000",
    ]

    /// Defaults, then the ini's entries over them.
    public init(ini: IniFile?, extra: [String: String] = [:]) {
        var values = Self.defaults
        for entry in ini?.entries ?? [] { values[entry.key] = entry.value }
        for (key, value) in extra { values[key] = value }
        self.values = values
        self.iniSections = ini?.sections ?? []
    }

    /// The text of a key, or nil.
    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// A key as a boolean: absent → `defaultValue`; `0`, `false`, `no`, `off` (any case) and the empty
    /// string → false; anything else → true (MonaServer's rule).
    public func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let text = values[key] else { return defaultValue }
        return Self.parseBool(text)
    }

    /// MonaServer's boolean rule applied to a text.
    public static func parseBool(_ text: String) -> Bool {
        switch text.trimmingBlanks().lowercased() {
        case "0", "false", "no", "off", "": return false
        default: return true
        }
    }

    /// A key as an integer, or `defaultValue` when absent or not a number.
    public func int(_ key: String, default defaultValue: Int) -> Int {
        guard let text = values[key], let number = Int(text.trimmingBlanks()) else { return defaultValue }
        return number
    }

    /// The keys that start with `prefix`, sorted.
    public func keys(withPrefix prefix: String) -> [String] {
        values.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }
}
