-- prelude/sockets: Lua's sockets (mona:createTCPClient, createTCPServer, createUDPSocket) as MonaServer 1.x
-- shows them: objects whose events are methods the script defines on them (onData, onDisconnection,
-- onConnection, onPacket), driven by the host's reactor (natives tcp*, udp*, socket*). Lua owns them:
-- an object no script references any more is collected and its socket closed.
local native, M = ...
local type, tostring, setmetatable, getmetatable, rawget, newproxy, select, floor =
      type, tostring, setmetatable, getmetatable, rawget, newproxy, select, math.floor

local objects = setmetatable({}, { __mode = "v" }) -- handle → socket object (weak: Lua owns its sockets)
local states = setmetatable({}, { __mode = "k" })  -- socket object → its state (which never refers to it)

-- Each object has a metatable of its own, which holds its sentinel: the sentinel becomes unreachable
-- with the object, in the same collection (a weak-keyed table's values survive one more), and its
-- finalizer closes the socket the object had, if any. So a reloaded script's sockets close with the
-- collection that follows the wipe of its environment.
local function newSocket(class, state)
	local sentinel = newproxy(true)
	getmetatable(sentinel).__gc = function()
		if state.handle then native.socketClose(state.handle) end
	end
	local object = setmetatable({}, {
		__index = class.index, __tostring = class.describe, sentinel = sentinel,
		__metatable = "change metatable of socket is prohibited",
	})
	states[object] = state
	return object
end

local function attach(object, state, handle)
	state.handle = handle
	objects[handle] = object
end

-- Forgets the object's socket (its handle is returned, for the host to close).
local function detach(state)
	local handle = state.handle
	if handle then objects[handle] = nil end
	state.handle = nil
	return handle
end

-- The state of `self`, or an ERROR when a method is called with '.' (1.x's message).
local function stateOf(self, method)
	local state = states[self]
	if not state then ERROR(method, " argument not present, call method with ':' colon operator") end
	return state
end

local function socketAddress(text)
	return text and M.newSocketAddress(text) or M.newSocketAddress("0.0.0.0", 0)
end

-- A destination: the forms of createSocketAddress (names resolved), a wildcard host meaning this machine.
local function destination(value, port)
	if type(value) == "number" and port == nil then value, port = "127.0.0.1", value end
	local target, err = M.socketAddressWithDNS(value, port)
	if target and target.host.isWildcard then
		target = M.newSocketAddress(target.isIPv6 and "::1" or "127.0.0.1", target.port)
	end
	return target, err
end

local function reportEvent(name, _, ok, message)
	if not ok then ERROR("Error in ", name, ": ", message) end
end

-- Calls the event `name` the script defined on `object`, in a host coroutine (it may wait for DNS).
local function fire(object, kind, name, ...)
	local handler = rawget(object, name)
	if type(handler) ~= "function" then return end
	local event = kind .. ":" .. name
	local results = M.run(true, reportEvent, event, handler, object, ...)
	if results and not results[1] then reportEvent(event, nil, false, results[2]) end
end

local function describe(kind)
	return function(self)
		local state = states[self]
		return kind .. "_" .. (state and (tostring(state):match("0x%x+") or "?") or "?")
	end
end

-- TCPClient: mona:createTCPClient(), or the client a TCPServer's onConnection receives.
local clientMethods = {}
local clientClass = {
	index = function(self, key)
		local method = clientMethods[key]
		if method then return method end
		local state = states[self]
		if not state then return nil end
		if key ~= "connected" and key ~= "address" and key ~= "peerAddress" and key ~= "idleTime" then return nil end
		local usable, localText, peerText, idleTime
		if state.handle then usable, localText, peerText, idleTime = native.socketState(state.handle) end
		if key == "connected" then return usable == true end
		if key == "idleTime" then return idleTime or 0 end
		if key == "address" then return socketAddress(localText ~= "none" and localText or state.localText) end
		return socketAddress(peerText or state.peerText)
	end,
	describe = describe("TCPClient"),
}

local function newClient() return newSocket(clientClass, {}) end

-- Keeps the addresses of a connection that ends, for the properties read afterwards.
local function remember(state)
	if not state.handle then return end
	local _, localText, peerText = native.socketState(state.handle)
	if localText and localText ~= "none" then state.localText = localText end
	state.peerText = peerText or state.peerText
end

--- connect(address…): the forms of mona:createSocketAddress (a host name is resolved; a port alone or a
--- wildcard host is this machine). True once the connection is under way (a failure comes as
--- onDisconnection with an error); false, with an ERROR, when it cannot start.
function clientMethods:connect(...)
	local state = stateOf(self, "connect")
	if not state then return false end
	if state.handle then
		ERROR("TCPClient is already connected to ", state.peerText)
		return false
	end
	local target, err = destination(...)
	if not target then
		ERROR("TCPClient cannot connect: ", err)
		return false
	end
	local handle, message = native.tcpConnect(rawget(target.host, "value"), target.port)
	if not handle then
		ERROR("TCPClient cannot connect to ", target.value, ": ", message)
		return false
	end
	state.peerText, state.localText = target.value, nil
	attach(self, state, handle)
	return true
end

--- send(data): nothing when sent (or queued), else the error (not connected, or too much waiting for a
--- peer that does not read).
function clientMethods:send(data)
	local state = stateOf(self, "send")
	if not state then return "send argument not present" end
	if not state.handle then return "TCPClient not connected" end
	return native.socketSend(state.handle, data == nil and "" or tostring(data))
end

--- disconnect(): what is queued is still written, then the connection ends; onDisconnection follows.
function clientMethods:disconnect()
	local state = stateOf(self, "disconnect")
	if not state or not state.handle then return end
	remember(state)
	native.socketClose(detach(state))
	fire(self, "TCPClient", "onDisconnection", state.peerText)
end

--- Bytes arrived: onData(data) with everything kept so far; it returns how many bytes it consumed
--- (nothing or a non-number: all of them). When it consumed a part, it is called again at once with the
--- rest, until it returns 0 (the rest waits for more bytes) or all is consumed. Returns the count consumed.
function M.socketData(handle, data)
	local object = objects[handle]
	local size = #data
	local handler = object and rawget(object, "onData")
	if type(handler) ~= "function" then return size end
	local consumed = 0
	while true do
		local results = M.run(false, nil, nil, handler, object, data)
		if not results[1] then
			reportEvent("TCPClient:onData", nil, false, results[2])
			return size
		end
		local count = results[2]
		if type(count) ~= "number" or count ~= count then return size end
		count = floor(count)
		if count <= 0 then return consumed end
		if count >= #data or objects[handle] ~= object then return size end
		consumed = consumed + count
		data = data:sub(count + 1)
		handler = rawget(object, "onData")
		if type(handler) ~= "function" then return size end
	end
end

--- A connection ended (the peer closed, or an error): onDisconnection(peerAddress[, error]).
function M.socketClosed(handle, err, localText)
	local object = objects[handle]
	if not object then return end
	local state = states[object]
	if localText ~= "none" then state.localText = localText end
	detach(state)
	if err then
		fire(object, "TCPClient", "onDisconnection", state.peerText, err)
	else
		fire(object, "TCPClient", "onDisconnection", state.peerText)
	end
end

-- TCPServer: mona:createTCPServer().
local serverMethods = {}
local serverClass = {
	index = function(self, key)
		local method = serverMethods[key]
		if method then return method end
		local state = states[self]
		if not state then return nil end
		if key == "running" then return state.handle ~= nil end
		if key == "address" then return socketAddress(state.bound) end
	end,
	describe = describe("TCPServer"),
}

--- start(address): the forms of mona:createSocketAddress (a port alone listens on every interface).
function serverMethods:start(...)
	local state = stateOf(self, "start")
	if not state then return false end
	if state.handle then
		ERROR("TCPServer is already running on ", state.bound)
		return false
	end
	local address, err = M.socketAddressWithDNS(...)
	if not address then
		ERROR("TCPServer cannot start: ", err)
		return false
	end
	local handle, bound = native.tcpListen(rawget(address.host, "value"), address.port)
	if not handle then
		ERROR("TCPServer cannot start on ", address.value, ": ", bound)
		return false
	end
	state.bound = bound
	attach(self, state, handle)
	return true
end

function serverMethods:stop()
	local state = stateOf(self, "stop")
	if state and state.handle then native.socketClose(detach(state)) end
end

--- A connection was accepted: onConnection(client) with a TCPClient (owned by Lua as any other).
function M.socketAccepted(serverHandle, handle)
	local server = objects[serverHandle]
	if not server then
		native.socketClose(handle)
		return
	end
	local client = newClient()
	local state = states[client]
	attach(client, state, handle)
	remember(state)
	fire(server, "TCPServer", "onConnection", client)
end

-- UDPSocket: mona:createUDPSocket([allowBroadcast]).
local udpMethods = {}
local udpClass = {
	index = function(self, key)
		local method = udpMethods[key]
		if method then return method end
		local state = states[self]
		if not state then return nil end
		if key ~= "address" and key ~= "peerAddress" then return nil end
		local _, bound, peer
		if state.handle then _, bound, peer = native.socketState(state.handle) end
		if key == "address" then return socketAddress(bound) end
		return socketAddress(peer)
	end,
	describe = describe("UDPSocket"),
}

local function bindUDP(self, state, address)
	local handle, bound = native.udpBind(rawget(address.host, "value"), address.port, state.broadcast)
	if not handle then return nil, bound end
	attach(self, state, handle)
	return true
end

-- An unbound socket that sends (or connects) is bound first to a port of the system's choice.
local function ensureBound(self, state, target)
	if state.handle then return true end
	return bindUDP(self, state, M.newSocketAddress(target.isIPv6 and "::" or "0.0.0.0", 0))
end

--- bind(address): the forms of mona:createSocketAddress. True, or false with an ERROR.
function udpMethods:bind(...)
	local state = stateOf(self, "bind")
	if not state then return false end
	if state.handle then
		ERROR("UDPSocket is already bound")
		return false
	end
	local address, err = M.socketAddressWithDNS(...)
	local ok
	if address then ok, err = bindUDP(self, state, address) end
	if not ok then
		ERROR("UDPSocket cannot bind: ", err)
		return false
	end
	return true
end

--- connect(host[, port]): only that peer's datagrams arrive, send needs no address. Nothing, or the error.
function udpMethods:connect(host, port)
	local state = stateOf(self, "connect")
	if not state then return "connect argument not present" end
	if host == nil then host = "127.0.0.1" end
	local target, err = destination(host, port)
	if not target then return err end
	local ok, failure = ensureBound(self, state, target)
	if not ok then return failure end
	return native.udpConnect(state.handle, rawget(target.host, "value"), target.port)
end

function udpMethods:disconnect()
	local state = stateOf(self, "disconnect")
	if state and state.handle then native.udpDisconnect(state.handle) end
end

function udpMethods:close()
	local state = stateOf(self, "close")
	if state and state.handle then native.socketClose(detach(state)) end
end

--- send(data[, address…]): to the address (the forms of createSocketAddress), or to the connected peer.
--- True, or false with an ERROR.
function udpMethods:send(data, ...)
	local state = stateOf(self, "send")
	if not state then return false end
	data = data == nil and "" or tostring(data)
	local err
	if select("#", ...) > 0 and (...) ~= nil then
		local target
		target, err = destination(...)
		if target then
			local ok
			ok, err = ensureBound(self, state, target)
			if ok then err = native.socketSend(state.handle, data, rawget(target.host, "value"), target.port) end
		end
	elseif state.handle then
		err = native.socketSend(state.handle, data)
	else
		err = "no address and the socket is not connected"
	end
	if err then
		ERROR("UDPSocket send: ", err)
		return false
	end
	return true
end

--- A datagram arrived: onPacket(data, "ip:port").
function M.socketPacket(handle, data, sender)
	local object = objects[handle]
	if object then fire(object, "UDPSocket", "onPacket", data, sender) end
end

function M.mona:createTCPClient() return newClient() end
function M.mona:createTCPServer() return newSocket(serverClass, {}) end
function M.mona:createUDPSocket(allowBroadcast) return newSocket(udpClass, { broadcast = allowBroadcast and true or false }) end
