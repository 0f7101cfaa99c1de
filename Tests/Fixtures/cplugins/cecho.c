/*
 * cecho — a drop-in plugin written in C against mona_plugin.h alone (the tests build it with
 * `cc -shared -fPIC -I Sources/PluginABI/include`). A line echo service driven through the host:
 * every complete line comes back; a partial line waits in the host (tcp_data consumes whole lines only).
 * Lines starting with '!' are commands that exercise the host services:
 *   !timer <ms> <count>   "tick <n>" lines from a host timer (periodic when count > 1)
 *   !handoff <section>    hands the connection (and the bytes after this line) to another plugin
 *   !config <key>         "config <key>=<value>" or "config <key> absent"
 *   !sha256 <text>        the hex SHA-256 of <text>, computed by the host
 *   !udp <port> <segment> <size>
 *                         sends <size> bytes to UDP 127.0.0.1:<port> with udp_send_segments (ABI 1.6),
 *                         datagrams of <segment> bytes, the n-th filled with the byte n; "udp <status>"
 *                         (datagrams to that socket are echoed)
 *   !unlisten             stops listening (tcp_unlisten); "unlisten <status>"
 *   !close                graceful close
 * When the peer half-closes, it answers "bye" and closes.
 * Configuration: <section>.host (default: host), <section>.port (required).
 */
#include <mona_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plugin {
    const mona_host_api *host;
    char section[64];
    mona_handle udp; /* bound by the first !udp */
    mona_handle listener;
} plugin;

typedef struct session {
    mona_handle connection;
    mona_handle timer;
    int ticks;
    int remaining;
} session;

static void say(plugin *p, int level, const char *text) {
    p->host->log(p->host->ctx, level, __FILE__, __LINE__, text, strlen(text));
}

static void send_text(plugin *p, mona_handle connection, const char *text) {
    p->host->tcp_send(p->host->ctx, connection, (const uint8_t *)text, strlen(text));
}

static int config(plugin *p, const char *key, char *out, size_t capacity) {
    int64_t size = p->host->config_get(p->host->ctx, key, out, capacity - 1);
    if (size < 0) return 0;
    out[(size_t)size < capacity - 1 ? (size_t)size : capacity - 1] = 0;
    return 1;
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
    char key[128], host[64] = "0.0.0.0", port[16];
    snprintf(key, sizeof key, "%s.host", p->section);
    if (!config(p, key, host, sizeof host)) config(p, "host", host, sizeof host);
    snprintf(key, sizeof key, "%s.port", p->section);
    if (!config(p, key, port, sizeof port)) {
        say(p, MONA_LOG_ERROR, "no port configured");
        return MONA_E_INVAL;
    }
    mona_addr bound;
    int32_t status = p->host->tcp_listen(p->host->ctx, host, (uint16_t)atoi(port), NULL, &p->listener, &bound);
    if (status == MONA_OK) say(p, MONA_LOG_INFO, "C plugin started");
    return status;
}

static void stop(void *self) { say(self, MONA_LOG_INFO, "C plugin stopping"); }

static void destroy(void *self) { free(self); }

static void *accepted(void *self, void *listener, mona_handle connection, const mona_addr *peer,
                      const mona_addr *local) {
    (void)self; (void)listener; (void)peer; (void)local;
    session *s = calloc(1, sizeof *s);
    if (s) s->connection = connection;
    return s;
}

