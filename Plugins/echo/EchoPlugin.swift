import MonaPluginKit
import PluginABI

/// The echo service of RFC 862 as a plugin: every TCP byte and every UDP datagram goes back to its
/// sender. Configured by its section: `port` (TCP, default 7, 0 = off), `udpPort` (default: `port`,
/// 0 = off), `host` (default: the global `host`). It shows the plugin ABI at work and serves the
/// host's back-pressure tests and the echo benchmark.
final class EchoPlugin: MonaPluginInstance {
    /// Above this many bytes queued for a connection, the plugin stops reading it until the queue drains.
    static let pauseThreshold: Int64 = 256 * 1024

    /// One connection: whether its reading is paused.
    final class Session {
        var paused = false
    }

    let host: MonaHost
    let section: String

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
    }

    func start() -> Int32 {
        let address = host.config("\(section).host") ?? host.config("host") ?? "0.0.0.0"
        guard let port = portSetting("port", default: 7), let udpPort = portSetting("udpPort", default: port) else {
            return MONA_E_INVAL
        }
        if port != 0 {
            let status = host.listenTCP(host: address, port: port).status
            if status != MONA_OK { return status }
        }
        if udpPort != 0 {
            let status = host.bindUDP(host: address, port: udpPort).status
            if status != MONA_OK { return status }
        }
        if port == 0 && udpPort == 0 { host.log(MONA_LOG_WARN, "both port and udpPort are 0: echo serves nothing") }
        return MONA_OK
    }

    /// A port key of the section; logs and answers nil when it is not a port number.
    private func portSetting(_ key: String, default value: UInt16) -> UInt16? {
        guard let text = host.config("\(section).\(key)") else { return value }
        guard let number = UInt16(text) else {
            host.log(MONA_LOG_ERROR, "\(section).\(key)=\(text) is not a port number")
            return nil
        }
        return number
    }

    func accepted(connection: mona_handle, listener: UnsafeMutableRawPointer?, peer: mona_addr, local: mona_addr) -> AnyObject? {
        Session()
    }

    /// Connections handed over by another plugin are echoed too.
    func adopted(connection: mona_handle, peer: mona_addr, local: mona_addr, request: UnsafeRawBufferPointer) -> AnyObject? {
        Session()
    }

    func received(session: AnyObject, connection: mona_handle, bytes: UnsafeRawBufferPointer) -> Int {
        let queued = host.send(connection, bytes)
        if queued > Self.pauseThreshold, let session = session as? Session, !session.paused {
            session.paused = true
            host.setReading(connection, false)
        }
        return bytes.count
    }

    func writable(session: AnyObject, connection: mona_handle) {
        guard let session = session as? Session, session.paused else { return }
        session.paused = false
        host.setReading(connection, true)
    }

    func datagram(socket: UnsafeMutableRawPointer?, udp: mona_handle, from: mona_addr, bytes: UnsafeRawBufferPointer) {
        host.send(udp: udp, to: from, bytes)
    }
}

nonisolated(unsafe) let echoDescriptor = monaMakeDescriptor(name: "echo", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(EchoPlugin(host: host, section: String(cString: section)), host: host)
}

/// The echo plugin's entry symbol.
@_cdecl("mona_plugin_entry_echo")
public func monaPluginEntryEcho(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? echoDescriptor : nil
}
