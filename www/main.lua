-- The root application ("/") of the sample www/ tree: every client whose URL has no deeper
-- application path lands here. MonaServer Server Application API.

function onStart(path)
	NOTE("Application '", path, "' started")
end

function onConnection(client, ...)
	INFO("Connection of ", client.address, " over ", client.protocol)

	-- An RPC the client can call: it answers with what it received.
	function client:echo(...)
		return ...
	end

	return { message = "Welcome to MonaServer" }
end

function onDisconnection(client)
	INFO("Disconnection of ", client.address)
end
