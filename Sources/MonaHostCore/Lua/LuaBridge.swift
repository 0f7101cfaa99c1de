import CLuaJIT
import CLuaShim
import MonaValues
#if canImport(Glibc)
import Glibc
#endif

/// Converts between Lua values and Mona Value Streams, MonaServer's way (lua-api.md §3.1-3.2):
/// tables with `__raw` are bytes, `__time` dates, `__size` maps, `__type` typed objects; sequences
/// are arrays, sequences with string keys are mixed, the rest objects. A table met twice (shared or
/// cyclic) becomes a `.reference` to its first occurrence. Both directions go between the Lua stack
/// and MVS bytes directly (an RPC's arguments and results never become `MonaValue` trees);
/// `values(from:to:)` and `push(_:)` are the same conversions for callers holding values.
struct LuaBridge {
    let L: OpaquePointer

    /// A value that cannot be serialized (function, thread, userdata).
    struct Unsupported: Error { let type: String }

    /// Tables nested deeper than this are written as nil.
    static let maxDepth = 256

    // MARK: Lua → MVS

    /// The values at stack positions first...last as one MVS stream.
    func encode(from first: Int32, to last: Int32) throws(Unsupported) -> [UInt8] {
        var encoder = Encoder(L: L)
        var index = first
        while index <= last {
            try encoder.value(at: index, depth: 0)
            index += 1
        }
        return encoder.out.bytes
    }

    /// The values at stack positions first...last.
    func values(from first: Int32, to last: Int32) throws(Unsupported) -> [MonaValue] {
        let stream = try encode(from: first, to: last)
        return (try? MVSReader.decode(stream)) ?? []
    }

    /// Pushes `text` as a Lua string, bytes as they are (a NUL too). Passing a `String` where C wants a
    /// `const char *` copies a small one (up to 15 bytes) into a temporary array first: not this.
    func push(text: String) {
        var text = text
        text.withUTF8 { utf8 in
            UnsafeRawPointer(utf8.baseAddress).map { start in
                lua_pushlstring(L, start.assumingMemoryBound(to: CChar.self), utf8.count)
            } ?? lua_pushlstring(L, "", 0)
        }
    }

