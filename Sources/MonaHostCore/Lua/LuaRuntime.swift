import CLuaJIT
import CLuaShim
import CMonaCrypto
import MonaValues
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// The one Lua state of the server and the applications of `www/`. Everything runs on the loop.
///
/// The application model, `mona`, clients and `data` are written in Lua (`LuaPrelude`) over a few
/// native functions (`LuaNatives`); this class owns the state and is the host side of the client,
/// RPC and writer services of the plugin ABI.
final class LuaRuntime {
    let L: OpaquePointer
    unowned let host: HostRuntime
    let www: String
    /// Where the files onRead allows are confined to www/ (with a memory of recent answers).
    private var confinement: WWWConfinement
    /// The entry points the prelude defined (a registry reference to the table `M`).
    private var entries: Int32 = 0
    /// How long a call into Lua may run before the watchdog interrupts it (`lua.timeout`, 0 = no limit).
    private(set) var timeoutMs = 0
    /// Clients opened by plugins, by handle.
    var clients: [UInt64: ClientRecord] = [:]
    /// Writers (each client's main writer and the extra ones), by handle.
    var writers: [UInt64: WriterRecord] = [:]
    /// How many calls each writer has had from Lua (onRead answering itself is detected by it).
    var writerUses: [UInt64: Int] = [:]
    /// Group memberships of clients (group_join), by handle.
    var memberships: [UInt64: MembershipRecord] = [:]
    /// Lua's own TCP and UDP sockets.
    private(set) lazy var sockets = LuaSockets(runtime: self)

    /// An application path as the prelude's normalizePath makes it ("" or "/a/b": "\\" is "/", "." and ".." resolved).
    static func normalizedPath(_ path: String) -> String {
        let parts = path.split { $0 == "/" || $0 == "\\" }.reduce(into: [Substring]()) { parts, segment in
            if segment == ".." { _ = parts.popLast() } else if segment != "." { parts.append(segment) }
        }
        return parts.isEmpty ? "" : "/" + parts.joined(separator: "/")
    }

    /// A client a plugin opened.
    /// A class: looking a client up (every plugin call names one) retains one object instead of
    /// copying every field.
    final class ClientRecord {
        let plugin: LoadedPlugin
        let writer: UInt64
        /// Its application path, normalised as Lua's client.path ("" or "/app/sub").
        let path: String
        /// Writers the plugin declared for it later (openWriter), released with it.
        var extraWriters: [UInt64] = []
        /// Its group memberships (group_join), ended with it.
        var memberships: Set<UInt64> = []

        init(plugin: LoadedPlugin, writer: UInt64, path: String) {
            self.plugin = plugin
            self.writer = writer
            self.path = path
        }
    }

    /// A client's membership of a group, and the plugin that owns it (the client's).
    struct MembershipRecord {
        let plugin: LoadedPlugin
        let client: UInt64
    }

    /// A writer and the plugin context behind it.
    struct WriterRecord {
        let plugin: LoadedPlugin
        let context: UnsafeMutableRawPointer?
        let client: UInt64
    }

    /// A failure of the prelude (a bug of ours) or of LuaJIT.
    struct StartFailure: Error, CustomStringConvertible { let description: String }

