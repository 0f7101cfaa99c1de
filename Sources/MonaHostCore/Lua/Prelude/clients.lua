-- prelude/clients: Client and writer objects, and the entry points protocols reach through the host:
-- connect (onConnection), invoke (RPC), disconnect (onDisconnection).
local native, M = ...
local type, tostring, select, setmetatable, rawget, pcall = type, tostring, select, setmetatable, rawget, pcall

local byHandle = {}
M.clientsByHandle = byHandle
local states = setmetatable({}, { __mode = "k" })

-- Writers: Lua's client.writer, driven into the protocol plugin by the host.
local writerMethods = {}
function writerMethods:writeInvocation(name, ...) return native.write(self.handle, "invoke", name or "onMessage", ...) end
function writerMethods:writeMessage(...) return native.write(self.handle, "message", nil, ...) end
function writerMethods:writeRaw(...)
	local parts = {}
	for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
	return native.write(self.handle, "raw", nil, table.concat(parts))
end
function writerMethods:flush(full) return native.write(self.handle, "flush", nil, full and true or false) end
function writerMethods:close(code) return native.write(self.handle, "close", nil, tonumber(code) or 0) end
function writerMethods:newWriter()
	local handle = native.write(self.handle, "new")
	if handle then return M.newWriter(handle) end
	return self
end
local writerMeta = {
	__index = function(self, key)
		if key == "reliable" then return native.write(rawget(self, "handle"), "reliable?") end
		return writerMethods[key]
	end,
	__newindex = function(self, key, value)
		if key == "reliable" then native.write(rawget(self, "handle"), "reliable", nil, value and true or false)
		else rawset(self, key, value) end
	end,
}
function M.newWriter(handle) return setmetatable({ handle = handle }, writerMeta) end

-- Clients: tables (scripts add fields and RPC methods) whose metatable serves MonaServer's properties.
local clientMeta = {}
clientMeta.__index = function(client, key)
	local state = states[client]
	if not state then return nil end
	if key == "id" or key == "rawId" or key == "protocol" or key == "path" or key == "query" then return state[key] end
	if key == "address" then return M.newSocketAddress(state.address) end
	if key == "serverAddress" then return state.serverAddress end
	if key == "secure" then return state.secure end
	if key == "properties" then return state.properties end
	if key == "parameters" then return state.parameters end
	if key == "ping" or key == "lastReceptionTime" then return 0 end
	if key == "writer" then
		if state.closed then
			ERROR("const object can't call this method")
			return nil
		end
		return state.writer
	end
	if key == state.protocol then
		state.protocolCollection = state.protocolCollection or M.newCollection(state.protocol)
		return state.protocolCollection
	end
	return state.properties[key]
end
clientMeta.__tostring = function(client) return "Client_" .. (rawget(states, client) and states[client].id or "?") end

local function hex(raw) return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
M.hex = hex
function M.findClient(id)
	if type(id) ~= "string" then return nil end
	if #id == 32 then id = hex(id) end
	return M.collectionItems(M.clientsByID)[id:lower()]
end

--- A protocol opens a client: returns true, response table — or false, error class, message.
function M.connect(handle, info, ...)
	info.path = M.normalizePath(info.path)
	local service, class, message = M.open(info.path)
	if not service then
		ERROR(message)
		return false, class, message
	end
	local client = setmetatable({}, clientMeta)
	local state
	-- client.properties(key, value[, options]): sets a property the protocol shows its peer (an HTTP
	-- cookie; the property holds its text) and returns the value as given (1.x: 30 for 30);
	-- client.properties(key) reads one; nil when the protocol has none.
	local function setProperty(key, value, options)
		if type(key) ~= "string" then return nil end
		if value == nil then return state.properties[key] end
		local text = value
		if type(value) == "number" or type(value) == "boolean" then text = tostring(value) end
		if type(text) ~= "string" then return nil end
		if type(options) ~= "table" then options = nil end
		if state.closed or not native.write(state.writer.handle, "property", key, text, options) then return nil end
		M.collectionSet(state.properties, key, text)
		return value
	end
	state = {
		handle = handle, id = hex(info.rawId), rawId = info.rawId, protocol = info.protocol, path = info.path,
		query = info.query or "", address = info.address, serverAddress = info.serverAddress, secure = info.secure == true,
		service = service,
		properties = M.newCollection("properties", setProperty), parameters = M.newCollection("parameters"),
		writer = M.newWriter(info.writer),
	}
	for key, value in pairs(info.properties or {}) do M.collectionSet(state.properties, key, M.convert(value)) end
	for key, value in pairs(info.parameters or {}) do M.collectionSet(state.parameters, key, M.convert(value)) end
	states[client] = state
	byHandle[handle] = client
	local response = {}
	local handler = service.env.onConnection
	if type(handler) == "function" then
		local results = M.run(false, nil, nil, handler, client, M.typed(service, ...))
		if not results[1] then
			byHandle[handle], state.closed = nil, true
			local reason = results[2]
			if reason == nil or reason == "" then reason = "client rejected" end
			ERROR(reason)
			return false, "SCRIPT", tostring(reason)
		end
		local returned = results[2]
		if type(returned) == "table" then
			for key, value in pairs(returned) do
				if type(key) == "string" then
					M.collectionSet(state.parameters, key, value)
					response[key] = value
				else
					WARN("onConnection returned a non-string key ", key, ": ignored")
				end
			end
		elseif returned ~= nil then
			ERROR("onConnection properties returned must be a table, not a ", type(returned))
		end
	end
	M.collectionSet(M.clientsByID, state.id, client)
	M.collectionSet(service.clients, state.id, client)
	return true, response
