#include "mona_lua.h"

#include <stdio.h>
#include <stdlib.h>

static void *mona_lua_allocate(void *user, void *block, size_t old_size, size_t new_size) {
    (void)user;
    (void)old_size;
    if (new_size == 0) {
        free(block);
        return NULL;
    }
    return realloc(block, new_size);
}

/* What luaL_newstate installs too: an error outside any protected call is printed before LuaJIT aborts. */
static int mona_lua_panic(lua_State *L) {
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", message ? message : "?");
    return 0;
}

lua_State *mona_lua_newstate(void) {
    lua_State *L = lua_newstate(mona_lua_allocate, NULL);
    if (L == NULL) return luaL_newstate();
    lua_atpanic(L, mona_lua_panic);
    return L;
}

void mona_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
void mona_lua_newtable(lua_State *L) { lua_newtable(L); }
void mona_lua_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
const char *mona_lua_tolstring(lua_State *L, int index, size_t *length) { return lua_tolstring(L, index, length); }
int mona_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
int mona_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
int mona_lua_globalsindex(void) { return LUA_GLOBALSINDEX; }
int mona_lua_isnoneornil(lua_State *L, int index) { return lua_isnoneornil(L, index); }

int mona_lua_pcall(lua_State *L, int nargs, int nresults) { return lua_pcall(L, nargs, nresults, 0); }

int mona_lua_loadbuffer(lua_State *L, const char *buffer, size_t size, const char *name) {
    return luaL_loadbuffer(L, buffer, size, name);
}

int mona_lua_table_pack(lua_State *L) {
    int count = lua_gettop(L);
    lua_createtable(L, count, 1);
    lua_insert(L, 1);
    for (int index = count; index >= 1; index--) lua_rawseti(L, 1, index);
    lua_pushinteger(L, count);
    lua_setfield(L, 1, "n");
    return 1;
}
