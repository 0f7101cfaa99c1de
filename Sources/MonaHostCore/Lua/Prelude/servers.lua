-- prelude/servers: The other MonaServers (lua-api.md §7): server objects, the broadcasters mona.servers,
-- mona.servers.targets and mona.servers.initiators, the root application's onServerConnection and
-- onServerDisconnection, the handlers scripts define on server objects, and the applications peers run.
local native, M = ...
local type, tostring, setmetatable, getmetatable, rawget, rawset, newproxy, next, sort, unpack =
      type, tostring, setmetatable, getmetatable, rawget, rawset, newproxy, next, table.sort, table.unpack

local byHandle = {}                               -- handle → server object, while linked
local states = setmetatable({}, { __mode = "k" }) -- server object → { handle, configs, publicHost }

local function validHandler(handler)
	if type(handler) ~= "string" or handler == "" or handler == "." then
		ERROR("Server handler ", M.describe(handler), " is invalid: a name, neither empty nor '.'")
		return false
	end
	return true
end

local function report(event, _, ok, message)
	if not ok then ERROR("Error in ", event, ": ", message) end
end

local function run(event, handler, ...)
	local results = M.run(true, report, event, handler, ...)
	if results and not results[1] then report(event, nil, false, results[2]) end
end

-- Server objects: address ("ip:port"), host (an IPAddress), port, isTarget, configs (the peer's
-- configuration, under the ?k=v properties of its servers.targets entry), any other key → configs[key];
-- send(handler, ...), reject(reason); calling one gives its SocketAddress.
local serverMethods = {}
function serverMethods:send(handler, ...)
	local state = states[self]
	if not state then return ERROR("send argument not present, call method with ':' colon operator") end
	if validHandler(handler) then native.serverSend(state.handle, handler, native.encode("AMF", ...)) end
end
function serverMethods:reject(reason)
	local state = states[self]
	if not state then return ERROR("reject argument not present, call method with ':' colon operator") end
	native.serverReject(state.handle, reason == nil and "" or tostring(reason))
end

local serverMeta = {
	__index = function(self, key)
		local method = serverMethods[key]
		if method then return method end
		local state = states[self]
		if not state then return nil end
		if key == "configs" then return state.configs end
		return state.configs[key]
	end,
	__call = function(self) return M.newSocketAddress(rawget(self, "address")) end,
	__tostring = function(self) return "Server_" .. tostring(rawget(self, "address")) end,
}

-- Broadcasters: read-only collections of servers by address; b[i] in address order; b:broadcast(…).
local function broadcast(self, handler, ...)
	local state = M.collections[self]
	if not state then return ERROR("broadcast argument not present, call method with ':' colon operator") end
	if not validHandler(handler) then return end
	local payload = native.encode("AMF", ...)
	for _, server in next, state.items do native.serverSend(states[server].handle, handler, payload) end
end