    /// Whether the value at `index` is the string `literal` (compared in place: no Swift string made).
    func isString(at index: Int32, _ literal: StaticString) -> Bool {
        guard lua_type(L, index) == LUA_TSTRING else { return false }
        var length = 0
        guard let pointer = mona_lua_tolstring(L, index, &length), length == literal.utf8CodeUnitCount else { return false }
        return memcmp(pointer, literal.utf8Start, length) == 0
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

    /// Writes Lua values as MVS: the tables seen so far (for references) and the stream.
    private struct Encoder {
        let L: OpaquePointer
        var seen: [UnsafeRawPointer: Int] = [:]
        var out = MVSWriter(reservingCapacity: 64)

        init(L: OpaquePointer) { self.L = L }

        mutating func value(at index: Int32, depth: Int) throws(Unsupported) {
            switch lua_type(L, index) {
            case LUA_TNIL, LUA_TNONE: out.writeTag(.nil)
            case LUA_TBOOLEAN: out.writeTag(lua_toboolean(L, index) != 0 ? .true : .false)
            case LUA_TNUMBER:
                out.writeTag(.number)
                out.writeDouble(lua_tonumber(L, index))
            case LUA_TSTRING:
                out.writeTag(.string)
                text(at: index)
            case LUA_TTABLE: try table(at: index, depth: depth)
            case LUA_TUSERDATA:
                // A collection or data table: serialized as a plain copy of its items.
                lua_getfield(L, mona_lua_registryindex(), "mona.snapshot")
                lua_pushvalue(L, index < 0 ? index - 1 : index)
                if lua_pcall(L, 1, 1, 0) == 0, lua_type(L, -1) == LUA_TTABLE {
                    defer { mona_lua_pop(L, 1) }
                    try table(at: -1, depth: depth)
                    return
                }
                mona_lua_pop(L, 1)
                throw Unsupported(type: "userdata")
            default: throw Unsupported(type: String(cString: lua_typename(L, lua_type(L, index))))
            }
        }

        /// The Lua string at `index` as an MVS string body (length + UTF-8; invalid UTF-8 repaired
        /// with U+FFFD, as a Swift String would).
        mutating func text(at index: Int32) {
            var length = 0
            guard let pointer = mona_lua_tolstring(L, index, &length) else {
                out.writeVarUInt(0)
                return
            }
            let raw = UnsafeRawBufferPointer(start: pointer, count: length)
            if raw.contains(where: { $0 >= 0x80 }), String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) == nil {
                out.writeString(String(decoding: raw, as: UTF8.self))
            } else {
                out.writeString(utf8: raw)
            }
        }

        /// A number key of a table, as text: integers without a fraction.
        mutating func numberKey(_ number: Double) {
            if number.rounded() == number, abs(number) < 1e15 {
                out.writeString(String(Int64(number)))
            } else {
                out.writeString("\(number)")
            }
        }

        private func rawField(_ index: Int32, _ key: StaticString) -> Int32 {
            lua_pushlstring(L, UnsafeRawPointer(key.utf8Start).assumingMemoryBound(to: CChar.self), key.utf8CodeUnitCount)
            lua_rawget(L, index)
            return lua_type(L, -1)
        }

        mutating func table(at relative: Int32, depth: Int) throws(Unsupported) {
            let index = relative < 0 ? lua_gettop(L) + relative + 1 : relative
            lua_checkstack(L, 8)
            if rawField(index, "__raw") == LUA_TSTRING {
                var length = 0
                let pointer = mona_lua_tolstring(L, -1, &length)
                out.writeTag(.bytes)
                out.writeVarUInt(UInt64(length))
                if let pointer { out.writeRaw(UnsafeRawBufferPointer(start: pointer, count: length)) }
                mona_lua_pop(L, 1)
                return
            }
            mona_lua_pop(L, 1)
            if rawField(index, "__time") == LUA_TNUMBER {
                out.writeTag(.date)
                out.writeDouble(lua_tonumber(L, -1))
                mona_lua_pop(L, 1)
                return
            }
            mona_lua_pop(L, 1)
            let pointer = lua_topointer(L, index)!
            if let reference = seen[pointer] {
                out.writeTag(.reference)
                out.writeVarUInt(UInt64(reference))
                return
            }
            guard depth < LuaBridge.maxDepth else {
                out.writeTag(.nil)
                return
            }
            seen[pointer] = out.complexCount
            out.countComplex()

            let isMap = rawField(index, "__size") == LUA_TNUMBER
            mona_lua_pop(L, 1)
            if isMap {
                out.writeTag(.map)
                let flags: UInt8 = weakKeys(index) ? 0x01 : 0x00
                withUnsafeBytes(of: flags) { out.writeRaw($0) }
                let countAt = out.reserveCount()
                var count = 0
                lua_pushnil(L)
                while lua_next(L, index) != 0 {
                    if !(lua_type(L, -2) == LUA_TSTRING && isKey(-2, "__size")) {
                        try value(at: -2, depth: depth + 1)
                        try value(at: -1, depth: depth + 1)
                        count += 1
                    }
                    mona_lua_pop(L, 1)
                }
                out.patchCount(count, at: countAt)
                return
            }

            let typed = rawField(index, "__type") == LUA_TSTRING
            let count = typed ? 0 : Int(lua_objlen(L, index))
            if typed {
                out.writeTag(.object)
                text(at: -1)
            }
            mona_lua_pop(L, 1)
            if !typed {
                // The tag depends on whether there are keys besides 1...count.
                let hasFields = hasKeys(index, besidesSequenceOf: count)
                out.writeTag(!hasFields ? .array : count == 0 ? .object : .mixed)
                if hasFields && count == 0 { out.writeVarUInt(0) } // no type name
                if count > 0 {
                    out.writeVarUInt(UInt64(count))
                    for position in 1...count {
                        lua_rawgeti(L, index, Int32(position))
                        try value(at: -1, depth: depth + 1)
                        mona_lua_pop(L, 1)
                    }
                } else if !hasFields {
                    out.writeVarUInt(0) // an empty array
                }
                guard hasFields else { return }
            }
            let countAt = out.reserveCount()
            var fields = 0
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                defer { mona_lua_pop(L, 1) }
                switch lua_type(L, -2) {
                case LUA_TSTRING:
                    if isKey(-2, "__type") { continue }
                    text(at: -2)
                case LUA_TNUMBER:
                    let number = lua_tonumber(L, -2)
                    if !typed, number >= 1, number <= Double(count), number.rounded() == number { continue }
                    numberKey(number)
                default:
                    continue
                }
                try value(at: -1, depth: depth + 1)
                fields += 1
            }
            out.patchCount(fields, at: countAt)
        }

