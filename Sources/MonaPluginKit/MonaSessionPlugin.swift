import PluginABI

/// A plugin whose connections are all sessions of one class. The session object is itself the context
/// the host hands back with every TCP callback, so the kit gives each callback its session without a
/// lookup or a dynamic cast. The kit calls these instead of the `AnyObject` methods of
/// `MonaPluginInstance` (which such a plugin leaves to their defaults).
public protocol MonaSessionPlugin: MonaPluginInstance {
    associatedtype Session: AnyObject
    /// A connection was accepted: its session, or nil to refuse it.
    func accept(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> Session?
    /// A connection handed over by another plugin: its session, or nil to refuse it.
    func adopt(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> Session?
    /// Bytes arrived (with what was left unconsumed before): return how many were consumed.
    func receive(_ session: Session, bytes: UnsafeRawBufferPointer) -> Int
    /// The send queue drained after a send left bytes queued.
    func drained(_ session: Session)
    /// The peer half-closed: return true if handled; false (the default) closes gracefully.
    func peerFinished(_ session: Session) -> Bool
    /// The connection is over (MONA_CLOSED_*): the last call for this session.
    func closed(_ session: Session, reason: Int32)
}

extension MonaSessionPlugin {
    public func accept(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> Session? { nil }
    public func adopt(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> Session? { nil }
    public func drained(_ session: Session) {}
    public func peerFinished(_ session: Session) -> Bool { false }
    public func closed(_ session: Session, reason: Int32) {}
}

/// The box of a `MonaSessionPlugin`: TCP callbacks go to its typed methods, the session read straight
/// from the context pointer (it is the object the plugin returned, retained by the box's record).
final class SessionPluginBox<Plugin: MonaSessionPlugin>: PluginBox {
    private let plugin: Plugin

    init(_ plugin: Plugin, host: MonaHost) {
        self.plugin = plugin
        super.init(plugin, host: host)
    }

    private func session(_ context: UnsafeMutableRawPointer) -> Plugin.Session {
        Unmanaged<Plugin.Session>.fromOpaque(context).takeUnretainedValue()
    }

    override func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject? {
        plugin.accept(connection: connection, listener: listener, peer: peer, local: local)
    }

    override func adopted(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> AnyObject? {
        plugin.adopt(connection: connection, peer: peer, local: local, request: request)
    }

    override func received(_ context: UnsafeMutableRawPointer, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int {
        plugin.receive(session(context), bytes: bytes)
    }

    override func writable(_ context: UnsafeMutableRawPointer, connection: mona_handle) { plugin.drained(session(context)) }

    override func peerFinished(_ context: UnsafeMutableRawPointer, connection: mona_handle) -> Bool {
        plugin.peerFinished(session(context))
    }

    override func closed(_ context: UnsafeMutableRawPointer, connection: mona_handle, reason: Int32) {
        plugin.closed(session(context), reason: reason)
    }
}

/// The box of a session plugin (called with the plugin's concrete type opened by `monaBox`).
func sessionBox<Plugin: MonaSessionPlugin>(_ instance: Plugin, host: MonaHost) -> PluginBox {
    SessionPluginBox(instance, host: host)
}
