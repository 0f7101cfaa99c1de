/*
 * crpc — a drop-in C plugin that drives the host's Lua applications through the ABI, line by line,
 * so that tests can exercise clients, RPC and writers without any real protocol:
 *   open <path> [args…]   client_open (protocol "TEST"): "opened <response>" or "rejected <kind> <message>"
 *   call <method> [args…] client_invoke: "ok <results>", "pending <token>" or "error <kind> <message>"
 *   param <key>           client_parameter: "param <key>=<value>" or "param <key> absent"
 *   read <name> [args…]   client_read_file: "allow <path> <properties>", "deny <kind> <message>", "handled"
 *   badcall <method>      client_invoke with malformed MVS: "error <kind> <message>" (code in the text)
 *   close                 client_close: "closed"
 * Media (one publication and one subscription per connection):
 *   publish <name>        "published" or "publish-failed <kind> <message>"; unpublish: "unpublished"
 *   audio|video <time> <hex>   pub_audio / pub_video; data <json>: pub_data (JSON); flush: pub_flush
 *   subscribe <name> [query]   "subscribed" or "subscribe-failed <kind> <message>"; unsubscribe: "unsubscribed"
 *   option <key> true|false    sub_set_option; slow on|off: the sink answers MONA_E_AGAIN to video
 *   Sink calls print "start <name>", "stop <name>", "meta <values>", "audio|video <time> <hex> <flags>",
 *   "data <format> <text>", "flush", "released". Built with -DCRPC_SINK_FRAME, frames come through
 *   sink_frame (ABI 1.3) and print "frame audio|video <time> <hex> <flags> <serial>".
 * Shared buffers (ABI 1.3): share <text>: shared_create holding text ("shared"); sharebig <size>: one
 *   of `size` bytes, byte i being i % 251 ("shared"); sendparts <offset> <size>: tcp_send_parts of
 *   "part:", that range of the shared buffer, "\n" (nothing but "sendparts <status>" when the host
 *   refuses); unshare: shared_release ("unshared").
 * Connection: hangup: tcp_close graceful; halfclose: tcp_close MONA_CLOSE_WRITE (no answer to either).
 * RTMFP's services (crpc_groups.c): openid, join, leave, handshake, rendezvous, moved, steal.
 * Metrics (crpc_metrics.c): metrics, metricsfrom, metricsnull.
 * Hardening checks (crpc_checks.c): opensize, mvs, handles, foreign, work; -DCRPC_NO_AV_SINKS leaves
 *   sink_audio and sink_video NULL (with CRPC_SINK_FRAME: a plugin with sink_frame alone).
 * audio|video take optional flags after the hex (MONA_MEDIA_*, decimal).
 * Publications of the server (ABI 1.9) are logged at NOTE as "publication started <name> in '<path>'" and
 *   "publication ended <name> in '<path>'". -DCRPC_STRUCT_SIZE=MONA_PLUGIN_SIZE_1_8 declares a table of
 *   1.8 (the two fields are still set past it: a host must not read them).
 * Arguments: integers/decimals are numbers, true/false/nil, anything else a string.
 * Writer calls from Lua arrive as lines: "invoke <name> <args>", "message <args>", "raw <bytes>",
 * "writer close <code>", and "response <token> <results>" for a call that answered later (it waited for DNS). Values print as nil, true, 12, "text", [a,b], {k=v} (keys sorted),
 * T{k=v} (typed), [a|k=v] (mixed), bytes(hex), date(ms), map{k=>v}, ref(i).
 * Configuration: <section>.host, <section>.port.
 */
#include "crpc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ABI version the fixture declares (-DCRPC_ABI_VERSION=0x00010001u: a plugin of an older minor). */
#ifndef CRPC_ABI_VERSION
#define CRPC_ABI_VERSION MONA_ABI_VERSION
#endif
/* The table size it declares (-DCRPC_STRUCT_SIZE=MONA_PLUGIN_SIZE_1_8: a plugin of an older minor). */
#ifndef CRPC_STRUCT_SIZE
#define CRPC_STRUCT_SIZE sizeof(mona_plugin)
#endif

