import Testing

/// The plugins' sessions driven in process by `FakeHost`. One serialized parent: the Swift plugin kit
/// keeps a table of its instances that, like the real host's loop, expects one thread at a time.
@Suite("Plugin sessions on the fake host", .serialized)
enum PluginSessions {}
