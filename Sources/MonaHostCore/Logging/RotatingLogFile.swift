#if canImport(Glibc)
import Glibc
#endif

/// A log file that rotates MonaServer's way: `<name>.0` is the current file, `<name>.1` … the older
/// ones, at most `rotation` files; with `rotation` 0 a single file `<name>` that starts over when full.
/// A file rotates when it would grow past `maxSize` bytes (0: never). Not thread-safe: `LogSink`
/// serialises every call.
public final class RotatingLogFile {
    public let directory: String
    public let name: String
    public let rotation: Int
    public let maxSize: Int
    private var file: UnsafeMutablePointer<FILE>?
    private var size = 0

    /// Opens (appending to) the current file, creating the directory if needed. Nil when impossible.
    public init?(directory: String, name: String, rotation: Int, maxSize: Int) {
        self.directory = directory
        self.name = name
        self.rotation = max(0, rotation)
        self.maxSize = max(0, maxSize)
        if !Self.makeDirectories(directory) { return nil }
        guard open(truncate: false) else { return nil }
    }

    deinit { if let file { fclose(file) } }

    /// Path of the n-th file (0 = current).
    public func path(_ n: Int) -> String {
        rotation == 0 ? "\(directory)/\(name)" : "\(directory)/\(name).\(n)"
    }

    /// Appends one line (the newline is added).
    public func write(_ line: String) {
        var line = line
        line.append("\n")
        let count = line.utf8.count
        if maxSize > 0, size > 0, size + count > maxSize { rotate() }
        guard let file else { return }
        line.withCString { _ = fputs($0, file) }
        size += count
    }

    /// Pushes buffered lines to the file.
    public func flush() { if let file { fflush(file) } }

    private func rotate() {
        if let file { fclose(file) }
        file = nil
        if rotation == 0 {
            _ = open(truncate: true)
            return
        }
        unlink(path(rotation - 1))
        var n = rotation - 1
        while n > 0 {
            rename(path(n - 1), path(n))
            n -= 1
        }
        _ = open(truncate: true)
    }

    private func open(truncate: Bool) -> Bool {
        file = fopen(path(0), truncate ? "w" : "a")
        guard let file else { return false }
        fseek(file, 0, SEEK_END)
        size = ftell(file)
        return true
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) -> Bool {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }
}
