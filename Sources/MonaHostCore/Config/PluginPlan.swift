/// Which plugin libraries the configuration asks for, in load order.
///
/// The built-in protocols (RTMFP, RTMP, HTTP, WebSocket, RTSP) load unless the port key that switches
/// them off is 0 (`<PROTO>.port`; WebSocket rides on HTTP's) without a TLS port beside it (`tlsPort` of
/// that section) or `<PROTO>.enabled` is false; their library is
/// `libMona<PROTO>.so`, overridable with `<PROTO>.library`. Any other section with a `library=` key is a
/// drop-in plugin, loaded after the built-ins in ini order unless `enabled` is false.
public struct PluginPlan: Sendable, Equatable {
    /// One plugin to load.
    public struct Item: Sendable, Equatable {
        /// The configuration section, also the plugin's name for handoffs ("HTTP", "echo").
        public var section: String
        /// The library file name or path, as configured.
        public var library: String
        /// An explicit entry symbol (`<section>.entry`), or nil for the standard look-up.
        public var entry: String?
        /// True for a built-in protocol the user did not mention: its absence is only a warning.
        public var implicit: Bool
    }

    /// A protocol MonaServer always offers: its section and the key whose 0 switches it off.
    public struct BuiltIn: Sendable {
        public var section: String
        public var portKey: String
        /// The TLS port key of the same section as `portKey` ("HTTP.tlsPort").
        public var tlsPortKey: String { "\(portKey.dropLast("port".count))tlsPort" }
    }

    /// Built-in protocols, in load order (HTTP before WebSocket, which it hands upgrades to and whose
    /// port it shares).
    public static let builtIns = [
        BuiltIn(section: "RTMFP", portKey: "RTMFP.port"), BuiltIn(section: "RTMP", portKey: "RTMP.port"),
        BuiltIn(section: "HTTP", portKey: "HTTP.port"), BuiltIn(section: "WebSocket", portKey: "HTTP.port"),
        BuiltIn(section: "RTSP", portKey: "RTSP.port"),
    ]
    /// Sections that configure the server itself, never plugins.
    public static let reserved: Set<String> = ["logs", "servers", "plugins", "application", "arguments", "TLS"]

    /// The plugins to load.
    public private(set) var items: [Item] = []
    /// Sections that were disabled, with the reason (for a log line each).
    public private(set) var disabled: [(section: String, reason: String)] = []

    public static func == (lhs: PluginPlan, rhs: PluginPlan) -> Bool {
        lhs.items == rhs.items && lhs.disabled.map(\.section) == rhs.disabled.map(\.section)
    }

    /// Works out the plan from a configuration.
    public init(config: ServerConfig) {
        for builtIn in Self.builtIns {
            let (section, portKey) = (builtIn.section, builtIn.portKey)
            if config.int(portKey, default: 1) == 0, config.int(builtIn.tlsPortKey, default: 0) == 0 {
                disabled.append((section, "\(portKey)=0"))
                continue
            }
            if !config.bool("\(section).enabled", default: true) {
                disabled.append((section, "\(section).enabled=false"))
                continue
            }
            let library = config["\(section).library"]
            let mentioned = library != nil || config.iniSections.contains(section)
            items.append(Item(section: section, library: library ?? "libMona\(section).so",
                              entry: config["\(section).entry"], implicit: !mentioned))
        }
        for section in config.iniSections where !Self.builtIns.contains(where: { $0.section == section }) && !Self.reserved.contains(section) {
            guard let library = config["\(section).library"], !library.isEmpty else { continue }
            if !config.bool("\(section).enabled", default: true) {
                disabled.append((section, "\(section).enabled=false"))
                continue
            }
            items.append(Item(section: section, library: library, entry: config["\(section).entry"], implicit: false))
        }
    }
}
