/* crpc.h — what crpc.c and crpc_checks.c share: the plugin and session records, the output line and
 * the helpers that print and encode MVS. */
#ifndef CRPC_H
#define CRPC_H

#include <mona_plugin.h>

typedef struct plugin {
    const mona_host_api *host;
    char section[64];
    int pending_works; /* run_blocking items whose work_done has not come yet */
} plugin;

typedef struct session {
    plugin *owner;
    mona_handle connection;
    mona_handle client;
    mona_handle publication;
    mona_handle subscription;
    int slow;
    int closed;
    mona_handle shared;
} session;

/* One output line. */
typedef struct text {
    char data[16384];
    size_t size;
} text;

void put(text *t, const char *s, size_t n);
void puts_(text *t, const char *s);
/* Prints an MVS stream as the header comment of crpc.c describes. */
void print_stream(const uint8_t *data, size_t size, text *out);
/* Encodes space-separated tokens as MVS; returns its size. */
size_t encode_args(char *tokens, uint8_t *out, size_t capacity);
size_t from_hex(const char *hex, uint8_t *out, size_t capacity);
/* Sends the line and a newline to the session's connection. */
void send_line(session *s, text *t);
const char *kind_name(int32_t kind);

/* The commands of crpc_checks.c: 1 when `command` was one of them (its answer is in `out`). */
int crpc_check_command(session *s, char *command, text *out);
/* The commands of crpc_groups.c (ABI 1.5: groups, redirections, address changes; 1.7: pub_configs), likewise. */
int crpc_group_command(session *s, char *command, text *out);
/* The commands of crpc_metrics.c (ABI 1.8: metrics_text), likewise. */
int crpc_metrics_command(session *s, char *command, text *out);
/* plugin->work_done of the `work` command. */
void crpc_work_done(void *self, void *work_ctx);

#endif
