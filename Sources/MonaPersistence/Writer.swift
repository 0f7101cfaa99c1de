import Glibc

/// The disk side of the store: applies queued changes and loads the tree. Used only on the store's serial
/// writer queue, so it needs no locking.
///
/// Every step is ordered so that a crash (process kill) between any two system calls leaves each entry
/// with its old or its new value:
/// - write: `.mona-tmp-<md5>` is written, stamped newer than the folder's other value files, fsynced,
///   renamed to `<md5>`; the folder is fsynced; only then are the other md5-named files deleted.
///   Missing parent folders are created first, each creation made durable by fsyncing its parent.
/// - remove: the entry's folder is renamed to `.mona-del-<unique>` in its parent, the parent is fsynced,
///   then the tombstone is deleted recursively.
/// - remove, then write again below the same entry (`data.t = nil; data.t = {…}` in one batch): the new
///   content is written into a new `.mona-del-<unique>` folder, which is then exchanged with the entry's
///   folder in one atomic step (renameat2 RENAME_EXCHANGE) and the parent fsynced; the tombstone, now
///   holding the old content, is deleted. A crash leaves the whole old or the whole new entry, never
///   neither. (Where the file system cannot exchange: remove, then write.)
/// - load: tombstones and temp files are deleted, a value file whose content does not match its name is
///   deleted, of several valid value files the newest (mtime in ns) wins, empty folders are deleted.
final class Writer {
    let root: String
    let log: @Sendable (PersistentStore.LogLevel, String) -> Void
    /// Test hook: the writer "dies" when it runs out (see `CrashBudget`).
    var budget = CrashBudget()
    /// Set once an injected crash happened: nothing is written any more, as if the process were gone.
    private(set) var crashed = false
    /// How many value files were renamed into place (tests count writes with it).
    private(set) var valuesWritten = 0
    private var tombstones: UInt64 = 0

    init(root: String, log: @escaping @Sendable (PersistentStore.LogLevel, String) -> Void) {
        self.root = root
        self.log = log
    }

    // MARK: - applying changes

    /// Applies `changes` in order and returns what failed (to merge back and retry later).
    func apply(_ changes: PendingChange) -> PendingChange {
        guard !crashed, !changes.isEmpty else { return PendingChange() }
        do {
            var folder: Directory?
            guard try attempt({ folder = try Directory.openRoot(root, create: changes.writes, budget: &budget) })
            else { return changes }
            guard let folder else { return PendingChange() }
            if changes.removeFirst {
                guard try attempt({ try clear(folder) }) else { return changes }
            }
            var failed = PendingChange()
            for key in changes.order {
                guard let change = changes.children[key] else { continue }
                failed.adopt(key, try apply(change, key: key, in: folder))
            }
            return failed
        } catch {
            crashed = true  // only InjectedCrash gets here
            return PendingChange()
        }
    }

    /// Runs `body`, logging a disk error (false: to retry) and letting an injected crash through. An error
    /// that no retry can fix (a name too long for the file system) drops the change (true).
    private func attempt(_ body: () throws -> Void) throws -> Bool {
        do {
            try body()
            return true
        } catch let crash as InjectedCrash {
            throw crash
        } catch let error as DiskError where error.code == ENAMETOOLONG {
            log(.error, "Database: \(error), change dropped")
            return true
        } catch {
            log(.error, "Database: \(error)")
            return false
        }
    }

    /// Applies the change of the entry `key` of `parent`; returns what failed.
    private func apply(_ change: PendingChange, key: String, in parent: Directory) throws -> PendingChange {
        let name = KeyCodec.encode(key)
        var remainder = change
        remainder.removeFirst = false
        if change.removeFirst {
            if change.writes, let info = parent.info(name), Directory.kind(info) == .directory {
                var replaced = false
                guard try attempt({ replaced = try replaceEntry(name, with: remainder, in: parent) }) else { return change }
                if replaced { return PendingChange() }
            }
            guard try attempt({ try removeEntry(name, in: parent) }) else { return change }
        }
        guard !change.children.isEmpty || change.value != nil else { return PendingChange() }
        var opened: Directory?
        guard try attempt({ opened = try parent.child(name, create: change.writes, budget: &budget) })
        else { return remainder }
        guard let folder = opened else { return PendingChange() }  // nothing there to remove
        let failed = try applyContent(remainder, in: folder)
        if !change.writes && change.children.values.contains(where: { $0.removes }) {
            // Removals below may have emptied the folder: an empty folder holds no data (best effort).
            try budget.step()
            _ = withCName(name) { unlinkat(parent.fd, $0, AT_REMOVEDIR) }
        }
        return failed
    }

