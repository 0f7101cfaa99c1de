import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go: the console (stdout, coloured on a terminal) and a rotating file, written in
/// order by one background queue so that no caller, least of all the event loop, waits on I/O.
public final class LogSink: @unchecked Sendable {
    /// Lines more verbose than this are dropped (0 drops everything).
    public let maxLevel: Int32
    private let queue = DispatchQueue(label: "mona.log")
    private let file: RotatingLogFile?
    private let console: Bool
    private let colour: Bool
    private let pid = getpid()

    /// A sink printing up to `maxLevel`; `file` nil logs to the console only.
    public init(maxLevel: Int32, console: Bool = true, file: RotatingLogFile?) {
        self.maxLevel = maxLevel
        self.console = console
        self.file = file
        self.colour = console && isatty(1) != 0
    }

    /// Logs one message. Thread-safe; returns at once.
    public func log(_ level: MonaLogLevel, _ message: String, file path: String, line: Int) {
        guard level.rawValue <= maxLevel else { return }
        var clockNow = timespec()
        clock_gettime(CLOCK_REALTIME, &clockNow)
        let now = clockNow
        let location = "\(Self.shortPath(path))[\(line)]"
        queue.async { [self] in
            var tm = tm()
            var seconds = now.tv_sec
            localtime_r(&seconds, &tm)
            let ms = Int(now.tv_nsec / 1_000_000)
            let clock = "\(Self.pad(tm.tm_hour)):\(Self.pad(tm.tm_min)):\(Self.pad(tm.tm_sec)).\(Self.pad(ms, 3))"
            if console {
                var text = "\(clock) \(level.name) \(location) \(message)\n"
                if colour, let code = Self.colourCode(level) { text = "\u{1B}[\(code)m\(text.dropLast())\u{1B}[0m\n" }
                text.withCString { _ = write(1, $0, strlen($0)) }
            }
            if let file = self.file {
                // MonaServer's file layout, with the month counted from 1 (1.x prints it off by one).
                file.write("\(Self.pad(tm.tm_mday))/\(Self.pad(tm.tm_mon + 1)) \(clock)  \(level.name)\t\(pid)\t\(location)  \(message)")
                file.flush()
            }
        }
    }

    /// Waits until every line logged so far is written.
    public func drain() { queue.sync {} }

    /// The last two components of a path, as MonaServer shows script locations (`www/main.lua`).
    static func shortPath(_ path: String) -> Substring {
        let parts = path.split(separator: "/")
        guard parts.count > 2 else { return Substring(path) }
        let start = parts[parts.count - 2].startIndex
        return path[start...]
    }

    private static func pad(_ value: some BinaryInteger, _ width: Int = 2) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func colourCode(_ level: MonaLogLevel) -> String? {
        switch level {
        case .fatal, .critic, .error: "31"
        case .warn: "33"
        case .note: "36"
        case .info: nil
        case .debug, .trace: "90"
        }
    }
}

/// A swift-log handler that writes through a `LogSink` with MonaServer's levels.
public struct MonaLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let sink: LogSink

    /// A handler letting through what the sink's level allows.
    public init(sink: LogSink) {
        self.sink = sink
        let level = MonaLogLevel(rawValue: min(max(sink.maxLevel, 1), 8)) ?? .info
        self.logLevel = level.swiftLogLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        sink.log(MonaLogLevel(event.level, metadata: event.metadata), "\(event.message)", file: event.file, line: Int(event.line))
    }
}

extension Logger {
    /// Logs at a MonaServer level.
    public func mona(_ level: MonaLogLevel, _ message: @autoclosure () -> String, file: String = #fileID,
                     line: UInt = #line) {
        log(level: level.swiftLogLevel, "\(message())", metadata: level == .fatal ? ["mona.level": "1"] : nil,
            file: file, function: "", line: line)
    }
}
