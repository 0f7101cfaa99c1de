import Glibc

/// A failed system call, with the path it was about.
struct DiskError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// Thrown by a mutating step when the test crash budget is spent: the writer stops as if killed there.
struct InjectedCrash: Error {}

/// Test hook: how many more mutating file-system steps the writer may perform before it "crashes".
/// Nil (the default) means no limit. Only touched on the writer queue.
struct CrashBudget {
    var remaining: Int?
    var performed = 0

    /// Accounts for one mutating step, or throws when the budget is spent.
    mutating func step() throws {
        if let remaining {
            guard remaining > 0 else { throw InjectedCrash() }
            self.remaining = remaining - 1
        }
        performed += 1
    }
}

/// What a directory entry is, never following symbolic links.
enum EntryKind { case file, directory, other }

/// The modification time of a file, in nanoseconds since the epoch.
func modificationTime(_ info: stat) -> Int64 {
    Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
}

/// Runs `body` with `name` as a C string (names never hold NUL).
func withCName<T>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
    try (name + [0]).withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}

/// An open directory, the base of every `*at` call (so a component is never resolved through a symbolic
/// link and nothing can land outside the data root). Closed when released.
final class Directory {
    let fd: Int32
    /// For messages only.
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// The printable path of a child.
    func describe(_ name: [UInt8]) -> String { path + "/" + String(decoding: name, as: UTF8.self) }

    /// Opens the root folder, creating it (and fsyncing each parent it creates) when `create` is set.
    /// Nil when it does not exist and `create` is false.
    static func openRoot(_ path: String, create: Bool, budget: inout CrashBudget) throws -> Directory? {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        var fd = open(path, flags)
        if fd < 0 && errno == ENOENT && create {
            var prefix = path.hasPrefix("/") ? "/" : ""
            for component in path.split(separator: "/") {
                let parent = prefix.isEmpty ? "." : prefix
                prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
                try budget.step()
                if mkdir(prefix, 0o755) == 0 {
                    try budget.step()
                    let parentFD = open(parent, flags)
                    guard parentFD >= 0 else { throw DiskError(operation: "open", path: parent, code: errno) }
                    defer { close(parentFD) }
                    guard fsync(parentFD) == 0 else { throw DiskError(operation: "fsync", path: parent, code: errno) }
                } else if errno != EEXIST {
                    throw DiskError(operation: "mkdir", path: prefix, code: errno)
                }
            }
            fd = open(path, flags)
        }
        if fd < 0 {
            if errno == ENOENT && !create { return nil }
            throw DiskError(operation: "open", path: path, code: errno)
        }
        return Directory(fd: fd, path: path)
    }

    /// Opens the sub-folder `name` (never through a symbolic link). When missing: creates it and fsyncs
    /// this folder if `create` is set, else returns nil.
    func child(_ name: [UInt8], create: Bool, budget: inout CrashBudget) throws -> Directory? {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = withCName(name) { openat(self.fd, $0, flags) }
        if fd < 0 && errno == ENOENT && create {
            try budget.step()
            if withCName(name, { mkdirat(self.fd, $0, 0o755) }) != 0 && errno != EEXIST {
                throw DiskError(operation: "mkdir", path: describe(name), code: errno)
            }
            try sync(budget: &budget)
            fd = withCName(name) { openat(self.fd, $0, flags) }
        }
        if fd < 0 {
            if errno == ENOENT && !create { return nil }
            throw DiskError(operation: "open", path: describe(name), code: errno)
        }
        return Directory(fd: fd, path: describe(name))
    }

