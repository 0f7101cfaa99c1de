-- prelude/applications: Applications: one per folder of www/, each with its own environment inheriting its parent's,
-- lazily loaded, reloaded when main.lua changes; app-aware require/dofile/loadfile; events.
local native, M = ...
local type, tostring, select, setmetatable, rawget, rawset, pcall, setfenv =
      type, tostring, select, setmetatable, rawget, rawset, pcall, setfenv
local globalLoadfile, globalRequire, G = loadfile, require, _G
local rawtype = M.rawtype
local www = native.www

local services = {}   -- path → service
M.services = services

local function fileExists(path)
	local info = native.stat(path)
	return info and not info.isFolder
end

--- An app-aware loadfile: relative names are searched in the app's folder, then its parents'.
local function appLoadfile(service, name)
	if type(name) ~= "string" then return nil, "loadfile needs a file name" end
	if name:sub(1, 1) ~= "/" then
		local at = service
		while at do
			local candidate = at.folder .. "/" .. name
			if fileExists(candidate) then
				local chunk, err = globalLoadfile(candidate)
				if chunk then setfenv(chunk, at.env) end
				return chunk, err
			end
			at = at.parent
		end
	end
	return globalLoadfile(name)
end
local function appDofile(service, name)
	local chunk, err = appLoadfile(service, name)
	if not chunk then
		ERROR(err)
		return
	end
	return chunk()
end

--- Calls onTypedObject(type, table) of the app for every typed object among the values, then returns them.
function M.typed(service, ...)
	local count = select("#", ...)
	if count <= 8 then -- a few arguments without tables (most calls): nothing to walk, no allocation
		local tables = false
		for i = 1, count do
			if rawtype((select(i, ...))) == "table" then tables = true break end
		end
		if not tables then return ... end
	end
	local seen = {}
	local function walk(value)
		if rawtype(value) ~= "table" or seen[value] then return end
		seen[value] = true
		for _, item in next, value do walk(item) end
		local name = rawget(value, "__type")
		if rawtype(name) == "string" then M.event(service, "onTypedObject", name, value) end
	end
	for i = 1, select("#", ...) do walk((select(i, ...))) end
	return ...
end

--- The application path of each application's `mona` (weak keys): what mona:publish publishes for.
M.monaPaths = setmetatable({}, { __mode = "k" })

--- The app's own `mona`: the global one, but deserializing calls this app's onTypedObject.
function M.monaFor(service)
	local copy = setmetatable({}, { __index = M.mona })
	M.monaPaths[copy] = service.path
	for _, format in ipairs({ "AMF", "AMF0", "JSON", "XMLRPC", "Query" }) do
		local decode = M.mona["from" .. format]
		copy["from" .. format] = function(self, text) return M.typed(service, decode(self, text)) end
	end
	return copy
end

