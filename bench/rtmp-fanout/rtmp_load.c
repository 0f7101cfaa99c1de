// rtmp_load.c: RTMP players and idle RTMP connections for bench/rtmp-fanout (one thread, epoll,
// non-blocking, loopback).
//
//   rtmp_load play <port> <app> <stream> <players> <settle_s> <window_s> <pub_pid|0> [server_pid...]
//   rtmp_load idle <port> <app> <connections> <settle_s> [server_pid...]
//
// Every connection does the RTMP simple handshake (C0 = 3, C1 with a zero version, C2 = S1), sends
// Set Chunk Size 4096 and `connect` {app, tcUrl, ...} (AMF0) and waits for its `_result`.
//
// play: then createStream, play <stream> (+ Set Buffer Length 3000 ms) and reads the chunk stream
// for good: it decodes every chunk header (so media messages are counted), acknowledges the bytes
// received (Acknowledgement every half window), answers pings. A player counts as playing once it
// got a video and an audio message. When all are playing it waits <settle_s>, then measures for
// <window_s>: the bytes all players received (TCP payload: what the server sent), the media
// messages, the server pids' CPU time (utime+stime of all threads from /proc/<pid>/stat, in ticks;
// and on-CPU nanoseconds summed over /proc/<pid>/task/*/schedstat, without the 10 ms tick), their
// VmRSS at the end, the bytes the publisher's socket sent (ss -tinp: the expected rate), its own
// CPU and the machine's busy ticks (/proc/stat). Prints one line of key=value.
//
// idle: opens one connection first (warm-up), reads the server pids' VmRSS after 1 s, then opens
// <connections> more, each stopping after the connect `_result`; once all are connected it prints
// `ready` to stderr, waits <settle_s>, reads VmRSS again, checks that no connection was closed and
// prints one line of key=value (rss_per_conn_bytes = (after - before) / connections).
//
// Exits 1 on any failure: a refused or closed connection, an `_error` or error status, a player
// without video or audio during the window, the set-up taking more than 120 s. 2 on bad usage.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HS_SIZE 1536
#define MAX_CSID 320
#define OUT_CHUNK 4096
#define MAX_PENDING 128
#define SETUP_LIMIT_S 120.0
#define MAX_MESSAGE (1 << 20)
#define MAX_PIDS 16

enum { ST_CONNECTING, ST_HANDSHAKE, ST_CONNECT_WAIT, ST_CREATE_WAIT, ST_PLAY_WAIT, ST_PLAYING, ST_IDLE };

struct chunk_stream {
    uint32_t len, msid, got, cap;
    uint8_t type, ext, seen;
    uint8_t *buf;
};

struct conn {
    int fd, id, state;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    int want_out;
    uint32_t chunk, window;
    uint64_t rx, acked;
    uint64_t media_bytes, audio, video;
    uint32_t stream_id;
    struct chunk_stream *cs; // MAX_CSID entries, allocated at the first chunk
};

static int ep, port, mode_play;
static const char *app, *stream_name;
static struct conn *conns;
static int nconns, opened, pending, ready;
static pid_t pids[MAX_PIDS];
static int npids;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rtmp_load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

// --- /proc ------------------------------------------------------------------

static long long proc_ticks(pid_t pid, int user_only) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    // fields from "state" (3): utime is 14, stime 15
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
    return (long long)(user_only ? ut : ut + st);
}

static long long servers_ticks(int user_only) {
    long long sum = 0;
    for (int i = 0; i < npids; i++) {
        long long t = proc_ticks(pids[i], user_only);
        if (t < 0) return -1;
        sum += t;
    }
    return sum;
}

// On-CPU time of every thread of the server pids, nanoseconds (/proc/<pid>/task/*/schedstat, first
// field): the same as utime+stime, without the tick's 10 ms resolution; -1 if unreadable.
static long long servers_ns(void) {
    long long sum = 0;
    for (int i = 0; i < npids; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pids[i]);
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char file[300];
            snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", (int)pids[i], e->d_name);
            FILE *f = fopen(file, "r");
            if (!f) continue; // a thread that just ended
            long long ns = 0;
            if (fscanf(f, "%lld", &ns) != 1) ns = -1;
            fclose(f);
            if (ns < 0) { closedir(d); return -1; }
            sum += ns;
        }
        closedir(d);
    }
    return sum;
}

