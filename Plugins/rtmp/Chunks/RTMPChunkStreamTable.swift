/// Values by chunk stream id, for the chunk decoder. The ids of the one-byte basic header (2...63,
/// what clients use) index an array: no hashing on the per-chunk path. Other ids (up to 65599) go to a
/// dictionary, so that a client cycling through many of them costs hashing, not a linear search.
struct RTMPChunkStreamTable<Value> {
    private var direct = [Value?](repeating: nil, count: 64)
    private var others: [UInt32: Value] = [:]

    subscript(csid: UInt32) -> Value? {
        get { csid < 64 ? direct[Int(csid)] : others[csid] }
        _modify {
            if csid < 64 { yield &direct[Int(csid)] } else { yield &others[csid] }
        }
    }

    /// Removes and returns the value of `csid`.
    mutating func removeValue(forKey csid: UInt32) -> Value? {
        guard let value = self[csid] else { return nil }
        self[csid] = nil
        return value
    }

    mutating func removeAll() {
        for index in direct.indices { direct[index] = nil }
        others = [:]
    }
}
