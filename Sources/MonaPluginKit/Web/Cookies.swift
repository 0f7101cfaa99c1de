// Cookies (protocols.md §4.9): the Cookie request header in, Set-Cookie response values out (RFC 6265).

/// Parsing of Cookie headers and building of Set-Cookie values.
public enum Cookies {
    /// Parses a Cookie header "a=1; b=two" into ordered pairs: names and values trimmed, values otherwise kept
    /// raw (no percent-decoding) with one pair of surrounding double quotes stripped. An item without "=" gives
    /// its text as the name with an empty value; empty items are skipped.
    public static func parse(_ header: String) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for item in header.split(separator: ";") {
            let pair = FileText.trim(item)
            guard !pair.isEmpty else { continue }
            guard let equals = pair.firstIndex(of: "=") else {
                pairs.append((String(pair), ""))
                continue
            }
            var value = FileText.trim(pair[pair.index(after: equals)...])
            if value.utf8.count >= 2, value.first == "\"", value.last == "\"" {
                value = value.dropFirst().dropLast()
            }
            pairs.append((String(FileText.trim(pair[..<equals])), String(value)))
        }
        return pairs
    }

    /// A Set-Cookie line value: "name=value; Expires=<IMF date>; Max-Age=n; Domain=d; Path=p; Secure; HttpOnly".
    /// `expiresIn` seconds from `now`: positive sets Expires and Max-Age, negative deletes the cookie
    /// (Max-Age=0 and a 1970 Expires), nil or 0 makes a session cookie. Control characters (CR, LF, …) are
    /// and ";" are removed from every part, so that no header line or attribute can be injected.
    public static func setCookie(name: String, value: String, expiresIn: Int?, now: Int, domain: String?, path: String?,
                          secure: Bool, httpOnly: Bool) -> String {
        var line = clean(name) + "=" + clean(value)
        if let expiresIn, expiresIn > 0 {
            line += "; Expires=\(HTTPDate.format(now + expiresIn)); Max-Age=\(expiresIn)"
        } else if let expiresIn, expiresIn < 0 {
            line += "; Expires=\(HTTPDate.format(0)); Max-Age=0"
        }
        if let domain, !domain.isEmpty { line += "; Domain=" + clean(domain) }
        if let path, !path.isEmpty { line += "; Path=" + clean(path) }
        if secure { line += "; Secure" }
        if httpOnly { line += "; HttpOnly" }
        return line
    }

    /// The Set-Cookie value of Lua's client.properties(name, value[, options]), from its MVS arguments: the
    /// value (a string) then, optionally, an object of options `expires` (seconds from now, negative
    /// deletes), `path`, `domain`, `secure`, `httponly`. Nil when the name is not a token or there is no value.
    public static func setCookie(_ name: String, args: [MonaValue], now: Int) -> String? {
        guard isToken(name), case .string(let value)? = args.first else { return nil }
        var options: [String: MonaValue] = [:]
        if args.count > 1, case .object(_, let fields) = args[1] {
            for field in fields { options[field.key.lowercased()] = field.value }
        }
        func text(_ key: String) -> String? { if case .string(let text)? = options[key] { return text } else { return nil } }
        func flag(_ key: String) -> Bool {
            switch options[key] {
            case .boolean(let on)?: return on
            case .number(let number)?: return number != 0
            case .string(let text)?: return text == "true" || text == "1"
            default: return false
            }
        }
        var expires: Int?
        if case .number(let seconds)? = options["expires"], seconds.isFinite { expires = Int(max(min(seconds, 1e10), -1e10)) }
        return setCookie(name: name, value: value, expiresIn: expires, now: now, domain: text("domain"), path: text("path"),
                         secure: flag("secure"), httpOnly: flag("httponly"))
    }

    /// True for a cookie name RFC 6265 allows: a non-empty token (no controls, spaces or separators).
    public static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains(byte)
        }
    }

    /// `text` without control characters and ";".
    private static func clean(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.append(contentsOf: text.unicodeScalars.filter { scalar in
            scalar.value >= 0x20 && scalar.value != 0x7F && scalar != ";"
        })
        return result
    }
}
