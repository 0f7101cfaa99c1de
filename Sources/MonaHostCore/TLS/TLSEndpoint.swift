import CMonaTLS

/// The TLS side of one protocol section (`<section>.tlsPort`): its certificate and key files and the
/// OpenSSL context new connections are made with. SIGHUP reloads the files into a new context; the
/// connections made with the old one keep it (OpenSSL counts its references) until they end.
final class TLSEndpoint {
    /// The configuration section ("RTMP", "HTTP").
    let section: String
    /// The TLS port, as configured.
    let port: UInt16
    /// Absolute paths of the PEM certificate chain and private key.
    let certificatePath: String
    let keyPath: String
    /// The context new connections use (`mona_tls_context`).
    private var context: OpaquePointer

    private init(section: String, port: UInt16, certificatePath: String, keyPath: String, context: OpaquePointer) {
        self.section = section
        self.port = port
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.context = context
    }

    deinit { mona_tls_context_free(context) }

    /// The TLS port and files of `section`: nil when it has no `tlsPort` (or 0); a failure text when the
    /// port is not a number or the certificate and key cannot be loaded. The files are `certificate`
    /// and `key` of the section, else of `[TLS]`, relative to `iniFolder`.
    static func configured(section: String, config: ServerConfig, iniFolder: String) -> Result<TLSEndpoint, TLSFailure>? {
        guard let text = config["\(section).tlsPort"]?.trimmingBlanks(), !text.isEmpty else { return nil }
        guard let port = UInt16(text) else { return .failure(TLSFailure("\(section).tlsPort '\(text)' is not a port number")) }
        guard port != 0 else { return nil }
        let setting = { (key: String) in (config["\(section).\(key)"] ?? config["TLS.\(key)"]).map { String($0.trimmingBlanks()) } }
        guard let certificate = setting("certificate"), !certificate.isEmpty, let key = setting("key"), !key.isEmpty else {
            return .failure(TLSFailure("\(section).tlsPort needs a certificate and a key: certificate= and key= in [TLS] or in [\(section)]"))
        }
        let resolve = { (path: String) in path.hasPrefix("/") ? path : "\(iniFolder)/\(path)" }
        let (certificatePath, keyPath) = (resolve(certificate), resolve(key))
        return load(certificatePath, keyPath).map {
            TLSEndpoint(section: section, port: port, certificatePath: certificatePath, keyPath: keyPath, context: $0)
        }
    }

    /// A new context from the files.
    private static func load(_ certificatePath: String, _ keyPath: String) -> Result<OpaquePointer, TLSFailure> {
        var error = [CChar](repeating: 0, count: 512)
        guard let context = mona_tls_context_new(certificatePath, keyPath, &error, error.count) else {
            return .failure(TLSFailure("\(certificatePath), \(keyPath): \(error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })"))
        }
        return .success(context)
    }

    /// Reads the files again: new connections get the new certificate, the others keep theirs. On a
    /// failure the current context stays.
    func reload() -> Result<Void, TLSFailure> {
        Self.load(certificatePath, keyPath).map { fresh in
            mona_tls_context_free(context)
            context = fresh
        }
    }

    /// The TLS state of a new connection writing its ciphertext to `output`; nil when memory is short.
    func makeSession(output: UnsafeMutablePointer<mona_tls_output>) -> TLSSession? {
        mona_tls_new(context, output).map(TLSSession.init)
    }
}

/// Why TLS could not be set up for a section, as one log line.
struct TLSFailure: Error {
    let text: String
    init(_ text: String) { self.text = text }
}
