/* A Lua C module (luaopen_greet) built by the tests with `cc -shared` against LuaJIT's headers. */
#include <lua.h>
#include <lauxlib.h>

static int hello(lua_State *L) {
    lua_pushfstring(L, "hello %s from C", luaL_checkstring(L, 1));
    return 1;
}

int luaopen_greet(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, hello);
    lua_setfield(L, -2, "hello");
    return 1;
}
