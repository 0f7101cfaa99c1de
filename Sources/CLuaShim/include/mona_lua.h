/* mona_lua.h — the Lua C API macros Swift cannot import, as functions, plus a protected call that
 * appends a traceback. */
#ifndef MONA_LUA_H
#define MONA_LUA_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "mona_watchdog.h"

void mona_lua_pop(lua_State *L, int n);
void mona_lua_newtable(lua_State *L);
void mona_lua_pushcfunction(lua_State *L, lua_CFunction f);
const char *mona_lua_tolstring(lua_State *L, int index, size_t *length);
int mona_lua_upvalueindex(int i);
int mona_lua_registryindex(void);
int mona_lua_globalsindex(void);
int mona_lua_isnoneornil(lua_State *L, int index);
/** lua_pcall with a message handler that keeps the message (no traceback: MonaServer logs file:line only). */
int mona_lua_pcall(lua_State *L, int nargs, int nresults);
/** luaL_loadbuffer of a chunk with a name ("=name" for a plain name). */
int mona_lua_loadbuffer(lua_State *L, const char *buffer, size_t size, const char *name);
/** A Lua state whose memory comes from the C library's malloc (LuaJIT's own allocator keeps what it
 *  freed, so a server idle after a burst would stay at its peak; malloc's free pages are given back by
 *  the host's trimmer). Falls back to luaL_newstate where a custom allocator is refused (non-GC64). */
lua_State *mona_lua_newstate(void);
/** Lua 5.2's table.pack: the array part has exactly n slots, so # counts the arguments as there. */
int mona_lua_table_pack(lua_State *L);

#endif
