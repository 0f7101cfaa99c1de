// Small static files kept in memory, revalidated off the loop.
//
// Every file is opened on the host's blocking pool (ConfinedOpen: the path the host confined, no
// symbolic link followed). A file of at most `maxFileBytes` is read in the same trip and its content kept
// with its identity (device, inode, size, modification and change times, to the nanosecond). A request
// within `revalidateMs` of the last check is answered from memory without touching the file system; a
// later one checks the identity on the pool (an open and an fstat) and reads the file again only if it
// changed. A file changed less than `settleMs` ago is never kept: a second change within the file
// system's timestamp granularity could leave the same times and size. At most `maxTotalBytes` are kept.

import MonaPluginKit
#if canImport(Glibc)
import Glibc
#endif

/// The small-file cache of the HTTP plugin (loop thread only; `load` runs on the pool).
final class FileCache {
    /// Files up to this size are kept once read; larger ones are streamed.
    static let maxFileBytes = 64 * 1024
    /// Most content bytes kept in all.
    static let maxTotalBytes = 16 << 20
    /// A file whose status changed less than this ago (wall clock) is read but not kept.
    static let settleMs: Int64 = 2000
    /// A kept file checked less than this ago (monotonic) is served without a look at the file system.
    static let revalidateMs: Int64 = 1000

    /// What identifies one version of a file.
    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int
        let changedSeconds: Int
        let changedNanoseconds: Int

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int(info.st_size)
            modifiedSeconds = Int(info.st_mtim.tv_sec)
            modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
            changedSeconds = Int(info.st_ctim.tv_sec)
            changedNanoseconds = Int(info.st_ctim.tv_nsec)
        }

        var validators: FileValidators {
            FileValidators(size: size, modifiedSeconds: modifiedSeconds, modifiedNanoseconds: modifiedNanoseconds)
        }

        /// When the file last changed (content or status), in ms since 1970.
        var changedMs: Int64 { Int64(changedSeconds) * 1000 + Int64(changedNanoseconds / 1_000_000) }
    }

    /// What the response headers of a file version say, computed once per version.
    struct Facts {
        let identity: Identity
        let validators: FileValidators
        /// Last-Modified.
        let modified: String
        /// Content-Type (by the file name's extension).
        let type: String
        /// "Content-Type: …\r\nLast-Modified: …\r\nETag: …\r\nAccept-Ranges: bytes\r\n".
        let headerLines: [UInt8]

        init(_ identity: Identity, path: String) {
            self.identity = identity
            validators = identity.validators
            modified = HTTPDate.format(validators.modified)
            type = MIMETypes.type(forFileName: path)
            var lines: [UInt8] = []
            lines.append(literal: "Content-Type: ")
            lines.append(text: type)
            lines.append(literal: "\r\nLast-Modified: ")
            lines.append(text: modified)
            lines.append(literal: "\r\nETag: ")
            lines.append(text: validators.etag)
            lines.append(literal: "\r\nAccept-Ranges: bytes\r\n")
            headerLines = lines
        }
    }

    /// What the pool found at a path.
    enum Loaded {
        /// The file is the version the cache holds.
        case unchanged
        /// A small file, read whole (short if it shrank meanwhile).
        case small(Identity, [UInt8])
        /// A larger file, open for streaming (the caller closes `fd`).
        case large(Identity, fd: Int32)
        /// Cannot be served: `errno` of the failure (EACCES → 403, anything else → 404).
        case failed(Int32)
    }

    private struct Entry {
        let facts: Facts
        let content: [UInt8]
        /// When the file was last found unchanged (monotonic ms).
        var checkedMs: Int64
    }

    private var entries: [String: Entry] = [:]
    /// Content bytes kept.
    private(set) var totalBytes = 0

    /// The kept version of `path` when it was checked less than `revalidateMs` before `nowMs` (monotonic).
    func fresh(_ path: String, nowMs: Int64) -> (Facts, [UInt8])? {
        guard let entry = entries[path], nowMs - entry.checkedMs < Self.revalidateMs else { return nil }
        return (entry.facts, entry.content)
    }

    /// The identity of the kept version of `path`, for `load` to compare with.
    func identity(of path: String) -> Identity? { entries[path]?.facts.identity }

    /// The kept version of `path`, found unchanged at `nowMs` (monotonic); nil if it was dropped meanwhile.
    func confirm(_ path: String, nowMs: Int64) -> (Facts, [UInt8])? {
        guard var entry = entries[path] else { return nil }
        entry.checkedMs = nowMs
        entries[path] = entry
        return (entry.facts, entry.content)
    }

    /// The pool side: opens `path` (ConfinedOpen), and unless it is the `known` version, reads it whole
    /// when small. No state of the cache is touched.
    static func load(_ path: String, known: Identity?) -> Loaded {
        let fd = ConfinedOpen.open(path, flags: O_RDONLY)
        guard fd >= 0 else { return .failed(-fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return .failed(ENOENT)
        }
        let identity = Identity(info)
        if identity == known {
            Glibc.close(fd)
            return .unchanged
        }
        guard identity.size <= maxFileBytes else { return .large(identity, fd: fd) }
        let content = FileRead.bytes(of: fd, from: 0, count: identity.size)
        Glibc.close(fd)
        return .small(identity, content)
    }

    /// Keeps the content read of a small file, unless it changed too recently (`wallMs`: the wall clock)
    /// or was not read whole; `nowMs` (monotonic) is when it was checked.
    func keep(_ path: String, _ facts: Facts, _ content: [UInt8], wallMs: Int64, nowMs: Int64) {
        forget(path)
        guard content.count == facts.identity.size, facts.identity.changedMs <= wallMs - Self.settleMs else { return }
        let size = content.count
        guard size <= Self.maxTotalBytes else { return }
        while totalBytes + size > Self.maxTotalBytes, let victim = entries.keys.first { forget(victim) }
        entries[path] = Entry(facts: facts, content: content, checkedMs: nowMs)
        totalBytes += size
    }

    /// Drops what is kept of `path` (it is gone or cannot be served).
    func forget(_ path: String) {
        guard let entry = entries.removeValue(forKey: path) else { return }
        totalBytes -= entry.content.count
    }
}
