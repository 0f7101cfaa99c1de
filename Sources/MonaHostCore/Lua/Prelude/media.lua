-- prelude/media: Publications and listeners as Lua sees them (`mona.publications`, `mona:publish`, the publication
-- and listener objects, the client events onPublish/onUnpublish/onSubscribe/onUnsubscribe), over the
-- host's media model (natives media*).
local native, M = ...
local type, tostring, setmetatable, rawget, select = type, tostring, setmetatable, rawget, select

local publications = {} -- handle → publication object
local listeners = {}    -- handle → listener object
local pubStates = setmetatable({}, { __mode = "k" })
local listenerStates = setmetatable({}, { __mode = "k" })

-- qualityOfService objects: every field read is current.
local function qos(read)
	return setmetatable({}, { __index = function(_, key)
		local byteRate, lastSendingTime = read()
		if key == "byteRate" then return byteRate end
		if key == "lastSendingTime" then return lastSendingTime end
		if key == "lostRate" or key == "latency" then return 0 end
		return nil
	end })
end

local function stopped(state)
	error("No data can be pushed on " .. state.name .. " publication stopped", 3)
end

local publicationMethods = {}
function publicationMethods:pushAudio(time, data)
	local state = pubStates[self]
	if not native.mediaPush(state.handle, false, tonumber(time) or 0, tostring(data)) then stopped(state) end
end
function publicationMethods:pushVideo(time, data)
	local state = pubStates[self]
	if not native.mediaPush(state.handle, true, tonumber(time) or 0, tostring(data)) then stopped(state) end
end
local function pushData(self, format, bytes)
	local state = pubStates[self]
	if not native.mediaPushData(state.handle, format, bytes) then stopped(state) end
end
function publicationMethods:pushAMFData(bytes) pushData(self, "AMF", tostring(bytes)) end
function publicationMethods:pushAMF0Data(...) pushData(self, "AMF0", native.encode("AMF0", ...)) end
function publicationMethods:pushJSONData(text) pushData(self, "JSON", tostring(text)) end
function publicationMethods:pushXMLRPCData(text) pushData(self, "XMLRPC", tostring(text)) end
function publicationMethods:pushData(text) pushData(self, "RAW", tostring(text)) end
function publicationMethods:flush() native.mediaFlush(pubStates[self].handle) end
function publicationMethods:writeProperties(...)
	local state = pubStates[self]
	local properties = ...
	if select("#", ...) > 1 or type(properties) ~= "table" then properties = { ... } end
	if not native.mediaSetMetadata(state.handle, properties) then stopped(state) end
	return state.properties
end
function publicationMethods:clearProperties() native.mediaClearMetadata(pubStates[self].handle) end
-- Records the publication into a .flv or .mp4 file (relative paths: in recording.folder, data/ by default).
function publicationMethods:record(path) return native.mediaRecord(pubStates[self].handle, tostring(path)) end
function publicationMethods:stopRecord() native.mediaStopRecord(pubStates[self].handle) end
function publicationMethods:close()
	local state = pubStates[self]
	if not state.owned then
		ERROR("You have not the handle on publication ", state.name)
		return
	end
	state.owned = false
	native.mediaUnpublish(state.handle)
end

local hookNames = { onAudio = true, onVideo = true, onData = true, onFlush = true }
local publicationMeta = {
	__index = function(self, key)
		local state = pubStates[self]
		if not state then return nil end
		local method = publicationMethods[key]
		if method then return method end
		if key == "name" or key == "listeners" or key == "audioQOS" or key == "videoQOS" or key == "dataQOS" then return state[key] end
		if key == "properties" then return state.properties end
		if key == "running" or key == "lastTime" or key == "droppedFrames" then
			local running, lastTime, dropped = native.mediaState(state.handle)
			if key == "running" then return running == true end
			if key == "lastTime" then return lastTime or 0 end
			return dropped or 0
		end
		local field = state.fields[key]
		if field ~= nil then return field end
		return state.properties and state.properties[key]
	end,
	__newindex = function(self, key, value)
		local state = pubStates[self]
		state.fields[key] = value
		if hookNames[key] then native.mediaHooks(state.handle, key, type(value) == "function") end
	end,
	__tostring = function(self) return "Publication_" .. (pubStates[self] and pubStates[self].name or "?") end,
}

--- The host created a publication (a first publish or a first subscription).
function M.mediaCreated(handle, name)
	local publication = setmetatable({}, publicationMeta)
	local state = { handle = handle, name = name, fields = {}, listeners = M.newCollection("listeners") }
	state.audioQOS = qos(function() return native.mediaRates(handle, "audio") end)
	state.videoQOS = qos(function() return native.mediaRates(handle, "video") end)
	state.dataQOS = qos(function() return native.mediaRates(handle, "data") end)
	pubStates[publication] = state
	publications[handle] = publication
	M.collectionSet(M.publications, name, publication, true)
end

--- The publication has neither publisher nor listeners any more.
function M.mediaGone(handle)
	local publication = publications[handle]
	if not publication then return end
	publications[handle] = nil
	M.collectionSet(M.publications, pubStates[publication].name, nil, true)