    /// The names and kinds of the entries, without `.` and `..`.
    func list() throws -> [(name: [UInt8], kind: EntryKind)] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            let code = errno
            if copy >= 0 { close(copy) }
            throw DiskError(operation: "opendir", path: path, code: code)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var result: [(name: [UInt8], kind: EntryKind)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let kind: EntryKind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_REG): kind = .file
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_UNKNOWN):
                guard let info = self.info(name) else { continue }
                kind = Directory.kind(info)
            default: kind = .other
            }
            result.append((name, kind))
        }
        return result
    }

    /// The kind of a stat result.
    static func kind(_ info: stat) -> EntryKind {
        switch info.st_mode & S_IFMT {
        case S_IFREG: .file
        case S_IFDIR: .directory
        default: .other
        }
    }

    /// lstat of a child, nil when missing.
    func info(_ name: [UInt8]) -> stat? {
        var info = stat()
        let result = withCName(name) { fstatat(fd, $0, &info, AT_SYMLINK_NOFOLLOW) }
        return result == 0 ? info : nil
    }

    /// The content of a regular file (never through a symbolic link).
    func read(_ name: [UInt8]) throws -> [UInt8] {
        let file = withCName(name) { openat(fd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard file >= 0 else { throw DiskError(operation: "open", path: describe(name), code: errno) }
        defer { close(file) }
        var content: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw DiskError(operation: "read", path: describe(name), code: errno)
            }
            if count == 0 { return content }
            content += buffer[0..<count]
        }
    }

    /// Size of one write step (a crash between two steps leaves a torn file).
    static let chunkSize = 65536

    /// Creates or truncates `name`, writes `bytes`, stamps it with `mtime` (ns since the epoch) and fsyncs it.
    func write(_ name: [UInt8], _ bytes: [UInt8], mtime: Int64, budget: inout CrashBudget) throws {
        try budget.step()
        let file = withCName(name) { openat(fd, $0, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644) }
        guard file >= 0 else { throw DiskError(operation: "open", path: describe(name), code: errno) }
        defer { close(file) }
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + Directory.chunkSize, bytes.count)
            do {
                try budget.step()
            } catch {
                // A crash in the middle of a write: half of this chunk reaches the file.
                _ = bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress! + offset, (end - offset) / 2) }
                throw error
            }
            let written = bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress! + offset, end - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw DiskError(operation: "write", path: describe(name), code: errno)
            }
            offset += written
        }
        try budget.step()
        let stamp = timespec(tv_sec: Int(mtime / 1_000_000_000), tv_nsec: Int(mtime % 1_000_000_000))
        var times = [stamp, stamp]  // access and modification time
        guard futimens(file, &times) == 0 else {
            throw DiskError(operation: "futimens", path: describe(name), code: errno)
        }
        try budget.step()
        guard fsync(file) == 0 else { throw DiskError(operation: "fsync", path: describe(name), code: errno) }
    }

    /// Atomically renames `from` to `to` inside this folder.
    func rename(_ from: [UInt8], _ to: [UInt8], budget: inout CrashBudget) throws {
        try budget.step()
        let result = withCName(from) { source in withCName(to) { renameat(fd, source, fd, $0) } }
        guard result == 0 else { throw DiskError(operation: "rename", path: describe(from), code: errno) }
    }

    /// Swaps the entries `first` and `second` in one atomic step (renameat2's RENAME_EXCHANGE). Throws
    /// EINVAL, ENOSYS or EOPNOTSUPP where the file system or the kernel cannot.
    func exchange(_ first: [UInt8], _ second: [UInt8], budget: inout CrashBudget) throws {
        try budget.step()
        guard let renameat2 = renameat2Function else {
            throw DiskError(operation: "exchange", path: describe(first), code: ENOSYS)
        }
        let result = withCName(first) { source in withCName(second) { renameat2(fd, source, fd, $0, renameExchange) } }
        guard result == 0 else { throw DiskError(operation: "exchange", path: describe(first), code: errno) }
    }

    /// Makes this folder's entries (creations, renames) durable.
    func sync(budget: inout CrashBudget) throws {
        try budget.step()
        guard fsync(fd) == 0 else { throw DiskError(operation: "fsync", path: path, code: errno) }
    }

    /// Deletes a file, or an empty folder when `directory` is set. A missing entry is not an error.
    func unlink(_ name: [UInt8], directory: Bool = false, budget: inout CrashBudget) throws {
        try budget.step()
        let result = withCName(name) { unlinkat(fd, $0, directory ? AT_REMOVEDIR : 0) }
        guard result == 0 || errno == ENOENT else {
            throw DiskError(operation: directory ? "rmdir" : "unlink", path: describe(name), code: errno)
        }
    }

    /// Deletes `name` and everything below it, never following symbolic links.
    func removeTree(_ name: [UInt8], budget: inout CrashBudget) throws {
        guard let info = info(name) else { return }
        guard Directory.kind(info) == .directory else { return try unlink(name, budget: &budget) }
        if let folder = try child(name, create: false, budget: &budget) {
            for entry in try folder.list() {
                if entry.kind == .directory {
                    try folder.removeTree(entry.name, budget: &budget)
                } else {
                    try folder.unlink(entry.name, budget: &budget)
                }
            }
        }
        try unlink(name, directory: true, budget: &budget)
    }
}

/// renameat2(2), found at run time: Swift's Glibc module does not declare it.
private let renameat2Function: (@convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32)? = {
    guard let symbol = dlsym(nil, "renameat2") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32).self)
}()

/// renameat2's flag that swaps two entries (linux/fs.h).
private let renameExchange: UInt32 = 1 << 1

/// The wall clock in nanoseconds since the epoch.
func currentTime() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
