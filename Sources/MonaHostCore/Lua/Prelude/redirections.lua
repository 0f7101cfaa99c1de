-- prelude/redirections: where a client goes instead of here. onHandshake (in the application of the
-- client's path) and onRendezVousUnknown (in the root) return redirection targets (lua-api.md §7.4),
-- which become a flat list of IP texts and ports for the host: "myself" is the wildcard 0.0.0.0:0; a
-- server object or a broadcaster of mona.servers stands for the address of that protocol on those servers.
local _, M = ...
local type, rawget, rawtype, next = type, rawget, M.rawtype, next

local maxDepth = 16

--- Appends the targets of one value to `out`: "myself", "ip:port", a port (of the wildcard host), a
--- SocketAddress or IPAddress object, a server object or a broadcaster, or an array of targets.
local function collect(event, protocol, value, out, depth, seen)
	local kind = rawtype(value)
	if kind == "nil" then return end
	local servers = M.serverRedirections(value, protocol, event)
	if servers then
		for _, target in ipairs(servers) do
			out[#out + 1] = rawget(rawget(target, "host"), "value")
			out[#out + 1] = rawget(target, "port")
		end
		return
	end
	local address, reason
	if kind == "string" and value:lower() == "myself" then
		address = M.newSocketAddress("0.0.0.0", 0)
	elseif kind == "string" then
		address, reason = M.newSocketAddress(value)
	elseif kind == "number" then -- a port of this server's wildcard host, as 1.x reads it
		address, reason = M.newSocketAddress("0.0.0.0", value)
	elseif kind == "table" and type(rawget(value, "value")) == "string" then
		-- a SocketAddress, or an IPAddress (port 0, as 1.x reads it)
		if rawget(value, "port") then address, reason = M.newSocketAddress(rawget(value, "value"))
		else address, reason = M.newSocketAddress(rawget(value, "value"), 0) end
	elseif kind == "table" then
		if seen[value] or depth >= maxDepth then return end
		seen[value] = true
		for _, item in next, value do collect(event, protocol, item, out, depth + 1, seen) end
		return
	else
		WARN(event, " redirection target of type ", kind, " skipped: addresses, \"myself\", servers and arrays of them only")
		return
	end
	if not address then
		WARN(event, " redirection target ", M.describe(value), " skipped: ", reason, " (an IP address and a port; no DNS here)")
		return
	end
	out[#out + 1] = rawget(rawget(address, "host"), "value")
	out[#out + 1] = rawget(address, "port")
end

--- The targets among results[first...last] as { ip, port, ip, port, … }.
local function targets(event, protocol, results, first, last)
	local out, seen = {}, {}
	for index = first, last do collect(event, protocol, results[index], out, 0, seen) end
	return out
end

local function call(event, service, handler, protocol, ...)
	local results = M.run(false, nil, nil, handler, protocol, ...)
	if not results[1] then
		ERROR("Error in ", event, " of application www", service.path, ": ", results[2])
		return {}
	end
	return targets(event, protocol, results, 2, results.n)
end

--- handshake_targets: onHandshake(protocol, address, path, properties, attempts) of the application of
--- `path` (loaded as a connection would load it); no application, no handler or an error: no targets.
function M.handshake(protocol, address, path, properties, attempts)
	local service = M.open(path)
	local handler = service and service.env.onHandshake
	if type(handler) ~= "function" then return {} end
	local converted = {}
	for key, value in next, properties or {} do converted[key] = M.convert(value) end
	return call("onHandshake", service, handler, protocol, address, service.path, converted, attempts)
end

--- peer_addresses: onRendezVousUnknown(protocol, rawPeerId) of the root application.
function M.rendezvousUnknown(protocol, peerId)
	local root = M.services[""]
	local handler = root and root.env.onRendezVousUnknown
	if type(handler) ~= "function" then return {} end
	return call("onRendezVousUnknown", root, handler, protocol, peerId)
end
