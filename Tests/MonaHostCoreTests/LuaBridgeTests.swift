import CLuaJIT
import CLuaShim
import MonaValues
import Testing
@testable import MonaHostCore

/// The Lua ↔ MVS bridge on a bare Lua state: malformed streams push nothing and never crash, and what
/// Lua round-trips unchanged (numbers, strings, booleans, arrays, shared tables) comes back byte for byte.
@Suite struct LuaBridgeTests {
    private func withLua(_ body: (OpaquePointer) throws -> Void) rethrows {
        let L = luaL_newstate()!
        defer { lua_close(L) }
        try body(L)
    }

    @Test func malformedStreamsPushNothing() {
        withLua { L in
            let bridge = LuaBridge(L: L)
            var state: UInt64 = 0x1234_5678
            func next() -> UInt64 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return state >> 33
            }
            var pushed = 0
            for round in 0..<20_000 {
                // Random bytes, biased towards real tags and small counts so that some parse deep.
                let length = Int(next() % 24)
                var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: next() % 16) }
                if round % 3 == 0 { bytes = MVSWriter.encode(.array([.number(1), .string("x")])) + bytes }
                let top = lua_gettop(L)
                if let count = bytes.withUnsafeBytes({ bridge.push(mvs: $0) }) {
                    #expect(lua_gettop(L) == top + count)
                    pushed += 1
                } else {
                    #expect(lua_gettop(L) == top, "a malformed stream leaves the stack as it was")
                }
                lua_settop(L, top)
            }
            #expect(pushed > 0)
        }
    }

    @Test func valuesLuaKeepsComeBackByteForByte() throws {
        try withLua { L in
            let bridge = LuaBridge(L: L)
            let values: [MonaValue] = [
                .nil, .boolean(true), .number(-2.5), .string("é\u{0}x"),
                .array([.number(1), .array([.string("a"), .boolean(false)]), .reference(1)]),
                .date(86_400_000), .bytes([0, 255, 7]),
            ]
            let stream = MVSWriter.encode(values)
            let count = try #require(stream.withUnsafeBytes { bridge.push(mvs: $0) })
            #expect(count == Int32(values.count))
            let top = lua_gettop(L)
            #expect(try bridge.encode(from: top - count + 1, to: top) == stream)
            lua_settop(L, 0)
        }
    }

    @Test func unsupportedValuesAreNamed() {
        withLua { L in
            lua_pushcclosure(L, { _ in 0 }, 0)
            #expect(throws: LuaBridge.Unsupported.self) { try LuaBridge(L: L).encode(from: 1, to: 1) }
        }
    }
}