static long long proc_rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld", &kb) == 1) break;
    fclose(f);
    return kb;
}

static long long servers_rss_kb(void) {
    long long sum = 0;
    for (int i = 0; i < npids; i++) {
        long long kb = proc_rss_kb(pids[i]);
        if (kb < 0) return -1;
        sum += kb;
    }
    return sum;
}

// Bytes the publisher's socket to the server has sent and got acknowledged (ss -tinp: the socket
// owned by pid, to the server's port); -1 if not found.
static long long publisher_bytes(pid_t pid) {
    char cmd[128], line[4096], tag[32];
    snprintf(cmd, sizeof cmd, "ss -tinpH state established '( dport = :%d )' 2>/dev/null", port);
    snprintf(tag, sizeof tag, "pid=%d,", (int)pid);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    long long v = -1;
    int mine = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != ' ' && line[0] != '\t') { mine = strstr(line, tag) != NULL; continue; }
        char *b = strstr(line, "bytes_acked:");
        if (mine && b && v < 0) v = atoll(b + 12);
    }
    pclose(f);
    return v;
}

static long long busy_ticks(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (n < 8) return -1;
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]); // all but idle and iowait
}

static double own_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// --- output -----------------------------------------------------------------

static void set_events(struct conn *c) {
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

static void queue(struct conn *c, const void *data, size_t n) {
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) die("out of memory");
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

static void flush_out(struct conn *c) {
    while (c->out_len) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            die("connection %d: send: %s", c->id, strerror(errno));
        }
        memmove(c->out, c->out + n, c->out_len - n);
        c->out_len -= n;
    }
    int want = c->out_len > 0 || c->state == ST_CONNECTING;
    if (want != c->want_out) {
        c->want_out = want;
        set_events(c);
    }
}

// One message in chunks of OUT_CHUNK (the size announced right after the handshake).
static void send_message(struct conn *c, uint8_t csid, uint8_t type, uint32_t msid, const uint8_t *payload,
                         uint32_t len) {
    uint8_t h[12] = {csid & 63, 0, 0, 0, len >> 16, len >> 8, len, type, msid, msid >> 8, msid >> 16, msid >> 24};
    queue(c, h, sizeof h);
    for (uint32_t off = 0; off < len || (off == 0 && len == 0);) {
        uint32_t n = len - off < OUT_CHUNK ? len - off : OUT_CHUNK;
        if (off) {
            uint8_t h3 = 0xC0 | (csid & 63);
            queue(c, &h3, 1);
        }
        queue(c, payload + off, n);
        off += n;
        if (len == 0) break;
    }
}

// --- AMF0 -------------------------------------------------------------------

struct amf { uint8_t b[1024]; uint32_t n; };

static void amf_raw(struct amf *a, const void *p, uint32_t n) {
    if (a->n + n > sizeof a->b) die("AMF buffer overflow");
    memcpy(a->b + a->n, p, n);
    a->n += n;
}
static void amf_key(struct amf *a, const char *s) {
    uint16_t l = strlen(s);
    uint8_t h[2] = {l >> 8, l};
    amf_raw(a, h, 2);
    amf_raw(a, s, l);
}
static void amf_string(struct amf *a, const char *s) { amf_raw(a, "\x02", 1); amf_key(a, s); }
static void amf_number(struct amf *a, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    uint8_t b[9] = {0};
    for (int i = 0; i < 8; i++) b[1 + i] = u >> (56 - 8 * i);
    amf_raw(a, b, 9);
}
static void amf_bool(struct amf *a, int v) { uint8_t b[2] = {1, v ? 1 : 0}; amf_raw(a, b, 2); }
static void amf_null(struct amf *a) { amf_raw(a, "\x05", 1); }
static void amf_object_start(struct amf *a) { amf_raw(a, "\x03", 1); }
static void amf_object_end(struct amf *a) { amf_raw(a, "\x00\x00\x09", 3); }

// Skips one value at *p; returns 0 on malformed input. Strings are returned through str/len.
static int amf_value(const uint8_t **p, const uint8_t *end, double *num, const uint8_t **str, uint32_t *slen,
                     int depth);

