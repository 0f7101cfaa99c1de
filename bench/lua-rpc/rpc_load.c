/*
 * rpc_load PORT CONNECTIONS SECONDS — load for bench/lua-rpc: each connection speaks the crpc test
 * plugin's line protocol ("open /", then "call add <n> 1" answered "ok <n+1>"), one call in flight
 * per connection, for SECONDS. Prints "calls=N seconds=S calls_per_s=R errors=E".
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    long next;       /* the argument of the call in flight */
    char buffer[256];
    size_t size;
    int opened;
} conn;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_all(int fd, const char *text) {
    size_t size = strlen(text), sent = 0;
    while (sent < size) {
        ssize_t n = send(fd, text + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        sent += (size_t)n;
    }
    return 0;
}

static int call(conn *c) {
    char line[64];
    snprintf(line, sizeof line, "call add %ld 1\n", c->next);
    return send_all(c->fd, line);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: rpc_load PORT CONNECTIONS SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    double seconds = atof(argv[3]);
    if (count < 1 || count > 10000 || seconds <= 0) return 2;
    conn *conns = calloc((size_t)count, sizeof *conns);
    struct pollfd *fds = calloc((size_t)count, sizeof *fds);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            perror("connect");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[i].fd = fd;
        fds[i].fd = fd;
        fds[i].events = POLLIN;
        if (send_all(fd, "open /\n") != 0) return 1;
    }
    long calls = 0, errors = 0;
    double start = now(), end = start + seconds;
    while (now() < end && errors == 0) {
        int ready = poll(fds, (nfds_t)count, 100);
        if (ready < 0 && errno != EINTR) break;
        for (int i = 0; i < count && ready > 0; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            conn *c = &conns[i];
            ssize_t n = recv(c->fd, c->buffer + c->size, sizeof c->buffer - 1 - c->size, 0);
            if (n <= 0) { errors++; break; }
            c->size += (size_t)n;
            char *newline;
            while ((newline = memchr(c->buffer, '\n', c->size)) != NULL) {
                *newline = 0;
                if (!c->opened) {
                    if (strncmp(c->buffer, "opened", 6) != 0) { fprintf(stderr, "open: %s\n", c->buffer); errors++; }
                    c->opened = 1;
                } else {
                    long answer = strtol(c->buffer + 3, NULL, 10);
                    if (strncmp(c->buffer, "ok ", 3) != 0 || answer != c->next + 1) {
                        fprintf(stderr, "bad answer: %s\n", c->buffer);
                        errors++;
                    }
                    calls++;
                    c->next = answer;
                }
                size_t used = (size_t)(newline - c->buffer) + 1;
                memmove(c->buffer, c->buffer + used, c->size - used);
                c->size -= used;
                if (call(c) != 0) errors++;
            }
        }
    }
    double elapsed = now() - start;
    printf("calls=%ld seconds=%.2f calls_per_s=%.1f errors=%ld\n", calls, elapsed, (double)calls / elapsed, errors);
    return errors ? 1 : 0;
}
