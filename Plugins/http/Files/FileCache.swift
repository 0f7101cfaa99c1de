// Small static files kept in memory, revalidated by stat on every request.
//
// Reading a small file on the host's blocking pool costs two thread hops per request, more than the
// read itself. So a file of at most `maxFileBytes` is read on the pool once (the loop only reads
// metadata, as the ABI asks) and its content kept while its identity (device, inode, size,
// modification and change times, to the nanosecond) stays the same: then one stat(2) per request
// serves it. A file changed less than `settleMs` ago is never kept: a second change within the file
// system's timestamp granularity could leave the same times and size. At most `maxTotalBytes` are
// kept in all.

import MonaPluginKit
#if canImport(Glibc)
import Glibc
#endif

/// The small-file cache of the HTTP plugin (loop thread only).
final class FileCache {
    /// Files up to this size are kept once read; larger ones are streamed.
    static let maxFileBytes = 64 * 1024
    /// Most content bytes kept in all.
    static let maxTotalBytes = 16 << 20
    /// A file whose status changed less than this ago (wall clock) is read but not kept.
    static let settleMs: Int64 = 2000

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

    /// An opened file.
    enum Opened {
        /// A small file from the cache: its whole content.
        case cached(Facts, [UInt8])
        /// A small file not in the cache, open: the caller reads it on the pool, `keep`s it and closes `fd`.
        case small(Facts, fd: Int32)
        /// A larger file, open for streaming (the caller closes `fd`).
        case large(Facts, fd: Int32)
        /// Cannot be served: `errno` of the failure (EACCES → 403, anything else → 404).
        case failed(Int32)
    }

    private struct Entry {
        let facts: Facts
        let content: [UInt8]
    }

    private var entries: [String: Entry] = [:]
    /// Content bytes kept.
    private(set) var totalBytes = 0

    /// The file at `path` (a regular file), from the cache when it did not change; metadata only.
    func open(_ path: String) -> Opened {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            forget(path)
            return .failed(code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            forget(path)
            return .failed(ENOENT)
        }
        let seen = Identity(info)
        if let entry = entries[path] {
            if entry.facts.identity == seen { return .cached(entry.facts, entry.content) }
            forget(path)
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failed(errno) }
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return .failed(ENOENT)
        }
        let identity = Identity(info)
        let facts = Facts(identity, path: path)
        return identity.size <= Self.maxFileBytes ? .small(facts, fd: fd) : .large(facts, fd: fd)
    }

    /// Keeps the content read of a small file, unless it changed too recently (`nowMs`: the wall clock)
    /// or was not read whole.
    func keep(_ path: String, _ facts: Facts, _ content: [UInt8], nowMs: Int64) {
        guard content.count == facts.identity.size, facts.identity.changedMs <= nowMs - Self.settleMs else { return }
        let entry = Entry(facts: facts, content: content)
        let size = entry.content.count
        guard size <= Self.maxTotalBytes else { return }
        while totalBytes + size > Self.maxTotalBytes, let victim = entries.keys.first { forget(victim) }
        entries[path] = entry
        totalBytes += size
    }

    private func forget(_ path: String) {
        guard let entry = entries.removeValue(forKey: path) else { return }
        totalBytes -= entry.content.count
    }
}
