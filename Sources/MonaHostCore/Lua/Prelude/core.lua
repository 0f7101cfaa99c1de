-- prelude/core: Lua 5.2 compatibility, logging globals, collections, the global pairs/ipairs/next that
-- understand collections, and the host coroutines of events and RPC methods.
local native, M = ...
local rawget, rawset, type, tostring, select, setmetatable, getmetatable =
      rawget, rawset, type, tostring, select, setmetatable, getmetatable
local rawnext = next

-- Lua 5.2 functions MonaServer applications use (Debian's LuaJIT lacks LUAJIT_ENABLE_LUA52COMPAT).
table.unpack = table.unpack or unpack
-- table.pack is the host's, in C: its array part has exactly n slots, so #t == n when the last argument is not nil (Lua 5.2).
rawlen = rawlen or function(v) return #v end

-- Application code runs in LuaJIT's interpreter, never as compiled traces: a compiled loop runs no
-- hook, and the watchdog (lua.timeout, SIGTERM) interrupts scripts through a count hook. Every way a
-- script's code is loaded marks its functions so (jit.off with its sub-functions); the prelude is compiled.
local jitOff = jit.off
local function interpreted(chunk, ...)
	if type(chunk) == "function" then jitOff(chunk, true) end
	return chunk, ...
end
M.interpreted = interpreted
local rawLoadstring, rawLoad, rawLoadfile = loadstring, load, loadfile
function loadstring(...) return interpreted(rawLoadstring(...)) end
function load(...) return interpreted(rawLoad(...)) end
function loadfile(...) return interpreted(rawLoadfile(...)) end
function dofile(name)
	local chunk, message = loadfile(name)
	if not chunk then error(message, 2) end
	return chunk()
end
do
	local luaSearcher = package.loaders[2]
	package.loaders[2] = function(...) return interpreted(luaSearcher(...)) end
end

-- Logging: MonaServer's message format (arguments concatenated, nil → (null), booleans → (true)).
local function describe(value)
	local kind = type(value)
	if kind == "string" or kind == "number" then return tostring(value) end
	if value == nil then return "(null)" end
	if kind == "boolean" then return value and "(true)" or "(false)" end
	local meta = getmetatable(value)
	if type(meta) == "table" and rawget(meta, "__tostring") then return tostring(value) end
	return kind .. "_" .. (tostring(value):match("0x%x+") or "?")
end
M.describe = describe

local function logger(level)
	return function(...)
		if level > native.logLevel then return end
		local parts = {}
		for i = 1, select("#", ...) do parts[i] = describe((select(i, ...))) end
		local info = debug.getinfo(2, "Sl")
		native.log(level, info and info.short_src or "?", info and info.currentline or 0, table.concat(parts))
	end
end
FATAL, CRITIC, ERROR, WARN, NOTE, INFO, DEBUG, TRACE =
	logger(1), logger(2), logger(3), logger(4), logger(5), logger(6), logger(7), logger(8)

-- Collections: userdata proxies (so that # works without 5.2 compat) over a state table.
-- A proxy holds its state strongly as its environment (debug.setfenv); `collections` finds the state
-- of a proxy quickly and is weak on both sides. Weak keys alone would leak: a state may refer back to
-- its proxy (a client's properties call a function that reaches the client's state, which holds them),
-- and LuaJIT (no ephemerons) keeps the values of a weak-keyed table alive, hence their keys.
local collections = setmetatable({}, { __mode = "kv" })
local setState = debug.setfenv
M.collections = collections

--- Makes `proxy` a collection-like object whose state is `state` (lives as long as the proxy).
function M.attachState(proxy, state)
	setState(proxy, state)
	collections[proxy] = state
end

-- One metatable serves every collection (each client has several: memory per connection counts);
-- the state of a proxy is found in `collections`. `subs` and `extra` are made when first needed.
local template = newproxy(true)
do
	local meta = getmetatable(template)
	meta.__index = function(proxy, key)
		local state = collections[proxy]
		local value = state.items[key]
		if value ~= nil then return value end
		local subs = state.subs
		if subs then
			value = subs[key]
			if value ~= nil then return value end
		end
		if key == "count" then return state.count end
		local extra = state.extra
		return extra and extra[key]
	end
	meta.__newindex = function(proxy, key, value)
		local state = collections[proxy]
		if not state.extra then state.extra = {} end
		state.extra[key] = value
	end
	meta.__len = function(proxy) return collections[proxy].count end
	meta.__tostring = function(proxy) return "Collection_" .. (tostring(collections[proxy]):match("0x%x+") or "?") end
	meta.__call = function(proxy, ...)
		local call = collections[proxy].call
		if call then return call(...) end
	end
	meta.__metatable = "change metatable of collection is prohibited"
end

--- Makes a collection; `call(key, ...)` answers coll(key, ...) when given.
function M.newCollection(name, call, weak)
	local proxy = newproxy(template)
	M.attachState(proxy, { items = weak and setmetatable({}, { __mode = "v" }) or {}, count = 0, name = name, call = call })
	return proxy
end

--- Sets (value ~= nil) or removes an item; dotted keys also fill sub-collections ("A.b" → A.b),
--- unless `flat` (names that clients choose, such as publication names, must not grow those).
function M.collectionSet(proxy, key, value, flat)
	local state = collections[proxy]
	local old = state.items[key]
	if old == nil and value ~= nil then state.count = state.count + 1
	elseif old ~= nil and value == nil then state.count = state.count - 1 end
	state.items[key] = value
	if not flat and type(key) == "string" then
		local head, tail = key:match("^([^.]+)%.(.+)$")
		if head then
			local sub = state.subs and state.subs[head]
			if not sub then
				if value == nil then return end
				sub = M.newCollection(head)
				state.subs = state.subs or {}
				state.subs[head] = sub
			end
			M.collectionSet(sub, tail, value)
		end
	end
end

function M.collectionItems(proxy) return collections[proxy].items end

-- Collections and data tables are userdata (so that # works), but MonaServer's objects are tables:
-- type() says so, and serializers see a plain copy of their items.
local rawtype = type
M.rawtype = rawtype
_G.type = function(value)
	local kind = rawtype(value)
	if kind == "userdata" and collections[value] then return "table" end
	return kind
end
debug.getregistry()["mona.snapshot"] = function(proxy)
	local state = collections[proxy]
	if not state then return nil end
	local copy = {}
	for key, value in rawnext, state.items do copy[key] = value end
	return copy
end

-- pairs/ipairs/next understand collections (and the data table); errors on other types as 1.x.
function next(t, k)
	local state = collections[t]
	if state then return rawnext(state.items, k) end
	return rawnext(t, k)
end
function pairs(t)
	local state = collections[t]
	if state then return rawnext, state.items, nil end
	if type(t) ~= "table" then
		ERROR("bad argument to pairs, table expected, got ", type(t))
		return function() end
	end
	return rawnext, t, nil
end
local function inext(t, i)
	i = i + 1
	local value = t[i]
	if value ~= nil then return i, value end
end
function ipairs(t)
	if type(t) ~= "table" and not collections[t] then
		ERROR("bad argument to ipairs, table expected, got ", type(t))
		return function() end
	end
	return inext, t, 0
end

-- Asynchronous host work from Lua (DNS today): events and RPC methods run in coroutines of the
-- host; a function that needs the host to wait for something yields a request, the host does it off
-- the loop and resumes the coroutine. Where the caller cannot wait (onConnection must answer at once,
-- top-level code of main.lua), the request is served synchronously.
local hostCoroutines = setmetatable({}, { __mode = "k" })
local continuations, lastContinuation = {}, 0

local function serveNow(request)
	if request.dns then
		WARN("DNS resolution of ", request.dns, " blocks the server here; resolve in an RPC or an event instead")
		return native.resolve(request.dns)
	end
end

-- Host coroutines are reused: each runs `body`, which calls a function and yields DONE with its
-- results, then waits for the next function. A coroutine that failed is dead and dropped. `body`
-- tail-calls `finish`, so an idle coroutine no longer holds the last call's function and arguments
-- (only its results, until its next use).
local DONE = {}
local idle, idleCount = {}, 0
local body
local function finish(...)
	return body(coroutine.yield(DONE, ...))
end
function body(fn, ...)
	return finish(fn(...))
end

-- Returns true, ok, results… when the coroutine finished; false, token when it waits for the host.
-- The token names the call through all its waits (1...0x7FFFFFFF: the plugins' int32).
local function step(co, allowSuspend, onDone, context, token, ok, first, ...)
	if not ok then return true, false, first, ... end
	if first == DONE then
		if idleCount < 32 then
			idleCount = idleCount + 1
			idle[idleCount] = co
		end
		return true, true, ...
	end
	local request = first
	if not allowSuspend then
		return step(co, allowSuspend, onDone, context, token, coroutine.resume(co, serveNow(request)))
	end
	lastContinuation = lastContinuation + 1
	token = token or (lastContinuation - 1) % 0x7FFFFFFF + 1
	continuations[lastContinuation] = { co = co, onDone = onDone, context = context, token = token }
	native.async(lastContinuation, request.dns)
	return false, token
end

--- Runs fn(...) in a host coroutine. Returns true, ok, results… when it finished, or false, token when
--- it is waiting for the host: `onDone(context, token, ok, results…)` is called when it finishes later.
function M.runv(allowSuspend, onDone, context, fn, ...)
	local co
	if idleCount > 0 then
		co = idle[idleCount]
		idle[idleCount] = nil
		idleCount = idleCount - 1
	else
		co = coroutine.create(body)
		hostCoroutines[co] = true
	end
	return step(co, allowSuspend, onDone, context, nil, coroutine.resume(co, fn, ...))
end

local function packed(finished, ...)
	if finished then return table.pack(...) end
end

--- M.runv with table.pack(ok, results…) when it finished, nil when it is waiting for the host.
function M.run(...)
	return packed(M.runv(...))
end

local function resumed(continuation, finished, ...)
	if finished and continuation.onDone then continuation.onDone(continuation.context, continuation.token, ...) end
end

--- The host finished a request: the waiting coroutine goes on with its answer.
function M.resume(id, ...)
	local continuation = continuations[id]
	if not continuation then return end
	continuations[id] = nil
	resumed(continuation, step(continuation.co, true, continuation.onDone, continuation.context, continuation.token,
		coroutine.resume(continuation.co, ...)))
end

--- Asks the host for something: waits (yields) inside a host coroutine, else is served at once.
function M.await(request)
	local co = coroutine.running()
	if co and hostCoroutines[co] then return coroutine.yield(request) end
	return serveNow(request)
end

-- Type conversion of configuration-like text (MonaServer's rule): booleans, null, numbers.
function M.convert(text)
	if type(text) ~= "string" then return text end
	local lower = text:lower()
	if lower == "true" then return true end
	if lower == "false" then return false end
	if lower == "null" then return nil end
	return tonumber(text) or text
end
