#if canImport(Glibc)
import Glibc
#endif

/// Confines the files onRead answers to www/: the real path of a file inside it (a folder with a
/// trailing '/'), or nil when it does not exist, leaves www/ (through "..", a symbolic link…) or is a
/// Lua script.
///
/// Answers are remembered for `ConfinedPaths.lifetime`, so that the requests of a hot name cost the
/// loop no system call, or one:
/// - A path found is answered from memory. A stale answer is harmless: the plugin opens the file
///   relative to www/ without following links (a file gone or replaced by a link fails there).
/// - A path missing from a folder is answered from memory while that folder is unchanged: one lstat of
///   the folder checks its identity and its modification and change times, so a file created in it is
///   served at once. The answer is remembered only when the folder's times are at least a second old,
///   so a change within the file system's timestamp granularity cannot hide a new file. (A live
///   stream's names, `live/name.m3u8`, miss from `www/live/` on every request: they are the reason.)
struct WWWConfinement {
    /// The www/ folder as configured (absolute or relative to the working directory).
    let root: String
    /// The answers remembered (read by tests).
    private(set) var answers = ConfinedPaths()
    /// The real path of www/, kept with the device and inode it had (checked by a stat on every use).
    private var realRoot: (device: UInt64, inode: UInt64, real: String)?

    init(root: String) { self.root = root }

    /// The confined real path of `path` (a path below `root`), or nil.
    mutating func confine(_ path: String) -> String? {
        let now = Self.clock(CLOCK_MONOTONIC) / 1_000_000
        switch answers.lookup(path, now: now) {
        case .found(let resolved)?: return resolved
        case .missing(let folder)?:
            if folder.isUnchanged() { return nil }
        case nil: break
        }
        let resolved: String?
        switch lookUp(path) {
        case .resolved(let real):
            resolved = real
            answers.remember(path, .found(real), now: now)
        case .missing(let folder):
            resolved = nil
            if let folder, folder.isSettled(now: Self.clock(CLOCK_REALTIME)) {
                answers.remember(path, .missing(in: folder), now: now)
            }
        case .unsure:
            resolved = onDisk(path)
        }
        return resolved
    }

