/*
 * echo_load: ping-pong load generator for TCP echo servers (bench/echo).
 *
 *   echo_load <port> <connections> <seconds> <message_size>
 *
 * Opens <connections> TCP connections to 127.0.0.1:<port>. Each one runs
 * round trips back to back: send one message of <message_size> bytes, read
 * until all of its bytes have come back, check them, start the next one.
 * All connections are driven by one thread through epoll. After <seconds>
 * (fractions allowed) no new round trip is started and the run ends; only
 * round trips completed within the window are counted.
 *
 * Every message differs from the previous one on the same connection (its
 * first bytes carry the connection id and a sequence number; the rest is a
 * per-connection pseudo-random pattern), so stale, duplicated, reordered or
 * foreign bytes are caught.
 *
 * Prints one line on stdout:
 *   round_trips=N seconds=S rt_per_s=R errors=E connections=C size=B avg_rtt_us=U
 * and exits 1 if anything went wrong (connect failure, early close, I/O
 * error, byte mismatch) or no round trip completed; 2 on bad usage.
 * Diagnostics go to stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SCRATCH (64 * 1024)
#define MAX_EVENTS 256
#define MAX_CONNS 10000
#define MAX_SIZE (64 * 1024 * 1024)

struct lconn {
    int fd;
    int id;
    int alive;
    uint32_t interest;      /* events currently registered */
    uint64_t seq;           /* round trips started on this connection */
    size_t sent, rcvd;      /* progress of the current round trip */
    unsigned char *msg;     /* the message in flight */
};

static int ep = -1;
static size_t msg_size;
static unsigned long long errors;
static int mismatch_reports;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void fail_conn(struct lconn *c, const char *what)
{
    if (what)
        fprintf(stderr, "echo_load: connection %d, round %llu: %s\n",
                c->id, (unsigned long long)c->seq, what);
    errors++;
    c->alive = 0;
    close(c->fd);           /* also leaves the epoll set */
}

static int want(struct lconn *c, uint32_t events)
{
    if (c->interest == events)
        return 0;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->interest = events;
    return 0;
}

