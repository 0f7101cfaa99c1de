-- prelude/objects: The `mona` object and the small value objects it makes: File, IPAddress, SocketAddress.
local native, M = ...
local type, tostring, select, setmetatable = type, tostring, select, setmetatable

-- File objects (mona:listPaths): read-only properties.
function M.newFile(path)
	local info = native.stat(path)
	local isFolder = info and info.isFolder or false
	local clean = path:gsub("/+$", "")
	local name = clean:match("([^/]*)$") or clean
	local baseName, extension = name:match("^(.*)%.([^.]*)$")
	if not baseName or isFolder then baseName, extension = name, "" end
	return {
		name = name, baseName = baseName, extension = extension,
		parent = (clean:match("^(.*/)[^/]*$") or ""),
		path = isFolder and (clean .. "/") or clean,
		size = (info and not isFolder) and info.size or 0,
		lastModified = info and info.lastModified or 0,
		isFolder = isFolder, isAbsolute = clean:sub(1, 1) == "/",
	}
end

-- IPAddress / SocketAddress objects.
local addressMeta = {}
local function compare(a, b) return tostring(a) < tostring(b) end
local function newIP(text)
	local ip = native.parseIP(text)
	if not ip then return nil, "invalid IP address " .. tostring(text) end
	local object = setmetatable({}, addressMeta)
	for key, value in pairs(ip) do rawset(object, key, value) end
	return object
end
M.newIP = newIP
addressMeta.__tostring = function(self) return rawget(self, "value") end
addressMeta.__eq = function(a, b) return rawget(a, "value") == rawget(b, "value") end
addressMeta.__lt = compare
addressMeta.__le = function(a, b) return not compare(b, a) end
addressMeta.__call = function(self)
	if rawget(self, "port") then return M.newSocketAddress(rawget(self.host, "value"), self.port) end
	return newIP(rawget(self, "value"))
end

function M.newSocketAddress(host, port)
	local text = tostring(host)
	if port == nil then
		local h, p = text:match("^%[(.*)%]:(%d+)$")
		if not h then h, p = text:match("^([^:]*):(%d+)$") end
		if not h then
			if text:match("^%d+$") then h, p = "0.0.0.0", text else return nil, "invalid socket address " .. text end
		end
		text, port = h, p
	end
	port = tonumber(port)
	if not port or port < 0 or port > 65535 or port % 1 ~= 0 then return nil, "invalid port " .. tostring(port) end
	local ip, err = newIP(text)
	if not ip then return nil, err end
	local object = setmetatable({}, addressMeta)
	rawset(object, "host", ip)
	rawset(object, "port", port)
	rawset(object, "isIPv6", ip.isIPv6)
	rawset(object, "value", ip.isIPv6 and ("[" .. ip.value .. "]:" .. port) or (ip.value .. ":" .. port))
	return object
end