static int amf_props(const uint8_t **p, const uint8_t *end, int depth, const char *want, const uint8_t **wstr,
                     uint32_t *wlen) {
    for (;;) {
        if (end - *p < 3) return 0;
        uint32_t kl = be16(*p);
        if (kl == 0 && (*p)[2] == 9) { *p += 3; return 1; }
        if ((uint32_t)(end - *p - 2) < kl) return 0;
        const uint8_t *key = *p + 2;
        *p += 2 + kl;
        const uint8_t *s = NULL;
        uint32_t sl = 0;
        if (!amf_value(p, end, NULL, &s, &sl, depth + 1)) return 0;
        if (want && s && kl == strlen(want) && !memcmp(key, want, kl)) { *wstr = s; *wlen = sl; }
    }
}

static int amf_value(const uint8_t **p, const uint8_t *end, double *num, const uint8_t **str, uint32_t *slen,
                     int depth) {
    if (depth > 16 || *p >= end) return 0;
    uint8_t t = *(*p)++;
    switch (t) {
    case 0: { // number
        if (end - *p < 8) return 0;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | (*p)[i];
        if (num) memcpy(num, &u, 8);
        *p += 8;
        return 1;
    }
    case 1: if (end - *p < 1) return 0; *p += 1; return 1;
    case 2: {
        if (end - *p < 2) return 0;
        uint32_t l = be16(*p);
        if ((uint32_t)(end - *p - 2) < l) return 0;
        if (str) { *str = *p + 2; *slen = l; }
        *p += 2 + l;
        return 1;
    }
    case 3: return amf_props(p, end, depth, NULL, NULL, NULL);
    case 5: case 6: return 1;
    case 8: if (end - *p < 4) return 0; *p += 4; return amf_props(p, end, depth, NULL, NULL, NULL);
    case 10: {
        if (end - *p < 4) return 0;
        uint32_t n = be32(*p);
        *p += 4;
        for (uint32_t i = 0; i < n; i++)
            if (!amf_value(p, end, NULL, NULL, NULL, depth + 1)) return 0;
        return 1;
    }
    case 11: if (end - *p < 10) return 0; *p += 10; return 1;
    case 12: {
        if (end - *p < 4) return 0;
        uint32_t l = be32(*p);
        if ((uint32_t)(end - *p - 4) < l) return 0;
        if (str) { *str = *p + 4; *slen = l; }
        *p += 4 + l;
        return 1;
    }
    default: return 0;
    }
}

// The string value of `key` in the first object (type 3 or 8) found among the values from p.
static int amf_find(const uint8_t *p, const uint8_t *end, const char *key, char *out, size_t outsz) {
    while (p < end) {
        if (*p == 3 || *p == 8) {
            const uint8_t *s = NULL;
            uint32_t sl = 0;
            p += *p == 8 ? 5 : 1;
            if (!amf_props(&p, end, 0, key, &s, &sl)) return 0;
            if (!s) return 0;
            if (sl >= outsz) sl = outsz - 1;
            memcpy(out, s, sl);
            out[sl] = 0;
            return 1;
        }
        if (!amf_value(&p, end, NULL, NULL, NULL, 0)) return 0;
    }
    return 0;
}

// --- protocol ---------------------------------------------------------------

static void send_connect(struct conn *c) {
    uint8_t set_chunk[4] = {0, 0, OUT_CHUNK >> 8, OUT_CHUNK & 255};
    send_message(c, 2, 1, 0, set_chunk, 4);
    char tc[128];
    snprintf(tc, sizeof tc, "rtmp://127.0.0.1:%d/%s", port, app);
    struct amf a = {.n = 0};
    amf_string(&a, "connect");
    amf_number(&a, 1);
    amf_object_start(&a);
    amf_key(&a, "app"); amf_string(&a, app);
    amf_key(&a, "flashVer"); amf_string(&a, "LNX 9,0,124,2");
    amf_key(&a, "tcUrl"); amf_string(&a, tc);
    amf_key(&a, "fpad"); amf_bool(&a, 0);
    amf_key(&a, "capabilities"); amf_number(&a, 15);
    amf_key(&a, "audioCodecs"); amf_number(&a, 3191);
    amf_key(&a, "videoCodecs"); amf_number(&a, 252);
    amf_key(&a, "videoFunction"); amf_number(&a, 1);
    amf_object_end(&a);
    send_message(c, 3, 20, 0, a.b, a.n);
}