    /// A clock in nanoseconds.
    private static func clock(_ id: clockid_t) -> UInt64 {
        var now = timespec()
        clock_gettime(id, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// The look-up through realpath(3), for paths the quick one is unsure of.
    private func onDisk(_ path: String) -> String? {
        guard !path.utf8.contains(0) else { return nil }
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        guard let base = realpath(root, nil) else { return nil }
        defer { free(base) }
        let resolved = String(cString: real)
        let prefix = String(cString: base)
        guard resolved == prefix || resolved.hasPrefix(prefix + "/") else { return nil }
        var info = stat()
        guard stat(resolved, &info) == 0 else { return nil }
        if (info.st_mode & S_IFMT) == S_IFDIR { return resolved.hasSuffix("/") ? resolved : resolved + "/" }
        guard !resolved.lowercased().hasSuffix(".lua") else { return nil }
        return resolved
    }

    /// What the quick look-up found.
    private enum QuickAnswer {
        case resolved(String)
        /// Not there; with the folder it is missing from when the miss can be remembered.
        case missing(ConfinedPaths.Folder?)
        /// A symbolic link, "." or ".." below www/, or not a path below www/: realpath decides.
        case unsure
    }

    /// The look-up without realpath(3) (a readlink per component of both paths) in the common case: a
    /// path "www/a/b" with plain components, none a symbolic link (one lstat each), resolves to the
    /// real path of www/ (kept, revalidated by a stat) followed by "/a/b".
    private mutating func lookUp(_ path: String) -> QuickAnswer {
        guard !path.utf8.contains(0) else { return .missing(nil) }
        var path = path
        var root = root
        return path.withUTF8 { bytes -> QuickAnswer in
            let prefix = root.utf8.count
            guard prefix > 0, bytes.count > prefix, bytes[prefix] == UInt8(ascii: "/"),
                  root.withUTF8({ memcmp($0.baseAddress!, bytes.baseAddress!, prefix) == 0 }) else { return .unsure }
            // The components after "www/": plain names only ("a//b", "." and ".." go to realpath).
            let folder = bytes[bytes.count - 1] == UInt8(ascii: "/")
            let end = folder ? bytes.count - 1 : bytes.count
            var components = 0
            var start = prefix + 1
            while start < end {
                var stop = start
                while stop < end, bytes[stop] != UInt8(ascii: "/") { stop += 1 }
                let length = stop - start
                if length == 0 || (bytes[start] == UInt8(ascii: ".") && (length == 1 || (length == 2 && bytes[start + 1] == UInt8(ascii: "."))))
                { return .unsure }
                components += 1
                start = stop + 1
            }
            if start == end { return .unsure } // an empty last component ("a//")
            var info = stat()
            guard stat(root, &info) == 0 else { return .unsure }
            let real: String
            if let known = realRoot, known.device == UInt64(info.st_dev), known.inode == UInt64(info.st_ino) {
                real = known.real
            } else {
                guard let resolved = realpath(root, nil) else { return .unsure }
                real = String(cString: resolved)
                free(resolved)
                realRoot = (UInt64(info.st_dev), UInt64(info.st_ino), real)
            }
            if components == 0 { return (info.st_mode & S_IFMT) == S_IFDIR ? .resolved(real + "/") : .unsure }
            // lstat each prefix "www/a", "www/a/b"… of a NUL-terminated copy of the path; a component
            // missing from a folder reports that folder (www/ itself is followed as stat does).
            let missing = withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { text -> QuickAnswer? in
                UnsafeMutableRawBufferPointer(text).copyMemory(from: UnsafeRawBufferPointer(bytes))
                text[bytes.count] = 0
                var parent = ConfinedPaths.Folder(path: root, follow: true, info)
                var stop = prefix + 1
                for position in 0..<components {
                    while stop < end, bytes[stop] != UInt8(ascii: "/") { stop += 1 }
                    let saved = text[stop]
                    text[stop] = 0
                    let found = lstat(text.baseAddress!, &info) == 0
                    let absent = !found && errno == ENOENT
                    let kind = info.st_mode & S_IFMT
                    if found, kind == S_IFDIR, position < components - 1 {
                        parent = ConfinedPaths.Folder(path: String(cString: text.baseAddress!), follow: false, info)
                    }
                    text[stop] = saved
                    guard found else { return .missing(absent ? parent : nil) }
                    if kind == S_IFLNK { return .unsure }
                    if kind != S_IFDIR, position < components - 1 { return .missing(nil) }
                    stop += 1
                }
                return nil
            }
            if let missing { return missing }
            let relative = String(decoding: UnsafeBufferPointer(rebasing: bytes[prefix..<end]), as: UTF8.self)
            if (info.st_mode & S_IFMT) == S_IFDIR { return .resolved(real + relative + "/") }
            if folder { return .missing(nil) } // "file/": realpath fails on a file followed by a slash
            if end - prefix > 4, bytes[end - 4] == UInt8(ascii: "."),
               bytes[end - 3] | 0x20 == UInt8(ascii: "l"), bytes[end - 2] | 0x20 == UInt8(ascii: "u"),
               bytes[end - 1] | 0x20 == UInt8(ascii: "a") { return .missing(nil) } // a Lua script
            return .resolved(real + relative)
        }
    }
}

/// A bounded memory of confined paths (`WWWConfinement`): each answer lives `lifetime` ms; when
/// `capacity` paths are held the memory starts afresh (a scan of distinct names cannot grow it).
struct ConfinedPaths {
    static let lifetime: UInt64 = 1000
    static let capacity = 4096

    /// A remembered answer.
    enum Answer: Equatable {
        /// The real path.
        case found(String)
        /// Not in that folder (valid while the folder is unchanged).
        case missing(in: Folder)
    }

    /// A folder as one stat saw it: what tells that an entry was added, removed or renamed in it.
    struct Folder: Equatable {
        let path: String
        /// Whether the folder is looked at through stat (www/ itself, which may be a link) or lstat.
        let follow: Bool
        let device: UInt64
        let inode: UInt64
        /// Modification and status change times, nanoseconds since the epoch.
        let modified: Int64
        let changed: Int64

        /// Whether a stat now sees the same folder with the same times.
        func isUnchanged() -> Bool {
            var info = stat()
            guard (follow ? stat(path, &info) : lstat(path, &info)) == 0 else { return false }
            return Folder(path: path, follow: follow, info) == self
        }

        /// Whether both times are at least a second before `now` (realtime nanoseconds): a later change
        /// of the folder then moves them, whatever the file system's timestamp granularity.
        func isSettled(now: UInt64) -> Bool {
            let limit = Int64(truncatingIfNeeded: now) - 1_000_000_000
            return modified <= limit && changed <= limit
        }
    }

    private var entries: [String: (answer: Answer, at: UInt64)] = [:]

    func lookup(_ path: String, now: UInt64) -> Answer? {
        guard let entry = entries[path], now &- entry.at < Self.lifetime else { return nil }
        return entry.answer
    }

    mutating func remember(_ path: String, _ answer: Answer, now: UInt64) {
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[path] = (answer, now)
    }

    var count: Int { entries.count }
}

extension ConfinedPaths.Folder {
    /// The folder at `path` as `info` (its stat or lstat) describes it (the memberwise initializer
    /// stays: tests build folders by hand).
    init(path: String, follow: Bool, _ info: stat) {
        self.init(path: path, follow: follow, device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                  modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                  changed: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec))
    }
}
