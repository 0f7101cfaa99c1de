import Glibc
import Testing

@testable import MonaPersistence

/// A fresh temporary folder, deleted when the value is released.
final class Scratch {
    let path: String

    init() {
        var template = Array("/tmp/mona-persistence-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { removeAll(path) }

    /// `path/relative`.
    func at(_ relative: String) -> String { path + "/" + relative }
}

/// Collects what a store logs.
final class LogRecorder: @unchecked Sendable {
    private let lock = Lock()
    private var lines: [(PersistentStore.LogLevel, String)] = []

    var callback: @Sendable (PersistentStore.LogLevel, String) -> Void {
        { level, message in self.lock.withLock { self.lines.append((level, message)) } }
    }

    var messages: [(PersistentStore.LogLevel, String)] { lock.withLock { lines } }

    func count(_ level: PersistentStore.LogLevel) -> Int { messages.filter { $0.0 == level }.count }
}

/// A store on `root` whose log goes to `recorder` (or nowhere).
func makeStore(_ root: String, interval: Int = 0, recorder: LogRecorder? = nil) -> PersistentStore {
    guard let recorder else { return PersistentStore(root: root, flushInterval: interval, log: { _, _ in }) }
    return PersistentStore(root: root, flushInterval: interval, log: recorder.callback)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func md5(_ text: String) -> String { MD5.hex(bytes(text)) }

/// Creates `path` and its missing parents.
func makeFolders(_ path: String) {
    var prefix = ""
    for component in path.split(separator: "/") {
        prefix += "/" + component
        _ = mkdir(prefix, 0o755)
    }
}

/// Writes `content` to `path` (creating its parents).
func writeFile(_ path: String, _ content: [UInt8], mtime: Int64? = nil) {
    if let slash = path.lastIndex(of: "/") { makeFolders(String(path[..<slash])) }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    defer { close(fd) }
    if !content.isEmpty {
        precondition(content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == content.count)
    }
    if let mtime {
        let stamp = timespec(tv_sec: Int(mtime / 1_000_000_000), tv_nsec: Int(mtime % 1_000_000_000))
        var times = [stamp, stamp]
        precondition(futimens(fd, &times) == 0)
    }
}

func writeFile(_ path: String, _ content: String, mtime: Int64? = nil) { writeFile(path, bytes(content), mtime: mtime) }

/// The content of `path`, nil when it cannot be read.
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var content: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return count == 0 ? content : nil }
        content += buffer[0..<count]
    }
}

func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// Every file and folder below `path`, as sorted relative paths (folders end with `/`). Never follows links.
func tree(_ path: String) -> [String] {
    var result: [String] = []
    func walk(_ folder: String, _ prefix: String) {
        guard let stream = opendir(folder) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            lstat(folder + "/" + name, &info)
            if info.st_mode & S_IFMT == S_IFDIR {
                result.append(prefix + name + "/")
                walk(folder + "/" + name, prefix + name + "/")
            } else {
                result.append(prefix + name)
            }
        }
    }
    walk(path, "")
    return result.sorted()
}

/// Deletes `path` and everything below it.
func removeAll(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        for child in tree(path).reversed() {
            _ = remove(path + "/" + (child.hasSuffix("/") ? String(child.dropLast()) : child))
        }
    }
    _ = remove(path)
}

/// A small deterministic random generator (SplitMix64), so a failing seed can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The loaded entries as a dictionary keyed by path.
func asMap(_ entries: [PersistentStore.Entry]) -> [[String]: [UInt8]] {
    Dictionary(entries.map { ($0.path, $0.value) }, uniquingKeysWith: { first, _ in first })
}

/// Names the writer leaves only when interrupted.
func leftovers(_ root: String) -> [String] {
    tree(root).filter { path in
        path.split(separator: "/").contains { $0.hasPrefix(".mona-tmp-") || $0.hasPrefix(".mona-del-") }
    }
}