static int command(plugin *p, session *s, const char *line, const uint8_t *rest, size_t rest_size) {
    char reply[512], value[256];
    if (strncmp(line, "!timer ", 7) == 0) {
        int ms = 0, count = 1;
        sscanf(line + 7, "%d %d", &ms, &count);
        s->ticks = 0;
        s->remaining = count;
        p->host->timer_start(p->host->ctx, (uint64_t)ms, count > 1 ? (uint64_t)ms : 0, s, &s->timer);
    } else if (strncmp(line, "!handoff ", 9) == 0) {
        int32_t status = p->host->tcp_handoff(p->host->ctx, s->connection, line + 9, rest, rest_size, NULL, 0);
        if (status == MONA_OK) {
            free(s);
            return 1; /* the connection is gone from this plugin */
        }
        snprintf(reply, sizeof reply, "handoff failed %d\n", status);
        send_text(p, s->connection, reply);
    } else if (strncmp(line, "!config ", 8) == 0) {
        if (config(p, line + 8, value, sizeof value)) snprintf(reply, sizeof reply, "config %s=%s\n", line + 8, value);
        else snprintf(reply, sizeof reply, "config %s absent\n", line + 8);
        send_text(p, s->connection, reply);
    } else if (strncmp(line, "!sha256 ", 8) == 0) {
        uint8_t digest[32];
        p->host->sha256(p->host->ctx, (const uint8_t *)line + 8, strlen(line + 8), digest);
        char *at = reply;
        for (int n = 0; n < 32; n++) at += sprintf(at, "%02x", digest[n]);
        strcpy(at, "\n");
        send_text(p, s->connection, reply);
    } else if (strncmp(line, "!udp ", 5) == 0) {
        unsigned port = 0, segment = 0, size = 0;
        int32_t status = MONA_E_INVAL;
        static uint8_t bytes[1 << 17];
        if (sscanf(line + 5, "%u %u %u", &port, &segment, &size) == 3 && size <= sizeof bytes &&
            MONA_HAS_FIELD(mona_host_api, p->host->struct_size, udp_send_segments)) {
            status = p->udp ? MONA_OK : p->host->udp_bind(p->host->ctx, "127.0.0.1", 0, NULL, &p->udp, NULL);
            for (unsigned n = 0; n < size; n++) bytes[n] = segment ? (uint8_t)(n / segment) : 0;
            mona_addr to;
            memset(&to, 0, sizeof to);
            to.family = MONA_AF_INET;
            to.port = (uint16_t)port;
            to.ip[0] = 127;
            to.ip[3] = 1;
            if (status == MONA_OK) status = p->host->udp_send_segments(p->host->ctx, p->udp, &to, bytes, size, segment);
        }
        snprintf(reply, sizeof reply, "udp %d\n", (int)status);
        send_text(p, s->connection, reply);
    } else if (strcmp(line, "!unlisten") == 0) {
        snprintf(reply, sizeof reply, "unlisten %d\n", (int)p->host->tcp_unlisten(p->host->ctx, p->listener));
        send_text(p, s->connection, reply);
    } else if (strcmp(line, "!close") == 0) {
        p->host->tcp_close(p->host->ctx, s->connection, MONA_CLOSE_GRACEFUL);
    } else {
        send_text(p, s->connection, "unknown command\n");
    }
    return 0;
}

static size_t data(void *self, void *session_ctx, mona_handle connection, const uint8_t *bytes, size_t size) {
    plugin *p = self;
    session *s = session_ctx;
    size_t consumed = 0;
    (void)connection;
    for (;;) {
        const uint8_t *end = memchr(bytes + consumed, '\n', size - consumed);
        if (!end) return consumed; /* a partial line stays in the host */
        size_t length = (size_t)(end - (bytes + consumed));
        size_t next = consumed + length + 1;
        if (bytes[consumed] == '!' && length < 400) {
            char line[400];
            memcpy(line, bytes + consumed, length);
            line[length] = 0;
            if (command(p, s, line, bytes + next, size - next)) return size;
        } else {
            p->host->tcp_send(p->host->ctx, s->connection, bytes + consumed, length + 1);
        }
        consumed = next;
    }
}

static void eof(void *self, void *session_ctx, mona_handle connection) {
    plugin *p = self;
    (void)session_ctx;
    send_text(p, connection, "bye\n");
    p->host->tcp_close(p->host->ctx, connection, MONA_CLOSE_GRACEFUL);
}

static void closed(void *self, void *session_ctx, mona_handle connection, int32_t reason) {
    plugin *p = self;
    session *s = session_ctx;
    char text[64];
    (void)connection;
    if (s->timer && s->remaining > 0) p->host->timer_cancel(p->host->ctx, s->timer);
    snprintf(text, sizeof text, "connection closed, reason %d", reason);
    say(p, MONA_LOG_DEBUG, text);
    free(s);
}

static void timer_fired(void *self, void *timer_ctx, mona_handle timer) {
    plugin *p = self;
    session *s = timer_ctx;
    char text[32];
    snprintf(text, sizeof text, "tick %d\n", ++s->ticks);
    send_text(p, s->connection, text);
    if (--s->remaining == 0 && s->ticks > 1) p->host->timer_cancel(p->host->ctx, timer);
}

/* Datagrams to the !udp socket come back to where they came from. */
static void datagram(void *self, void *udp_ctx, mona_handle udp, const mona_addr *from, const uint8_t *bytes,
                     size_t size) {
    plugin *p = self;
    (void)udp_ctx;
    p->host->udp_send(p->host->ctx, udp, from, bytes, size);
}

static const mona_plugin table = {
    .abi_version = MONA_ABI_VERSION,
    .struct_size = sizeof(mona_plugin),
    .name = "cecho",
    .version = "1.0",
    .create = create,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .tcp_accepted = accepted,
    .tcp_data = data,
    .tcp_eof = eof,
    .tcp_closed = closed,
    .timer_fired = timer_fired,
    .udp_datagram = datagram,
};

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    return MONA_ABI_VERSION_MAJOR(host_abi_version) == MONA_ABI_MAJOR ? &table : NULL;
}
