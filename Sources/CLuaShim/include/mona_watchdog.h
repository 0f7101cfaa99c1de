/* mona_watchdog.h — interrupts a Lua call that runs longer than lua.timeout, or while the server stops. */
#ifndef MONA_WATCHDOG_H
#define MONA_WATCHDOG_H

#include <lua.h>

/** Why a call was interrupted (0: it was not). */
enum { MONA_WATCHDOG_TIMEOUT = 1, MONA_WATCHDOG_STOP = 2 };

/** On the loop thread, once: watches calls into `L` (timeout in ms, 0 = no limit), interrupting them
 *  through `signal` sent to this thread; starts the watchdog thread. 0, or -1 on failure. */
int mona_watchdog_start(lua_State *L, int timeout, int signal);
/** On the loop thread, around every call into Lua (nested calls count as their outermost one). */
void mona_watchdog_enter(void);
/** Ends a call; for the outermost one, the reason it was interrupted (0 if it was not). */
int mona_watchdog_leave(void);
/** Any thread (the signal thread): the server stops. The running call is interrupted at once; later
 *  ones (onStop…) after a grace of 2 s. */
void mona_watchdog_request_stop(void);

#endif
