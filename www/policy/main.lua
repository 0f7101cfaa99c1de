-- The "/policy" application: a Flash socket policy server, the Lua TCP server of MonaServer's FAQ
-- ("How to use the as3 Socket class"). Before a SWF opens a Socket to this host, Flash Player connects
-- to port 843 and sends "<policy-file-request/>" followed by a NUL byte; the answer is a cross-domain
-- policy, also ended by a NUL byte.
--
-- The root application (www/main.lua) starts it when MonaServer.ini has a [policy] section:
--   [policy]
--   port = 843      ; ports below 1024 need privileges (CAP_NET_BIND_SERVICE)

local policy = '<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM "/xml/dtds/cross-domain-policy.dtd">'
	.. '<cross-domain-policy><site-control permitted-cross-domain-policies="master-only"/>'
	.. '<allow-access-from domain="*" to-ports="*"/></cross-domain-policy>\0'

policyServer = mona:createTCPServer()

function policyServer:onConnection(client)
	function client:onData(data)
		-- Nothing until the request's NUL byte: 0 keeps the bytes, onData gets them again with the next ones.
		local finish = data:find("\0", 1, true)
		if not finish then return 0 end
		if data:sub(1, finish - 1) == "<policy-file-request/>" then
			INFO("Policy file sent to ", tostring(self.peerAddress))
			self:send(policy)
		end
		self:disconnect() -- what was sent still goes out first
		-- nothing returned: every byte is consumed
	end
end

local port = mona.configs.policy and mona.configs.policy.port or 843
if policyServer:start(port) then
	NOTE("Flash policy server listening on ", tostring(policyServer.address))
end
