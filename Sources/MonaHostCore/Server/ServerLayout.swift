#if canImport(Glibc)
import Glibc
#endif

/// Where the server finds its files. By default everything sits next to the executable, as in
/// MonaServer 1.x: `MonaServer.ini`, `www/`, `data/`, `logs/` and the plugin libraries.
public struct ServerLayout: Sendable {
    /// The folder of the executable.
    public var executableDirectory: String
    /// The folder holding `www/`, `data/` and `logs/` (the executable's folder unless `--dir`).
    public var rootDirectory: String
    /// The configuration file (`<root>/MonaServer.ini` unless `--ini`).
    public var iniPath: String

    /// A layout; nil arguments take the defaults.
    public init(executableDirectory: String, root: String? = nil, ini: String? = nil) {
        self.executableDirectory = executableDirectory
        rootDirectory = root.map { Self.absolute($0) } ?? executableDirectory
        iniPath = ini.map { Self.absolute($0) } ?? "\(rootDirectory)/MonaServer.ini"
    }

    /// The folder of the running executable (from /proc/self/exe).
    public static func currentExecutableDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return absolute(".") }
        let path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return directory(of: path)
    }

    /// Folders searched for plugin libraries: `plugins.path` (relative to the root), the executable's
    /// folder, `<exe>/plugins`, and `<root>/plugins` when the root is elsewhere.
    public func pluginFolders(config: ServerConfig) -> [String] {
        var folders: [String] = []
        if let configured = config["plugins.path"], !configured.isEmpty {
            folders.append(resolve(configured))
        }
        folders.append(executableDirectory)
        folders.append("\(executableDirectory)/plugins")
        if rootDirectory != executableDirectory { folders.append("\(rootDirectory)/plugins") }
        var seen = Set<String>()
        return folders.filter { seen.insert($0).inserted }
    }

    /// The logs folder (`logs.directory`, relative to the root; default `<root>/logs`).
    public func logsDirectory(config: ServerConfig) -> String {
        resolve(config["logs.directory"].flatMap { $0.isEmpty ? nil : $0 } ?? "logs")
    }

    /// A path relative to the root made absolute (absolute paths are kept; a trailing slash is dropped).
    public func resolve(_ path: String) -> String {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path.hasPrefix("/") ? path : "\(rootDirectory)/\(path)"
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return trimmed(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path == "." ? cwd : trimmed("\(cwd)/\(path)")
    }

    private static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