end

--- A client method called by the remote side: "OK", results… — "PENDING", token when it waits for
--- the host (its results come later through its writer) — or "NOTFOUND"/"SCRIPT", message.
local function respondLater(writer, token, ok, ...)
	if not ok then
		local message = ...
		ERROR(message)
		native.write(writer, "response", -token, tostring(message)) -- the call failed (RTMP: _error)
		return
	end
	native.write(writer, "response", token, ...) -- even without results: RTMP answers every call
end

-- What M.invoke answers the host from M.runv's results: "PENDING", token for a call that waits.
local function answer(finished, ok, ...) -- (false, token) when the call waits
	if not finished then return "PENDING", ok end
	if not ok then
		local message = ...
		ERROR(message)
		return "SCRIPT", tostring(message)
	end
	return "OK", ...
end

function M.invoke(handle, method, ...)
	local client = byHandle[handle]
	if not client then return "NOTFOUND", "client closed" end
	local state = states[client]
	local handler = rawget(client, method)
	if type(handler) ~= "function" then
		local message = "Method client '" .. tostring(method) .. "' not found in application " .. state.path
		ERROR(message)
		return "NOTFOUND", message
	end
	-- A method that waits for the host (DNS) answers later, as a response through its writer.
	return answer(M.runv(true, respondLater, rawget(state.writer, "handle"), handler, client, M.typed(state.service, ...)))
end

--- The protocol closed a client: it leaves the collections, then onDisconnection runs.
function M.disconnect(handle)
	local client = byHandle[handle]
	if not client then return end
	byHandle[handle] = nil
	local state = states[client]
	M.collectionSet(M.clientsByID, state.id, nil)
	M.collectionSet(state.service.clients, state.id, nil)
	state.closed = true
	if not state.service.dead then M.event(state.service, "onDisconnection", client) end
end

--- A file request: client:onRead(name, …) decides (lua-api.md §2.12). Returns "ALLOW", path,
--- template properties — or "DENY", class, message — or "HANDLED" when onRead answered itself.
function M.readFile(handle, name, ...)
	local client = byHandle[handle]
	if not client then return "DENY", "OTHER", "client closed" end
	local state = states[client]
	local file, properties = name, nil
	local handler = rawget(client, "onRead")
	if type(handler) == "function" then
		local writer = rawget(state.writer, "handle")
		local uses = native.writerUses(writer)
		local results = M.run(false, nil, nil, handler, client, name, ...)
		if not results[1] then
			ERROR(results[2])
			return "DENY", "SCRIPT", tostring(results[2])
		end
		if native.writerUses(writer) ~= uses then return "HANDLED" end
		if results.n >= 2 then
			local answer = results[2]
			if answer == nil or answer == false then
				return "DENY", "PERMISSION", "No authorization to see the content of " .. name
			end
			if type(answer) == "string" then file = answer end
			if type(results[3]) == "table" then properties = results[3] end
		end
	end
	if file:find("\0", 1, true) then return "DENY", "NOTFOUND", "File " .. name .. " doesn't exist" end
	return "ALLOW", state.service.folder .. "/" .. file, properties
end

--- Sets a property of a client (protocols report cookies, headers that change…).
function M.setProperty(handle, key, value)
	local client = byHandle[handle]
	if client then M.collectionSet(states[client].properties, key, value) end
end

--- The client's parameter as text (timeout, index… for the protocol).
function M.parameter(handle, key)
	local client = byHandle[handle]
	if not client then return nil end
	local value = states[client].parameters[key]
	if value == nil then return nil end
	return tostring(value)
end

--- Runs the event client:name(...), a method of the client object itself (not inherited); what it
--- returns is ignored, an error is logged. It may wait for the host (DNS) and finish later.
local function reportClientEvent(_, _, ok, message)
	if not ok then ERROR(message) end
end
function M.clientEvent(client, name, ...)
	local handler = rawget(client, name)
	if type(handler) ~= "function" then return end
	local results = M.run(true, reportClientEvent, nil, handler, client, ...)
	if results and not results[1] then ERROR(results[2]) end
end

--- The client's address changed (RTMFP mobility): client.address follows, then client:onAddressChanged(old).
function M.addressChanged(handle, address)
	local client = byHandle[handle]
	if not client then return end
	local state = states[client]
	local old = state.address
	if old == address then return end
	state.address = address
	M.clientEvent(client, "onAddressChanged", old)
end
