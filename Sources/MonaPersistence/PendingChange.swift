/// The changes queued since the last write, as a tree mirroring the entry paths. Applying a node means:
/// if `removeFirst`, delete the entry's folder and everything below it; then, if `value` is set, write it;
/// then apply the children. Merging a later change into the tree gives the same final state as applying
/// both in order, which is how repeated sets of one key collapse into one write, and how a set followed by
/// the removal of the key or of an ancestor resolves in order.
struct PendingChange {
    var removeFirst = false
    var value: [UInt8]?
    /// Child keys in first-change order (deterministic writes).
    var order: [String] = []
    var children: [String: PendingChange] = [:]

    var isEmpty: Bool { !removeFirst && value == nil && children.isEmpty }

    /// True when applying this node writes a value somewhere (so its folder must exist).
    var writes: Bool { value != nil || children.values.contains { $0.writes } }

    /// True when applying this node removes something somewhere.
    var removes: Bool { removeFirst || children.values.contains { $0.removes } }

    /// Queues `value` for the entry at `path` (relative to this node).
    mutating func set(_ path: ArraySlice<String>, _ value: [UInt8]) {
        guard let key = path.first else {
            self.value = value
            return
        }
        if children[key] == nil { order.append(key) }
        children[key, default: PendingChange()].set(path.dropFirst(), value)
    }

    /// Queues the removal of the entry at `path` and of everything below it.
    mutating func remove(_ path: ArraySlice<String>) {
        guard let key = path.first else {
            self = PendingChange(removeFirst: true)
            return
        }
        if children[key] == nil { order.append(key) }
        children[key, default: PendingChange()].remove(path.dropFirst())
    }

    /// Makes this tree "self, then later".
    mutating func merge(later: PendingChange) {
        if later.removeFirst {
            self = later
            return
        }
        if let value = later.value { self.value = value }
        for key in later.order {
            guard let change = later.children[key] else { continue }
            if children[key] == nil { order.append(key) }
            children[key, default: PendingChange()].merge(later: change)
        }
    }

    /// Adds a child that has something to do.
    mutating func adopt(_ key: String, _ change: PendingChange) {
        guard !change.isEmpty else { return }
        if children[key] == nil { order.append(key) }
        children[key] = change
    }
}