void put(text *t, const char *s, size_t n) {
    if (t->size + n >= sizeof t->data) n = sizeof t->data - 1 - t->size;
    memcpy(t->data + t->size, s, n);
    t->size += n;
    t->data[t->size] = 0;
}
void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

/* ---- MVS reading and printing ---- */

typedef struct reader {
    const uint8_t *at, *end;
    int bad;
} reader;

static uint64_t varuint(reader *r) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && r->at < r->end; shift += 7) {
        uint8_t byte = *r->at++;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) return value;
    }
    r->bad = 1;
    return 0;
}

static double number(reader *r) {
    double d = 0;
    if (r->end - r->at < 8) { r->bad = 1; return 0; }
    memcpy(&d, r->at, 8); /* little-endian host */
    r->at += 8;
    return d;
}

static void print_value(reader *r, text *out);

static void print_bytes_as_string(reader *r, text *out, int quoted) {
    uint64_t n = varuint(r);
    if ((uint64_t)(r->end - r->at) < n) { r->bad = 1; return; }
    if (quoted) puts_(out, "\"");
    put(out, (const char *)r->at, (size_t)n);
    if (quoted) puts_(out, "\"");
    r->at += n;
}

/* Fields are printed in sorted key order: collect them as separate texts first. */
static void print_fields(reader *r, text *out, uint64_t count) {
    text *fields = calloc(count ? count : 1, sizeof(text));
    for (uint64_t i = 0; i < count && !r->bad; i++) {
        print_bytes_as_string(r, &fields[i], 0);
        puts_(&fields[i], "=");
        print_value(r, &fields[i]);
    }
    for (uint64_t i = 0; i < count; i++)
        for (uint64_t j = i + 1; j < count; j++)
            if (strcmp(fields[j].data, fields[i].data) < 0) {
                text swap = fields[i];
                fields[i] = fields[j];
                fields[j] = swap;
            }
    for (uint64_t i = 0; i < count; i++) {
        if (i) puts_(out, ",");
        puts_(out, fields[i].data);
    }
    free(fields);
}

static void print_value(reader *r, text *out) {
    char buffer[64];
    if (r->at >= r->end) { r->bad = 1; return; }
    uint8_t tag = *r->at++;
    switch (tag) {
    case MONA_MVS_NIL: puts_(out, "nil"); break;
    case MONA_MVS_FALSE: puts_(out, "false"); break;
    case MONA_MVS_TRUE: puts_(out, "true"); break;
    case MONA_MVS_NUMBER: snprintf(buffer, sizeof buffer, "%.14g", number(r)); puts_(out, buffer); break;
    case MONA_MVS_STRING: print_bytes_as_string(r, out, 1); break;
    case MONA_MVS_BYTES: {
        uint64_t n = varuint(r);
        if ((uint64_t)(r->end - r->at) < n) { r->bad = 1; return; }
        puts_(out, "bytes(");
        for (uint64_t i = 0; i < n; i++) { snprintf(buffer, sizeof buffer, "%02x", r->at[i]); puts_(out, buffer); }
        puts_(out, ")");
        r->at += n;
        break;
    }
    case MONA_MVS_DATE: snprintf(buffer, sizeof buffer, "date(%.14g)", number(r)); puts_(out, buffer); break;
    case MONA_MVS_ARRAY: {
        uint64_t n = varuint(r);
        puts_(out, "[");
        for (uint64_t i = 0; i < n && !r->bad; i++) { if (i) puts_(out, ","); print_value(r, out); }
        puts_(out, "]");
        break;
    }
    case MONA_MVS_OBJECT:
        print_bytes_as_string(r, out, 0);
        puts_(out, "{");
        print_fields(r, out, varuint(r));
        puts_(out, "}");
        break;
    case MONA_MVS_MIXED: {
        uint64_t n = varuint(r);
        puts_(out, "[");
        for (uint64_t i = 0; i < n && !r->bad; i++) { if (i) puts_(out, ","); print_value(r, out); }
        puts_(out, "|");
        print_fields(r, out, varuint(r));
        puts_(out, "]");
        break;
    }
    case MONA_MVS_MAP: {
        if (r->at >= r->end) { r->bad = 1; return; }
        r->at++; /* flags */
        uint64_t n = varuint(r);
        puts_(out, "map{");
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            if (i) puts_(out, ",");
            print_value(r, out);
            puts_(out, "=>");
            print_value(r, out);
        }
        puts_(out, "}");
        break;
    }
    case MONA_MVS_REFERENCE: snprintf(buffer, sizeof buffer, "ref(%llu)", (unsigned long long)varuint(r)); puts_(out, buffer); break;
    default: r->bad = 1;
    }
}

