import Glibc

extension Writer {
    /// Reads every entry under the root and cleans the tree on the way (see `Writer`'s notes): 1.x rules
    /// (corrupt md5-named files and empty folders deleted, foreign files and folders left alone) plus the
    /// leftovers of an interrupted write or removal. 1.x folders whose name is not the canonical encoding
    /// of their key (a key starting with `%`, or of 32 hex characters) are renamed to it.
    func load() -> [PersistentStore.Entry] {
        var entries: [PersistentStore.Entry] = []
        do {
            guard let folder = try Directory.openRoot(root, create: false, budget: &budget) else { return [] }
            _ = try scan(folder, path: [], into: &entries)
        } catch {
            log(.error, "Database: \(error)")
        }
        return entries.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    /// Loads the entries of `folder` (whose path is `path`); true when the folder is empty afterwards.
    private func scan(_ folder: Directory, path: [String], into entries: inout [PersistentStore.Entry]) throws -> Bool {
        var kept = 0  // entries that stay in this folder
        var values: [(name: [UInt8], value: [UInt8], mtime: Int64)] = []
        for (name, kind) in try folder.list() {
            if KeyCodec.hasPrefix(name, KeyCodec.tombstonePrefix) {
                // An interrupted removal: finish it.
                if !tidy({ try folder.removeTree(name, budget: &budget) }) { kept += 1 }
                continue
            }
            switch kind {
            case .file where KeyCodec.hasPrefix(name, KeyCodec.tempPrefix):
                // An interrupted write: the value file it was meant to become is not there yet.
                if !tidy({ try folder.unlink(name, budget: &budget) }) { kept += 1 }
            case .file where MD5.isDigestName(name):
                guard let value = try? folder.read(name), let info = folder.info(name) else {
                    log(.warn, "Database: cannot read \(folder.describe(name))")
                    kept += 1
                    continue
                }
                if MD5.hex(value).utf8.elementsEqual(name) {
                    values.append((name, value, modificationTime(info)))
                } else {
                    log(.warn, "Database: \(folder.describe(name)) does not match its md5, deleted")
                    if !tidy({ try folder.unlink(name, budget: &budget) }) { kept += 1 }
                }
            case .directory:
                if !(try load(child: name, of: folder, path: path, into: &entries)) { kept += 1 }
            default:
                kept += 1  // foreign file, link or device: left alone
            }
        }
        if path.isEmpty {
            return false  // never deletes the root; a value file at the root is no entry: left alone
        }
        // Newest modification time wins; a tie (never made by this writer) goes to the greater name.
        let newest = values.max {
            $0.mtime != $1.mtime ? $0.mtime < $1.mtime : $0.name.lexicographicallyPrecedes($1.name)
        }
        if let newest {
            // Several valid files: a write was interrupted between its rename and its cleanup.
            for stale in values where stale.name != newest.name {
                log(.debug, "Database: \(folder.describe(stale.name)) superseded by a newer value, deleted")
                _ = tidy({ try folder.unlink(stale.name, budget: &budget) })
            }
            entries.append(PersistentStore.Entry(path: path, value: newest.value))
            kept += 1
        }
        return kept == 0
    }

    /// Loads the sub-folder `name`; true when it was deleted (empty) or removed.
    private func load(child name: [UInt8], of folder: Directory, path: [String],
                      into entries: inout [PersistentStore.Entry]) throws -> Bool {
        guard let (key, canonical) = KeyCodec.decode(name) else {
            log(.debug, "Database: \(folder.describe(name)) is not a key (not UTF-8), left alone")
            return false
        }
        var current = name
        if !canonical {
            // A 1.x folder of a key that this version encodes: give it its canonical name.
            let target = KeyCodec.encode(key)
            if folder.info(target) != nil {
                log(.warn, "Database: \(folder.describe(name)) duplicates \(folder.describe(target)), left alone")
                return false
            }
            guard tidy({
                try folder.rename(name, target, budget: &budget)
                try folder.sync(budget: &budget)
            }) else { return false }
            current = target
        }
        var empty = false
        guard tidy({
            guard let child = try folder.child(current, create: false, budget: &budget) else { return }
            empty = try scan(child, path: path + [key], into: &entries)
        }) else { return false }
        return empty && tidy({ try folder.unlink(current, directory: true, budget: &budget) })
    }

    /// Runs a cleaning step; false (logged) when it failed.
    private func tidy(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return true
        } catch {
            log(.warn, "Database: \(error)")
            return false
        }
    }
}
