-- A Cirrus-style rendezvous service (rtmfp://<host>/cirrus): what Adobe's Cirrus offered Flash and
-- AIR applications, on MonaServer. MonaServer Server Application API.
--
-- * Peer-to-peer: nothing to write. A client connected here publishes with
--   `new NetStream(nc, NetStream.DIRECT_CONNECTIONS)`; another one plays it with
--   `new NetStream(nc, farPeerId)`: the server introduces the two peers (both public and local
--   addresses) and the media flow between them directly. NetGroup members are introduced likewise.
-- * Relay: `nc.call("relay", null, targetPeerId, ...)` hands the values to the target's
--   `onRelay(senderPeerId, ...)`, as Cirrus's relay did, so that two peers can exchange their ids or
--   signalling without a web service of their own.
-- * Directory: `nc.call("peers", responder)` answers the ids of the peers connected here.

function onConnection(client, ...)
	INFO("Cirrus peer ", client.id, " from ", client.address, " over ", client.protocol)

	function client:relay(target, ...)
		local peer = mona.clients(target)
		if not peer then error("peer " .. tostring(target) .. " is not connected") end
		peer.writer:writeInvocation("onRelay", self.id, ...)
	end

	function client:peers()
		local ids = {}
		for id, peer in pairs(mona.clients) do
			if peer ~= self and peer.path == self.path then ids[#ids + 1] = id end
		end
		return ids
	end
end

function onDisconnection(client)
	INFO("Cirrus peer ", client.id, " left")
end
