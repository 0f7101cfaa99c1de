import PluginABI

/// Reads the versioned structs a plugin hands the host (its `mona_plugin` table, `mona_client_info`):
/// any struct_size from the 1.0 layout up is accepted; the bytes it covers are copied and the fields
/// of later minors it lacks read as zero (NULL), as the header's append-only rule promises.
enum ABIStruct {
    /// The size of the 1.0 layout of `mona_client_info` (MONA_CLIENT_INFO_SIZE_1_0: up to client_id).
    static let clientInfoSize10 = MemoryLayout<mona_client_info>.offset(of: \.client_id)! + MemoryLayout<UnsafeRawPointer>.size
    /// The size of the 1.0 layout of `mona_plugin` (MONA_PLUGIN_SIZE_1_0: up to sink_released).
    static let pluginSize10 = MemoryLayout<mona_plugin>.offset(of: \.sink_released)! + MemoryLayout<UnsafeRawPointer>.size

    /// `zeroed` overwritten with the first `declaredSize` bytes at `source` (at most the size of `T`:
    /// fields a newer plugin appended are not read), or nil when `declaredSize` is below `minimumSize`.
    static func copy<T>(_ source: UnsafeRawPointer, declaredSize: UInt32, minimumSize: Int, into zeroed: T) -> T? {
        guard Int(declaredSize) >= minimumSize else { return nil }
        var value = zeroed
        let count = min(Int(declaredSize), MemoryLayout<T>.size)
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: count)) }
        return value
    }
}
