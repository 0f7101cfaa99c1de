/*
 * epoll_echo: reference peer for bench/echo.
 *
 * Single-threaded, non-blocking, level-triggered epoll TCP echo server
 * (RFC 862 semantics) bound to 127.0.0.1:<port>.
 *
 *   epoll_echo <port>
 *
 * Prints "ready" on stdout once listening. SIGTERM/SIGINT (taken through a
 * signalfd, so no race with epoll_wait) make it close everything and exit 0.
 *
 * Partial writes: whatever send() did not take is kept in the connection's
 * pending buffer; the connection then waits for EPOLLOUT only (it stops
 * reading, which pushes back on the client through TCP flow control) and
 * resumes reading once the pending bytes are all sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define MAX_EVENTS 256

enum kind { K_LISTEN, K_SIGNAL, K_CONN };

struct conn {
    enum kind kind;
    int fd;
    char *pending;      /* bytes read but not yet sent */
    size_t off, len;    /* pending[off .. len) still to send */
    size_t cap;
    struct conn *prev, *next;   /* list of open connections */
};

static int ep = -1;
static struct conn *conns;      /* head of the open-connection list */

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int set_interest(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(ep, op, c->fd, &ev);
}

static void conn_close(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* close() removes the fd from the epoll set (no dup'ed fds here) */
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Keep buf[0..n) for later: append to the pending buffer. */
static int pending_append(struct conn *c, const char *buf, size_t n)
{
    if (c->off > 0 && c->off == c->len) {
        c->off = c->len = 0;
    }
    if (c->len + n > c->cap) {
        /* compact first, grow if still needed */
        if (c->off > 0) {
            memmove(c->pending, c->pending + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        if (c->len + n > c->cap) {
            size_t cap = c->cap ? c->cap : READ_CHUNK;
            while (cap < c->len + n)
                cap *= 2;
            char *p = realloc(c->pending, cap);
            if (!p)
                return -1;
            c->pending = p;
            c->cap = cap;
        }
    }
    memcpy(c->pending + c->len, buf, n);
    c->len += n;
    return 0;
}

/* Try to send the pending bytes. Returns 1 when drained, 0 when the socket
 * is full again, -1 on error. */
static int pending_flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    c->off = c->len = 0;
    return 1;
}

/* EPOLLIN on a connection: read one chunk and echo it. Returns -1 when the
 * connection must be closed. */
static int on_readable(struct conn *c)
{
    static char buf[READ_CHUNK];
    ssize_t n;
    do {
        n = recv(c->fd, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return -1;                       /* peer closed */
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;

    size_t got = (size_t)n, sent = 0;
    while (sent < got) {
        ssize_t w = send(c->fd, buf + sent, got - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return -1;
        }
    }
    if (sent < got) {
        /* socket full: keep the rest, stop reading until it is gone */
        if (pending_append(c, buf + sent, got - sent) < 0)
            return -1;
        if (set_interest(c, EPOLLOUT, EPOLL_CTL_MOD) < 0)
            return -1;
    }
    return 0;
}

static int on_writable(struct conn *c)
{
    int r = pending_flush(c);
    if (r < 0)
        return -1;
    if (r == 1 && set_interest(c, EPOLLIN, EPOLL_CTL_MOD) < 0)
        return -1;
    return 0;
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept4");   /* e.g. EMFILE: retried on next event */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->kind = K_CONN;
        c->fd = fd;
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        if (set_interest(c, EPOLLIN, EPOLL_CTL_ADD) < 0) {
            perror("epoll_ctl");
            conn_close(c);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <port>\n", argv[0]);
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "epoll_echo: bad port '%s'\n", argv[1]);
        return 2;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        die("sigprocmask");
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd");
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (listen(lfd, 1024) < 0)
        die("listen");

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    static struct conn lconn = { .kind = K_LISTEN }, sconn = { .kind = K_SIGNAL };
    lconn.fd = lfd;
    sconn.fd = sfd;
    if (set_interest(&lconn, EPOLLIN, EPOLL_CTL_ADD) < 0 ||
        set_interest(&sconn, EPOLLIN, EPOLL_CTL_ADD) < 0)
        die("epoll_ctl");

    printf("ready\n");
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    int running = 1;
    while (running) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (c->kind == K_LISTEN) {
                on_accept(lfd);
            } else if (c->kind == K_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                    ;
                running = 0;
            } else {
                int bad = 0;
                if (e & EPOLLERR)
                    bad = 1;
                if (!bad && (e & EPOLLOUT))
                    bad = on_writable(c) < 0;
                if (!bad && (e & EPOLLIN))
                    bad = on_readable(c) < 0;
                else if (!bad && (e & EPOLLHUP))
                    bad = 1;
                if (bad)
                    conn_close(c);   /* safe: one event per fd per batch */
            }
        }
    }

    close(lfd);
    while (conns)
        conn_close(conns);
    close(sfd);
    close(ep);
    return 0;
}
