import PluginABI

/// TLS listeners and certificates: a section with `tlsPort` gets, for the tcp_listen its plugin makes
/// on the section's `port`, a TLS listener on `tlsPort` delivering to the same plugin and listener
/// context (with `port = 0`, the TLS listener alone). Plugins need no change: they see plaintext.
extension HostRuntime {
    /// The TLS endpoint of `plugin`'s section when `port` is the section's `port` and the section has
    /// a `tlsPort` (made once); nil when there is none; a failure when TLS is misconfigured.
    func tlsEndpoint(for plugin: LoadedPlugin, port: UInt16) -> Result<TLSEndpoint?, TLSFailure> {
        let section = plugin.section
        guard let text = config["\(section).port"], UInt16(text.trimmingBlanks()) == port else { return .success(nil) }
        if let endpoint = tlsEndpoints[section] { return .success(endpoint) }
        let iniFolder = ServerLayout.directory(of: layout.iniPath)
        guard let configured = TLSEndpoint.configured(section: section, config: config, iniFolder: iniFolder) else { return .success(nil) }
        return configured.map { endpoint in
            tlsEndpoints[section] = endpoint
            return endpoint
        }
    }

    /// The plain listener on `port` (unless 0) and the TLS one beside it, both or neither: one handle
    /// for the plugin, whose tcp_unlisten closes both.
    func listen(_ plugin: LoadedPlugin, host: String, port: UInt16, context: UnsafeMutableRawPointer?, tls endpoint: TLSEndpoint,
                handle: UnsafeMutablePointer<mona_handle>?, bound: UnsafeMutablePointer<mona_addr>?) -> Int32 {
        guard port != 0 else {
            return openListener(plugin, host: host, port: endpoint.port, context: context, tls: endpoint, handle: handle, bound: bound)
        }
        var plain: mona_handle = 0
        let status = openListener(plugin, host: host, port: port, context: context, tls: nil, handle: &plain, bound: bound)
        guard status == MONA_OK else { return status }
        var secure: mona_handle = 0
        let secureStatus = openListener(plugin, host: host, port: endpoint.port, context: context, tls: endpoint, handle: &secure, bound: nil)
        guard secureStatus == MONA_OK else {
            reactor.listeners.removeValue(forKey: plain)?.close(then: {})
            return secureStatus
        }
        reactor.listeners[plain]?.companion = reactor.listeners[secure]
        handle?.pointee = plain
        return MONA_OK
    }

    /// SIGHUP: every section's certificate and key are read again (thread-safe). New connections get
    /// the new ones; established connections keep theirs; a file that does not load leaves the
    /// previous certificate in place, with one error line.
    public func reloadCertificates() {
        reactor.execute { [self] in
            guard !tlsEndpoints.isEmpty else { return log(.info, "no TLS certificate to reload") }
            for (section, endpoint) in tlsEndpoints.sorted(by: { $0.key < $1.key }) {
                switch endpoint.reload() {
                case .success:
                    log(.info, "\(section): TLS certificate reloaded from \(endpoint.certificatePath)")
                case .failure(let failure):
                    log(.error, "\(section): TLS certificate not reloaded (\(failure.text)); the previous one stays")
                }
            }
        }
    }
}
