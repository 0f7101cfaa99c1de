import MonaPluginKit
import PluginABI

/// The RTMFP protocol plugin (RFC 7016 transport, RFC 7425 Flash profile): one UDP socket on
/// `RTMFP.port` (1935 by default, beside RTMP's TCP 1935).
final class RTMFPPlugin: MonaPluginInstance {
    let host: MonaHost
    let section: String

    init(host: MonaHost, section: String) {
        self.host = host
        self.section = section
    }

    func start() -> Int32 {
        host.declareDefaults(["port": "1935", "keepaliveServer": "15", "keepalivePeer": "10"]) // MonaServer's
        let address = host.config("\(section).host") ?? host.config("host") ?? "0.0.0.0"
        guard let port = UInt16(host.config("\(section).port") ?? "1935") else {
            host.log(MONA_LOG_ERROR, "\(section).port is not a port number")
            return MONA_E_INVAL
        }
        return host.bindUDP(host: address, port: port).status
    }

    func datagram(socket: UnsafeMutableRawPointer?, udp: mona_handle, from: mona_addr, bytes: UnsafeRawBufferPointer) {}
}

nonisolated(unsafe) let rtmfpDescriptor = monaMakeDescriptor(name: "RTMFP", version: "1.0") { api, section in
    guard let api, let section else { return nil }
    let host = MonaHost(api)
    return monaBox(RTMFPPlugin(host: host, section: String(cString: section)), host: host)
}

/// The RTMFP plugin's entry symbol.
@_cdecl("mona_plugin_entry_rtmfp")
public func monaPluginEntryRTMFP(_ hostABI: UInt32) -> UnsafePointer<mona_plugin>? {
    monaAccepts(hostABI: hostABI) ? rtmfpDescriptor : nil
}
