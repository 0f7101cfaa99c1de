import ArgumentParser
import PluginABI

/// MonaServer's command line. Every option, known or not, is also kept as `arguments.<name>` in the
/// configuration, as MonaServer 1.x does, so that Lua applications can read their own options.
public struct ServerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "MonaServer",
        abstract: "A real-time server scripted in Lua (RTMFP, RTMP/RTMPE, HTTP, WebSocket, RTSP as plugins).",
        discussion: """
        By default the server reads MonaServer.ini, www/, data/ and logs/ next to the executable and loads \
        its plugins from there (and from a plugins/ folder beside it). Unknown options are accepted and \
        reach Lua as mona.configs["arguments.<name>"].
        """,
        version: MonaVersion.text
    )

    @Option(name: [.customShort("l"), .customLong("log")],
            help: "Log level: 0 nothing, 1 fatal, 2 critic, 3 error, 4 warn, 5 note, 6 info, 7 debug, 8 trace.")
    public var log: Int32 = 6

    @Option(name: .customLong("ini"), help: "Configuration file (default: <dir>/MonaServer.ini).")
    public var ini: String?

    @Option(name: .customLong("dir"), help: "Folder of www/, data/, logs/ (default: the executable's folder).")
    public var dir: String?

    @Argument(parsing: .allUnrecognized, help: .hidden)
    public var others: [String] = []

    public init() {}

    public func validate() throws {
        guard (0...8).contains(log) else { throw ValidationError("--log takes a level from 0 to 8") }
    }

    /// Rewrites MonaServer's option spellings into the parser's: `-name` and `--name` are the same
    /// long option, a value follows `=` or `:` (`--log:8`, `-l=8`), `-l`/`-h` stay short options.
    public static func normalized(_ arguments: [String]) -> [String] {
        arguments.flatMap { argument -> [String] in
            guard argument.hasPrefix("-"), argument != "-", argument != "--" else { return [argument] }
            let body = argument.drop { $0 == "-" }
            let separator = body.firstIndex { $0 == "=" || $0 == ":" }
            let name = separator.map { body[..<$0] } ?? body
            let value = separator.map { String(body[body.index(after: $0)...]) }
            let option = name.count == 1 ? "-\(name)" : "--\(name)"
            return value.map { [option, $0] } ?? [option]
        }
    }

    /// Parses a MonaServer command line (without the program name).
    public static func parseMonaServer(_ arguments: [String]) throws -> ServerCommand {
        try parse(normalized(arguments))
    }

    /// The `arguments.*` configuration keys for this command line.
    public var argumentKeys: [String: String] {
        var keys: [String: String] = ["arguments.log": "\(log)"]
        if let ini { keys["arguments.ini"] = ini }
        if let dir { keys["arguments.dir"] = dir }
        // Unknown options arrive normalized: "--name" possibly followed by its value.
        var index = others.startIndex
        while index < others.endIndex {
            let name = others[index].drop { $0 == "-" }
            index += 1
            guard !name.isEmpty else { continue }
            if index < others.endIndex, !others[index].hasPrefix("-") {
                keys["arguments.\(name)"] = others[index]
                index += 1
            } else {
                keys["arguments.\(name)"] = ""
            }
        }
        return keys
    }
}

/// The server's version texts.
public enum MonaVersion {
    public static let server = "0.1.0"
    public static var text: String { "MonaServer \(server) (Swift), plugin ABI \(abi)" }
    public static let abi = "\(MONA_ABI_VERSION >> 16).\(MONA_ABI_VERSION & 0xFFFF)"
}
