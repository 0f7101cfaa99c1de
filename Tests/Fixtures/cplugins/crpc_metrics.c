/*
 * crpc_metrics.c — commands of the crpc fixture for the server's metrics (ABI 1.8, metrics_text):
 *   metrics <prefix>               metrics_text for the connection's peer: "metrics <line> | <line> …",
 *                                  the lines of the text that start with <prefix>, or "metrics <status>"
 *   metricsfrom <ip> <prefix>      the same for a peer at <ip> (IPv4 or IPv6 literal, port 1)
 *   metricsnull                    metrics_text with a NULL peer, then a NULL text:
 *                                  "metricsnull <status> <status>"
 * A host whose table does not reach metrics_text answers "metrics absent".
 */
#define _POSIX_C_SOURCE 200809L /* inet_pton under -std=c99 */
#include "crpc.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static void metrics_for(session *s, const mona_addr *peer, const char *prefix, text *out) {
    const mona_host_api *h = s->owner->host;
    if (!MONA_HAS_FIELD(mona_host_api, h->struct_size, metrics_text)) {
        puts_(out, "metrics absent");
        return;
    }
    mona_buffer buffer = {0};
    int32_t status = h->metrics_text(h->ctx, peer, &buffer);
    char line[64];
    if (status != MONA_OK) {
        snprintf(line, sizeof line, "metrics %d", (int)status);
        puts_(out, line);
    } else if (buffer.size == 0 || buffer.data[buffer.size - 1] != '\n') {
        puts_(out, "metrics text without a final line feed");
    } else {
        puts_(out, "metrics");
        size_t length = strlen(prefix);
        const char *at = (const char *)buffer.data, *end = at + buffer.size;
        int first = 1;
        while (at < end) {
            const char *stop = memchr(at, '\n', (size_t)(end - at));
            size_t size = (size_t)(stop - at);
            if (size >= length && memcmp(at, prefix, length) == 0) {
                puts_(out, first ? " " : " | ");
                put(out, at, size);
                first = 0;
            }
            at = stop + 1;
        }
    }
    h->buffer_free(h->ctx, &buffer);
}

int crpc_metrics_command(session *s, char *command, text *out) {
    const mona_host_api *h = s->owner->host;
    if (strncmp(command, "metrics ", 8) == 0) {
        mona_addr peer;
        h->tcp_addresses(h->ctx, s->connection, &peer, NULL);
        metrics_for(s, &peer, command + 8, out);
    } else if (strncmp(command, "metricsfrom ", 12) == 0) {
        char *ip = strtok(command + 12, " ");
        char *prefix = strtok(NULL, "");
        mona_addr peer = {0};
        peer.port = 1;
        if (ip && inet_pton(AF_INET, ip, peer.ip) == 1) peer.family = MONA_AF_INET;
        else if (ip && inet_pton(AF_INET6, ip, peer.ip) == 1) peer.family = MONA_AF_INET6;
        metrics_for(s, &peer, prefix ? prefix : "", out);
    } else if (strcmp(command, "metricsnull") == 0) {
        mona_buffer buffer = {0};
        mona_addr peer = {0};
        int32_t first = h->metrics_text(h->ctx, NULL, &buffer);
        int32_t second = h->metrics_text(h->ctx, &peer, NULL);
        char line[64];
        snprintf(line, sizeof line, "metricsnull %d %d", (int)first, (int)second);
        puts_(out, line);
    } else {
        return 0;
    }
    return 1;
}
