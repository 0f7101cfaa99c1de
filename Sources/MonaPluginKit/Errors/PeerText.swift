// What a peer may read of an error.
//
// A Lua error's text names the script it comes from by its path on the server ("/srv/mona/www/app/
// main.lua:3: …", or LuaJIT's shortened "...ona/www/app/main.lua:3: …"), and so do the messages of
// `require` and `loadfile`. The messages a protocol sends for a failed call are part of MonaServer's API
// (RTMP `_error`, WebSocket `__error`, the HTTP answer of an RPC), so they are kept, but each path in them
// is cut to its last component: the peer learns "main.lua:3: …", never where the server keeps its files.

/// Error text made fit for a peer: server paths cut to their file names.
public enum PeerText {
    /// What a peer reads when a script failed to load, refused its client or failed outside a call
    /// (the host logs the script's own text).
    public static let applicationFailure = "The application could not answer this request"

    /// `message` with every filesystem path cut to its last component. A path is a word (between spaces,
    /// quotes, brackets, commas) that starts with `/`, `./`, `~/` or LuaJIT's `...` and goes on with a
    /// `/`, and either ends with a file name that has an extension, is followed by `:<line>`, or has at
    /// least three components. Application paths such as `/app/sub` are left as they are.
    public static func withoutPaths(_ message: String) -> String {
        var result = ""
        var word = ""
        for character in message {
            if isDelimiter(character) {
                result += cut(word)
                word = ""
                result.append(character)
            } else {
                word.append(character)
            }
        }
        return result + cut(word)
    }

    private static func isDelimiter(_ character: Character) -> Bool {
        character.isWhitespace || "'\"`()[]{}<>,;=".contains(character)
    }

    /// A word that is a path (with maybe ":line:…" after it) becomes its last component and what follows.
    private static func cut(_ word: String) -> String {
        guard word.hasPrefix("/") || word.hasPrefix("./") || word.hasPrefix("~/") || word.hasPrefix("...") else { return word }
        // The path ends where a ":" starts a position or a note ("main.lua:3:", "x.lua:").
        let path = word.prefix { $0 != ":" }
        let rest = word[path.endIndex...]
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let last = components.last, path.contains("/"), path != "/" else { return word }
        let followedByLine = rest.dropFirst().first?.isNumber == true
        let isFile = last.contains(".") && !last.hasPrefix(".") && last != "..."
        let isDeep = components.count >= 3
        guard isFile || followedByLine || isDeep || word.hasPrefix("...") else { return word }
        return String(last) + rest
    }
}
