/// The Lua prelude: chunks run once when the Lua state starts, in order; each receives the host's native
/// functions and the shared internal table `M` (the entry points the host calls live there too). Their
/// sources are the `.lua` files of `Lua/Prelude/`, embedded at build time (`LuaPreludeSources`, made by
/// the EmbedLuaPrelude build plugin).
enum LuaPrelude {
    /// The parts (file names without `.lua`) in load order.
    static let parts = ["core", "objects", "applications", "clients", "media", "data"]

    /// (chunk name, source) in load order; a missing part's source is nil. Chunk names are what Lua's
    /// messages show ("prelude/core:12: …").
    static var chunks: [(name: String, source: String?)] {
        parts.map { ("=prelude/\($0)", LuaPreludeSources.text[$0]) }
    }
}