        /// True when the table has a string key or a number key outside 1...count.
        private func hasKeys(_ index: Int32, besidesSequenceOf count: Int) -> Bool {
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                let keyType = lua_type(L, -2)
                let field: Bool
                if keyType == LUA_TSTRING {
                    field = !isKey(-2, "__type")
                } else if keyType == LUA_TNUMBER {
                    let number = lua_tonumber(L, -2)
                    field = !(number >= 1 && number <= Double(count) && number.rounded() == number)
                } else {
                    field = false
                }
                if field {
                    mona_lua_pop(L, 2)
                    return true
                }
                mona_lua_pop(L, 1)
            }
            return false
        }

        /// True when the string at `index` is `key`.
        private func isKey(_ index: Int32, _ key: StaticString) -> Bool {
            var length = 0
            guard let pointer = mona_lua_tolstring(L, index, &length), length == key.utf8CodeUnitCount else { return false }
            return memcmp(pointer, key.utf8Start, length) == 0
        }

        private func weakKeys(_ index: Int32) -> Bool {
            guard lua_getmetatable(L, index) != 0 else { return false }
            defer { mona_lua_pop(L, 1) }
            lua_pushstring(L, "__mode")
            lua_rawget(L, -2)
            defer { mona_lua_pop(L, 1) }
            var length = 0
            guard lua_type(L, -1) == LUA_TSTRING, let pointer = mona_lua_tolstring(L, -1, &length) else { return false }
            return UnsafeRawBufferPointer(start: pointer, count: length).contains(UInt8(ascii: "k"))
        }
    }

    // MARK: MVS → Lua

    /// Pushes the values of an MVS stream; shared tables (references) become the same Lua table.
    /// Returns how many were pushed, or nil (nothing pushed) when the stream is malformed.
    func push(mvs: UnsafeRawBufferPointer) -> Int32? {
        let base = lua_gettop(L)
        lua_checkstack(L, 16)
        lua_pushnil(L) // becomes the table of the tables opened so far when one opens (references)
        var decoder = Decoder(L: L, cursor: MVSCursor(mvs), tables: base + 1)
        var count: Int32 = 0
        while !decoder.cursor.isAtEnd {
            do throws(MVSError) {
                guard lua_checkstack(L, 8) != 0 else { throw .tooDeep(offset: decoder.cursor.offset) }
                try decoder.value(depth: 0)
            } catch {
                lua_settop(L, base)
                return nil
            }
            count += 1
        }
        lua_remove(L, base + 1)
        return count
    }

    /// Pushes values (the same conversion as `push(mvs:)`). Returns how many were pushed.
    @discardableResult
    func push(_ values: [MonaValue]) -> Int32 {
        MVSWriter.encode(values).withUnsafeBytes { push(mvs: $0) } ?? 0
    }

    /// Reads MVS (through MVSCursor, with MVSReader's checks) and pushes Lua values without building values.
    private struct Decoder {
        let L: OpaquePointer
        var cursor: MVSCursor
        /// The stack slot of the table of the tables opened so far (made on first use, for references).
        let tables: Int32
        var opened: Int32 = 0

        /// One value pushed; a malformed stream throws (the caller resets the stack).
        mutating func value(depth: Int) throws(MVSError) {
            let start = cursor.offset
            guard lua_checkstack(L, 6) != 0 else { throw .tooDeep(offset: start) }
            let tag = try cursor.byte()
            guard let known = MVSTag(rawValue: tag) else { throw .unknownTag(tag, offset: start) }
            switch known {
            case .nil: lua_pushnil(L)
            case .false: lua_pushboolean(L, 0)
            case .true: lua_pushboolean(L, 1)
            case .number: lua_pushnumber(L, try cursor.double())
            case .string: pushText(try cursor.text())
            case .bytes:
                let raw = try cursor.run()
                lua_createtable(L, 0, 1)
                lua_pushstring(L, "__raw")
                pushText(raw)
                lua_rawset(L, -3)
            case .date:
                LuaBridge(L: L).pushDate(try cursor.double())
            case .array, .mixed: // a mixed value is an array followed by fields
                guard depth < MVSReader.maxDepth else { throw .tooDeep(offset: start) }
                let count = try cursor.count(bytesPerItem: 1)
                lua_createtable(L, Int32(clamping: min(count, 1024)), 0)
                remember()
                try items(count, depth: depth + 1)
                if known == .mixed { try fields(try cursor.count(bytesPerItem: 2), depth: depth + 1) }
            case .object:
                guard depth < MVSReader.maxDepth else { throw .tooDeep(offset: start) }
                let type = try cursor.text()
                let count = try cursor.count(bytesPerItem: 2)
                lua_createtable(L, 0, Int32(clamping: min(count + 1, 1024)))
                remember()
                if type.count > 0 {
                    lua_pushstring(L, "__type")
                    pushText(type)
                    lua_rawset(L, -3)
                }
                try fields(count, depth: depth + 1)
            case .map:
                guard depth < MVSReader.maxDepth else { throw .tooDeep(offset: start) }
                let flagsAt = cursor.offset
                let flags = try cursor.byte()
                guard flags & ~0x01 == 0 else { throw .badMapFlags(flags, offset: flagsAt) }
                let count = try cursor.count(bytesPerItem: 2)
                lua_createtable(L, 0, Int32(clamping: min(count + 1, 1024)))
                remember()
                for _ in 0..<count {
                    try value(depth: depth + 1)
                    try value(depth: depth + 1)
                    let keyType = lua_type(L, -2)
                    if keyType == LUA_TNIL || (keyType == LUA_TNUMBER && lua_tonumber(L, -2).isNaN) {
                        mona_lua_pop(L, 2) // not a valid Lua key
                        continue
                    }
                    lua_rawset(L, -3)
                }
                lua_pushstring(L, "__size")
                lua_pushnumber(L, Double(count))
                lua_rawset(L, -3)
                if flags & 0x01 != 0 {
                    mona_lua_newtable(L)
                    lua_pushstring(L, "__mode")
                    lua_pushstring(L, "k")
                    lua_rawset(L, -3)
                    lua_setmetatable(L, -2)
                }
            case .reference:
                let index = try cursor.varUInt()
                guard index < UInt64(opened) else { throw .badReference(Int(clamping: index), offset: start) }
                lua_rawgeti(L, tables, Int32(index + 1))
            }
        }

        /// `count` values into the table on top, at 1...count.
        private mutating func items(_ count: Int, depth: Int) throws(MVSError) {
            for position in 0..<count {
                try value(depth: depth)
                lua_rawseti(L, -2, Int32(clamping: position + 1))
            }
        }

        /// `count` keyed pairs into the table on top.
        private mutating func fields(_ count: Int, depth: Int) throws(MVSError) {
            for _ in 0..<count {
                pushText(try cursor.text())
                try value(depth: depth)
                lua_rawset(L, -3)
            }
        }

        /// Numbers the table on top for references (the table of tables is made on first use).
        private mutating func remember() {
            if opened == 0 {
                mona_lua_newtable(L)
                lua_replace(L, tables)
            }
            opened += 1
            lua_pushvalue(L, -1)
            lua_rawseti(L, tables, opened)
        }

        private func pushText(_ text: UnsafeRawBufferPointer) {
            lua_pushlstring(L, text.baseAddress?.assumingMemoryBound(to: CChar.self), text.count)
        }
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

    private func setField(_ key: String, _ pushValue: () -> Void) {
        lua_pushstring(L, key)
        pushValue()
        lua_rawset(L, -3)
    }
}