-- Functions with an optional leading error callback (MonaServer's SCRIPT_CALLBACK_TRY).
local function withErrorCallback(body)
	return function(self, ...)
		local onError = nil
		if type((...)) == "function" then onError = (...) end
		local results
		if onError then
			results = table.pack(body(select(2, ...)))
		else
			results = table.pack(body(...))
		end
		if results[1] == nil and results[2] then
			if onError then onError(results[2]) else ERROR(results[2]) end
			return
		end
		return table.unpack(results, 1, results.n)
	end
end

local function ipFrom(value)
	if value == nil then return newIP("0.0.0.0") end
	if type(value) == "table" and rawget(value, "host") then return rawget(value, "host")() end
	return newIP(tostring(value))
end
local function socketAddressFrom(value, port)
	if value == nil then return M.newSocketAddress("0.0.0.0", 0) end
	if type(value) == "number" and port == nil then return M.newSocketAddress("0.0.0.0", value) end
	if type(value) == "table" and rawget(value, "port") and port == nil then return value() end
	if type(value) == "table" and rawget(value, "host") then value = rawget(value.host, "value") end
	return M.newSocketAddress(tostring(value), port)
end

-- The global `mona` object.
local mona = {}
M.mona = mona
M.configs = M.newCollection("configs")
for key, value in pairs(native.configs()) do M.collectionSet(M.configs, key, M.convert(value)) end
M.environment = M.newCollection("environment")
for key, value in pairs(native.environment()) do M.collectionSet(M.environment, key, M.convert(value)) end
M.clientsByID = M.newCollection("clients", function(id) return M.findClient(id) end, true)
M.publications = M.newCollection("publications")
M.groups = M.newCollection("groups", function(id) return M.findGroup(id) end)
mona.clients, mona.publications, mona.groups = M.clientsByID, M.publications, M.groups -- mona.servers: prelude/servers
mona.configs, mona.environment = M.configs, M.environment
mona.arguments = M.configs.arguments or M.newCollection("arguments")
setmetatable(mona, { __index = function(_, key) return M.configs[key] end })

function mona:time() return native.time() end
function mona:absolutePath(path)
	local www = native.www
	path = tostring(path or ""):gsub("^/+", ""):gsub("/+$", "")
	if path == "" then return www .. "/" end
	return www .. "/" .. path .. "/"
end
function mona:listPaths(path)
	local folder = self:absolutePath(path)
	local files = {}
	for _, name in ipairs(native.listDirectory(folder) or {}) do files[#files + 1] = M.newFile(folder .. name) end
	return files
end
function mona:split(text, separator, flags)
	text, separator, flags = tostring(text or ""), tostring(separator or ""), tonumber(flags) or 0
	local ignoreEmpty, trim = flags % 2 == 1, math.floor(flags / 2) % 2 == 1
	local pieces, start = {}, 1
	local function add(piece)
		if trim then piece = piece:match("^%s*(.-)%s*$") end
		if not ignoreEmpty or piece ~= "" then pieces[#pieces + 1] = piece end
	end
	if separator == "" then add(text) return table.unpack(pieces) end
	while true do
		local first, last = text:find(separator, start, true)
		if not first then add(text:sub(start)) break end
		add(text:sub(start, first - 1))
		start = last + 1
	end
	return table.unpack(pieces)
end
local function digests(kind)
	return function(self, ...)
		local results = {}
		for i = 1, select("#", ...) do
			local value = select(i, ...)
			if type(value) ~= "string" then
				ERROR(kind, " argument ", i, " must be a string")
				results[i] = nil
			else
				results[i] = native[kind](value)
			end
		end
		return table.unpack(results, 1, select("#", ...))
	end
end
mona.md5, mona.sha256 = digests("md5"), digests("sha256")
mona.createIPAddress = withErrorCallback(ipFrom)
mona.createIPAddressWithDNS = withErrorCallback(function(value)
	if type(value) == "string" and not native.parseIP(value) then
		local resolved = M.await({ dns = value })
		if not resolved then return nil, "cannot resolve " .. value end
		value = resolved
	end
	return ipFrom(value)
end)
--- A SocketAddress from any form createSocketAddress takes, a host name resolved first (off the loop
--- when the caller can wait: M.await); nil and an error otherwise.
function M.socketAddressWithDNS(value, port)
	if type(value) == "string" then
		local host, rest = value:match("^([^:%[%]]+)(.*)$")
		if host and not native.parseIP(host) and not host:match("^%d+$") then
			local resolved = M.await({ dns = host })
			if not resolved then return nil, "cannot resolve " .. host end
			if rest ~= "" and resolved:find(":", 1, true) then resolved = "[" .. resolved .. "]" end -- IPv6 and a port
			value = resolved .. rest
		end
	end
	return socketAddressFrom(value, port)
end
mona.createSocketAddress = withErrorCallback(socketAddressFrom)
mona.createSocketAddressWithDNS = withErrorCallback(M.socketAddressWithDNS)
function mona:addToBlacklist(...)
	for i = 1, select("#", ...) do native.blacklist(tostring((select(i, ...))), true) end
end
function mona:removeFromBlacklist(...)
	for i = 1, select("#", ...) do native.blacklist(tostring((select(i, ...))), false) end
end
function mona:dump(name, data, count)
	native.dump(tostring(name), tostring(data or ""), tonumber(count) or -1)
end
-- Serializers: Lua values ↔ bytes through the host's codecs (one implementation for Lua and plugins).
for _, format in ipairs({ "AMF", "AMF0", "JSON", "XMLRPC", "Query" }) do
	mona["to" .. format] = function(self, ...) return native.encode(format, ...) end
	mona["from" .. format] = function(self, text) return native.decode(format, text) end
end
mona.toXML = withErrorCallback(function(document) return native.toXML(document) end)

-- Parsed XML elements: el.childName is the first child element of that name, el.__value is el[1],
-- and other new keys are ignored (1.x). Only names are looked up, with raw reads: ipairs and #
-- reach __index with the index past the last child, which must answer nil, not search again.
local elementMeta = {
	__index = function(element, key)
		if key == "__value" then return rawget(element, 1) end
		if type(key) ~= "string" then return nil end
		local index, child = 1, rawget(element, 1)
		while child ~= nil do
			if type(child) == "table" and rawget(child, "__name") == key then return child end
			index = index + 1
			child = rawget(element, index)
		end
	end,
	__newindex = function(element, key, value)
		if key == "__value" then rawset(element, 1, value) end
	end,
}
local function attach(node)
	if type(node) ~= "table" then return end
	for _, child in ipairs(node) do attach(child) end
	setmetatable(node, elementMeta)
end
mona.fromXML = withErrorCallback(function(text)
	local document, err = native.fromXML(text)
	if document then attach(document) end
	return document, err
end)
