import CLuaJIT
import CLuaShim
import MonaValues
#if canImport(Glibc)
import Glibc
#endif

/// Converts between Lua values and `MonaValue`, MonaServer's way (lua-api.md §3.1-3.2): tables with
/// `__raw` are bytes, `__time` dates, `__size` maps, `__type` typed objects; sequences are arrays,
/// sequences with string keys are mixed, the rest objects. A table met twice (shared or cyclic)
/// becomes a `.reference` to its first occurrence.
struct LuaBridge {
    let L: OpaquePointer

    /// A value that cannot be serialized (function, thread, userdata).
    struct Unsupported: Error { let type: String }

    // MARK: Lua → MonaValue

    /// The values at stack positions first...last.
    func values(from first: Int32, to last: Int32) throws(Unsupported) -> [MonaValue] {
        var seen: [UnsafeRawPointer: Int] = [:]
        var complexCount = 0
        var result: [MonaValue] = []
        var index = first
        while index <= last {
            result.append(try value(at: index, seen: &seen, complexCount: &complexCount, depth: 0))
            index += 1
        }
        return result
    }

    private func value(at index: Int32, seen: inout [UnsafeRawPointer: Int], complexCount: inout Int,
                       depth: Int) throws(Unsupported) -> MonaValue {
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER: return .number(lua_tonumber(L, index))
        case LUA_TSTRING: return .string(string(at: index))
        case LUA_TTABLE: return try table(at: index, seen: &seen, complexCount: &complexCount, depth: depth)
        case LUA_TUSERDATA:
            // A collection or data table: serialized as a plain copy of its items.
            lua_getfield(L, mona_lua_registryindex(), "mona.snapshot")
            lua_pushvalue(L, index < 0 ? index - 1 : index)
            if lua_pcall(L, 1, 1, 0) == 0, lua_type(L, -1) == LUA_TTABLE {
                defer { mona_lua_pop(L, 1) }
                return try table(at: -1, seen: &seen, complexCount: &complexCount, depth: depth)
            }
            mona_lua_pop(L, 1)
            throw Unsupported(type: "userdata")
        default: throw Unsupported(type: String(cString: lua_typename(L, lua_type(L, index))))
        }
    }

    func string(at index: Int32) -> String {
        var length = 0
        guard let pointer = mona_lua_tolstring(L, index, &length) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    func bytes(at index: Int32) -> [UInt8] {
        var length = 0
        guard let pointer = mona_lua_tolstring(L, index, &length) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// The raw field `key` of the table at `index`, pushed (caller pops).
    private func rawField(_ index: Int32, _ key: String) {
        lua_pushstring(L, key)
        lua_rawget(L, index)
    }

    private func table(at relative: Int32, seen: inout [UnsafeRawPointer: Int], complexCount: inout Int,
                       depth: Int) throws(Unsupported) -> MonaValue {
        let index = relative < 0 ? lua_gettop(L) + relative + 1 : relative
        rawField(index, "__raw")
        if lua_type(L, -1) == LUA_TSTRING {
            defer { mona_lua_pop(L, 1) }
            return .bytes(bytes(at: -1))
        }
        mona_lua_pop(L, 1)
        rawField(index, "__time")
        if lua_type(L, -1) == LUA_TNUMBER {
            defer { mona_lua_pop(L, 1) }
            return .date(lua_tonumber(L, -1))
        }
        mona_lua_pop(L, 1)
        let pointer = lua_topointer(L, index)!
        if let reference = seen[pointer] { return .reference(reference) }
        guard depth < 256 else { return .nil }
        seen[pointer] = complexCount
        complexCount += 1
        lua_checkstack(L, 8)

        rawField(index, "__size")
        let isMap = lua_type(L, -1) == LUA_TNUMBER
        mona_lua_pop(L, 1)
        if isMap {
            var entries: [MonaMapEntry] = []
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                if !(lua_type(L, -2) == LUA_TSTRING && string(at: -2) == "__size") {
                    let key = try value(at: -2, seen: &seen, complexCount: &complexCount, depth: depth + 1)
                    let item = try value(at: -1, seen: &seen, complexCount: &complexCount, depth: depth + 1)
                    entries.append(MonaMapEntry(key: key, value: item))
                }
                mona_lua_pop(L, 1)
            }
            return .map(weakKeys: weakKeys(index), entries: entries)
        }

        rawField(index, "__type")
        let typeName: String? = lua_type(L, -1) == LUA_TSTRING ? string(at: -1) : nil
        mona_lua_pop(L, 1)
        let count = Int(lua_objlen(L, index))
        var dense: [MonaValue] = []
        var fields: [MonaField] = []
        if count > 0 && typeName == nil {
            for position in 1...count {
                lua_rawgeti(L, index, Int32(position))
                dense.append(try value(at: -1, seen: &seen, complexCount: &complexCount, depth: depth + 1))
                mona_lua_pop(L, 1)
            }
        }
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            defer { mona_lua_pop(L, 1) }
            let key: String
            switch lua_type(L, -2) {
            case LUA_TSTRING:
                key = string(at: -2)
                if key == "__type" { continue }
            case LUA_TNUMBER:
                let number = lua_tonumber(L, -2)
                if typeName == nil, number >= 1, number <= Double(count), number.rounded() == number { continue }
                key = formatNumber(number)
            default:
                continue
            }
            fields.append(MonaField(key, try value(at: -1, seen: &seen, complexCount: &complexCount, depth: depth + 1)))
        }
        if let typeName { return .object(type: typeName, fields: fields) }
        if fields.isEmpty { return .array(dense) }
        if dense.isEmpty { return .object(type: "", fields: fields) }
        return .mixed(dense: dense, fields: fields)
    }

    private func weakKeys(_ index: Int32) -> Bool {
        guard lua_getmetatable(L, index) != 0 else { return false }
        defer { mona_lua_pop(L, 1) }
        lua_pushstring(L, "__mode")
        lua_rawget(L, -2)
        defer { mona_lua_pop(L, 1) }
        return lua_type(L, -1) == LUA_TSTRING && string(at: -1).contains("k")
    }

    private func formatNumber(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return "\(number)"
    }

    // MARK: MonaValue → Lua

    /// Pushes values; shared tables (references) become the same Lua table. Returns how many were pushed.
    @discardableResult
    func push(_ values: [MonaValue]) -> Int32 {
        lua_checkstack(L, Int32(values.count) + 8)
        mona_lua_newtable(L) // the tables opened so far, for references
        let tables = lua_gettop(L)
        var opened: Int32 = 0
        for value in values { push(value, tables: tables, opened: &opened) }
        lua_remove(L, tables)
        return Int32(values.count)
    }

    private func push(_ value: MonaValue, tables: Int32, opened: inout Int32) {
        lua_checkstack(L, 6)
        switch value {
        case .nil: lua_pushnil(L)
        case .boolean(let flag): lua_pushboolean(L, flag ? 1 : 0)
        case .number(let number): lua_pushnumber(L, number)
        case .string(let text):
            var text = text
            text.withUTF8 { lua_pushlstring(L, UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self), $0.count) }
        case .bytes(let bytes):
            lua_createtable(L, 0, 1)
            lua_pushstring(L, "__raw")
            bytes.withUnsafeBytes { lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            lua_rawset(L, -3)
        case .date(let ms):
            pushDate(ms)
        case .array(let items):
            lua_createtable(L, Int32(items.count), 0)
            remember(tables: tables, opened: &opened)
            for (position, item) in items.enumerated() {
                push(item, tables: tables, opened: &opened)
                lua_rawseti(L, -2, Int32(position + 1))
            }
        case .object(let type, let fields):
            lua_createtable(L, 0, Int32(fields.count + 1))
            remember(tables: tables, opened: &opened)
            if !type.isEmpty { setField("__type") { lua_pushstring(L, type) } }
            for field in fields { setField(field.key) { push(field.value, tables: tables, opened: &opened) } }
        case .mixed(let dense, let fields):
            lua_createtable(L, Int32(dense.count), Int32(fields.count))
            remember(tables: tables, opened: &opened)
            for (position, item) in dense.enumerated() {
                push(item, tables: tables, opened: &opened)
                lua_rawseti(L, -2, Int32(position + 1))
            }
            for field in fields { setField(field.key) { push(field.value, tables: tables, opened: &opened) } }
        case .map(let weakKeys, let entries):
            lua_createtable(L, 0, Int32(entries.count + 1))
            remember(tables: tables, opened: &opened)
            for entry in entries {
                push(entry.key, tables: tables, opened: &opened)
                push(entry.value, tables: tables, opened: &opened)
                if lua_type(L, -2) == LUA_TNIL { mona_lua_pop(L, 2); continue }
                lua_rawset(L, -3)
            }
            setField("__size") { lua_pushnumber(L, Double(entries.count)) }
            if weakKeys {
                mona_lua_newtable(L)
                setField("__mode") { lua_pushstring(L, "k") }
                lua_setmetatable(L, -2)
            }
        case .reference(let index):
            lua_rawgeti(L, tables, Int32(index + 1))
        }
    }

    private func remember(tables: Int32, opened: inout Int32) {
        opened += 1
        lua_pushvalue(L, -1)
        lua_rawseti(L, tables, opened)
    }

    private func setField(_ key: String, _ pushValue: () -> Void) {
        lua_pushstring(L, key)
        pushValue()
        lua_rawset(L, -3)
    }

    /// A date: `{__time = ms, year, month (1-12), day, yday, wday, hour, min, sec, msec, isdst}` in local time.
    func pushDate(_ ms: Double) {
        lua_createtable(L, 0, 11)
        setField("__time") { lua_pushnumber(L, ms) }
        var seconds = time_t((ms / 1000).rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        let fields: [(String, Int32)] = [
            ("year", parts.tm_year + 1900), ("month", parts.tm_mon + 1), ("day", parts.tm_mday),
            ("yday", parts.tm_yday + 1), ("wday", parts.tm_wday + 1), ("hour", parts.tm_hour), ("min", parts.tm_min),
            ("sec", parts.tm_sec),
        ]
        for (key, value) in fields { setField(key) { lua_pushnumber(L, Double(value)) } }
        setField("msec") { lua_pushnumber(L, ms - Double(seconds) * 1000) }
        setField("isdst") { lua_pushboolean(L, parts.tm_isdst > 0 ? 1 : 0) }
    }
}