--- Calls an event of an app env (inherited from the parents through the env's metatable); errors are logged.
--- The event runs in a host coroutine: if it waits for the host (DNS), it finishes later.
local function reportEvent(event, _, ok, message)
	if not ok then ERROR("Error in ", event.name, " of application www", event.service.path, ": ", message) end
end

function M.event(service, name, ...)
	local handler = service.env[name]
	if type(handler) ~= "function" then return false end
	local results = M.run(true, reportEvent, { service = service, name = name }, handler, ...)
	if not results then return false end
	if not results[1] then
		reportEvent({ service = service, name = name }, nil, false, results[2])
		return false, results[2]
	end
	return true, table.unpack(results, 2, results.n)
end

--- An app-aware require: "x.lua" runs like dofile (no caching, as 1.x); a C module "name" is first
--- looked for as name.so in the app's folder and its parents' (luaopen_name), then the standard way
--- (package.cpath also lists www/ and the executable's folder).
local function appRequire(service, name)
	if type(name) ~= "string" then return globalRequire(name) end
	if name:lower():match("%.lua$") then return appDofile(service, name) end
	if package.loaded[name] ~= nil then return package.loaded[name] end
	local file = name:gsub("%.", "/") .. ".so"
	local at = service
	while at do
		local candidate = at.folder .. "/" .. file
		if fileExists(candidate) then
			local opener, err = package.loadlib(candidate, "luaopen_" .. name:gsub("%.", "_"))
			if not opener then error(err, 2) end
			local module = opener(name)
			if module == nil then module = package.loaded[name] end
			if module == nil then module = true end
			package.loaded[name] = module
			return module
		end
		at = at.parent
	end
	return globalRequire(name)
end

local function newService(path, parent)
	local service = {
		path = path, name = path:match("([^/]*)$") or "", parent = parent, folder = www .. path,
		children = {}, env = {}, lastCheck = 0,
		childrenCollection = M.newCollection("children", function(name) return M.openChild(path, name) end),
		clients = M.newCollection("clients"),
	}
	local meta = {
		super = parent and parent.env or G, name = service.name, path = path, this = service.env,
		children = service.childrenCollection, clients = service.clients,
	}
	meta.__index = function(env, key)
		local value
		if key == "mona" then value = M.monaFor(service)
		elseif key == "data" then value = M.dataFor(path)
		elseif key == "loadfile" then value = function(name) return appLoadfile(service, name) end
		elseif key == "dofile" then value = function(name) return appDofile(service, name) end
		elseif key == "require" then
			value = function(name) return appRequire(service, name) end
		end
		if value ~= nil then
			rawset(env, key, value)
			return value
		end
		value = meta[key]
		if value ~= nil and key ~= "__index" and key ~= "__metatable" then return value end
		return meta.super[key]
	end
	meta.__metatable = "change metatable of environment is prohibited"
	setmetatable(service.env, meta)
	services[path] = service
	if parent then
		parent.children[service.name] = service
		M.collectionSet(parent.childrenCollection, service.name, service.env)
	end
	return service
end

local function wipe(service)
	for key in next, service.env do rawset(service.env, key, nil) end
end

--- Loads (or reloads) main.lua of an app; a missing main.lua is an empty, valid app.
local function load(service)
	local file = service.folder .. "/main.lua"
	local info = native.stat(file)
	service.mtime = info and info.lastModified or nil
	service.error, service.started = nil, false
	if not info then return end
	local chunk, err = globalLoadfile(file)
	if chunk then
		setfenv(chunk, service.env)
		local ok, message = pcall(chunk)
		if not ok then chunk, err = nil, message end
	end
	if not chunk then
		ERROR(err)
		service.error = tostring(err)
		wipe(service)
		return
	end
	service.started = true
	M.event(service, "onStart", service.path)
	INFO("Application www", service.path, " loaded")
	native.serverAnnounce(service.path) -- the other servers open it too
end

local function unload(service)
	if service.started then M.event(service, "onStop", service.path) end
	service.started = false
	wipe(service)
	collectgarbage()
end

local function destroy(service)
	for _, child in pairs(service.children) do destroy(child) end
	unload(service)
	services[service.path] = nil
	if service.parent then
		service.parent.children[service.name] = nil
		M.collectionSet(service.parent.childrenCollection, service.name, nil)
	end
	service.dead = true
end

--- Reloads an app whose main.lua changed (checked at most every 2 s); false if it vanished.
local function refresh(service, force)
	local now = native.time()
	if not force and now - service.lastCheck < 2000 then return true end
	service.lastCheck = now
	local info = native.stat(service.folder .. "/main.lua")
	local mtime = info and info.lastModified or nil
	if mtime == service.mtime then return true end
	if not info and not (native.stat(service.folder) or {}).isFolder then
		if service.parent then
			destroy(service)
			return false
		end
	end
	unload(service)
	load(service)
	return true
end

function M.openChild(parentPath, name)
	local service = M.open(parentPath == "" and ("/" .. name) or (parentPath .. "/" .. name))
	return service and service.env
end

--- MonaServer's path normalisation: "\\" is "/", "." and ".." resolved, empty segments dropped;
--- "" for the root, else "/a/b" without a trailing slash.
function M.normalizePath(path)
	local parts = {}
	for segment in tostring(path or ""):gsub("\\", "/"):gmatch("[^/]+") do
		if segment == ".." then parts[#parts] = nil
		elseif segment ~= "." then parts[#parts + 1] = segment end
	end
	if #parts == 0 then return "" end
	return "/" .. table.concat(parts, "/")
end

--- Resolves an app path ("" or "/a/b"), loading what is not yet loaded; nil, error class, message on failure.
function M.open(path)
	path = M.normalizePath(path)
	local service = services[""]
	local walked = ""
	for segment in path:gmatch("[^/]+") do
		walked = walked .. "/" .. segment
		local child = service.children[segment]
		if child and not refresh(child) then child = nil end
		if not child then
			local info = native.stat(www .. walked)
			if not info or not info.isFolder then
				return nil, "APPLICATION", "Application " .. path .. " doesn't exist"
			end
			child = newService(walked, service)
			load(child)
		end
		service = child
	end
	if service.error then return nil, "SCRIPT", service.error end
	return service
end

function M.startApplications()
	local root = newService("", nil)
	load(root)
end

--- The 2-second tick: the root app is re-checked and gets onManage.
function M.manage()
	local root = services[""]
	refresh(root, true)
	M.event(root, "onManage")
end

--- Server stop: children before parents.
function M.stopApplications()
	local function stop(service)
		for _, child in pairs(service.children) do stop(child) end
		unload(service)
	end
	if services[""] then stop(services[""]) end
end
