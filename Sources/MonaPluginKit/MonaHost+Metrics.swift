import PluginABI

/// The server's metrics (ABI 1.8 `metrics_text`), in Swift terms.
extension MonaHost {
    /// What `metricsText(for:)` answers.
    public enum MetricsAnswer: Equatable {
        /// The metrics in Prometheus' text format (content type `MonaHost.metricsContentType`).
        case text([UInt8])
        /// Metrics are on, but this peer may not read them: answer as if nothing were there.
        case refused
        /// Metrics are off (or the host is older than ABI 1.8): the request is like any other.
        case unavailable
    }

    /// The content type of the metrics' text.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The metrics for a request from `peer` (its address as tcp_accepted gave it).
    public func metricsText(for peer: mona_addr) -> MetricsAnswer {
        let needed = MemoryLayout<mona_host_api>.offset(of: \mona_host_api.metrics_text)! + MemoryLayout<UnsafeRawPointer>.size
        guard Int(api.pointee.struct_size) >= needed else { return .unavailable }
        var peer = peer
        var buffer = mona_buffer()
        let status = api.pointee.metrics_text(api.pointee.ctx, &peer, &buffer)
        let bytes = take(&buffer)
        switch status {
        case MONA_OK: return .text(bytes)
        case MONA_E_REJECTED: return .refused
        default: return .unavailable
        }
    }
}