end

--- The metadata changed (nil: cleared): publication.properties, then onProperties.
function M.mediaProperties(handle, properties)
	local publication = publications[handle]
	if not publication then return end
	local state = pubStates[publication]
	if properties then
		state.properties = M.newCollection("properties")
		for key, value in pairs(properties) do M.collectionSet(state.properties, key, value) end
	else
		state.properties = nil
	end
	local handler = state.fields.onProperties
	if type(handler) == "function" then
		local results = M.run(false, nil, nil, handler, publication, state.properties)
		if not results[1] then ERROR(results[2]) end
	end
end

--- A hook of the publication object (onAudio, onVideo, onData, onFlush).
function M.mediaHook(handle, name, ...)
	local publication = publications[handle]
	local handler = publication and pubStates[publication].fields[name]
	if type(handler) ~= "function" then return end
	local results = M.run(false, nil, nil, handler, publication, ...)
	if not results[1] then ERROR(results[2]) end
end

-- Runs client:event(object); false or an error refuses, with a message.
local function ask(client, event, object, refusal)
	local handler = client and client[event]
	if type(handler) ~= "function" then return true end
	local results = M.run(false, nil, nil, handler, client, object)
	if not results[1] then
		local reason = results[2]
		ERROR(reason)
		return false, tostring(reason)
	end
	if results[2] == false then return false, refusal end
	return true
end

--- A client publishes: onPublish may refuse.
function M.mediaPublish(clientHandle, handle)
	local publication = publications[handle]
	local state = pubStates[publication]
	return ask(M.clientsByHandle[clientHandle], "onPublish", publication, "Not authorized to publish " .. state.name)
end

--- A client stops publishing: onUnpublish.
function M.mediaUnpublish(clientHandle, handle)
	local client, publication = M.clientsByHandle[clientHandle], publications[handle]
	local handler = client and client.onUnpublish
	if type(handler) == "function" and publication then
		local results = M.run(false, nil, nil, handler, client, publication)
		if not results[1] then ERROR(results[2]) end
	end
end

local listenerMeta = {
	__index = function(self, key)
		local state = listenerStates[self]
		if not state then return nil end
		if key == "client" or key == "publication" or key == "parameters" or key == "audioQOS" or key == "videoQOS"
			or key == "dataQOS" then return state[key] end
		if key == "receiveAudio" or key == "receiveVideo" then return state[key] end
		local field = state.fields[key]
		if field ~= nil then return field end
		return state.parameters[key]
	end,
	__newindex = function(self, key, value)
		local state = listenerStates[self]
		if key == "receiveAudio" or key == "receiveVideo" then
			state[key] = value and true or false
			native.mediaOption(state.handle, key, state[key])
		else
			state.fields[key] = value
		end
	end,
	__tostring = function(self) return "Listener_" .. tostring(listenerStates[self] and listenerStates[self].handle) end,
}

--- A client subscribes: a listener, then onSubscribe may refuse.
function M.mediaSubscribe(clientHandle, handle, publicationHandle, query)
	local client, publication = M.clientsByHandle[clientHandle], publications[publicationHandle]
	local listener = setmetatable({}, listenerMeta)
	local state = {
		handle = handle, client = client, publication = publication, fields = {}, receiveAudio = true, receiveVideo = true,
		parameters = M.newCollection("parameters"),
		audioQOS = qos(function() return native.mediaRates(handle, "listener audio") end),
		videoQOS = qos(function() return native.mediaRates(handle, "listener video") end),
		dataQOS = qos(function() return native.mediaRates(handle, "listener data") end),
	}
	if query and query ~= "" then
		for key, value in pairs(M.mona:fromQuery(query) or {}) do
			if type(key) == "string" then M.collectionSet(state.parameters, key, M.convert(value)) end
		end
	end
	listenerStates[listener] = state
	local ok, reason = ask(client, "onSubscribe", listener, "Not authorized to play " .. pubStates[publication].name)
	if not ok then
		listenerStates[listener] = nil
		return false, reason
	end
	listeners[handle] = listener
	if client then M.collectionSet(pubStates[publication].listeners, client, listener) end
	return true
end

--- A subscription ends: onUnsubscribe.
function M.mediaUnsubscribe(handle)
	local listener = listeners[handle]
	if not listener then return end
	listeners[handle] = nil
	local state = listenerStates[listener]
	local publication = state.publication
	if state.client and publication then M.collectionSet(pubStates[publication].listeners, state.client, nil) end
	local handler = state.client and state.client.onUnsubscribe
	if type(handler) == "function" then
		local results = M.run(false, nil, nil, handler, state.client, listener)
		if not results[1] then ERROR(results[2]) end
	end
end

--- mona:publish(name): a publication of the server, fed from Lua; nil and an error message when the
--- name is taken. Published for the application whose `mona` it is (the plugins are told its path).
function M.mona:publish(name)
	local handle, message = native.mediaPublish(tostring(name), M.monaPaths[self] or "")
	if not handle then
		ERROR(message)
		return nil
	end
	local publication = publications[handle]
	pubStates[publication].owned = true
	return publication
end
