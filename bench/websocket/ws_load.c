/*
 * ws_load: load generator for bench/websocket — Lua RPC over WebSocket and over HTTP keep-alive.
 *
 *   ws_load ws   <port> <connections> <seconds> [server_pid]
 *   ws_load get  <port> <connections> <seconds> [server_pid]
 *   ws_load post <port> <connections> <seconds> [server_pid]
 *   ws_load idle <port> <connections> <seconds>
 *
 * One thread, epoll, non-blocking sockets to 127.0.0.1:<port>; connections are opened at most
 * PENDING at a time (connect + handshake), so the server's accept queue never overflows.
 *
 * ws:   RFC 6455 handshake (GET / with Upgrade: websocket, Sec-WebSocket-Version: 13, a random
 *       Sec-WebSocket-Key; the answer must be "HTTP/1.1 101", read up to its CRLFCRLF), then
 *       MASKED text frames ["echo",<n>,"payload"]; each answer must be one unmasked text frame
 *       [<n>,"payload"]. Pings from the server are answered with pongs.
 * get:  keep-alive "GET /echo?<n>&payload HTTP/1.1"; each answer must be "HTTP/1.1 200" with a
 *       Content-Length and the body [<n>,"payload"] (the same Lua call, client:echo(n, "payload")).
 *       The query changes with every request, and the HTTP plugin keeps a client per path and
 *       query (as MonaServer 1.x): every request closes the previous client and opens a new one.
 * post: keep-alive "POST /" with Content-Type: application/json and the body ["echo",<n>,"payload"]
 *       (the WebSocket message); answers as for get. Path and query never change: one client per
 *       connection, as with WebSocket.
 *
 * Both: every connection does one checked call during set-up (the first call of a client is not
 * timed), then the window of <seconds> starts: one call in flight per connection (ping-pong), each
 * answer checked (<n> = connection id * 10^6 + sequence, so stale or foreign answers are caught),
 * its latency recorded. Only calls answered within the window count. With <server_pid>, the
 * server's utime+stime (/proc/<pid>/stat, all threads) is read at the start and end of the window.
 * Prints one line:
 *   round_trips=N seconds=S rt_per_s=R errors=E connections=C p50_us= p99_us= max_us=
 *   avg_rtt_us= load_cpu_pct= srv_ticks= busy_ticks= setup_s=
 * (srv_ticks=-1 without a pid; load_cpu_pct is this process' own CPU over the window, 100 = one core;
 * busy_ticks is the machine's busy time over the window, all CPUs, from /proc/stat).
 *
 * idle: opens <connections> upgraded WebSocket connections and sends nothing; prints
 *   ready connections=C setup_s=S
 * then waits for a line (or EOF) on stdin, at most <seconds>, answering pings meanwhile; then makes
 * one checked echo call on every connection (proves that none was closed) and prints
 *   idle_connections=C checked=K errors=E setup_s=S check_s=T
 *
 * Exit status: 0 when every answer was right and nothing failed, 1 otherwise, 2 on bad usage.
 * Diagnostics (the first few errors) go to stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 20000
#define MAX_EVENTS 512
#define PENDING 128            /* connections being set up at once */
#define INBUF 2048
#define OUTBUF 512
#define SETUP_LIMIT_S 60.0     /* all connections must be set up within this */
#define CHECK_LIMIT_S 60.0     /* idle: all check calls must be answered within this */
#define HIST_US 1000000        /* latency histogram: 1 µs buckets up to 1 s, then one overflow bucket */

enum mode { MODE_WS, MODE_GET, MODE_POST, MODE_IDLE };
#define IS_HTTP (mode == MODE_GET || mode == MODE_POST)
enum state {
    ST_NEW,        /* not opened yet */
    ST_CONNECTING, /* non-blocking connect in progress */
    ST_HANDSHAKE,  /* upgrade request sent, waiting for the 101 */
    ST_CALL,       /* a call is in flight */
    ST_READY,      /* set up, nothing in flight */
    ST_DEAD,
};

