/// The Lua prelude: chunks run once when the Lua state starts, in order; each receives the host's native
/// functions and the shared internal table `M` (the entry points the host calls live there too). Their
/// sources are the `.lua` files of `Lua/Prelude/`, compiled into the binary by SwiftPM (`embedInCode`
/// resources: `PackageResources`).
enum LuaPrelude {
    /// The parts (file names without `.lua`) in load order.
    static let parts = ["core", "objects", "applications", "clients", "media", "data", "groups", "redirections", "sockets", "servers"]

    /// (chunk name, source) in load order; a missing part's source is nil. Chunk names are what Lua's
    /// messages show ("prelude/core:12: …").
    static var chunks: [(name: String, source: String?)] {
        parts.map { ("=prelude/\($0)", LuaPreludeSources.text[$0]) }
    }
}

/// The prelude's sources by part, as SwiftPM embedded them.
enum LuaPreludeSources {
    static let text: [String: String] = [
        "core": PackageResources.core_lua, "objects": PackageResources.objects_lua,
        "applications": PackageResources.applications_lua, "clients": PackageResources.clients_lua,
        "media": PackageResources.media_lua, "data": PackageResources.data_lua,
        "groups": PackageResources.groups_lua, "redirections": PackageResources.redirections_lua,
        "sockets": PackageResources.sockets_lua, "servers": PackageResources.servers_lua,
    ].mapValues { String(decoding: $0, as: UTF8.self) }
}
