import MonaValues
import PluginABI

/// The Set-Cookie values a web client's `client.properties(key, value[, options])` asked for, waiting for
/// the response that carries them (the next HTTP response, a WebSocket's 101). Bounded: past
/// `maxCount`, the oldest is dropped and logged (a loop in a script cannot grow the headers without bound).
public struct PendingCookies {
    /// Most cookies kept for one response.
    public static let maxCount = 32
    public private(set) var values: [String] = []

    public init() {}

    /// Adds the cookie of client.properties(name, args…): MONA_OK, or MONA_E_INVAL for a name that is not
    /// an RFC 6265 token (or no value).
    public mutating func add(_ name: String, args: [MonaValue], host: MonaHost) -> Int32 {
        guard let cookie = Cookies.setCookie(name, args: args, now: Int(host.timeMs / 1000)) else { return MONA_E_INVAL }
        if values.count == Self.maxCount {
            host.log(MONA_LOG_WARN, "more than \(Self.maxCount) cookies for one response, the oldest is dropped")
            values.removeFirst()
        }
        values.append(cookie)
        return MONA_OK
    }

    /// The cookies to send now; none are left.
    public mutating func take() -> [String] {
        defer { values = [] }
        return values
    }
}
