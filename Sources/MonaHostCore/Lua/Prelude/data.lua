-- prelude/data: The persistent `data` table (MonaServer's NoSQL cache), scoped per application path.
local native, M = ...
local type, tostring, setmetatable, pairs = type, tostring, setmetatable, pairs

local tables = setmetatable({}, { __mode = "kv" }) -- proxy → state, held by the proxy (M.attachState)
local writing = true

local function primitiveCount(state)
	local count = 0
	for _, value in next, state.items do
		if not tables[value] then count = count + 1 end
	end
	return count
end

local assign
local function newDataTable(path)
	local proxy = newproxy(true)
	local state = { items = {}, path = path }
	tables[proxy] = state
	M.attachState(proxy, state)
	local meta = getmetatable(proxy)
	meta.__index = function(_, key)
		if type(key) == "number" then key = tostring(key) end
		local value = state.items[key]
		if value == nil and key == "count" then return primitiveCount(state) end
		return value
	end
	meta.__newindex = function(_, key, value) assign(state, key, value) end
	meta.__len = function() return primitiveCount(state) end
	meta.__tostring = function() return "data:/" .. table.concat(path, "/") end
	meta.__metatable = "change metatable of data is prohibited"
	return proxy, state
end

local function child(path, key)
	local result = {}
	for i, part in ipairs(path) do result[i] = part end
	result[#result + 1] = key
	return result
end

assign = function(state, key, value)
	if type(key) == "number" then key = tostring(key) end
	if type(key) ~= "string" then
		ERROR("data keys must be strings or numbers, not ", type(key))
		return
	end
	local existing = state.items[key]
	local path = child(state.path, key)
	if value == nil then
		if existing == nil then return end
		state.items[key] = nil
		if writing then native.dataRemove(path) end
		return
	end
	if tables[existing] then
		ERROR("Complex type exists already on /", table.concat(path, "/"),
			"/, for secure reasons delete explicitly this entry with a nil assignation before override")
		return
	end
	local kind = type(value)
	if kind == "table" or tables[value] then
		local sub, subState = newDataTable(path)
		state.items[key] = sub
		for k, v in pairs(value) do assign(subState, k, v) end
		return
	end
	local text
	if kind == "string" then text = value
	elseif kind == "number" then value = tostring(value); text = value
	elseif kind == "boolean" then text = value and "true" or "false"
	else
		ERROR("data can't store a ", kind, " value (", table.concat(path, "/"), ")")
		return
	end
	state.items[key] = value
	if writing then native.dataSet(path, text) end
end

local root, rootState = newDataTable({})

--- The data table of an app path ("" or "/a/b"): intermediate tables are made in memory only.
function M.dataFor(appPath)
	local current, state = root, rootState
	for segment in appPath:gmatch("[^/]+") do
		local next = state.items[segment]
		if not tables[next] then
			next = newDataTable(child(state.path, segment))
			state.items[segment] = next
		end
		current, state = next, tables[next]
	end
	return current
end

--- Fills the tree from disk without writing back; values are converted like configuration text.
function M.loadData(entries)
	writing = false
	for _, entry in ipairs(entries) do
		local state = rootState
		local path = entry.path
		for i = 1, #path - 1 do
			local next = state.items[path[i]]
			if not tables[next] then
				next = newDataTable(child(state.path, path[i]))
				state.items[path[i]] = next
			end
			state = tables[next]
		end
		if not tables[state.items[path[#path]]] then assign(state, path[#path], M.convert(entry.value)) end
	end
	writing = true
end
