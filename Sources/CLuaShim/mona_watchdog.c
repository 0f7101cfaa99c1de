/* mona_watchdog.c — interrupts a Lua call that runs too long (lua.timeout) or while the server stops.
 *
 * The loop thread marks each top-level call into Lua (enter/leave). A watchdog thread checks the
 * running call every tick; to interrupt it, it signals the loop thread, whose handler sets a count hook
 * (lua_sethook is what lua.c's Ctrl-C handler uses too: the only thing a signal may do to a Lua
 * state). The hook raises an error in application code; host code (the prelude) is left to finish,
 * and an application's pcall that catches the error is interrupted again at its next instruction.
 * Compiled traces never run hooks: application code is kept out of the JIT by the prelude. */
#include "mona_watchdog.h"
#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static lua_State *watched;
static pthread_t loopThread;
static int timeoutMs;
static int interruptSignal;
/* The running call: nesting depth, generation (one per top-level call), start time. */
static atomic_int depth;
static atomic_uint_fast64_t generation;
static atomic_int_fast64_t startedMs;
/* The call being interrupted (its generation) and why. */
static atomic_uint_fast64_t interruptedGeneration;
static atomic_int interruptReason;
/* When a stop was requested (0: not requested). */
static atomic_int_fast64_t stopRequestedMs;

enum { GRACE_AFTER_STOP_MS = 2000 };

static int64_t nowMs(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The reason the running call must stop, or 0. */
static int pendingReason(void) {
    if (atomic_load(&depth) == 0) return 0;
    if (atomic_load(&interruptedGeneration) != atomic_load(&generation)) return 0;
    return atomic_load(&interruptReason);
}

static void hook(lua_State *L, lua_Debug *ar) {
    int reason = pendingReason();
    if (reason == 0) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (lua_getinfo(L, "Sl", ar) && strncmp(ar->source, "=prelude/", 9) == 0) return; /* host code: let it finish */
    if (reason == MONA_WATCHDOG_STOP)
        lua_pushfstring(L, "%s:%d: script interrupted: the server is stopping", ar->short_src, ar->currentline);
    else
        lua_pushfstring(L, "%s:%d: script interrupted: it ran longer than lua.timeout (%d ms)", ar->short_src,
                        ar->currentline, timeoutMs);
    lua_error(L);
}

static void onSignal(int number) {
    (void)number;
    if (pendingReason() != 0) lua_sethook(watched, hook, LUA_MASKCOUNT, 1);
}

/* Marks the running call interrupted for `reason` (once) and signals the loop thread. */
static void interrupt(uint_fast64_t running, int reason) {
    uint_fast64_t expected = atomic_load(&interruptedGeneration);
    if (expected == running) return;
    atomic_store(&interruptReason, reason);
    if (!atomic_compare_exchange_strong(&interruptedGeneration, &expected, running)) return;
    pthread_kill(loopThread, interruptSignal);
}

static void check(void) {
    if (atomic_load(&depth) == 0) return;
    uint_fast64_t running = atomic_load(&generation);
    int64_t started = atomic_load(&startedMs), now = nowMs(), stop = atomic_load(&stopRequestedMs);
    if (timeoutMs > 0 && now - started >= timeoutMs) interrupt(running, MONA_WATCHDOG_TIMEOUT);
    else if (stop != 0 && (started <= stop || now - started >= GRACE_AFTER_STOP_MS)) interrupt(running, MONA_WATCHDOG_STOP);
}

static void *watch(void *unused) {
    (void)unused;
    long tickMs = timeoutMs > 0 ? timeoutMs / 10 : 100;
    if (tickMs < 10) tickMs = 10;
    if (tickMs > 100) tickMs = 100;
    struct timespec tick = { tickMs / 1000, (tickMs % 1000) * 1000000 };
    for (;;) {
        nanosleep(&tick, NULL);
        check();
    }
    return NULL;
}

int mona_watchdog_start(lua_State *L, int timeout, int signal) {
    watched = L;
    timeoutMs = timeout > 0 ? timeout : 0;
    interruptSignal = signal;
    loopThread = pthread_self();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = onSignal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signal, &action, NULL) != 0) return -1;
    sigset_t unblocked;
    sigemptyset(&unblocked);
    sigaddset(&unblocked, signal);
    pthread_sigmask(SIG_UNBLOCK, &unblocked, NULL);
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    /* The watchdog thread never takes the signal (nor SIGINT/SIGTERM: they stay blocked for sigwait). */
    sigset_t blocked, previous;
    sigfillset(&blocked);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    int failed = pthread_create(&thread, &attributes, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    pthread_attr_destroy(&attributes);
    return failed ? -1 : 0;
}

void mona_watchdog_enter(void) {
    if (atomic_load(&depth) == 0) {
        loopThread = pthread_self();
        atomic_store(&startedMs, nowMs());
        atomic_fetch_add(&generation, 1);
    }
    atomic_fetch_add(&depth, 1);
}

int mona_watchdog_leave(void) {
    if (atomic_fetch_sub(&depth, 1) != 1) return 0;
    int reason = atomic_load(&interruptedGeneration) == atomic_load(&generation) ? atomic_load(&interruptReason) : 0;
    if (reason != 0 && watched) lua_sethook(watched, NULL, 0, 0);
    return reason;
}

void mona_watchdog_request_stop(void) {
    int64_t expected = 0;
    atomic_compare_exchange_strong(&stopRequestedMs, &expected, nowMs());
    check();
}
