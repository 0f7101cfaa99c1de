-- The root application ("/") of the sample www/ tree: every client whose URL has no deeper
-- application path lands here. MonaServer Server Application API.
--
-- Demo page: http://<host>:<port>/ (HTTP port, 80 by default). By default ([HTTP] index = true) a
-- folder request gives a listing; onConnection below returns the client parameter
-- index = "index.html" so that "/" serves www/index.html instead. The page is always reachable as
-- http://<host>:<port>/index.html. It opens ws://<host>:<port>/ (this application), receives the
-- pushed "welcome" and calls client:hello(name) with the JSON format ["hello", "name"] → ["answer"].

function onStart(path)
	NOTE("Application '", path, "' started")
	-- The Flash socket policy server of www/policy, when MonaServer.ini has a [policy] section.
	if path == "" and mona.configs.policy then children("policy") end
end

function onConnection(client, ...)
	INFO("Connection of ", client.address, " over ", client.protocol)

	-- An RPC the client can call: it answers with what it received.
	function client:echo(...)
		return ...
	end

	-- The demo's RPC: a greeting, the server time and how many clients are connected (self included).
	function client:hello(name)
		name = tostring(name or "")
		if name == "" then name = "stranger" end
		return "Hello " .. name .. "! Server time: " .. os.date() .. ", connected clients: " .. mona.clients.count
	end

	local parameters = { message = "Welcome to MonaServer" }
	if client.protocol == "HTTP" then
		parameters.index = "index.html" -- GET / serves www/index.html rather than a folder listing
	elseif client.protocol == "WebSocket" then
		-- Server push: arrives as ["welcome", "..."] right after the handshake.
		client.writer:writeInvocation("welcome", "Welcome to MonaServer, " .. tostring(client.address) .. " (" .. os.date() .. ")")
	end
	return parameters
end

function onDisconnection(client)
	INFO("Disconnection of ", client.address)
end