static void send_create_stream(struct conn *c) {
    struct amf a = {.n = 0};
    amf_string(&a, "createStream");
    amf_number(&a, 2);
    amf_null(&a);
    send_message(c, 3, 20, 0, a.b, a.n);
}

static void send_play(struct conn *c) {
    uint8_t ubuf[10] = {0, 3, c->stream_id >> 24, c->stream_id >> 16, c->stream_id >> 8, c->stream_id,
                        0, 0, 3000 >> 8, 3000 & 255}; // Set Buffer Length, 3000 ms
    struct amf a = {.n = 0};
    amf_string(&a, "play");
    amf_number(&a, 3);
    amf_null(&a);
    amf_string(&a, stream_name);
    amf_number(&a, -1000); // live
    send_message(c, 8, 20, c->stream_id, a.b, a.n);
    send_message(c, 2, 4, 0, ubuf, sizeof ubuf);
}

static void became_ready(struct conn *c, int state) {
    c->state = state;
    pending--;
    ready++;
}

static void command(struct conn *c, const uint8_t *p, uint32_t len) {
    const uint8_t *end = p + len;
    const uint8_t *name = NULL;
    uint32_t nl = 0;
    double txn = 0;
    if (!amf_value(&p, end, NULL, &name, &nl, 0) || !name) die("connection %d: malformed command", c->id);
    if (p < end && !amf_value(&p, end, &txn, NULL, NULL, 0)) die("connection %d: malformed command", c->id);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%.*s", (int)(nl < 63 ? nl : 63), name);
    if (!strcmp(cmd, "_error")) {
        char desc[256] = "?";
        amf_find(p, end, "description", desc, sizeof desc);
        die("connection %d: _error for transaction %.0f: %s", c->id, txn, desc);
    }
    if (!strcmp(cmd, "_result")) {
        if (txn == 1 && c->state == ST_CONNECT_WAIT) {
            if (!mode_play) {
                became_ready(c, ST_IDLE);
                return;
            }
            send_create_stream(c);
            c->state = ST_CREATE_WAIT;
        } else if (txn == 2 && c->state == ST_CREATE_WAIT) {
            double sid = -1;
            if (!amf_value(&p, end, NULL, NULL, NULL, 0) || !amf_value(&p, end, &sid, NULL, NULL, 0) || sid < 1 ||
                sid > 1e6)
                die("connection %d: createStream _result without a stream id", c->id);
            c->stream_id = (uint32_t)sid;
            send_play(c);
            c->state = ST_PLAY_WAIT;
        }
        return;
    }
    if (!strcmp(cmd, "onStatus")) {
        char level[32] = "", code[128] = "";
        amf_find(p, end, "level", level, sizeof level);
        amf_find(p, end, "code", code, sizeof code);
        if (!strcmp(level, "error") || strstr(code, "Failed") || strstr(code, "NotFound") ||
            strstr(code, "Unpublish"))
            die("connection %d: onStatus %s %s", c->id, level, code);
    }
}

static void message(struct conn *c, uint8_t type, const uint8_t *p, uint32_t len) {
    switch (type) {
    case 1:
        if (len < 4) die("connection %d: short Set Chunk Size", c->id);
        c->chunk = be32(p) & 0x7fffffff;
        if (c->chunk < 1 || c->chunk > (1 << 24)) die("connection %d: chunk size %u", c->id, c->chunk);
        break;
    case 5:
        if (len >= 4) c->window = be32(p);
        break;
    case 4:
        if (len >= 6 && be16(p) == 6) { // ping request: answer a ping response with the same time
            uint8_t r[6] = {0, 7, p[2], p[3], p[4], p[5]};
            send_message(c, 2, 4, 0, r, 6);
        }
        break;
    case 17:
        if (len >= 1) command(c, p + 1, len - 1);
        break;
    case 20:
        command(c, p, len);
        break;
    default:
        break;
    }
}