    /// Writes the value and applies the children of `change` in `folder`; returns what failed.
    private func applyContent(_ change: PendingChange, in folder: Directory) throws -> PendingChange {
        var failed = PendingChange()
        if let value = change.value, try !attempt({ try writeValue(value, in: folder) }) {
            failed.value = value
        }
        for childKey in change.order {
            guard let child = change.children[childKey] else { continue }
            failed.adopt(childKey, try apply(child, key: childKey, in: folder))
        }
        return failed
    }

    /// Replaces the entry folder `name` of `parent` by `content` atomically (see the type's notes); false
    /// when the file system cannot exchange two entries, and nothing changed.
    private func replaceEntry(_ name: [UInt8], with content: PendingChange, in parent: Directory) throws -> Bool {
        let staging = newTombstoneName()
        guard let folder = try parent.child(staging, create: true, budget: &budget) else { return false }
        guard try applyContent(content, in: folder).isEmpty else {
            try removeTombstone(staging, in: parent)
            throw DiskError(operation: "write", path: parent.describe(name), code: EIO)  // retried as a whole
        }
        do {
            try parent.exchange(staging, name, budget: &budget)
        } catch let error as DiskError where [EINVAL, ENOSYS, EOPNOTSUPP].contains(error.code) {
            try removeTombstone(staging, in: parent)
            return false
        }
        try parent.sync(budget: &budget)
        try removeTombstone(staging, in: parent)
        return true
    }

    /// Deletes a tombstone; a disk error is only logged (load deletes what is left).
    private func removeTombstone(_ tombstone: [UInt8], in parent: Directory) throws {
        do {
            try parent.removeTree(tombstone, budget: &budget)
        } catch let error as DiskError {
            log(.warn, "Database: \(error) (the removed entry is deleted on the next load)")
        }
    }

    /// A tombstone name not used so far in this process.
    private func newTombstoneName() -> [UInt8] {
        tombstones &+= 1
        let unique = String(UInt64(bitPattern: currentTime()), radix: 16) + "-" + String(tombstones, radix: 16)
        return KeyCodec.tombstonePrefix + Array(unique.utf8)
    }

    /// Writes `value` as the value file of `folder` (see the type's notes for the order of steps).
    private func writeValue(_ value: [UInt8], in folder: Directory) throws {
        let hash = Array(MD5.hex(value).utf8)
        var others: [[UInt8]] = []
        var newest = Int64.min
        for entry in try folder.list() where entry.kind == .file && MD5.isDigestName(entry.name) && entry.name != hash {
            others.append(entry.name)
            if let info = folder.info(entry.name) { newest = max(newest, modificationTime(info)) }
        }
        let now = currentTime()
        let temp = KeyCodec.tempPrefix + hash
        do {
            try folder.write(temp, value, mtime: newest == .min ? now : max(now, newest + 1), budget: &budget)
            try folder.rename(temp, hash, budget: &budget)
        } catch let error as DiskError {
            _ = withCName(temp) { unlinkat(folder.fd, $0, 0) }
            throw error
        }
        try folder.sync(budget: &budget)
        valuesWritten += 1
        for other in others {
            do {
                try folder.unlink(other, budget: &budget)
            } catch let error as DiskError {
                log(.warn, "Database: \(error) (the newer value wins on load)")
            }
        }
    }

    /// Removes the entry folder `name` of `parent` and everything below it, atomically.
    private func removeEntry(_ name: [UInt8], in parent: Directory) throws {
        guard let info = parent.info(name), Directory.kind(info) == .directory else { return }
        var tombstone: [UInt8] = []
        for attempt in 0..<100 {
            tombstone = newTombstoneName()
            do {
                try parent.rename(name, tombstone, budget: &budget)
                break
            } catch let error as DiskError where (error.code == EEXIST || error.code == ENOTEMPTY) && attempt < 99 {
                continue
            }
        }
        try parent.sync(budget: &budget)
        try removeTombstone(tombstone, in: parent)
    }

    /// Removes every entry folder of the root (foreign files stay).
    private func clear(_ root: Directory) throws {
        for entry in try root.list() where entry.kind == .directory {
            if KeyCodec.hasPrefix(entry.name, KeyCodec.tombstonePrefix) { continue }
            try removeEntry(entry.name, in: root)
        }
    }
}
