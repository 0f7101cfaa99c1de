import CLuaJIT
import Foundation
import Testing
@testable import MonaHostCore

/// The Lua prelude is plain `.lua` files in the repository, embedded into the binary at build time.
@Suite struct LuaPreludeTests {
    static let folder = "\(TestEnvironment.repository)/Sources/MonaHostCore/Lua/Prelude"

    @Test func everyPreludeFileIsEmbeddedAsItIsAndCompiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder).filter { $0.hasSuffix(".lua") }
        let names = files.map { String($0.dropLast(4)) }
        #expect(names.sorted() == LuaPrelude.parts.sorted(), "each .lua file is a part that is loaded, and back")
        for name in names {
            let path = "\(Self.folder)/\(name).lua"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(LuaPreludeSources.text[name] == text, "\(name).lua is embedded byte for byte")
            let L = luaL_newstate()!
            defer { lua_close(L) }
            let status = luaL_loadfile(L, path)
            #expect(status == 0, "\(name).lua: \(status == 0 ? "" : String(cString: lua_tolstring(L, -1, nil)))")
        }
        #expect(LuaPrelude.chunks.map(\.name) == LuaPrelude.parts.map { "=prelude/\($0)" }, "chunk names name the part")
    }
}