local function newBroadcaster(extra)
	local state = { items = {}, count = 0 }
	local proxy = newproxy(true)
	M.attachState(proxy, state) -- pairs, next and type() see it as a collection
	local meta = getmetatable(proxy)
	meta.__index = function(_, key)
		if type(key) == "number" then
			local addresses = {}
			for address in next, state.items do addresses[#addresses + 1] = address end
			sort(addresses)
			return addresses[key] and state.items[addresses[key]]
		end
		if key == "count" then return state.count end
		if key == "broadcast" then return broadcast end
		if extra and extra[key] then return extra[key] end
		local server = state.items[key]
		if server ~= nil then return server end
		for _, candidate in next, state.items do -- the peer's publicHost names it too
			if states[candidate].publicHost == key then return candidate end
		end
	end
	meta.__newindex = function() ERROR("Servers collection is read-only") end
	meta.__len = function() return state.count end
	meta.__tostring = function() return "Broadcaster_" .. (tostring(state):match("0x%x+") or "?") end
	meta.__metatable = "change metatable of broadcaster is prohibited"
	return proxy, state
end

local function put(state, address, server)
	local old = state.items[address]
	if old == nil and server ~= nil then state.count = state.count + 1
	elseif old ~= nil and server == nil then state.count = state.count - 1 end
	state.items[address] = server
end

local targets, targetsState = newBroadcaster()
local initiators, initiatorsState = newBroadcaster()
local all, allState = newBroadcaster({ targets = targets, initiators = initiators })
M.servers = all
M.mona.servers = all

local function forget(handle)
	local server = byHandle[handle]
	byHandle[handle] = nil
	local address = rawget(server, "address")
	put(allState, address, nil)
	put(rawget(server, "isTarget") and targetsState or initiatorsState, address, nil)
end

--- A link is established: the server joins the broadcasters and the root's onServerConnection(server)
--- may refuse it (error). Returns true and the paths of the applications running here, or false and
--- the refusal's text.
function M.serverConnected(handle, address, isTarget, configs, properties)
	local server = setmetatable({}, serverMeta)
	local socketAddress = M.newSocketAddress(address)
	rawset(server, "address", address)
	rawset(server, "host", socketAddress and rawget(socketAddress, "host"))
	rawset(server, "port", socketAddress and rawget(socketAddress, "port"))
	rawset(server, "isTarget", isTarget)
	local collection = M.newCollection("configs")
	local publicHost
	for _, pair in ipairs(properties) do M.collectionSet(collection, pair[1], M.convert(pair[2])) end
	for _, pair in ipairs(configs) do
		M.collectionSet(collection, pair[1], M.convert(pair[2]))
		if pair[1] == "publicHost" then publicHost = pair[2] end
	end
	states[server] = { handle = handle, configs = collection, publicHost = publicHost }
	byHandle[handle] = server
	put(allState, address, server)
	put(isTarget and targetsState or initiatorsState, address, server)
	local root = M.services[""]
	local handler = root and root.env.onServerConnection
	if type(handler) == "function" then
		local results = M.run(false, nil, nil, handler, server)
		if not results[1] then
			ERROR("Error in onServerConnection of application www: ", results[2])
			forget(handle)
			return false, tostring(results[2])
		end
	end
	local running = {}
	for path, service in next, M.services do
		if service.started then running[#running + 1] = path end
	end
	return true, unpack(running)
end

--- An established link ended: the root's onServerDisconnection(server[, error]), then the server
--- leaves the broadcasters.
function M.serverDisconnected(handle, err)
	local server = byHandle[handle]
	if not server then return end
	local root = M.services[""]
	local handler = root and root.env.onServerDisconnection
	if type(handler) == "function" then
		if err then run("onServerDisconnection", handler, server, err) else run("onServerDisconnection", handler, server) end
	end
	forget(handle)
end

--- A message: the method of that name the script defined on the server object, with the values.
function M.serverMessage(handle, handler, ...)
	local server = byHandle[handle]
	local method = server and rawget(server, handler)
	if type(method) ~= "function" then return end
	run("server:" .. handler, method, server, M.typed(M.services[""], ...))
end

-- Where a client of `protocol` reaches a server: its <protocol>.publicAddress, a loopback host replaced
-- by the host of the link (the peer's own loopback is not ours). Nil and why when it has none.
local function redirection(server, protocol)
	local public = states[server].configs[protocol .. ".publicAddress"]
	local target = type(public) == "string" and M.newSocketAddress(public)
	if not target then return nil, "server " .. rawget(server, "address") .. " has no " .. protocol .. " address" end
	if rawget(target, "host").isLoopback then
		target = M.newSocketAddress(rawget(rawget(server, "host"), "value"), rawget(target, "port"))
	end
	return target
end

--- The redirection targets (SocketAddress objects) a server object or a broadcaster stands for (those
--- of a broadcaster in address order), or nil when `value` is neither.
function M.serverRedirections(value, protocol, event)
	local members
	if states[value] then
		members = { value }
	elseif value == all or value == targets or value == initiators then
		local items = M.collections[value].items
		local addresses = {}
		for address in next, items do addresses[#addresses + 1] = address end
		sort(addresses)
		members = {}
		for index, address in ipairs(addresses) do members[index] = items[address] end
	else
		return nil
	end
	local out = {}
	for _, server in ipairs(members) do
		local target, reason = redirection(server, protocol)
		if target then out[#out + 1] = target else ERROR(event, " redirection skipped: ", reason) end
	end
	return out
end

--- A peer runs these applications: they are opened here too (those that do not exist here are skipped).
function M.openApplications(paths)
	for _, path in ipairs(paths) do M.open(path) end
end
