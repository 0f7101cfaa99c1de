/*
 * crpc_groups.c — commands of the crpc fixture for RTMFP's host services (ABI 1.5):
 *   openid <hex64> <path>          client_open with that client_id (an RTMFP peer id): "opened …" or
 *                                  "rejected <kind> <message>"
 *   join <hex> <capacity>          group_join of the group with these id bytes (32 expected):
 *                                  "joined <membership> <peer hex>,<peer hex>…" or "join <status>"
 *   leave <membership>             group_leave: "leave <status>"
 *   handshake <path> <attempts> [k=v…]  handshake_targets (protocol NULL: the section; peer: the
 *                                  connection's; properties: an OBJECT of the k=v strings):
 *                                  "targets <ip:port> …" or "handshake <status>"
 *   rendezvous <hex64>             peer_addresses: "targets <ip:port> …" or "rendezvous <status>"
 *   moved <ip> <port>              client_address_changed: "moved <status>"
 *   steal join|leave|moved <handle>  those calls with a handle (another plugin's, in the tests):
 *                                  "steal <op> <status>"
 * And a media service (ABI 1.7):
 *   configs <name>                 pub_configs: "configs <audio hex|-> <video hex|->" or "configs <status>"
 *   configsnull                    pub_configs with a NULL audio buffer, then a NULL name of 4 bytes:
 *                                  "configsnull <status> <status>"
 */
#define _POSIX_C_SOURCE 200809L /* inet_pton, inet_ntop under -std=c99 */
#include "crpc.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TARGET_CAPACITY = 8 };

static void status_line(text *out, const char *what, int64_t status) {
    char line[128];
    snprintf(line, sizeof line, "%s %lld", what, (long long)status);
    puts_(out, line);
}

static void put_hex_bytes(text *out, const uint8_t *data, size_t size) {
    char pair[3];
    for (size_t i = 0; i < size; i++) {
        snprintf(pair, sizeof pair, "%02x", data[i]);
        put(out, pair, 2);
    }
}

static void put_address(text *out, const mona_addr *address) {
    char ip[64] = "?", line[96];
    int family = address->family == MONA_AF_INET6 ? AF_INET6 : AF_INET;
    inet_ntop(family, address->ip, ip, sizeof ip);
    snprintf(line, sizeof line, family == AF_INET6 ? " [%s]:%u" : " %s:%u", ip, (unsigned)address->port);
    puts_(out, line);
}

static void put_targets(text *out, const char *what, int32_t status, const mona_addr *targets, size_t count) {
    if (status != MONA_OK) {
        status_line(out, what, status);
        return;
    }
    puts_(out, "targets");
    for (size_t i = 0; i < count; i++) put_address(out, &targets[i]);
}

static void open_with_id(session *s, char *arguments, text *out) {
    const mona_host_api *h = s->owner->host;
    char *hex = strtok(arguments, " ");
    char *path = strtok(NULL, " ");
    uint8_t id[32] = {0};
    from_hex(hex ? hex : "", id, sizeof id);
    mona_client_info info = {MONA_ABI_VERSION, sizeof(mona_client_info), "RTMFP", {0}, {0}, "localhost",
                             path ? path : "", NULL, NULL, 0, id};
    h->tcp_addresses(h->ctx, s->connection, &info.peer, &info.local);
    mona_buffer response = {0};
    mona_error err;
    int32_t status = h->client_open(h->ctx, &info, NULL, 0, s, &s->client, &response, &err);
    if (status == MONA_OK) {
        puts_(out, "opened ");
        print_stream(response.data, response.size, out);
    } else {
        puts_(out, "rejected ");
        puts_(out, kind_name(err.kind));
        puts_(out, " ");
        puts_(out, err.message);
    }
    h->buffer_free(h->ctx, &response);
}

static void join(session *s, char *arguments, text *out) {
    const mona_host_api *h = s->owner->host;
    char *hex = strtok(arguments, " ");
    char *capacity_text = strtok(NULL, " ");
    uint8_t group[64];
    size_t group_size = from_hex(hex ? hex : "", group, sizeof group);
    size_t capacity = strtoul(capacity_text ? capacity_text : "0", NULL, 10);
    if (capacity > 16) capacity = 16;
    uint8_t peers[16 * 32];
    size_t count = 0;
    mona_handle membership = 0;
    int32_t status = h->group_join(h->ctx, s->client, group, group_size, capacity ? peers : NULL, capacity, &count,
                                   &membership);
    if (status != MONA_OK) {
        status_line(out, "join", status);
        return;
    }
    char line[64];
    snprintf(line, sizeof line, "joined %llu ", (unsigned long long)membership);
    puts_(out, line);
    for (size_t i = 0; i < count; i++) {
        if (i) puts_(out, ",");
        put_hex_bytes(out, peers + i * 32, 32);
    }
}

/* An OBJECT of the "k=v" tokens (string values); returns its size. */
static size_t properties_object(char *tokens, uint8_t *out, size_t capacity) {
    size_t size = 0, count_at;
    uint8_t count = 0;
    out[size++] = MONA_MVS_OBJECT;
    out[size++] = 0; /* no type name */
    count_at = size++;
    for (char *token = strtok(tokens, " "); token && count < 100; token = strtok(NULL, " ")) {
        char *equal = strchr(token, '=');
        if (!equal) continue;
        size_t key = (size_t)(equal - token), value = strlen(equal + 1);
        if (key > 100 || value > 100 || size + key + value + 4 > capacity) break;
        out[size++] = (uint8_t)key;
        memcpy(out + size, token, key);
        size += key;
        out[size++] = MONA_MVS_STRING;
        out[size++] = (uint8_t)value;
        memcpy(out + size, equal + 1, value);
        size += value;
        count++;
    }
    out[count_at] = count;
    return size;
}

