import Logging

/// MonaServer's log levels (the `--log` option): 0 logs nothing, 1 fatal … 8 trace.
public enum MonaLogLevel: Int32, Sendable, CaseIterable, Comparable {
    case fatal = 1, critic, error, warn, note, info, debug, trace

    public static func < (lhs: MonaLogLevel, rhs: MonaLogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The level's name as MonaServer prints it.
    public var name: String {
        switch self {
        case .fatal: "FATAL"
        case .critic: "CRITIC"
        case .error: "ERROR"
        case .warn: "WARN"
        case .note: "NOTE"
        case .info: "INFO"
        case .debug: "DEBUG"
        case .trace: "TRACE"
        }
    }

    /// The swift-log level this level travels as (fatal and critic share `.critical`; the handler tells
    /// them apart by the `mona.level` metadata).
    public var swiftLogLevel: Logger.Level {
        switch self {
        case .fatal, .critic: .critical
        case .error: .error
        case .warn: .warning
        case .note: .notice
        case .info: .info
        case .debug: .debug
        case .trace: .trace
        }
    }

    /// The Mona level of a swift-log level (`.critical` → critic unless metadata says fatal).
    public init(_ level: Logger.Level, metadata: Logger.Metadata?) {
        switch level {
        case .critical: self = metadata?["mona.level"] == "1" ? .fatal : .critic
        case .error: self = .error
        case .warning: self = .warn
        case .notice: self = .note
        case .info: self = .info
        case .debug: self = .debug
        case .trace: self = .trace
        }
    }
}
