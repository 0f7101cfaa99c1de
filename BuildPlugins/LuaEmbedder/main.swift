import Foundation

// LuaEmbedder OUTPUT FILE.lua…: writes OUTPUT, a Swift file holding the text of each Lua file as a raw
// string literal, in `LuaPreludeSources.text` by file name without `.lua` (run by the EmbedLuaPrelude
// build plugin).

/// The hashes of a raw string delimiter that `text` cannot end early nor interpolate into.
func rawDelimiter(for text: String) -> String {
    var hashes = "#"
    while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
    return hashes
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: LuaEmbedder OUTPUT FILE.lua…\n".utf8))
    exit(2)
}
var swift = """
// Generated at build time by LuaEmbedder from Sources/MonaHostCore/Lua/Prelude/*.lua: edit those files.

/// The Lua prelude's sources, by file name without `.lua` (the load order is `LuaPrelude.parts`).
enum LuaPreludeSources {
    static let text: [String: String] = [

"""
for path in arguments.dropFirst() {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    let hashes = rawDelimiter(for: text)
    swift += "        \"\(name)\": \(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes),\n"
}
swift += "    ]\n}\n"
try swift.write(toFile: output, atomically: true, encoding: .utf8)