struct conn {
    int fd;
    int id;
    int in_setup;            /* counted in pending */
    enum state state;
    uint32_t interest;
    uint64_t seq;
    long long n;             /* argument of the call in flight */
    uint64_t sent_ns;        /* when it was sent */
    size_t out_len, out_off;
    size_t in_len;
    char expect[48];         /* the JSON answer expected */
    size_t expect_len;
    unsigned char out[OUTBUF];
    unsigned char in[INBUF];
};

static enum mode mode;
static int ep = -1, port;
static struct conn *conns;
static long nconn;
static unsigned long long errors;
static int reports;
static uint64_t rng = 0x243f6a8885a308d3ULL;
static int in_window;          /* calls answered now are timed and counted */
static int setup_done_count;   /* connections past set-up */
static int pending;            /* connections in set-up */
static unsigned long long round_trips;
static uint32_t *hist;
static uint64_t lat_max_ns;
static long checked;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Count an error, print the first few, and drop the connection (c may be NULL: no connection). */
static void fail(struct conn *c, const char *fmt, ...)
{
    if (c && c->state == ST_DEAD)
        return;
    errors++;
    if (reports++ < 10) {
        va_list ap;
        va_start(ap, fmt);
        if (c)
            fprintf(stderr, "ws_load: connection %d (call %llu): ", c->id, (unsigned long long)c->seq);
        else
            fputs("ws_load: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    if (!c)
        return;
    if (c->in_setup)
        pending--;
    c->in_setup = 0;
    c->state = ST_DEAD;
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
}

/* Set-up of this connection is over (upgraded, or its first call answered). */
static void setup_finished(struct conn *c)
{
    c->in_setup = 0;
    pending--;
    setup_done_count++;
}

static int want(struct conn *c, uint32_t events)
{
    if (c->interest == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->interest = events;
    return 0;
}

/* Queue bytes on the connection and send what the socket takes. 0 ok, -1 error (reported). */
static int put(struct conn *c, const void *bytes, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + len > OUTBUF) {
        fail(c, "output buffer full");
        return -1;
    }
    memcpy(c->out + c->out_len, bytes, len);
    c->out_len += len;
    while (c->out_off < c->out_len) {
        ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (k > 0)
            c->out_off += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else {
            fail(c, "send: %s", strerror(errno));
            return -1;
        }
    }
    if (want(c, c->out_off < c->out_len ? (EPOLLIN | EPOLLOUT) : EPOLLIN) < 0) {
        fail(c, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* A masked client frame (FIN set). */
static int put_frame(struct conn *c, int opcode, const unsigned char *payload, size_t len)
{
    unsigned char frame[OUTBUF];
    size_t h = 0;
    if (len + 8 > sizeof frame)
        return -1;
    frame[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        frame[h++] = (unsigned char)(0x80 | len);
    } else {
        frame[h++] = 0x80 | 126;
        frame[h++] = (unsigned char)(len >> 8);
        frame[h++] = (unsigned char)len;
    }
    uint32_t m = (uint32_t)xorshift();
    unsigned char mask[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16),
                             (unsigned char)(m >> 24)};
    memcpy(frame + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        frame[h + i] = payload[i] ^ mask[i & 3];
    return put(c, frame, h + len);
}

/* Start a call: client:echo(n, "payload"). */
static int call(struct conn *c)
{
    char text[256];
    int len;
    c->n = (long long)c->id * 1000000LL + (long long)(c->seq % 1000000);
    c->seq++;
    c->expect_len = (size_t)snprintf(c->expect, sizeof c->expect, "[%lld,\"payload\"]", c->n);
    c->state = ST_CALL;
    c->sent_ns = now_ns();
    if (mode == MODE_GET) {
        len = snprintf(text, sizeof text, "GET /echo?%lld&payload HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", c->n);
        return put(c, text, (size_t)len);
    }
    char json[64];
    int jlen = snprintf(json, sizeof json, "[\"echo\",%lld,\"payload\"]", c->n);
    if (mode == MODE_POST) {
        len = snprintf(text, sizeof text, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s", jlen, json);
        return put(c, text, (size_t)len);
    }
    return put_frame(c, 0x1, (unsigned char *)json, (size_t)jlen);
}

static void record(uint64_t ns)
{
    uint64_t us = ns / 1000;
    hist[us < HIST_US ? us : HIST_US]++;
    if (ns > lat_max_ns)
        lat_max_ns = ns;
}

/* The answer to the call in flight arrived (body = its JSON text): check it, then go on. */
static void answered(struct conn *c, const unsigned char *body, size_t len)
{
    if (c->state != ST_CALL) {
        fail(c, "unexpected message: %s", "no call in flight");
        return;
    }
    if (len != c->expect_len || memcmp(body, c->expect, len) != 0) {
        char got[64];
        size_t k = len < sizeof got - 1 ? len : sizeof got - 1;
        memcpy(got, body, k);
        got[k] = 0;
        fail(c, "wrong answer %s, expected %s", got, c->expect);
        return;
    }
    if (in_window) {
        round_trips++;
        record(now_ns() - c->sent_ns);
        call(c);
        return;
    }
    /* a set-up call (the first one) or an idle check call */
    c->state = ST_READY;
    if (mode == MODE_IDLE)
        checked++;
    else
        setup_finished(c);
}

/* True when the response head at p starts with `status` (12 bytes); else fails c with `what` and the line. */
static int status_is(struct conn *c, const unsigned char *p, size_t avail, const char *status, const char *what)
{
    if (avail >= 12 && memcmp(p, status, 12) == 0)
        return 1;
    char line[64];
    size_t k = strcspn((const char *)p, "\r");
    if (k > sizeof line - 1)
        k = sizeof line - 1;
    memcpy(line, p, k);
    line[k] = 0;
    fail(c, "%s: %s", what, line);
    return 0;
}

static const char *find_head_end(const unsigned char *p, size_t len)
{
    return memmem(p, len, "\r\n\r\n", 4);
}

/* A header's value in a response head (name without colon), or NULL. */
static const char *header(const char *head, size_t head_len, const char *name, size_t *value_len)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', head_len), *end = head + head_len;
    while (p && p + 1 < end) {
        p++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *value_len = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

/* Consume complete units (handshake head, frames, HTTP responses) from the input buffer. */
static void parse(struct conn *c)
{
    size_t off = 0;
    while (c->state != ST_DEAD && off < c->in_len) {
        unsigned char *p = c->in + off;
        size_t avail = c->in_len - off;
        if (c->state == ST_HANDSHAKE) {
            const char *e = find_head_end(p, avail);
            if (!e)
                break;
            size_t head = (size_t)(e - (const char *)p) + 4;
            if (!status_is(c, p, avail, "HTTP/1.1 101", "handshake answered"))
                return;
            off += head;
            if (mode == MODE_IDLE) {
                c->state = ST_READY;
                setup_finished(c);
            } else {
                call(c); /* the set-up call */
            }
            continue;
        }
        if (IS_HTTP) {
            const char *e = find_head_end(p, avail);
            if (!e) {
                if (avail == INBUF)
                    fail(c, "response head too long");
                break;
            }
            size_t head = (size_t)(e - (const char *)p) + 4, vl = 0;
            if (!status_is(c, p, avail, "HTTP/1.1 200", "HTTP answer"))
                return;
            const char *cl = header((const char *)p, head, "Content-Length", &vl);
            if (!cl) {
                fail(c, "HTTP answer without Content-Length");
                return;
            }
            size_t body = (size_t)strtoul(cl, NULL, 10);
            if (head + body > INBUF) {
                fail(c, "HTTP answer too long");
                return;
            }
            if (avail < head + body)
                break;
            const char *conn_hdr = header((const char *)p, head, "Connection", &vl);
            if (conn_hdr && vl == 5 && strncasecmp(conn_hdr, "close", 5) == 0) {
                fail(c, "server answered Connection: close");
                return;
            }
            off += head + body;
            answered(c, p + head, body);
            continue;
        }
        /* WebSocket frames from the server: unmasked */
        if (avail < 2)
            break;
        int fin = p[0] & 0x80, opcode = p[0] & 0x0f;
        if (p[1] & 0x80) {
            fail(c, "masked frame from the server");
            return;
        }
        size_t len = p[1] & 0x7f, h = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((size_t)p[2] << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            fail(c, "frame too long");
            return;
        }
        if (h + len > INBUF) {
            fail(c, "frame too long");
            return;
        }
        if (avail < h + len)
            break;
        off += h + len;
        if (!fin) {
            fail(c, "fragmented frame");
            return;
        }
        switch (opcode) {
        case 0x1:
            answered(c, p + h, len);
            break;
        case 0x9: /* ping: pong with the same payload */
            put_frame(c, 0xA, p + h, len);
            break;
        case 0xA:
            break;
        case 0x8: {
            char why[64] = "";
            if (len > 2) {
                size_t k = len - 2 < sizeof why - 1 ? len - 2 : sizeof why - 1;
                memcpy(why, p + h + 2, k);
                why[k] = 0;
            }
            fail(c, "server closed the WebSocket: %s", why);
            return;
        }
        default: {
            char op[8];
            snprintf(op, sizeof op, "%d", opcode);
            fail(c, "unexpected frame opcode %s", op);
            return;
        }
        }
    }
    if (c->state != ST_DEAD && off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void readable(struct conn *c)
{
    for (;;) {
        if (c->in_len == INBUF) {
            fail(c, "input buffer full");
            return;
        }
        ssize_t k = recv(c->fd, c->in + c->in_len, INBUF - c->in_len, 0);
        if (k > 0) {
            c->in_len += (size_t)k;
            parse(c);
            if (c->state == ST_DEAD)
                return;
            continue;
        }
        if (k == 0) {
            fail(c, "server closed the connection");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            fail(c, "recv: %s", strerror(errno));
        return;
    }
}

static void connected(struct conn *c)
{
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
        fail(c, "connect: %s", strerror(err ? err : errno));
        return;
    }
    if (IS_HTTP) {
        call(c); /* the set-up call */
        return;
    }
    unsigned char key[16];
    char b64[32], req[256];
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)xorshift();
    int o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16 | (i + 1 < 16 ? (uint32_t)key[i + 1] << 8 : 0) |
                     (i + 2 < 16 ? key[i + 2] : 0);
        b64[o++] = tbl[(v >> 18) & 63];
        b64[o++] = tbl[(v >> 12) & 63];
        b64[o++] = i + 1 < 16 ? tbl[(v >> 6) & 63] : '=';
        b64[o++] = i + 2 < 16 ? tbl[v & 63] : '=';
    }
    b64[o] = 0;
    int len = snprintf(req, sizeof req,
                       "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
                       port, b64);
    c->state = ST_HANDSHAKE;
    put(c, req, (size_t)len);
}

static int open_conn(struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->fd = -1;
        fail(c, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->in_setup = 1;
    pending++;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        fail(c, "connect: %s", strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fail(c, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    c->interest = EPOLLIN | EPOLLOUT;
    return 0;
}

static void dispatch(struct epoll_event *e)
{
    struct conn *c = e->data.ptr;
    if (!c || c->state == ST_DEAD)
        return;
    if (c->state == ST_CONNECTING) {
        if (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            connected(c);
        return;
    }
    if ((e->events & EPOLLOUT) && c->out_off < c->out_len) {
        if (put(c, "", 0) < 0)
            return;
    }
    if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        readable(c);
}

/* Server utime+stime in ticks, -1 if unknown. */
static long long server_ticks(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p += 2; /* field 3, state */
    unsigned long long ut = 0, st = 0;
    /* fields 3..13 skipped, then utime (14) and stime (15) */
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* Busy time of the whole machine (all CPUs, /proc/stat: everything but idle and iowait), in ticks. */
static long long machine_busy_ticks(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int k = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (k < 7)
        return -1;
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
           r.ru_stime.tv_usec / 1e6;
}

static double percentile_us(double q)
{
    if (round_trips == 0)
        return 0;
    unsigned long long want_n = (unsigned long long)(q * (double)round_trips), acc = 0;
    if (want_n == 0)
        want_n = 1;
    for (long i = 0; i <= HIST_US; i++) {
        acc += hist[i];
        if (acc >= want_n)
            return (double)i + 0.5; /* middle of the 1 µs bucket */
    }
    return (double)HIST_US;
}

/* Open every connection (at most PENDING being set up at once) and run each through set-up. */
static int setup(void)
{
    struct epoll_event evs[MAX_EVENTS];
    long next = 0;
    uint64_t limit = now_ns() + (uint64_t)(SETUP_LIMIT_S * 1e9);
    while (next < nconn || pending > 0) {
        while (next < nconn && pending < PENDING)
            open_conn(&conns[next++]);
        if (errors)
            return -1;
        uint64_t t = now_ns();
        if (t >= limit) {
            fprintf(stderr, "ws_load: set-up did not finish within %.0f s: %d of %ld connections ready\n",
                    SETUP_LIMIT_S, setup_done_count, nconn);
            errors++;
            return -1;
        }
        int n = epoll_wait(ep, evs, MAX_EVENTS, (int)((limit - t) / 1000000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            errors++;
            return -1;
        }
        for (int k = 0; k < n; k++)
            dispatch(&evs[k]);
    }
    return errors ? -1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: ws_load ws|get|post <port> <connections> <seconds> [server_pid]\n"
                    "       ws_load idle <port> <connections> <seconds>\n");
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        usage();
        return 2;
    }
    if (strcmp(argv[1], "ws") == 0)
        mode = MODE_WS;
    else if (strcmp(argv[1], "get") == 0)
        mode = MODE_GET;
    else if (strcmp(argv[1], "post") == 0)
        mode = MODE_POST;
    else if (strcmp(argv[1], "idle") == 0)
        mode = MODE_IDLE;
    else {
        usage();
        return 2;
    }
    char *end;
    port = (int)strtol(argv[2], &end, 10);
    int bad = *end || port < 1 || port > 65535;
    nconn = strtol(argv[3], &end, 10);
    bad |= *end || nconn < 1 || nconn > MAX_CONNS;
    double seconds = strtod(argv[4], &end);
    bad |= *end || !(seconds > 0 && seconds <= 3600);
    int pid = 0;
    if (argc == 6) {
        pid = (int)strtol(argv[5], &end, 10);
        bad |= *end || pid <= 0 || mode == MODE_IDLE;
    }
    if (bad) {
        usage();
        fprintf(stderr, "ws_load: port 1-65535, connections 1-%d, seconds in (0, 3600]\n", MAX_CONNS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rng ^= (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconn + 16) {
        fprintf(stderr, "ws_load: open-file limit %llu is below %ld connections (ulimit -n)\n",
                (unsigned long long)rl.rlim_cur, nconn);
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconn, sizeof *conns);
    hist = calloc(HIST_US + 1, sizeof *hist);
    if (ep < 0 || !conns || !hist) {
        perror("ws_load: init");
        return 1;
    }
    for (long i = 0; i < nconn; i++) {
        conns[i].id = (int)i;
        conns[i].fd = -1;
        conns[i].state = ST_NEW;
    }

    uint64_t t_setup = now_ns();
    int ok = setup() == 0;
    double setup_s = (double)(now_ns() - t_setup) / 1e9;
    struct epoll_event evs[MAX_EVENTS];

    if (mode == MODE_IDLE) {
        if (!ok) {
            printf("idle_connections=%d checked=0 errors=%llu setup_s=%.2f check_s=0\n", setup_done_count,
                   errors, setup_s);
            return 1;
        }
        printf("ready connections=%ld setup_s=%.2f\n", nconn, setup_s);
        fflush(stdout);
        /* hold: answer pings, watch for closes, until a line or EOF on stdin, or <seconds> */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        int watch_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == 0;
        uint64_t limit = now_ns() + (uint64_t)(seconds * 1e9);
        int go = 0;
        while (!go) {
            uint64_t t = now_ns();
            if (t >= limit)
                break;
            int n = epoll_wait(ep, evs, MAX_EVENTS, (int)((limit - t) / 1000000) + 1);
            if (n < 0 && errno != EINTR) {
                perror("epoll_wait");
                errors++;
                break;
            }
            for (int k = 0; k < n; k++) {
                if (evs[k].data.ptr == NULL) {
                    go = 1;
                    continue;
                }
                dispatch(&evs[k]);
            }
        }
        if (watch_stdin)
            epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
        /* check: one call on every connection still open */
        uint64_t t_check = now_ns();
        long calls = 0;
        for (long i = 0; i < nconn; i++)
            if (conns[i].state == ST_READY) {
                calls++;
                call(&conns[i]);
            }
        limit = t_check + (uint64_t)(CHECK_LIMIT_S * 1e9);
        while (checked + errors < (unsigned long long)calls) {
            uint64_t t = now_ns();
            if (t >= limit) {
                fprintf(stderr, "ws_load: %ld of %ld check calls unanswered after %.0f s\n", calls - checked,
                        calls, CHECK_LIMIT_S);
                errors++;
                break;
            }
            int n = epoll_wait(ep, evs, MAX_EVENTS, (int)((limit - t) / 1000000) + 1);
            if (n < 0 && errno != EINTR) {
                perror("epoll_wait");
                errors++;
                break;
            }
            for (int k = 0; k < n; k++)
                dispatch(&evs[k]);
        }
        if (checked < nconn && errors == 0)
            errors++;
        printf("idle_connections=%ld checked=%ld errors=%llu setup_s=%.2f check_s=%.2f\n", nconn, checked,
               errors, setup_s, (double)(now_ns() - t_check) / 1e9);
        return errors ? 1 : 0;
    }

    if (!ok) {
        printf("round_trips=0 seconds=0.00 rt_per_s=0.0 errors=%llu connections=%ld p50_us=0 p99_us=0 "
               "max_us=0 avg_rtt_us=0 load_cpu_pct=0 srv_ticks=-1 busy_ticks=-1 setup_s=%.2f\n",
               errors, nconn, setup_s);
        return 1;
    }

    /* the window */
    in_window = 1;
    long long ticks0 = server_ticks(pid), busy0 = machine_busy_ticks();
    double cpu0 = cpu_s();
    uint64_t start = now_ns(), deadline = start + (uint64_t)(seconds * 1e9), now = start;
    for (long i = 0; i < nconn; i++)
        if (conns[i].state == ST_READY)
            call(&conns[i]);
    while (errors == 0 && now < deadline) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, (int)((deadline - now) / 1000000) + 1);
        now = now_ns();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            errors++;
            break;
        }
        if (now >= deadline)
            break; /* whatever completes now is late */
        for (int k = 0; k < n; k++)
            dispatch(&evs[k]);
    }
    long long ticks1 = server_ticks(pid), busy1 = machine_busy_ticks();
    double cpu1 = cpu_s();
    double elapsed = (double)(now - start) / 1e9;
    double rate = elapsed > 0 ? (double)round_trips / elapsed : 0;
    double rtt = round_trips ? elapsed * (double)nconn / (double)round_trips * 1e6 : 0;
    printf("round_trips=%llu seconds=%.2f rt_per_s=%.1f errors=%llu connections=%ld p50_us=%.0f p99_us=%.0f "
           "max_us=%.0f avg_rtt_us=%.1f load_cpu_pct=%.0f srv_ticks=%lld busy_ticks=%lld setup_s=%.2f\n",
           round_trips, elapsed, rate, errors, nconn, percentile_us(0.50), percentile_us(0.99),
           (double)lat_max_ns / 1000.0, rtt, elapsed > 0 ? (cpu1 - cpu0) / elapsed * 100 : 0,
           (ticks0 >= 0 && ticks1 >= 0) ? ticks1 - ticks0 : -1LL, (busy0 >= 0 && busy1 >= 0) ? busy1 - busy0 : -1LL,
           setup_s);
    if (round_trips == 0 && errors == 0)
        fprintf(stderr, "ws_load: no round trip completed\n");
    return (errors == 0 && round_trips > 0) ? 0 : 1;
}