static void handshake(session *s, char *arguments, text *out) {
    const mona_host_api *h = s->owner->host;
    char *path = strtok(arguments, " ");
    char *attempts = strtok(NULL, " ");
    char *rest = strtok(NULL, "");
    char tokens[512] = "";
    if (rest) snprintf(tokens, sizeof tokens, "%s", rest);
    uint8_t properties[1024];
    size_t size = properties_object(tokens, properties, sizeof properties);
    mona_addr peer, targets[TARGET_CAPACITY];
    h->tcp_addresses(h->ctx, s->connection, &peer, NULL);
    size_t count = 0;
    int32_t status = h->handshake_targets(h->ctx, NULL, &peer, path && strcmp(path, "-") ? path : "", properties, size,
                                          (uint32_t)strtoul(attempts ? attempts : "1", NULL, 10), targets,
                                          TARGET_CAPACITY, &count);
    put_targets(out, "handshake", status, targets, count);
}

static void rendezvous(session *s, char *hex, text *out) {
    const mona_host_api *h = s->owner->host;
    uint8_t id[32] = {0};
    from_hex(hex, id, sizeof id);
    mona_addr targets[TARGET_CAPACITY];
    size_t count = 0;
    int32_t status = h->peer_addresses(h->ctx, id, targets, TARGET_CAPACITY, &count);
    put_targets(out, "rendezvous", status, targets, count);
}

static int32_t move_client(session *s, mona_handle client, char *ip, char *port) {
    const mona_host_api *h = s->owner->host;
    mona_addr address;
    memset(&address, 0, sizeof address);
    address.family = MONA_AF_INET;
    address.port = (uint16_t)strtoul(port ? port : "0", NULL, 10);
    if (!ip || inet_pton(AF_INET, ip, address.ip) != 1) address.family = MONA_AF_NONE;
    return h->client_address_changed(h->ctx, client, &address);
}

static void steal(session *s, char *arguments, text *out) {
    const mona_host_api *h = s->owner->host;
    char *op = strtok(arguments, " ");
    char *handle_text = strtok(NULL, " ");
    mona_handle handle = strtoull(handle_text ? handle_text : "0", NULL, 10);
    int32_t status = MONA_E_INVAL;
    static const uint8_t group[32] = {1};
    size_t count = 0;
    mona_handle membership = 0;
    if (!op) op = "";
    if (strcmp(op, "join") == 0) status = h->group_join(h->ctx, handle, group, sizeof group, NULL, 0, &count, &membership);
    else if (strcmp(op, "leave") == 0) status = h->group_leave(h->ctx, handle);
    else if (strcmp(op, "moved") == 0) status = move_client(s, handle, "10.0.0.9", "9");
    char what[64];
    snprintf(what, sizeof what, "steal %s", op);
    status_line(out, what, status);
}

static void configs(session *s, const char *name, text *out) {
    const mona_host_api *h = s->owner->host;
    mona_buffer audio = {0}, video = {0};
    int32_t status = h->pub_configs(h->ctx, name, strlen(name), &audio, &video);
    if (status != MONA_OK) {
        status_line(out, "configs", status);
    } else {
        puts_(out, "configs ");
        if (audio.size) put_hex_bytes(out, audio.data, audio.size); else puts_(out, "-");
        puts_(out, " ");
        if (video.size) put_hex_bytes(out, video.data, video.size); else puts_(out, "-");
    }
    h->buffer_free(h->ctx, &audio);
    h->buffer_free(h->ctx, &video);
}

int crpc_group_command(session *s, char *command, text *out) {
    if (strncmp(command, "openid ", 7) == 0) {
        open_with_id(s, command + 7, out);
    } else if (strncmp(command, "join ", 5) == 0) {
        join(s, command + 5, out);
    } else if (strncmp(command, "leave ", 6) == 0) {
        status_line(out, "leave", s->owner->host->group_leave(s->owner->host->ctx, strtoull(command + 6, NULL, 10)));
    } else if (strncmp(command, "handshake ", 10) == 0) {
        handshake(s, command + 10, out);
    } else if (strncmp(command, "rendezvous ", 11) == 0) {
        rendezvous(s, command + 11, out);
    } else if (strncmp(command, "moved ", 6) == 0) {
        char *ip = strtok(command + 6, " ");
        char *port = strtok(NULL, " ");
        status_line(out, "moved", move_client(s, s->client, ip, port));
    } else if (strncmp(command, "steal ", 6) == 0) {
        steal(s, command + 6, out);
    } else if (strncmp(command, "configs ", 8) == 0) {
        configs(s, command + 8, out);
    } else if (strcmp(command, "configsnull") == 0) {
        const mona_host_api *h = s->owner->host;
        mona_buffer audio = {0}, video = {0};
        int32_t first = h->pub_configs(h->ctx, "live", 4, NULL, &video);
        int32_t second = h->pub_configs(h->ctx, NULL, 4, &audio, &video);
        char line[64];
        snprintf(line, sizeof line, "configsnull %d %d", (int)first, (int)second);
        puts_(out, line);
    } else {
        return crpc_metrics_command(s, command, out);
    }
    return 1;
}