// Decodes the whole chunks in c->in; returns the bytes consumed.
static size_t parse(struct conn *c) {
    size_t pos = 0;
    for (;;) {
        const uint8_t *b = c->in + pos;
        size_t avail = c->in_len - pos;
        if (avail < 1) break;
        int fmt = b[0] >> 6;
        uint32_t csid = b[0] & 63;
        size_t h = 1;
        if (csid == 0) {
            if (avail < 2) break;
            csid = 64 + b[1];
            h = 2;
        } else if (csid == 1) {
            if (avail < 3) break;
            csid = 64 + b[1] + 256u * b[2];
            h = 3;
        }
        if (csid >= MAX_CSID) die("connection %d: chunk stream id %u", c->id, csid);
        if (!c->cs && !(c->cs = calloc(MAX_CSID, sizeof *c->cs))) die("out of memory");
        struct chunk_stream *s = &c->cs[csid];
        size_t mh = fmt == 0 ? 11 : fmt == 1 ? 7 : fmt == 2 ? 3 : 0;
        if (avail < h + mh) break;
        const uint8_t *m = b + h;
        int ext = fmt <= 2 ? be24(m) == 0xFFFFFF : s->ext;
        size_t hdr = h + mh + (ext ? 4 : 0);
        if (avail < hdr) break;
        if (fmt == 3 && !s->seen) die("connection %d: type 3 chunk on new chunk stream %u", c->id, csid);
        if (fmt != 3 && s->got) die("connection %d: new message header inside a message on %u", c->id, csid);
        uint32_t len = fmt <= 1 ? be24(m + 3) : s->len;
        uint8_t type = fmt <= 1 ? m[6] : s->type;
        uint32_t n = len - s->got;
        if (n > c->chunk) n = c->chunk;
        if (avail < hdr + n) {
            if (hdr + n > c->in_cap) { // a chunk larger than the buffer
                c->in_cap = hdr + n + 4096;
                if (!(c->in = realloc(c->in, c->in_cap))) die("out of memory");
            }
            break;
        }
        // commit the header
        if (fmt == 0) s->msid = le32(m + 7);
        s->len = len;
        s->type = type;
        s->ext = ext;
        s->seen = 1;
        const uint8_t *payload = b + hdr;
        if (type == 8 || type == 9) {
            c->media_bytes += n;
        } else {
            if (len > MAX_MESSAGE) die("connection %d: message of %u bytes (type %u)", c->id, len, type);
            if (s->cap < len) {
                s->cap = len < 256 ? 256 : len;
                if (!(s->buf = realloc(s->buf, s->cap))) die("out of memory");
            }
            memcpy(s->buf + s->got, payload, n);
        }
        s->got += n;
        pos += hdr + n;
        if (s->got == len) {
            s->got = 0;
            if (type == 8 || type == 9) {
                if (type == 8) c->audio++;
                else c->video++;
                if (c->state == ST_PLAY_WAIT && c->audio && c->video) became_ready(c, ST_PLAYING);
            } else {
                message(c, type, s->buf, len);
            }
        }
    }
    return pos;
}

static void on_readable(struct conn *c) {
    if (c->in_len == c->in_cap) {
        c->in_cap *= 2;
        if (!(c->in = realloc(c->in, c->in_cap))) die("out of memory");
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n == 0) die("connection %d closed by the server (state %d)", c->id, c->state);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        die("connection %d: recv: %s", c->id, strerror(errno));
    }
    c->in_len += n;
    c->rx += n;
    if (c->state == ST_HANDSHAKE) {
        if (c->in_len < 1 + 2 * HS_SIZE) return;
        if (c->in[0] != 3) die("connection %d: S0 is %u, not 3", c->id, c->in[0]);
        queue(c, c->in + 1, HS_SIZE); // C2 = S1
        size_t used = 1 + 2 * HS_SIZE;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->rx = c->in_len; // chunk stream bytes only, as the server counts them for acknowledgements
        send_connect(c);
        c->state = ST_CONNECT_WAIT;
    }
    if (c->state != ST_HANDSHAKE) {
        size_t used = parse(c);
        if (used) {
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
        }
        uint32_t window = c->window ? c->window : 2500000;
        if (c->rx - c->acked >= window / 2) {
            uint32_t seq = (uint32_t)c->rx;
            uint8_t a[4] = {seq >> 24, seq >> 16, seq >> 8, seq};
            send_message(c, 2, 3, 0, a, 4);
            c->acked = c->rx;
        }
    }
    flush_out(c);
}

