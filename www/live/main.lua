-- The "/live" application: RTMP streams. Publish to rtmp://<host>/live/<name> (OBS: server
-- rtmp://<host>/live, stream key <name>) and play rtmp://<host>/live/<name> (ffplay, VLC, rtmpdump)
-- or http://<host>/live/<name>.flv (HTTP-FLV).
-- Events not defined here (onConnection, onDisconnection) are the root application's (www/main.lua).

function onConnection(client, ...)
	INFO("Connection of ", client.address, " to /live over ", client.protocol)

	function client:onPublish(publication)
		NOTE(client.address, " publishes ", publication.name)
	end

	function client:onUnpublish(publication)
		NOTE(client.address, " stops publishing ", publication.name)
	end

	function client:onSubscribe(listener)
		INFO(client.address, " plays ", listener.publication.name)
	end
end
