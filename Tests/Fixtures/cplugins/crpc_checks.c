/*
 * crpc_checks.c — commands of the crpc fixture that exercise how the host refuses bad input:
 *   opensize <bytes>|1.0 <path>  client_open with that mona_client_info.struct_size (1.0:
 *                                MONA_CLIENT_INFO_SIZE_1_0; the bytes past struct_size are garbage,
 *                                which the host must not read): "opened …" or "opensize <status>"
 *   mvs <function>               a malformed MVS stream to open, call, property, metadata, option,
 *                                data or handoff: "mvs <function> <status>"
 *   handles                      "handles <client> <publication> <subscription> <connection>" of this session
 *   foreign <op> <handle>        calls a host function with a handle (another plugin's, in the tests):
 *                                close, call, param, property, read, writer, publish, unpublish, video,
 *                                data, metadata, flush, subscribe, unsubscribe, option, send (tcp_send),
 *                                tcpclose (tcp_close): "foreign <op> <status>"
 *   work <ms>                    run_blocking of a work sleeping <ms> (and calling the thread-safe
 *                                log_level); its work_done logs "work done <ms>": "working", or "work
 *                                <status>" when refused
 *   offloop                      a work that calls config_get, reserved to the loop thread: a debug
 *                                host stops there ("working")
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c99 */
#include "crpc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A string whose length runs past the end of the stream. */
static const uint8_t broken[] = {MONA_MVS_STRING, 0x7F, 'x'};

static void status_line(text *out, const char *what, int64_t status) {
    char line[128];
    snprintf(line, sizeof line, "%s %lld", what, (long long)status);
    puts_(out, line);
}

static void open_sized(session *s, char *arguments, text *out) {
    const mona_host_api *h = s->owner->host;
    char *size = strtok(arguments, " ");
    char *path = strtok(NULL, " ");
    /* The struct sits in a larger buffer filled with 0xEE: what lies past struct_size is garbage. */
    union {
        mona_client_info info;
        uint8_t bytes[sizeof(mona_client_info) + 64];
    } storage;
    memset(&storage, 0xEE, sizeof storage);
    mona_client_info info = {MONA_ABI_VERSION, 0, "TEST", {0}, {0}, "localhost", path ? path : "", NULL, NULL, 0, NULL};
    size_t declared = size && strcmp(size, "1.0") == 0 ? MONA_CLIENT_INFO_SIZE_1_0 : strtoul(size ? size : "0", NULL, 10);
    info.struct_size = (uint32_t)declared;
    memcpy(&storage, &info, declared < sizeof info ? declared : sizeof info);
    mona_buffer response = {0};
    mona_error err;
    int32_t status = h->client_open(h->ctx, &storage.info, NULL, 0, s, &s->client, &response, &err);
    if (status == MONA_OK) {
        puts_(out, "opened ");
        print_stream(response.data, response.size, out);
    } else {
        status_line(out, "opensize", status);
    }
    h->buffer_free(h->ctx, &response);
}

static void malformed(session *s, const char *function, text *out) {
    const mona_host_api *h = s->owner->host;
    mona_buffer buffer = {0};
    mona_error err;
    int32_t status = MONA_E_UNSUPPORTED;
    if (strcmp(function, "open") == 0) {
        mona_client_info info = {MONA_ABI_VERSION, sizeof info, "TEST", {0}, {0}, NULL, "", NULL, NULL, 0, NULL};
        mona_handle client = 0;
        status = h->client_open(h->ctx, &info, broken, sizeof broken, s, &client, &buffer, &err);
    } else if (strcmp(function, "call") == 0) {
        status = h->client_invoke(h->ctx, s->client, "m", 1, broken, sizeof broken, &buffer, &err);
    } else if (strcmp(function, "property") == 0) {
        status = h->client_set_property(h->ctx, s->client, "k", broken, sizeof broken);
    } else if (strcmp(function, "metadata") == 0) {
        status = h->pub_set_metadata(h->ctx, s->publication, broken, sizeof broken);
    } else if (strcmp(function, "option") == 0) {
        status = h->sub_set_option(h->ctx, s->subscription, "receiveAudio", broken, sizeof broken);
    } else if (strcmp(function, "data") == 0) {
        status = h->pub_data(h->ctx, s->publication, MONA_FORMAT_MVS, broken, sizeof broken);
    } else if (strcmp(function, "handoff") == 0) {
        status = h->tcp_handoff(h->ctx, s->connection, s->owner->section, NULL, 0, broken, sizeof broken);
    }
    h->buffer_free(h->ctx, &buffer);
    char what[64];
    snprintf(what, sizeof what, "mvs %s", function);
    status_line(out, what, status);
}