    init(host: HostRuntime, www: String) throws {
        guard let state = mona_lua_newstate() else { throw StartFailure(description: "LuaJIT cannot allocate a state") }
        L = state
        self.host = host
        self.www = www
        confinement = WWWConfinement(root: www)
        luaL_openlibs(L)
        addLua52Functions()
        addModuleFolders()
        mona_lua_newtable(L)
        LuaNatives.register(self)
        let natives = lua_gettop(L)
        mona_lua_newtable(L)
        let shared = lua_gettop(L)
        for (name, embedded) in LuaPrelude.chunks {
            guard var source = embedded else { throw StartFailure(description: "the Lua prelude lacks \(name)") }
            let loaded = source.withUTF8 { mona_lua_loadbuffer(L, UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self), $0.count, name) }
            guard loaded == 0 else { throw StartFailure(description: popError()) }
            lua_pushvalue(L, natives)
            lua_pushvalue(L, shared)
            guard mona_lua_pcall(L, 2, 0) == 0 else { throw StartFailure(description: popError()) }
        }
        entries = luaL_ref(L, mona_lua_registryindex())
        mona_lua_pop(L, 1) // natives
        timeoutMs = max(0, host.config.int("lua.timeout", default: 5000))
        if mona_watchdog_start(L, Int32(clamping: timeoutMs), SIGUSR2) != 0 {
            host.log(.warn, "the Lua watchdog cannot start: a script that never returns will not be interrupted")
        }
    }

    deinit { lua_close(L) }

    /// Lua 5.2 functions written in C (Debian's LuaJIT lacks LUAJIT_ENABLE_LUA52COMPAT); the prelude adds the rest.
    private func addLua52Functions() {
        lua_getfield(L, mona_lua_globalsindex(), "table")
        mona_lua_pushcfunction(L, mona_lua_table_pack)
        lua_setfield(L, -2, "pack")
        mona_lua_pop(L, 1)
    }

    /// `require` finds Lua C modules (`luaopen_<name>`) in www/ and next to the executable too.
    private func addModuleFolders() {
        lua_getfield(L, mona_lua_globalsindex(), "package")
        lua_getfield(L, -1, "cpath")
        let current = LuaBridge(L: L).string(at: -1)
        mona_lua_pop(L, 1)
        let exe = host.layout.executableDirectory
        lua_pushstring(L, "\(current);\(www)/?.so;\(exe)/?.so")
        lua_setfield(L, -2, "cpath")
        mona_lua_pop(L, 1)
    }

    private func popError() -> String {
        let message = LuaBridge(L: L).string(at: -1)
        mona_lua_pop(L, 1)
        return message
    }

    /// Pushes the entry point `name` of the prelude (a literal: its C string is used as it is, where a
    /// small `String` would be copied into a temporary array for every call).
    private func pushEntry(_ name: StaticString) {
        lua_rawgeti(L, mona_lua_registryindex(), entries)
        UnsafeRawPointer(name.utf8Start).withMemoryRebound(to: CChar.self, capacity: name.utf8CodeUnitCount + 1) {
            lua_getfield(L, -1, $0)
        }
        lua_remove(L, -2)
    }

    /// Calls an entry point with arguments pushed by `arguments`; returns the results as a slice of
    /// the stack (first index, count) that the caller pops. A Lua error is logged and gives nil.
    /// A call the watchdog interrupts (`lua.timeout`) is logged as `what`, and disconnects `client`.
    @discardableResult
    func call(_ name: StaticString, client: UInt64? = nil, what: @autoclosure () -> String = "", _ arguments: () -> Int32?,
              results handle: (Int32, Int32) -> Void = { _, _ in }) -> Bool {
        let base = lua_gettop(L)
        pushEntry(name)
        guard let count = arguments() else { // arguments that could not be pushed: no call
            lua_settop(L, base)
            return false
        }
        host.data?.holdWrites() // what one call changes in `data` is written as one batch
        let started = host.metrics.enabled ? ProcessStats.monotonicNs() : 0
        mona_watchdog_enter()
        let status = mona_lua_pcall(L, count, LUA_MULTRET)
        if started != 0 { host.metrics.luaEvents.record(name.description, nanoseconds: ProcessStats.monotonicNs() &- started) }
        host.data?.releaseWrites()
        if mona_watchdog_leave() == Int32(MONA_WATCHDOG_TIMEOUT) { interrupted(what().isEmpty ? name.description : what(), client: client) }
        guard status == 0 else {
            host.log(.error, "Lua \(name): \(popError())")
            lua_settop(L, base)
            return false
        }
        handle(base + 1, lua_gettop(L) - base)
        lua_settop(L, base)
        return true
    }

    /// The watchdog interrupted a call: logged; its client (if any) is disconnected once the plugin has
    /// its answer.
    private func interrupted(_ what: String, client: UInt64?) {
        guard let client, let record = clients[client], let writer = writers[record.writer] else {
            host.log(.error, "Lua watchdog: \(what) ran longer than lua.timeout (\(timeoutMs) ms) and was interrupted")
            return
        }
        host.log(.error, "Lua watchdog: \(what) of client \(client) ran longer than lua.timeout (\(timeoutMs) ms): interrupted, the client is disconnected")
        host.reactor.execute { [weak self] in
            guard let self, self.clients[client] != nil else { return }
            _ = writer.plugin.entry.writer_close?(writer.plugin.instance, writer.context, 0)
        }
    }

    // MARK: lifecycle

    /// Loads `data/`, then the root application (www/main.lua and its onStart).
    func start(data entries: [(path: [String], value: String)]) {
        call("loadData") {
            lua_createtable(L, Int32(entries.count), 0)
            for (position, entry) in entries.enumerated() {
                lua_createtable(L, 0, 2)
                lua_createtable(L, Int32(entry.path.count), 0)
                for (index, part) in entry.path.enumerated() {
                    lua_pushstring(L, part)
                    lua_rawseti(L, -2, Int32(index + 1))
                }
                lua_setfield(L, -2, "path")
                lua_pushstring(L, entry.value)
                lua_setfield(L, -2, "value")
                lua_rawseti(L, -2, Int32(position + 1))
            }
            return 1
        }
        call("startApplications") { 0 }
    }

    /// The 2-second tick (reload of the root app, onManage).
    func manage() {
        call("manage", what: "onManage") { 0 }
        collectAfterBurst()
    }

    /// Lua memory (KiB) right after the last full collection, and at the previous manage tick.
    private var liveKiB: Int32 = 0
    private var previousKiB: Int32 = 0

    /// LuaJIT collects as it allocates: after a burst (thousands of clients gone at once) an idle
    /// server would keep their garbage, and its RSS, until Lua allocates as much again. A manage tick
    /// that finds the heap grown by more than 4 MiB since the last full collection but quiet since the
    /// previous tick (under 1 MiB of change: the burst is over) collects in full; the host's heap
    /// trimmer then gives the memory back (Lua allocates with malloc).
    private func collectAfterBurst() {
        let count = lua_gc(L, LUA_GCCOUNT, 0)
        defer { previousKiB = lua_gc(L, LUA_GCCOUNT, 0) }
        guard count - liveKiB > 4096, abs(count - previousKiB) < 1024 else { return }
        // Twice: objects with finalizers (clients' proxies) are only freed by the cycle after theirs.
        lua_gc(L, LUA_GCCOLLECT, 0)
        lua_gc(L, LUA_GCCOLLECT, 0)
        liveKiB = lua_gc(L, LUA_GCCOUNT, 0)
    }

    /// Host work a Lua coroutine waited for is done: it goes on with `value`.
    func resume(continuation id: Int, with value: String?) {
        call("resume") {
            lua_pushnumber(L, Double(id))
            if let value { lua_pushstring(L, value) } else { lua_pushnil(L) }
            return 2
        }
    }

    /// Server stop: onStop of every app, children first; then the sockets the scripts still hold close.
    func stop() {
        call("stopApplications") { 0 }
        sockets.closeAll()
    }

    // MARK: clients (host side of the ABI)

    /// Opens a client: onConnection in the app of its path. Returns MONA_OK and the response object,
    /// or an error code with a classified message.
    func openClient(plugin: LoadedPlugin, info: mona_client_info, args: [MonaValue], writerContext: UnsafeMutableRawPointer?)
        -> (status: Int32, client: UInt64, response: [MonaValue], error: (Int32, String)?)
    {
        let handle = host.reactor.makeHandle()
        let writer = host.reactor.makeHandle()
        writers[writer] = WriterRecord(plugin: plugin, context: writerContext, client: handle)
        var rawID = [UInt8](repeating: 0, count: 32)
        if let given = info.client_id {
            rawID = Array(UnsafeBufferPointer(start: given, count: 32))
        } else {
            _ = mona_crypto_random(&rawID, 32)
        }
        let bridge = LuaBridge(L: L)
        var outcome: (status: Int32, client: UInt64, response: [MonaValue], error: (Int32, String)?) =
            (MONA_E_SCRIPT, 0, [], (MONA_ERR_OTHER, "Lua failure"))
        let properties = info.properties.map { Array(UnsafeBufferPointer(start: $0, count: info.properties_size)) } ?? []
        // Over TLS when the client's addresses are those of one of the plugin's TLS connections.
        let secure = !host.tlsEndpoints.isEmpty && host.reactor.tls.isSecure(plugin, peer: info.peer, local: info.local)
        let parameters = host.config.keys(withPrefix: "\(plugin.section).").map {
            (String($0.dropFirst(plugin.section.count + 1)), host.config[$0] ?? "")
        }
        call("connect", what: "onConnection", {
            lua_pushnumber(L, Double(handle))
            lua_createtable(L, 0, 10)
            let text: [(String, String?)] = [
                ("protocol", info.protocol.map { String(cString: $0) } ?? plugin.section),
                ("path", info.path.map { String(cString: $0) } ?? ""), ("query", info.query.map { String(cString: $0) }),
                ("address", info.peer.description), ("serverAddress", info.server_address.map { String(cString: $0) }),
            ]
            for (key, value) in text where value != nil {
                lua_pushstring(L, value!)
                lua_setfield(L, -2, key)
            }
            rawID.withUnsafeBytes { lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), 32) }
            lua_setfield(L, -2, "rawId")
            lua_pushboolean(L, secure ? 1 : 0)
            lua_setfield(L, -2, "secure")
            lua_pushnumber(L, Double(writer))
            lua_setfield(L, -2, "writer")
            if let decoded = try? MVSReader.decode(properties), let first = decoded.first, case .object = first {
                bridge.push([first])
                lua_setfield(L, -2, "properties")
            }
            lua_createtable(L, 0, Int32(parameters.count))
            for (key, value) in parameters {
                lua_pushstring(L, value)
                lua_setfield(L, -2, key)
            }
            lua_setfield(L, -2, "parameters")
            return 2 + bridge.push(args)
        }, results: { first, count in
            if lua_toboolean(L, first) != 0 {
                var response = count > 1 ? ((try? bridge.values(from: first + 1, to: first + 1)) ?? []) : []
                if response.first == .array([]) { response = [.object(type: "", fields: [])] } // {} is an object here
                outcome = (MONA_OK, handle, response, nil)
            } else {
                let kind = bridge.string(at: first + 1) == "APPLICATION" ? MONA_ERR_APPLICATION : MONA_ERR_SCRIPT
                outcome = (kind == MONA_ERR_APPLICATION ? MONA_E_NOTFOUND : MONA_E_REJECTED, 0, [],
                           (kind, bridge.string(at: first + 2)))
            }
        })
        if outcome.status == MONA_OK {
            clients[handle] = ClientRecord(plugin: plugin, writer: writer, path: Self.normalizedPath(info.path.map { String(cString: $0) } ?? ""))
        } else {
            writers[writer] = nil
        }
        return outcome
    }

    /// Calls client:method(args…) with its arguments as an MVS stream. Returns MONA_OK with the results
    /// as an MVS stream, MONA_PENDING with the call's token (one NUMBER) when the method waits for the
    /// host, or NOTFOUND / SCRIPT with a message (INVAL for a malformed stream).
    func invoke(client: UInt64, method: String, args: UnsafeRawBufferPointer) -> (status: Int32, results: [UInt8], error: (Int32, String)?) {
        guard let plugin = clients[client]?.plugin else { return (MONA_E_INVAL, [], (MONA_ERR_OTHER, "unknown client")) }
        let bridge = LuaBridge(L: L)
        var outcome: (status: Int32, results: [UInt8], error: (Int32, String)?) = (MONA_E_SCRIPT, [], (MONA_ERR_SCRIPT, "Lua failure"))
        var malformed = false
        call("invoke", client: client, what: "client:\(method)", {
            lua_pushnumber(L, Double(client))
            LuaBridge(L: L).push(text: method)
            guard let count = bridge.push(mvs: args) else {
                malformed = true
                return nil
            }
            return 2 + count
        }, results: { first, count in
            switch bridge.string(at: first) {
            case "OK":
                do throws(LuaBridge.Unsupported) {
                    outcome = (MONA_OK, count > 1 ? try bridge.encode(from: first + 1, to: first + count - 1) : [], nil)
                } catch {
                    host.log(.error, "\(method) returned a \(error.type), which cannot be sent")
                    outcome = (MONA_E_SCRIPT, [], (MONA_ERR_SCRIPT, "\(method) returned a \(error.type), which cannot be sent"))
                }
            case "PENDING":
                outcome = (MONA_PENDING, MVSWriter.encode(.number(lua_tonumber(L, first + 1))), nil)
            case "NOTFOUND":
                outcome = (MONA_E_NOTFOUND, [], (MONA_ERR_NOTFOUND, bridge.string(at: first + 1)))
            default:
                outcome = (MONA_E_SCRIPT, [], (MONA_ERR_SCRIPT, bridge.string(at: first + 1)))
            }
        })
        if malformed { return (MONA_E_INVAL, [], (MONA_ERR_PROTOCOL, "malformed MVS arguments")) }
        // A method that ran (a name that is none, such as HTTP's GET of a file, is no call).
        if outcome.status != MONA_E_NOTFOUND { plugin.counters.pointee.rpcCalls &+= 1 }
        if outcome.status == MONA_E_SCRIPT { plugin.counters.pointee.rpcErrors &+= 1 }
        return outcome
    }

    /// Closes a client: onDisconnection, then its writers are released to the plugin.
    func closeClient(_ client: UInt64) -> Int32 {
        guard let record = clients.removeValue(forKey: client) else { return MONA_E_INVAL }
        host.media.clientClosed(client) // onUnpublish and onUnsubscribe come before onDisconnection
        for membership in record.memberships.sorted() { leaveGroup(membership) } // onUnjoinGroup too
        call("disconnect") {
            lua_pushnumber(L, Double(client))
            return 1
        }
        // Its own writers only (a scan of every writer made closing N clients cost N²).
        for handle in [record.writer] + record.extraWriters {
            guard let writer = writers.removeValue(forKey: handle) else { continue }
            writerUses[handle] = nil
            writer.plugin.entry.writer_released?(writer.plugin.instance, writer.context)
        }
        return MONA_OK
    }

    /// What client_read_file answers.
    enum FileDecision {
        /// The file, and the template properties (one MVS value) when onRead returned a table.
        case allow(path: String, properties: [UInt8]?)
        case deny(kind: Int32, message: String)
        /// Not found in www/ (or refused by the confinement): "File <name> doesn't exist", written
        /// where it goes only (most such requests, e.g. HLS, never show it).
        case missing(name: String)
        case handled
        /// The parameters were not a valid MVS stream.
        case malformed
    }

    /// client:onRead(name, parameters…) with the parameters as an MVS stream, then confinement to
    /// www/: scripts, missing files and paths leaving www/ are not found. Nil for an unknown client.
    func readFile(client: UInt64, name: String, parameters: UnsafeRawBufferPointer) -> FileDecision? {
        guard clients[client] != nil else { return nil }
        let bridge = LuaBridge(L: L)
        var decision: FileDecision = .deny(kind: MONA_ERR_OTHER, message: "Lua failure")
        var malformed = false
        call("readFile", client: client, what: "client:onRead", {
            lua_pushnumber(L, Double(client))
            bridge.push(text: name)
            guard let count = bridge.push(mvs: parameters) else {
                malformed = true
                return nil
            }
            return 2 + count
        }, results: { first, count in
            if bridge.isString(at: first, "ALLOW") {
                let properties = count > 2 && lua_type(L, first + 2) == LUA_TTABLE
                    ? try? bridge.encode(from: first + 2, to: first + 2) : nil
                decision = .allow(path: bridge.string(at: first + 1), properties: properties)
            } else if bridge.isString(at: first, "HANDLED") {
                decision = .handled
            } else {
                let kind: Int32 = bridge.isString(at: first + 1, "PERMISSION") ? MONA_ERR_PERMISSION
                    : bridge.isString(at: first + 1, "NOTFOUND") ? MONA_ERR_NOTFOUND : MONA_ERR_SCRIPT
                decision = .deny(kind: kind, message: bridge.string(at: first + 2))
            }
        })
        if malformed { return .malformed }
        guard case .allow(let path, let properties) = decision else { return decision }
        return confinement.confine(path).map { .allow(path: $0, properties: properties) }
            ?? .missing(name: name)
    }

    /// client.parameters[key] as text.
    func parameter(client: UInt64, key: String) -> String? {
        var value: String?
        call("parameter", {
            lua_pushnumber(L, Double(client))
            LuaBridge(L: L).push(text: key)
            return 2
        }, results: { first, _ in
            if lua_type(L, first) == LUA_TSTRING { value = LuaBridge(L: L).string(at: first) }
        })
        return value
    }

    /// client.properties[key] = value.
    func setProperty(client: UInt64, key: String, value: MonaValue) {
        call("setProperty") {
            lua_pushnumber(L, Double(client))
            LuaBridge(L: L).push(text: key)
            return 2 + LuaBridge(L: L).push([value])
        }
    }

    /// An extra writer a plugin declares for a client.
    func openWriter(plugin: LoadedPlugin, client: UInt64, context: UnsafeMutableRawPointer?) -> UInt64? {
        guard clients[client] != nil else { return nil }
        let handle = host.reactor.makeHandle()
        writers[handle] = WriterRecord(plugin: plugin, context: context, client: client)
        clients[client]?.extraWriters.append(handle)
        return handle
    }

    /// Every client of a plugin that stops is closed (onDisconnection).
    func closeClients(of plugin: LoadedPlugin) {
        let handles = clients.compactMap { $0.value.plugin === plugin ? $0.key : nil }
        for handle in handles { _ = closeClient(handle) }
    }
}
