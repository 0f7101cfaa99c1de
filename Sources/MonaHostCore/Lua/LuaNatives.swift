import CLuaJIT
import CLuaShim
import CMonaCrypto
import MonaValues
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The native functions the Lua prelude builds on. Each is a C function whose first upvalue is the
/// `LuaRuntime` (unretained: the runtime owns the state).
enum LuaNatives {
    /// Fills the table on top of the stack.
    static func register(_ runtime: LuaRuntime) {
        let L = runtime.L
        let functions: [(String, lua_CFunction)] = [
            ("log", log), ("time", time), ("md5", md5), ("sha256", sha256), ("stat", statFile),
            ("listDirectory", listDirectory), ("configs", configs), ("environment", environment),
            ("parseIP", parseIP), ("resolve", resolve), ("blacklist", blacklist), ("dump", dump),
            ("write", write), ("encode", encode), ("decode", decode), ("toXML", toXML), ("fromXML", fromXML),
            ("dataSet", dataSet), ("dataRemove", dataRemove), ("async", async), ("writerUses", writerUses),
        ] + mediaFunctions + socketFunctions + serverFunctions
        for (name, function) in functions {
            lua_pushlightuserdata(L, Unmanaged.passUnretained(runtime).toOpaque())
            lua_pushcclosure(L, function, 1)
            lua_setfield(L, -2, name)
        }
        lua_pushnumber(L, Double(runtime.host.sink.maxLevel))
        lua_setfield(L, -2, "logLevel")
        lua_pushstring(L, runtime.www)
        lua_setfield(L, -2, "www")
    }

    static func runtime(_ L: OpaquePointer?) -> LuaRuntime {
        Unmanaged<LuaRuntime>.fromOpaque(lua_touserdata(L, mona_lua_upvalueindex(1))!).takeUnretainedValue()
    }

    static func string(_ L: OpaquePointer?, _ index: Int32) -> String { LuaBridge(L: L!).string(at: index) }

    static func push(_ L: OpaquePointer?, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }

    /// Raises a Lua error with a message (never returns to the caller's Swift frame).
    static func fail(_ L: OpaquePointer?, _ message: String) -> Int32 {
        lua_pushstring(L, message)
        return lua_error(L)
    }

    static let log: lua_CFunction = { L in
        let level = MonaLogLevel(rawValue: Int32(lua_tonumber(L, 1))) ?? .info
        runtime(L).host.sink.log(level, string(L, 4), file: string(L, 2), line: Int(lua_tonumber(L, 3)))
        return 0
    }

    /// Milliseconds since 1970 (whole).
    static func nowMs() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) * 1000 + Double(now.tv_nsec / 1_000_000)
    }

    static let time: lua_CFunction = { L in
        lua_pushnumber(L, nowMs())
        return 1
    }

    static let md5: lua_CFunction = { L in
        let bytes = LuaBridge(L: L!).bytes(at: 1)
        var digest = [UInt8](repeating: 0, count: 16)
        mona_crypto_md5(bytes, bytes.count, &digest)
        push(L, digest)
        return 1
    }

    static let sha256: lua_CFunction = { L in
        let bytes = LuaBridge(L: L!).bytes(at: 1)
        var digest = [UInt8](repeating: 0, count: 32)
        mona_crypto_sha256(bytes, bytes.count, &digest)
        push(L, digest)
        return 1
    }

    /// stat(path) → {isFolder, size, lastModified (ms, fractional)} or nil.
    static let statFile: lua_CFunction = { L in
        var info = stat()
        guard stat(string(L, 1), &info) == 0 else { return 0 }
        lua_createtable(L, 0, 3)
        lua_pushboolean(L, (info.st_mode & S_IFMT) == S_IFDIR ? 1 : 0)
        lua_setfield(L, -2, "isFolder")
        lua_pushnumber(L, Double(info.st_size))
        lua_setfield(L, -2, "size")
        lua_pushnumber(L, Double(info.st_mtim.tv_sec) * 1000 + Double(info.st_mtim.tv_nsec) / 1_000_000)
        lua_setfield(L, -2, "lastModified")
        return 1
    }

    static let listDirectory: lua_CFunction = { L in
        guard let directory = opendir(string(L, 1)) else { return 0 }
        defer { closedir(directory) }
        mona_lua_newtable(L)
        var count: Int32 = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            count += 1
            lua_pushstring(L, name)
            lua_rawseti(L, -2, count)
        }
        return 1
    }

    static let configs: lua_CFunction = { L in
        let config = runtime(L).host.config
        mona_lua_newtable(L)
        for (key, value) in config.values {
            lua_pushstring(L, value)
            lua_setfield(L, -2, key)
        }
        return 1
    }

    static let environment: lua_CFunction = { L in
        mona_lua_newtable(L)
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equal = text.firstIndex(of: "=") {
                lua_pushstring(L, String(text[text.index(after: equal)...]))
                lua_setfield(L, -2, String(text[..<equal]))
            }
            pointer += 1
        }
        return 1
    }

    static let parseIP: lua_CFunction = { L in
        guard let address = IPAddressInfo(string(L, 1)) else { return 0 }
        lua_createtable(L, 0, 20)
        lua_pushstring(L, address.text)
        lua_setfield(L, -2, "value")
        for (key, flag) in address.flags {
            lua_pushboolean(L, flag ? 1 : 0)
            lua_setfield(L, -2, key)
        }
        return 1
    }

    /// Resolves a host name to an IP text right here (blocking: only where Lua cannot wait, see
    /// `async` for the non-blocking way).
    static let resolve: lua_CFunction = { L in
        guard let address = resolveName(string(L, 1)) else { return 0 }
        lua_pushstring(L, address)
        return 1
    }

    /// getaddrinfo: the first address of a name as IP text, or nil. Blocks: call it off the loop.
    static func resolveName(_ name: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(first.pointee.ai_addr, first.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                          NI_NUMERICHOST) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static let blacklist: lua_CFunction = { L in
        let runtime = runtime(L)
        guard let address = IPAddressInfo(string(L, 1)) else {
            runtime.host.log(.error, "\(string(L, 1)) is not an IP address: not (un)banned")
            return 0
        }
        if lua_toboolean(L, 2) != 0 {
            runtime.host.blacklist.insert(address.text)
        } else {
            runtime.host.blacklist.remove(address.text)
        }
        return 0
    }

    /// dump(name, data, count): a hex dump in the log when --dump is on and its filter matches name.
    static let dump: lua_CFunction = { L in
        let runtime = runtime(L)
        guard let filter = runtime.host.config["arguments.dump"] else { return 0 }
        let name = string(L, 1)
        guard filter.isEmpty || name.contains(filter) else { return 0 }
        var bytes = LuaBridge(L: L!).bytes(at: 2)
        let limit = Int(lua_tonumber(L, 3))
        if limit >= 0, limit < bytes.count { bytes = Array(bytes.prefix(limit)) }
        var lines = ["\(name) (\(bytes.count) bytes)"]
        for offset in stride(from: 0, to: bytes.count, by: 16) {
            let row = bytes[offset..<min(offset + 16, bytes.count)]
            let hex = row.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            let text = String(row.map { $0 >= 32 && $0 < 127 ? Character(UnicodeScalar($0)) : "." })
            lines.append("  " + hex + String(repeating: " ", count: 48 - hex.count) + " " + text)
        }
        runtime.host.log(.info, lines.joined(separator: "\n"))
        return 0
    }
}
