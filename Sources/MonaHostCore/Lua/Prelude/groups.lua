-- prelude/groups: RTMFP NetGroups as Lua sees them: `mona.groups`, the group objects (id, rawId, size(),
-- members), the client events onJoinGroup/onUnjoinGroup, and the virtual members of mona:joinGroup.
-- Each group keeps its members as a list from the oldest to the newest; the host names the memberships
-- of clients by handle (group_join, group_leave).
local _, M = ...
local type, tostring, setmetatable, getmetatable, newproxy = type, tostring, setmetatable, getmetatable, newproxy

local hex = M.hex
local groups = {}      -- raw id → group state
local memberships = {} -- membership handle → node of a client
local groupStates = setmetatable({}, { __mode = "k" })  -- group object → state
local memberStates = setmetatable({}, { __mode = "k" }) -- member object → { node, sentinel }

--- The 32 raw bytes of an id given raw or as 64 hex characters; nil for anything else.
local function rawIdOf(id)
	if type(id) ~= "string" then return nil end
	if #id == 32 then return id end
	if #id == 64 and not id:find("%X") then
		return (id:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
	end
	return nil
end

local groupMethods = {}
function groupMethods:size()
	local state = groupStates[self]
	return state and state.count or 0
end
local groupMeta = {
	__index = groupMethods,
	__tostring = function(self) return "Group_" .. (groupStates[self] and groupStates[self].id or "?") end,
}

-- A group appears in mona.groups with its first member. Its `members` collection holds its values
-- weakly (a virtual member lives as long as the script keeps its object) and counts the list.
local function newGroup(raw)
	local id = hex(raw)
	local state = { id = id, rawId = raw, count = 0, nodes = {} }
	state.members = M.newCollection("members", function(key)
		local wanted = rawIdOf(key)
		return wanted and M.collectionItems(state.members)[hex(wanted)]
	end, true)
	state.object = setmetatable({ id = id, rawId = raw, members = state.members }, groupMeta)
	groupStates[state.object] = state
	groups[raw] = state
	M.collectionSet(M.groups, id, state.object)
	return state
end

local function setMember(state, id, value)
	M.collectionItems(state.members)[id] = value
	M.collections[state.members].count = state.count
end

--- Adds a member as the newest of the group.
local function link(state, id, raw, object)
	local node = { id = id, rawId = raw, group = state, older = state.newest }
	if state.newest then state.newest.newer = node end
	state.newest = node
	state.count = state.count + 1
	state.nodes[id] = node
	setMember(state, id, object)
	return node
end

--- Removes a member (once); the group goes with its last one. A removed node keeps its links, so that
--- a walk standing on it goes on.
local function unlink(node)
	local state = node.group
	if state.nodes[node.id] ~= node then return end
	if node.older then node.older.newer = node.newer end
	if node.newer then node.newer.older = node.older else state.newest = node.older end
	state.nodes[node.id] = nil
	state.count = state.count - 1
	setMember(state, node.id, nil)
	if state.count == 0 then
		groups[state.rawId] = nil
		M.collectionSet(M.groups, state.id, nil)
	end
end

--- The raw ids of at most `capacity` members other than `node`, the most recently joined first.
local function peersOf(node, capacity)
	local peers, at = {}, node.group.newest
	while at and #peers < capacity do
		if at ~= node then peers[#peers + 1] = at.rawId end
		at = at.older
	end
	return peers
end

--- mona.groups(id): the group of a raw or hex id.
function M.findGroup(id)
	local raw = rawIdOf(id)
	local state = raw and groups[raw]
	return state and state.object
end

--- group_join: the client becomes the newest member, then client:onJoinGroup(group). Answers "OK" and
--- the peers to introduce to it, or "EXISTS" (its peer id is a member already) or "CLOSED".
function M.joinGroup(handle, clientHandle, raw, capacity)
	local client = M.clientsByHandle[clientHandle]
	if not client then return "CLOSED" end
	local state = groups[raw]
	if state and state.nodes[client.id] then return "EXISTS" end
	state = state or newGroup(raw)
	local node = link(state, client.id, client.rawId, client)
	node.client = client
	memberships[handle] = node
	M.clientEvent(client, "onJoinGroup", state.object)
	if memberships[handle] ~= node then return "CLOSED" end -- the client was closed during onJoinGroup
	return "OK", peersOf(node, capacity)
end

--- group_leave (and a client's close): client:onUnjoinGroup(group) while still a member, then it goes.
function M.leaveGroup(handle)
	local node = memberships[handle]
	if not node then return end
	memberships[handle] = nil
	M.clientEvent(node.client, "onUnjoinGroup", node.group.object)
	unlink(node)
end

-- Virtual members (mona:joinGroup): members without a client, e.g. peers of another server.
local memberMethods = {}
function memberMethods:release()
	local state = memberStates[self]
	if state then unlink(state.node) end
end
local memberMeta = {
	__index = function(self, key)
		local state = memberStates[self]
		if not state then return nil end
		if key == "id" or key == "rawId" then return state.node[key] end
		return memberMethods[key]
	end,
	__tostring = function(self) return "Member_" .. (memberStates[self] and memberStates[self].node.id or "?") end,
}

--- mona:joinGroup(peerId, groupId): a member object (released by member:release() or when collected).
function M.mona:joinGroup(peerId, groupId)
	if peerId == nil then
		ERROR("Member id argument missing")
		return
	end
	local peerRaw = rawIdOf(peerId)
	if not peerRaw then
		ERROR("Bad member format id ", tostring(peerId))
		return
	end
	if groupId == nil then
		ERROR("Group id argument missing")
		return
	end
	local groupRaw = rawIdOf(groupId)
	if not groupRaw then
		ERROR("Bad group format id ", tostring(groupId))
		return
	end
	local id = hex(peerRaw)
	local state = groups[groupRaw]
	if state and state.nodes[id] then
		ERROR("Member ", id, " is already in group ", state.id)
		return
	end
	state = state or newGroup(groupRaw)
	local member = setmetatable({}, memberMeta)
	local node = link(state, id, peerRaw, member)
	-- The sentinel dies with the member object (a weak key holds it): its finalizer releases the member.
	local sentinel = newproxy(true)
	getmetatable(sentinel).__gc = function() unlink(node) end
	memberStates[member] = { node = node, sentinel = sentinel }
	return member
end