/* Send what is left of the current message. 0 ok (maybe partial), -1 error. */
static int push(struct lconn *c)
{
    while (c->sent < msg_size) {
        ssize_t n = send(c->fd, c->msg + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return -1;
        }
    }
    return want(c, c->sent < msg_size ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
}

/* Begin the next round trip: stamp the message and send it. */
static int start_round(struct lconn *c)
{
    uint64_t stamp = ((uint64_t)c->id << 40) ^ c->seq;
    size_t k = msg_size < 8 ? msg_size : 8;
    for (size_t i = 0; i < k; i++)
        c->msg[i] = (unsigned char)(stamp >> (8 * i));
    c->seq++;
    c->sent = c->rcvd = 0;
    return push(c);
}

/* Read echoed bytes and compare them with the message. Returns 1 when the
 * round trip is complete, 0 when more is expected, -1 on error (reported). */
static int pull(struct lconn *c)
{
    static unsigned char buf[SCRATCH];
    while (c->rcvd < msg_size) {
        size_t room = msg_size - c->rcvd;
        if (room > sizeof buf)
            room = sizeof buf;
        ssize_t n = recv(c->fd, buf, room, 0);
        if (n == 0) {
            fail_conn(c, "server closed the connection");
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            fail_conn(c, strerror(errno));
            return -1;
        }
        size_t got = (size_t)n;
        if (c->rcvd + got > c->sent) {
            fail_conn(c, "received more bytes than were sent");
            return -1;
        }
        if (memcmp(buf, c->msg + c->rcvd, got) != 0) {
            size_t i = 0;
            while (buf[i] == c->msg[c->rcvd + i])
                i++;
            if (mismatch_reports++ < 10)
                fprintf(stderr, "echo_load: connection %d, round %llu: "
                        "mismatch at byte %zu: expected 0x%02x, got 0x%02x\n",
                        c->id, (unsigned long long)c->seq, c->rcvd + i,
                        c->msg[c->rcvd + i], buf[i]);
            fail_conn(c, NULL);
            return -1;
        }
        c->rcvd += got;
    }
    return 1;
}

static int open_conn(struct lconn *c, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* loopback: a blocking connect completes or fails at once */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->interest = EPOLLIN;
    c->alive = 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s <port> <connections> <seconds> <message_size>\n", argv[0]);
        return 2;
    }
    long port, nconn, size;
    char *end;
    double seconds = strtod(argv[3], &end);
    if (parse_long(argv[1], 1, 65535, &port) < 0 ||
        parse_long(argv[2], 1, MAX_CONNS, &nconn) < 0 ||
        parse_long(argv[4], 1, MAX_SIZE, &size) < 0 ||
        *argv[3] == '\0' || *end != '\0' || !(seconds > 0 && seconds <= 3600)) {
        fprintf(stderr, "echo_load: bad arguments (port 1-65535, connections 1-%d, "
                "seconds in (0, 3600], message_size 1-%d)\n", MAX_CONNS, MAX_SIZE);
        return 2;
    }
    msg_size = (size_t)size;
    signal(SIGPIPE, SIG_IGN);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct lconn *conns = calloc((size_t)nconn, sizeof *conns);
    if (!conns) {
        perror("calloc");
        return 1;
    }
    for (long i = 0; i < nconn; i++) {
        struct lconn *c = &conns[i];
        c->id = (int)i;
        c->msg = malloc(msg_size);
        if (!c->msg) {
            perror("malloc");
            return 1;
        }
        /* per-connection xorshift pattern */
        uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        for (size_t j = 0; j < msg_size; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c->msg[j] = (unsigned char)x;
        }
        if (open_conn(c, (int)port) < 0) {
            fprintf(stderr, "echo_load: connect to 127.0.0.1:%ld (connection %ld): %s\n",
                    port, i, strerror(errno));
            printf("round_trips=0 seconds=0.00 rt_per_s=0.0 errors=1 connections=%ld size=%ld avg_rtt_us=0.0\n",
                   nconn, size);
            return 1;
        }
    }

    unsigned long long round_trips = 0;
    long alive = nconn;
    double start = now_s(), deadline = start + seconds, now = start;

    for (long i = 0; i < nconn; i++) {
        if (start_round(&conns[i]) < 0) {
            fail_conn(&conns[i], strerror(errno));
            alive--;
        }
    }

    struct epoll_event evs[MAX_EVENTS];
    while (alive > 0 && now < deadline) {
        int timeout_ms = (int)((deadline - now) * 1000.0) + 1;
        int n = epoll_wait(ep, evs, MAX_EVENTS, timeout_ms);
        now = now_s();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            errors++;
            break;
        }
        if (now >= deadline)
            break;                  /* whatever completes now is late */
        for (int k = 0; k < n; k++) {
            struct lconn *c = evs[k].data.ptr;
            uint32_t e = evs[k].events;
            if (!c->alive)
                continue;
            if ((e & EPOLLOUT) && push(c) < 0) {
                fail_conn(c, strerror(errno));
                alive--;
                continue;
            }
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                int r = pull(c);
                if (r < 0) {
                    alive--;
                    continue;
                }
                if (r == 1) {
                    round_trips++;
                    if (start_round(c) < 0) {
                        fail_conn(c, strerror(errno));
                        alive--;
                    }
                }
            }
        }
    }
    double elapsed = now - start;
    if (alive == 0 && nconn > 0)
        fprintf(stderr, "echo_load: every connection failed\n");

    for (long i = 0; i < nconn; i++) {
        if (conns[i].alive)
            close(conns[i].fd);
        free(conns[i].msg);
    }
    free(conns);
    close(ep);

    double rate = elapsed > 0 ? (double)round_trips / elapsed : 0.0;
    double rtt_us = round_trips ? elapsed * (double)nconn / (double)round_trips * 1e6 : 0.0;
    printf("round_trips=%llu seconds=%.2f rt_per_s=%.1f errors=%llu connections=%ld size=%ld avg_rtt_us=%.1f\n",
           round_trips, elapsed, rate, errors, nconn, size, rtt_us);
    if (round_trips == 0 && errors == 0)
        fprintf(stderr, "echo_load: no round trip completed\n");
    return (errors == 0 && round_trips > 0) ? 0 : 1;
}
