/// A dictionary for peer-driven state: an entry lives `lifetime` milliseconds from its insertion, and
/// the table never holds more than `capacity` entries (inserting into a full table drops the oldest).
/// Lookups ignore expired entries; `expire(now:)` frees them. Memory stays bounded: the insertion
/// order is compacted whenever removed entries make up most of it.
struct RTMFPExpiringTable<Key: Hashable, Value> {
    let capacity: Int
    let lifetime: UInt64

    private struct Entry {
        var value: Value
        let created: UInt64
        /// Its place in the insertion order (`order` may still hold removed keys: they have no entry,
        /// or an entry with another serial).
        let serial: UInt64
    }

    private var entries: [Key: Entry] = [:]
    /// Keys in insertion order from `orderStart` on, with their serial.
    private var order: [(key: Key, serial: UInt64)] = []
    private var orderStart = 0
    private var nextSerial: UInt64 = 0

    init(capacity: Int, lifetime: UInt64) {
        self.capacity = max(1, capacity)
        self.lifetime = lifetime
    }

    /// Entries held, expired ones included until `expire(now:)`.
    var count: Int { entries.count }

    /// The value for `key` unless absent or expired at `now`.
    func value(for key: Key, now: UInt64) -> Value? {
        guard let entry = entries[key], !isExpired(entry, now: now) else { return nil }
        return entry.value
    }

    /// Inserts (or replaces, as a new entry) `value` for `key`, dropping the oldest entry when full.
    mutating func insert(_ value: Value, for key: Key, now: UInt64) {
        if entries.removeValue(forKey: key) == nil {
            while entries.count >= capacity, removeOldest() {}
        }
        entries[key] = Entry(value: value, created: now, serial: nextSerial)
        order.append((key, nextSerial))
        nextSerial += 1
        compactIfNeeded()
    }

    /// Changes the value of a live entry, keeping its age; false when there is none.
    @discardableResult
    mutating func update(_ key: Key, now: UInt64, _ change: (inout Value) -> Void) -> Bool {
        guard var entry = entries[key], !isExpired(entry, now: now) else { return false }
        change(&entry.value)
        entries[key] = entry
        return true
    }

    /// Forgets `key`.
    mutating func remove(_ key: Key) {
        entries[key] = nil
        compactIfNeeded()
    }

    /// Frees every entry expired at `now`.
    mutating func expire(now: UInt64) {
        while orderStart < order.count {
            let (key, serial) = order[orderStart]
            if let entry = entries[key], entry.serial == serial {
                guard isExpired(entry, now: now) else { break }
                entries[key] = nil
            }
            orderStart += 1
        }
        compactIfNeeded()
    }

    private func isExpired(_ entry: Entry, now: UInt64) -> Bool {
        now >= entry.created && now - entry.created >= lifetime
    }

    /// Drops the oldest live entry; false when there is none.
    private mutating func removeOldest() -> Bool {
        while orderStart < order.count {
            let (key, serial) = order[orderStart]
            orderStart += 1
            if let entry = entries[key], entry.serial == serial {
                entries[key] = nil
                return true
            }
        }
        return false
    }

    /// Rebuilds the order when most of it is consumed or stale, so that it stays within a small
    /// multiple of `capacity`.
    private mutating func compactIfNeeded() {
        let pending = order.count - orderStart
        if pending > 2 * capacity + 16 {
            order = order[orderStart...].filter { entries[$0.key]?.serial == $0.serial }
            orderStart = 0
        } else if orderStart > 16, orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }
}
