// Error responses' bodies (protocols.md §4.10).

import MonaPluginKit

/// The small HTML page of an error response. Its message never carries a Lua error's text (the host
/// logs it in full): a script's failure reads `PeerText.applicationFailure`; the failure of a call (RPC)
/// reads the API's message with the server's paths cut (`PeerText.withoutPaths`).
enum ErrorPage {
    /// "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1><p>message</p></body></html>"
    /// with the reason and the message HTML-escaped.
    static func html(status: Int, reason: String, message: String) -> [UInt8] {
        let title = "\(status) \(FileText.escapeHTML(reason))"
        let page = "<html><head><title>\(title)</title></head><body><h1>\(title)</h1><p>"
            + "\(FileText.escapeHTML(message))</p></body></html>"
        return Array(page.utf8)
    }
}