void print_stream(const uint8_t *data, size_t size, text *out) {
    reader r = {data, data + size, 0};
    int first = 1;
    while (r.at < r.end && !r.bad) {
        if (!first) puts_(out, " ");
        first = 0;
        print_value(&r, out);
    }
    if (r.bad) puts_(out, "<malformed>");
}

/* ---- MVS writing of line arguments ---- */

static size_t write_varuint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    do {
        out[n] = v & 0x7F;
        v >>= 7;
        if (v) out[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

/* Encodes space-separated tokens; returns the MVS size. */
size_t encode_args(char *tokens, uint8_t *out, size_t capacity) {
    size_t size = 0;
    for (char *token = strtok(tokens, " "); token && size + 16 + strlen(token) < capacity; token = strtok(NULL, " ")) {
        char *end = NULL;
        double d = strtod(token, &end);
        if (end && *end == 0 && end != token) {
            out[size++] = MONA_MVS_NUMBER;
            memcpy(out + size, &d, 8);
            size += 8;
        } else if (strcmp(token, "true") == 0) out[size++] = MONA_MVS_TRUE;
        else if (strcmp(token, "false") == 0) out[size++] = MONA_MVS_FALSE;
        else if (strcmp(token, "nil") == 0) out[size++] = MONA_MVS_NIL;
        else {
            out[size++] = MONA_MVS_STRING;
            size += write_varuint(out + size, strlen(token));
            memcpy(out + size, token, strlen(token));
            size += strlen(token);
        }
    }
    return size;
}

/* ---- hex ---- */

size_t from_hex(const char *hex, uint8_t *out, size_t capacity) {
    size_t n = 0;
    while (hex[0] && hex[1] && n < capacity) {
        unsigned value;
        if (sscanf(hex, "%2x", &value) != 1) break;
        out[n++] = (uint8_t)value;
        hex += 2;
    }
    return n;
}

static void put_hex(text *t, const uint8_t *data, size_t size) {
    char pair[3];
    for (size_t i = 0; i < size; i++) {
        snprintf(pair, sizeof pair, "%02x", data[i]);
        put(t, pair, 2);
    }
}

/* ---- plugin ---- */

void send_line(session *s, text *t) {
    puts_(t, "\n");
    s->owner->host->tcp_send(s->owner->host->ctx, s->connection, (const uint8_t *)t->data, t->size);
}

const char *kind_name(int32_t kind) {
    switch (kind) {
    case MONA_ERR_APPLICATION: return "APPLICATION";
    case MONA_ERR_SCRIPT: return "SCRIPT";
    case MONA_ERR_PERMISSION: return "PERMISSION";
    case MONA_ERR_NOTFOUND: return "NOTFOUND";
    case MONA_ERR_PROTOCOL: return "PROTOCOL";
    default: return "OTHER";
    }
}

static void *create(const mona_host_api *host, const char *section) {
    plugin *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->host = host;
    snprintf(p->section, sizeof p->section, "%s", section);
    return p;
}

static int32_t start(void *self) {
    plugin *p = self;
    char key[128], host[64] = "127.0.0.1", port[16] = "0";
    snprintf(key, sizeof key, "%s.host", p->section);
    int64_t n = p->host->config_get(p->host->ctx, key, host, sizeof host - 1);
    if (n >= 0) host[n] = 0;
    snprintf(key, sizeof key, "%s.port", p->section);
    n = p->host->config_get(p->host->ctx, key, port, sizeof port - 1);
    if (n >= 0) port[n] = 0;
    mona_handle listener;
    return p->host->tcp_listen(p->host->ctx, host, (uint16_t)atoi(port), NULL, &listener, NULL);
}

static void destroy(void *self) {
    plugin *p = self;
    char text_[64];
    snprintf(text_, sizeof text_, "destroyed with %d works pending", p->pending_works);
    p->host->log(p->host->ctx, MONA_LOG_INFO, __FILE__, __LINE__, text_, strlen(text_));
    free(self);
}

static void *accepted(void *self, void *listener, mona_handle connection, const mona_addr *peer, const mona_addr *local) {
    (void)listener; (void)peer; (void)local;
    session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->owner = self;
    s->connection = connection;
    return s;
}

static void close_client(session *s) {
    if (s->client) {
        mona_handle client = s->client;
        s->client = 0;
        s->owner->host->client_close(s->owner->host->ctx, client);
    }
}

static void line(session *s, char *command) {
    const mona_host_api *h = s->owner->host;
    text out = {{0}, 0};
    uint8_t mvs[4096];
    mona_error err;
    mona_buffer buffer = {0};
    if (strncmp(command, "open ", 5) == 0) {
        char *path = strtok(command + 5, " ");
        char *rest = strtok(NULL, "");
        char args[1024] = "";
        if (rest) snprintf(args, sizeof args, "%s", rest);
        size_t size = encode_args(args, mvs, sizeof mvs);
        /* properties: {agent="crpc"} */
        static const uint8_t properties[] = {MONA_MVS_OBJECT, 0, 1, 5, 'a', 'g', 'e', 'n', 't', MONA_MVS_STRING, 4, 'c', 'r', 'p', 'c'};
        mona_client_info info = {MONA_ABI_VERSION, sizeof(mona_client_info), "TEST", {0}, {0}, "localhost",
                                 path, "x=1", properties, sizeof properties, NULL};
        h->tcp_addresses(h->ctx, s->connection, &info.peer, &info.local);
        int32_t status = h->client_open(h->ctx, &info, mvs, size, s, &s->client, &buffer, &err);
        if (status == MONA_OK) {
            puts_(&out, "opened ");
            print_stream(buffer.data, buffer.size, &out);
        } else {
            puts_(&out, "rejected ");
            puts_(&out, kind_name(err.kind));
            puts_(&out, " ");
            puts_(&out, err.message);
        }
    } else if (strncmp(command, "call ", 5) == 0) {
        char *method = strtok(command + 5, " ");
        char *rest = strtok(NULL, "");
        char args[1024] = "";
        if (rest) snprintf(args, sizeof args, "%s", rest);
        size_t size = encode_args(args, mvs, sizeof mvs);
        int32_t status = h->client_invoke(h->ctx, s->client, method, strlen(method), mvs, size, &buffer, &err);
        if (status == MONA_OK) {
            puts_(&out, "ok ");
            print_stream(buffer.data, buffer.size, &out);
        } else if (status == MONA_PENDING) {
            puts_(&out, "pending ");
            print_stream(buffer.data, buffer.size, &out);
        } else {
            puts_(&out, "error ");
            puts_(&out, kind_name(err.kind));
            puts_(&out, " ");
            puts_(&out, err.message);
        }
    } else if (strncmp(command, "badcall ", 8) == 0) {
        static const uint8_t broken[] = {MONA_MVS_STRING, 0x7F, 'x'}; /* a length past the end */
        int32_t status = h->client_invoke(h->ctx, s->client, command + 8, strlen(command + 8), broken, sizeof broken,
                                          &buffer, &err);
        snprintf(out.data, sizeof out.data, "error %s %s (%d)", kind_name(err.kind), err.message, status);
        out.size = strlen(out.data);
    } else if (strncmp(command, "param ", 6) == 0) {
        char value[256];
        int64_t n = h->client_parameter(h->ctx, s->client, command + 6, value, sizeof value - 1);
        if (n >= 0) {
            value[n < (int64_t)sizeof value - 1 ? n : (int64_t)sizeof value - 1] = 0;
            snprintf(out.data, sizeof out.data, "param %s=%s", command + 6, value);
        } else {
            snprintf(out.data, sizeof out.data, "param %s absent", command + 6);
        }
        out.size = strlen(out.data);
    } else if (strncmp(command, "read", 4) == 0 && (command[4] == ' ' || command[4] == 0)) {
        char *name = command[4] ? strtok(command + 5, " ") : NULL;
        char *rest = name ? strtok(NULL, "") : NULL;
        char args[1024] = "";
        if (rest) snprintf(args, sizeof args, "%s", rest);
        size_t size = encode_args(args, mvs, sizeof mvs);
        int32_t decision = -1;
        mona_buffer path = {0};
        if (!name) name = "";
        int32_t status = h->client_read_file(h->ctx, s->client, name, strlen(name), mvs, size, &decision, &path,
                                             &buffer, &err);
        if (status != MONA_OK) {
            snprintf(out.data, sizeof out.data, "read failed %d", status);
            out.size = strlen(out.data);
        } else if (decision == MONA_FILE_ALLOW) {
            puts_(&out, "allow ");
            put(&out, (const char *)path.data, path.size);
            puts_(&out, " ");
            print_stream(buffer.data, buffer.size, &out);
        } else if (decision == MONA_FILE_HANDLED) {
            puts_(&out, "handled");
        } else {
            puts_(&out, "deny ");
            puts_(&out, kind_name(err.kind));
            puts_(&out, " ");
            puts_(&out, err.message);
        }
        h->buffer_free(h->ctx, &path);
    } else if (strncmp(command, "publish ", 8) == 0) {
        const char *name = command + 8;
        int32_t status = h->publish(h->ctx, s->client, name, strlen(name), &s->publication, &err);
        if (status == MONA_OK) {
            puts_(&out, "published");
        } else {
            puts_(&out, "publish-failed ");
            puts_(&out, kind_name(err.kind));
            puts_(&out, " ");
            puts_(&out, err.message);
        }
    } else if (strcmp(command, "unpublish") == 0) {
        h->unpublish(h->ctx, s->publication);
        s->publication = 0;
        puts_(&out, "unpublished");
    } else if (strncmp(command, "audio ", 6) == 0 || strncmp(command, "video ", 6) == 0) {
        int video = command[0] == 'v';
        char *time = strtok(command + 6, " ");
        char *hex = strtok(NULL, " ");
        uint8_t frame[2048];
        size_t size = from_hex(hex ? hex : "", frame, sizeof frame);
        char *flags = strtok(NULL, " ");
        uint32_t ms = (uint32_t)strtoul(time ? time : "0", NULL, 10);
        uint32_t given = (uint32_t)strtoul(flags ? flags : "0", NULL, 10);
        int32_t status = video ? h->pub_video(h->ctx, s->publication, ms, frame, size, given)
                               : h->pub_audio(h->ctx, s->publication, ms, frame, size, given);
        if (status == MONA_OK) return;
        snprintf(out.data, sizeof out.data, "push-failed %d", status);
        out.size = strlen(out.data);
    } else if (strncmp(command, "data ", 5) == 0) {
        h->pub_data(h->ctx, s->publication, MONA_FORMAT_JSON, (const uint8_t *)command + 5, strlen(command + 5));
        return;
    } else if (strcmp(command, "flush") == 0) {
        h->pub_flush(h->ctx, s->publication);
        return;
    } else if (strncmp(command, "subscribe ", 10) == 0) {
        char *name = strtok(command + 10, " ");
        char *query = strtok(NULL, "");
        int32_t status = h->subscribe(h->ctx, s->client, name, strlen(name), query, query ? strlen(query) : 0, s,
                                      &s->subscription, &err);
        if (status == MONA_OK) {
            puts_(&out, "subscribed");
        } else {
            puts_(&out, "subscribe-failed ");
            puts_(&out, kind_name(err.kind));
            puts_(&out, " ");
            puts_(&out, err.message);
        }
    } else if (strcmp(command, "unsubscribe") == 0) {
        h->unsubscribe(h->ctx, s->subscription);
        s->subscription = 0;
        puts_(&out, "unsubscribed");
    } else if (strncmp(command, "option ", 7) == 0) {
        char *key = strtok(command + 7, " ");
        char *value = strtok(NULL, " ");
        uint8_t flag = value && strcmp(value, "true") == 0 ? MONA_MVS_TRUE : MONA_MVS_FALSE;
        h->sub_set_option(h->ctx, s->subscription, key, &flag, 1);
        return;
    } else if (strncmp(command, "slow ", 5) == 0) {
        s->slow = strcmp(command + 5, "on") == 0;
        return;
    } else if (strncmp(command, "share ", 6) == 0) {
        uint8_t *memory = NULL;
        size_t size = strlen(command + 6);
        s->shared = h->shared_create(h->ctx, size, &memory);
        if (s->shared != 0 && memory != NULL) memcpy(memory, command + 6, size);
        puts_(&out, s->shared != 0 && memory != NULL ? "shared" : "share-failed");
    } else if (strncmp(command, "sharebig ", 9) == 0) {
        uint8_t *memory = NULL;
        size_t size = strtoul(command + 9, NULL, 10);
        s->shared = h->shared_create(h->ctx, size, &memory);
        if (s->shared != 0 && memory != NULL)
            for (size_t i = 0; i < size; i++) memory[i] = (uint8_t)(i % 251);
        puts_(&out, s->shared != 0 && memory != NULL ? "shared" : "share-failed");
    } else if (strcmp(command, "hangup") == 0 || strcmp(command, "halfclose") == 0) {
        h->tcp_close(h->ctx, s->connection, command[1] == 'a' ? MONA_CLOSE_GRACEFUL : MONA_CLOSE_WRITE);
        h->buffer_free(h->ctx, &buffer);
        return;
    } else if (strncmp(command, "sendparts ", 10) == 0) {
        char *offset = strtok(command + 10, " ");
        char *size = strtok(NULL, " ");
        mona_send_part parts[3] = {
            {0, (const uint8_t *)"part:", 0, 5},
            {s->shared, NULL, offset ? strtoul(offset, NULL, 10) : 0, size ? strtoul(size, NULL, 10) : 0},
            {0, (const uint8_t *)"\n", 0, 1},
        };
        int64_t status = h->tcp_send_parts(h->ctx, s->connection, parts, 3);
        if (status >= 0) {
            h->buffer_free(h->ctx, &buffer);
            return;
        }
        char result[48];
        snprintf(result, sizeof result, "sendparts %lld", (long long)status);
        puts_(&out, result);
    } else if (strcmp(command, "unshare") == 0) {
        h->shared_release(h->ctx, s->shared);
        puts_(&out, "unshared");
    } else if (strcmp(command, "close") == 0) {
        close_client(s);
        puts_(&out, "closed");
    } else if (!crpc_check_command(s, command, &out)) {
        puts_(&out, "unknown command");
    }
    h->buffer_free(h->ctx, &buffer);
    send_line(s, &out);
}

static size_t data(void *self, void *session_ctx, mona_handle connection, const uint8_t *bytes, size_t size) {
    (void)self; (void)connection;
    size_t consumed = 0;
    for (;;) {
        const uint8_t *end = memchr(bytes + consumed, '\n', size - consumed);
        if (!end) return consumed;
        size_t length = (size_t)(end - (bytes + consumed));
        char command[2048];
        if (length >= sizeof command) length = sizeof command - 1;
        memcpy(command, bytes + consumed, length);
        command[length] = 0;
        line(session_ctx, command);
        consumed = (size_t)(end - bytes) + 1;
    }
}

static void closed(void *self, void *session_ctx, mona_handle connection, int32_t reason) {
    (void)self; (void)connection; (void)reason;
    session *s = session_ctx;
    s->closed = 1;
    close_client(s);
    free(s);
}

/* writers: the session is the context of its client's main writer */
static int32_t writer_invoke(void *self, void *writer, const char *name, size_t name_size, const uint8_t *args, size_t size) {
    (void)self;
    text out = {{0}, 0};
    puts_(&out, "invoke ");
    put(&out, name, name_size);
    puts_(&out, " ");
    print_stream(args, size, &out);
    send_line(writer, &out);
    return MONA_OK;
}

static int32_t writer_message(void *self, void *writer, int32_t response, const uint8_t *args, size_t size) {
    (void)self;
    text out = {{0}, 0};
    if (response) {
        char token[32];
        snprintf(token, sizeof token, "response %d ", (int)response);
        puts_(&out, token);
    } else {
        puts_(&out, "message ");
    }
    print_stream(args, size, &out);
    send_line(writer, &out);
    return MONA_OK;
}

static int32_t writer_raw(void *self, void *writer, const uint8_t *data_, size_t size) {
    (void)self;
    text out = {{0}, 0};
    puts_(&out, "raw ");
    put(&out, (const char *)data_, size);
    send_line(writer, &out);
    return MONA_OK;
}

static int32_t writer_flush(void *self, void *writer, int32_t full) { (void)self; (void)writer; (void)full; return MONA_OK; }

static int32_t writer_close(void *self, void *writer, int32_t code) {
    (void)self;
    session *s = writer;
    text out = {{0}, 0};
    snprintf(out.data, sizeof out.data, "writer close %d", code);
    out.size = strlen(out.data);
    send_line(s, &out);
    s->owner->host->tcp_close(s->owner->host->ctx, s->connection, MONA_CLOSE_GRACEFUL);
    return MONA_OK;
}

static void writer_released(void *self, void *writer) { (void)self; (void)writer; }

/* sinks: the session is the context of its subscription */
static int32_t sink_start(void *self, void *sink, const char *name, size_t size) {
    (void)self;
    text out = {{0}, 0};
    puts_(&out, "start ");
    put(&out, name, size);
    send_line(sink, &out);
    return MONA_OK;
}

static int32_t sink_stop(void *self, void *sink, const char *name, size_t size) {
    (void)self;
    text out = {{0}, 0};
    puts_(&out, "stop ");
    put(&out, name, size);
    send_line(sink, &out);
    return MONA_OK;
}

static int32_t sink_metadata(void *self, void *sink, const uint8_t *mvs, size_t size) {
    (void)self;
    text out = {{0}, 0};
    puts_(&out, "meta ");
    print_stream(mvs, size, &out);
    send_line(sink, &out);
    return MONA_OK;
}

#ifndef CRPC_NO_AV_SINKS
static int32_t sink_media(session *s, const char *kind, uint32_t time, const uint8_t *data_, size_t size, uint32_t flags) {
    text out = {{0}, 0};
    char head[64];
    snprintf(head, sizeof head, "%s %u ", kind, time);
    puts_(&out, head);
    put_hex(&out, data_, size);
    snprintf(head, sizeof head, " %u", flags);
    puts_(&out, head);
    send_line(s, &out);
    return MONA_OK;
}

static int32_t sink_audio(void *self, void *sink, uint32_t time, const uint8_t *data_, size_t size, uint32_t flags) {
    (void)self;
    return sink_media(sink, "audio", time, data_, size, flags);
}

static int32_t sink_video(void *self, void *sink, uint32_t time, const uint8_t *data_, size_t size, uint32_t flags) {
    (void)self;
    session *s = sink;
    if (s->slow) return MONA_E_AGAIN;
    return sink_media(s, "video", time, data_, size, flags);
}
#endif

#ifdef CRPC_SINK_FRAME
static int32_t sink_frame(void *self, void *sink, const mona_media_frame *frame) {
    (void)self;
    session *s = sink;
    if (frame->kind == MONA_MEDIA_VIDEO && s->slow) return MONA_E_AGAIN;
    text out = {{0}, 0};
    char head[96];
    snprintf(head, sizeof head, "frame %s %u ", frame->kind == MONA_MEDIA_VIDEO ? "video" : "audio", frame->time_ms);
    puts_(&out, head);
    put_hex(&out, frame->data, frame->size);
    snprintf(head, sizeof head, " %u %llu", frame->flags, (unsigned long long)frame->serial);
    puts_(&out, head);
    send_line(s, &out);
    return MONA_OK;
}
#endif

static int32_t sink_data(void *self, void *sink, int32_t format, const uint8_t *data_, size_t size) {
    (void)self;
    text out = {{0}, 0};
    char head[32];
    snprintf(head, sizeof head, "data %d ", format);
    puts_(&out, head);
    put(&out, (const char *)data_, size);
    send_line(sink, &out);
    return MONA_OK;
}

static int32_t sink_flush(void *self, void *sink) {
    (void)self;
    text out = {{0}, 0};
    puts_(&out, "flush");
    send_line(sink, &out);
    return MONA_OK;
}

static void sink_released(void *self, void *sink) {
    (void)self;
    session *s = sink;
    if (s->closed) return;
    text out = {{0}, 0};
    puts_(&out, "released");
    send_line(s, &out);
}

/* publication_started and publication_ended (ABI 1.9): one log line each. */
static void publication_event(void *self, const char *event, const char *path, size_t path_size, const char *name,
                              size_t name_size) {
    plugin *p = self;
    char line[512];
    int size = snprintf(line, sizeof line, "publication %s %.*s in '%.*s'", event, (int)name_size, name, (int)path_size, path);
    p->host->log(p->host->ctx, MONA_LOG_NOTE, __FILE__, __LINE__, line, (size_t)size < sizeof line ? (size_t)size : sizeof line - 1);
}

static void publication_started(void *self, const char *path, size_t path_size, const char *name, size_t name_size) {
    publication_event(self, "started", path, path_size, name, name_size);
}

static void publication_ended(void *self, const char *path, size_t path_size, const char *name, size_t name_size) {
    publication_event(self, "ended", path, path_size, name, name_size);
}

static const mona_plugin table = {
    .abi_version = CRPC_ABI_VERSION,
    .struct_size = CRPC_STRUCT_SIZE,
    .name = "crpc",
    .version = "1.0",
    .create = create,
    .start = start,
    .destroy = destroy,
    .tcp_accepted = accepted,
    .tcp_data = data,
    .tcp_closed = closed,
    .work_done = crpc_work_done,
    .writer_invoke = writer_invoke,
    .writer_message = writer_message,
    .writer_raw = writer_raw,
    .writer_flush = writer_flush,
    .writer_close = writer_close,
    .writer_released = writer_released,
    .sink_start = sink_start,
    .sink_stop = sink_stop,
    .sink_metadata = sink_metadata,
#ifndef CRPC_NO_AV_SINKS
    .sink_audio = sink_audio,
    .sink_video = sink_video,
#endif
    .sink_data = sink_data,
    .sink_flush = sink_flush,
    .sink_released = sink_released,
#ifdef CRPC_SINK_FRAME
    .sink_frame = sink_frame,
#endif
    .publication_started = publication_started,
    .publication_ended = publication_ended,
};

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    return MONA_ABI_VERSION_MAJOR(host_abi_version) == MONA_ABI_MAJOR ? &table : NULL;
}
