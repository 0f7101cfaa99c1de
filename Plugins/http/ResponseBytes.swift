import MonaPluginKit
import PluginABI

// The bytes of a response head, appended straight into one buffer (head and body go out in a single
// tcp_send), with what repeats between responses computed once: status lines, and the Date header,
// which changes once a second.

/// What responses share: status lines by code, and the Date and Server lines of the current second.
/// Used on the loop thread only.
final class ResponseHeads {
    /// By status - 100, for 100...599 (an index, not a hash, per response).
    private var statusLines = [[UInt8]?](repeating: nil, count: 500)
    private var dateSecond = Int.min
    private var dateLines: [UInt8] = []

    /// "HTTP/1.1 <status> <reason>\r\n".
    func statusLine(_ status: Int) -> [UInt8] {
        let slot = status &- 100 // any Int (a status from an application) stays an index check
        if statusLines.indices.contains(slot), let line = statusLines[slot] { return line }
        var line: [UInt8] = []
        line.append(literal: "HTTP/1.1 ")
        line.append(decimal: status)
        line.append(0x20)
        line.append(text: HTTPStatus.reason(status))
        line.append(literal: "\r\n")
        if statusLines.indices.contains(slot) { statusLines[slot] = line }
        return line
    }

    /// "Date: <IMF-fixdate>\r\nServer: Mona\r\n" for `second` (since 1970), formatted once per second.
    func dateAndServer(_ second: Int) -> [UInt8] {
        if second != dateSecond {
            dateSecond = second
            dateLines.removeAll(keepingCapacity: true)
            dateLines.append(literal: "Date: ")
            dateLines.append(text: HTTPDate.format(second))
            dateLines.append(literal: "\r\nServer: Mona\r\n")
        }
        return dateLines
    }
}