static void foreign(session *s, char *arguments, text *out) {
    const mona_host_api *h = s->owner->host;
    char *op = strtok(arguments, " ");
    char *number = strtok(NULL, " ");
    mona_handle handle = strtoull(number ? number : "0", NULL, 10);
    static const uint8_t yes[] = {MONA_MVS_TRUE};
    static const uint8_t empty_object[] = {MONA_MVS_OBJECT, 0, 0};
    static const uint8_t key_frame[] = {0x17, 0x01};
    mona_buffer buffer = {0}, path = {0};
    mona_error err;
    mona_handle made = 0;
    int32_t decision = 0;
    int64_t status = MONA_E_UNSUPPORTED;
    if (!op) op = "";
    if (strcmp(op, "close") == 0) status = h->client_close(h->ctx, handle);
    else if (strcmp(op, "call") == 0) status = h->client_invoke(h->ctx, handle, "whoami", 6, NULL, 0, &buffer, &err);
    else if (strcmp(op, "param") == 0) status = h->client_parameter(h->ctx, handle, "x", NULL, 0);
    else if (strcmp(op, "property") == 0) status = h->client_set_property(h->ctx, handle, "k", yes, sizeof yes);
    else if (strcmp(op, "read") == 0)
        status = h->client_read_file(h->ctx, handle, "", 0, NULL, 0, &decision, &path, &buffer, &err);
    else if (strcmp(op, "writer") == 0) status = h->writer_open(h->ctx, handle, s, &made);
    else if (strcmp(op, "publish") == 0) status = h->publish(h->ctx, handle, "stolen", 6, &made, &err);
    else if (strcmp(op, "unpublish") == 0) status = h->unpublish(h->ctx, handle);
    else if (strcmp(op, "video") == 0) status = h->pub_video(h->ctx, handle, 0, key_frame, sizeof key_frame, 0);
    else if (strcmp(op, "data") == 0) status = h->pub_data(h->ctx, handle, MONA_FORMAT_RAW, (const uint8_t *)"x", 1);
    else if (strcmp(op, "metadata") == 0) status = h->pub_set_metadata(h->ctx, handle, empty_object, sizeof empty_object);
    else if (strcmp(op, "flush") == 0) status = h->pub_flush(h->ctx, handle);
    else if (strcmp(op, "subscribe") == 0)
        status = h->subscribe(h->ctx, handle, "stolen", 6, NULL, 0, s, &made, &err);
    else if (strcmp(op, "unsubscribe") == 0) status = h->unsubscribe(h->ctx, handle);
    else if (strcmp(op, "option") == 0) status = h->sub_set_option(h->ctx, handle, "receiveAudio", yes, sizeof yes);
    else if (strcmp(op, "send") == 0) status = h->tcp_send(h->ctx, handle, (const uint8_t *)"stolen\n", 7);
    else if (strcmp(op, "tcpclose") == 0) status = h->tcp_close(h->ctx, handle, MONA_CLOSE_ABORT);
    h->buffer_free(h->ctx, &buffer);
    h->buffer_free(h->ctx, &path);
    char what[64];
    snprintf(what, sizeof what, "foreign %s", op);
    status_line(out, what, status);
}

/* ---- run_blocking ---- */

typedef struct work_item {
    plugin *owner;
    unsigned ms;
} work_item;

static void sleep_work(void *work_ctx) {
    work_item *item = work_ctx;
    const mona_host_api *h = item->owner->host;
    (void)h->log_level(h->ctx); /* thread-safe */
    struct timespec pause = {item->ms / 1000, (long)(item->ms % 1000) * 1000000L};
    nanosleep(&pause, NULL); /* the blocking work a plugin moves off the loop */
}

void crpc_work_done(void *self, void *work_ctx) {
    plugin *p = self;
    work_item *item = work_ctx;
    char line[64];
    snprintf(line, sizeof line, "work done %u", item->ms);
    p->host->log(p->host->ctx, MONA_LOG_INFO, __FILE__, __LINE__, line, strlen(line));
    p->pending_works--;
    free(item);
}

static int start_work(session *s, void (*work)(void *), const char *ms, text *out) {
    plugin *p = s->owner;
    work_item *item = calloc(1, sizeof *item);
    if (!item) return 0;
    item->owner = p;
    item->ms = (unsigned)strtoul(ms, NULL, 10);
    int32_t status = p->host->run_blocking(p->host->ctx, work, item);
    if (status == MONA_OK) {
        p->pending_works++;
        return 0;
    }
    free(item);
    status_line(out, "work", status);
    return 1;
}

static void off_loop_work(void *work_ctx) {
    work_item *item = work_ctx;
    const mona_host_api *h = item->owner->host;
    (void)h->config_get(h->ctx, "host", NULL, 0); /* loop only: a plugin bug */
}

int crpc_check_command(session *s, char *command, text *out) {
    char line[96];
    if (strncmp(command, "opensize ", 9) == 0) {
        open_sized(s, command + 9, out);
    } else if (strncmp(command, "mvs ", 4) == 0) {
        malformed(s, command + 4, out);
    } else if (strcmp(command, "handles") == 0) {
        snprintf(line, sizeof line, "handles %llu %llu %llu %llu", (unsigned long long)s->client,
                 (unsigned long long)s->publication, (unsigned long long)s->subscription,
                 (unsigned long long)s->connection);
        puts_(out, line);
    } else if (strncmp(command, "foreign ", 8) == 0) {
        foreign(s, command + 8, out);
    } else if (strncmp(command, "work ", 5) == 0) {
        if (!start_work(s, sleep_work, command + 5, out)) puts_(out, "working");
    } else if (strcmp(command, "offloop") == 0) {
        if (!start_work(s, off_loop_work, "0", out)) puts_(out, "working");
    } else {
        return crpc_group_command(s, command, out);
    }
    return 1;
}
