import MonaPluginKit
import PluginABI

/// A WebSocket upgrade request, in its turn: the connection goes to the WebSocket plugin with the bytes
/// that followed the request (tcp_handoff), or gets a 501 when no such plugin is loaded.
extension HTTPSession {
    func upgrade(_ head: HTTPRequestHead, _ location: HTTPPath) {
        let request = MonaValue.object(type: "", fields: [
            MonaField("method", .string(head.method)), MonaField("path", .string(head.path)),
            MonaField("query", .string(head.query)),
            MonaField("headers", .object(type: "", fields: head.headers.map { MonaField($0.name, .string($0.value)) })),
        ])
        // The parser took every byte after the upgrade head as tunnel; the backlog follows them.
        if host.handoff(connection, to: "WebSocket", bytes: tunnel + backlog, request: request) == MONA_OK {
            closing = true // the connection belongs to the WebSocket plugin now
            tunnel = []
            backlog = []
            if let timer { host.cancelTimer(timer) }
            timer = nil
            if client != 0 { host.closeClient(client) }
            client = 0
            return
        }
        fail(head, status: 501, message: "WebSocket is not available on this server", close: true)
    }
}
