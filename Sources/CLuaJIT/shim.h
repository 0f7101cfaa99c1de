/* LuaJIT's C API from Debian's libluajit-5.1-dev (include path from pkg-config "luajit"). */
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include <luajit.h>