static void on_writable(struct conn *c) {
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) die("connection %d: connect: %s", c->id, strerror(err));
        uint8_t c0c1[1 + HS_SIZE];
        c0c1[0] = 3;
        memset(c0c1 + 1, 0, 8); // time 0, zero version: the simple handshake
        for (int i = 9; i < 1 + HS_SIZE; i++) c0c1[i] = (uint8_t)(rand() >> 7);
        c->state = ST_HANDSHAKE;
        queue(c, c0c1, sizeof c0c1);
    }
    flush_out(c);
}

static void open_conn(void) {
    struct conn *c = &conns[opened];
    c->id = opened++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s (raise ulimit -n)", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->state = ST_CONNECTING;
    c->chunk = 128;
    c->in_cap = mode_play ? 65536 : 4096;
    if (!(c->in = malloc(c->in_cap))) die("out of memory");
    c->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    pending++;
}

// Runs the loop until `until` (monotonic seconds), opening connections up to `target` with at most
// MAX_PENDING in set-up, and returns early once `ready` reaches `target` when stop_when_ready.
static void run(double until, int target, int stop_when_ready) {
    struct epoll_event evs[256];
    for (;;) {
        while (opened < target && pending < MAX_PENDING) open_conn();
        if (stop_when_ready && ready >= target) return;
        double left = until - now_s();
        if (left <= 0) return;
        int ms = left > 0.05 ? 50 : (int)(left * 1000) + 1;
        int n = epoll_wait(ep, evs, 256, ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (c->state == ST_CONNECTING) on_writable(c); // reports the connect error
                else on_readable(c);
            }
            if (evs[i].events & EPOLLOUT) on_writable(c);
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: rtmp_load play <port> <app> <stream> <players> <settle_s> <window_s> <pub_pid|0> [server_pid...]\n"
                    "       rtmp_load idle <port> <app> <connections> <settle_s> [server_pid...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    signal(SIGPIPE, SIG_IGN);
    srand(getpid());
    int argi;
    pid_t pub = 0;
    double settle, window = 0;
    if (!strcmp(argv[1], "play")) {
        if (argc < 9) usage();
        mode_play = 1;
        port = atoi(argv[2]);
        app = argv[3];
        stream_name = argv[4];
        nconns = atoi(argv[5]);
        settle = atof(argv[6]);
        window = atof(argv[7]);
        pub = atoi(argv[8]);
        argi = 9;
        if (window <= 0) usage();
    } else if (!strcmp(argv[1], "idle")) {
        if (argc < 6) usage();
        port = atoi(argv[2]);
        app = argv[3];
        nconns = atoi(argv[4]);
        settle = atof(argv[5]);
        argi = 6;
        nconns += 1; // the warm-up connection
    } else {
        usage();
    }
    if (port <= 0 || port > 65535 || nconns < 1 || settle < 0 || strlen(app) > 64) usage();
    for (; argi < argc && npids < MAX_PIDS; argi++) pids[npids++] = atoi(argv[argi]);
    if (!(conns = calloc(nconns, sizeof *conns))) die("out of memory");
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1: %s", strerror(errno));
    double t0 = now_s();

    if (!mode_play) {
        int n = nconns - 1;
        run(t0 + SETUP_LIMIT_S, 1, 1);
        if (ready < 1) die("warm-up connection not connected after %.0f s", SETUP_LIMIT_S);
        run(now_s() + 1, 1, 0);
        long long before = servers_rss_kb();
        double t1 = now_s();
        run(t1 + SETUP_LIMIT_S, nconns, 1);
        if (ready < nconns) die("only %d of %d connections connected after %.0f s", ready - 1, n, SETUP_LIMIT_S);
        double setup = now_s() - t1;
        fprintf(stderr, "ready\n");
        run(now_s() + settle, nconns, 0);
        long long after = servers_rss_kb();
        // none closed: run() dies on a close; a last non-blocking look at every socket
        for (int i = 0; i < nconns; i++) {
            char b;
            ssize_t r = recv(conns[i].fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0) die("connection %d was closed by the server", i);
        }
        printf("connections=%d rss_before_kb=%lld rss_after_kb=%lld rss_per_conn_bytes=%.0f setup_s=%.2f\n", n,
               before, after, before >= 0 && after >= 0 ? (after - before) * 1024.0 / n : -1.0, setup);
        return 0;
    }

    run(t0 + SETUP_LIMIT_S, nconns, 1);
    if (ready < nconns) die("only %d of %d players playing after %.0f s", ready, nconns, SETUP_LIMIT_S);
    double setup = now_s() - t0;
    run(now_s() + settle, nconns, 0);

    uint64_t *rx0 = calloc(nconns, sizeof *rx0), *a0 = calloc(nconns, sizeof *a0), *v0 = calloc(nconns, sizeof *v0);
    uint64_t *m0 = calloc(nconns, sizeof *m0);
    if (!rx0 || !a0 || !v0 || !m0) die("out of memory");
    for (int i = 0; i < nconns; i++) {
        rx0[i] = conns[i].rx;
        a0[i] = conns[i].audio;
        v0[i] = conns[i].video;
        m0[i] = conns[i].media_bytes;
    }
    long long ns0 = servers_ns(), tk0 = servers_ticks(0), ut0 = servers_ticks(1), busy0 = busy_ticks(), pw0 = pub ? publisher_bytes(pub) : -1;
    double cpu0 = own_cpu_s(), w0 = now_s();
    run(w0 + window, nconns, 0);
    double w1 = now_s(), cpu1 = own_cpu_s();
    long long ns1 = servers_ns(), tk1 = servers_ticks(0), ut1 = servers_ticks(1), busy1 = busy_ticks(), pw1 = pub ? publisher_bytes(pub) : -1;
    long long rss = servers_rss_kb();
    double secs = w1 - w0;

    uint64_t bytes = 0, media = 0, audio = 0, video = 0, minb = UINT64_MAX, maxb = 0;
    for (int i = 0; i < nconns; i++) {
        uint64_t d = conns[i].rx - rx0[i];
        uint64_t da = conns[i].audio - a0[i], dv = conns[i].video - v0[i];
        if (!da || !dv) die("player %d got %llu audio and %llu video messages in the window", i,
                            (unsigned long long)da, (unsigned long long)dv);
        bytes += d;
        media += conns[i].media_bytes - m0[i];
        audio += da;
        video += dv;
        if (d < minb) minb = d;
        if (d > maxb) maxb = d;
    }
    double pub_bps = pw0 >= 0 && pw1 >= pw0 ? (pw1 - pw0) / secs : -1;
    printf("players=%d seconds=%.2f bytes=%llu bytes_per_s=%.0f mbit_per_s=%.1f player_kbps_min=%.0f "
           "player_kbps_max=%.0f pub_kbps=%.0f delivered_pct=%.1f media_bytes=%llu video_msgs=%llu audio_msgs=%llu "
           "srv_ticks=%lld srv_user_ticks=%lld srv_ns=%lld srv_rss_kb=%lld load_cpu_pct=%.0f busy_ticks=%lld setup_s=%.2f\n",
           nconns, secs, (unsigned long long)bytes, bytes / secs, bytes * 8 / secs / 1e6, minb * 8 / secs / 1e3,
           maxb * 8 / secs / 1e3, pub_bps >= 0 ? pub_bps * 8 / 1e3 : -1,
           pub_bps > 0 ? 100.0 * bytes / secs / (pub_bps * nconns) : -1, (unsigned long long)media,
           (unsigned long long)video, (unsigned long long)audio, tk0 >= 0 && tk1 >= 0 ? tk1 - tk0 : -1, ut0 >= 0 && ut1 >= 0 ? ut1 - ut0 : -1,
           ns0 >= 0 && ns1 >= 0 ? ns1 - ns0 : -1, rss,
           100 * (cpu1 - cpu0) / secs, busy0 >= 0 && busy1 >= 0 ? busy1 - busy0 : -1, setup);
    return 0;
}
