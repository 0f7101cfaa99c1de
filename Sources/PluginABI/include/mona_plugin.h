/*
 * mona_plugin.h — the stable C ABI between the MonaServer host and its protocol plugins.
 *
 * A plugin is a shared library that owns one wire protocol and nothing else. The host owns the
 * reactor (sockets, timers), the object model (clients, writers, publications, listeners, groups),
 * the Lua runtime and the configuration. This header is all a plugin needs: it is plain C99, has no
 * dependency besides <stddef.h> and <stdint.h>, and can be compiled against by any language with a C
 * FFI.
 *
 * Two tables, one per direction (the Janus model):
 *   - mona_host_api: services the host gives to a plugin (logging, config, TCP, UDP, timers, crypto,
 *     values, clients, RPC, writers, media, groups). The host fills it; the plugin calls through it.
 *   - mona_plugin:   entry points the plugin gives to the host (lifecycle, socket events, timers,
 *     writer operations, media sink operations, publications starting and ending). The plugin fills
 *     it; the host calls through it.
 *
 * ---------------------------------------------------------------------------------------------------
 * VERSIONING
 *   Both tables start with `abi_version` then `struct_size`. The version is (major << 16) | minor,
 *   written as a plain literal so that every FFI can import it. A host accepts a plugin only when the
 *   majors are equal and the plugin's struct_size is at least the size of the 1.0 layout. Within a
 *   major, tables are append-only: a newer minor only adds fields at the end. Before using a field a
 *   reader checks that struct_size covers it (MONA_HAS_FIELD below), so an older plugin with a shorter
 *   table keeps working with a newer host and vice versa.
 *
 * LOADING
 *   The host dlopen()s the library with RTLD_NOW | RTLD_LOCAL, then looks up the entry symbol
 *   `mona_plugin_entry_<section in lower case>` (unique per built-in plugin, so that several plugins
 *   can be linked statically into one binary) and, failing that, the generic `mona_plugin_entry` that
 *   third-party drop-ins export. The entry returns a pointer to a static mona_plugin, or NULL to refuse
 *   the host's ABI version. A refused, mismatched or symbol-less library is logged and skipped; the
 *   server goes on with the others. This header declares mona_plugin_entry with C linkage and default
 *   visibility: a drop-in defines it and needs no extern "C" nor export attribute of its own, in C or
 *   C++, with or without -fvisibility=hidden (MONA_PLUGIN_EXPORT exports any other symbol).
 *
 * THREADING
 *   Every call in both directions happens on the host's single event-loop thread, except:
 *     - host->log, log_level, time_ms, monotonic_ns, buffer_free, value_encode, value_decode and the
 *       stateless crypto functions (random_bytes, sha1, sha256, hmac_sha256, aes128_cbc), which are
 *       thread-safe and may be called from a run_blocking work function (debug builds of the host stop
 *       on any other host function called off the loop thread);
 *     - the `work` function given to run_blocking, which runs on a pool thread and must touch neither
 *       the host API (but for the thread-safe functions above) nor the plugin's loop-owned state.
 *   No plugin callback may block: file reads, DNS and long computations go through run_blocking.
 *
 * RE-ENTRANCY
 *   A plugin may call any host function from inside any of its callbacks. Closing a handle from inside
 *   a callback is safe: the matching "closed" callback always arrives later, as a callback of its own,
 *   never from inside a host function call.
 *
 * OWNERSHIP
 *   - Buffers passed as (pointer, length) in either direction are borrowed for the duration of the
 *     call only; whoever needs them later copies them. Strings are UTF-8 and, unless said otherwise,
 *     passed as (pointer, length) without relying on a terminating NUL.
 *   - `const char *` parameters documented as "NUL-terminated" are borrowed for the call too.
 *   - A mona_buffer filled by the host belongs to the plugin until it hands it back with
 *     host->buffer_free; the host never keeps a pointer into it.
 *   - Context pointers (`void *` the plugin gives the host: plugin, session, listener, udp, timer,
 *     writer and sink contexts) belong to the plugin. The host stores them and passes them back, never
 *     dereferences them, and never uses one again after the callback that ends its life (tcp_closed,
 *     timer cancellation or last firing, writer_released, sink_released, destroy).
 *   - Handles (mona_handle) are opaque 64-bit integers issued by the host; 0 is never a valid handle.
 *     A handle is never reused during the life of the process.
 *   - A handle belongs to the plugin it was issued to: connections it accepted or adopted, its
 *     listeners, UDP sockets, timers, crypto objects and shared buffers, the clients it opened (and
 *     their writers and group memberships), the publications of those clients and its subscriptions.
 *     Every host function that takes a handle answers a handle of another plugin as an unknown one:
 *     MONA_E_INVAL (-1 from client_parameter) and logs a warning naming its owner (crypto objects:
 *     MONA_E_INVAL alone); an unknown or closed handle is MONA_E_INVAL too.
 *
 * STATUS
 *   Functions returning int32_t answer MONA_OK (0), a negative MONA_E_* code, or a positive status where
 *   a function documents one: client_invoke answers MONA_PENDING (1) to plugins of ABI 1.2 and later.
 *   Test failures with `status < 0`, never with `status != MONA_OK`. Functions that can fail for a
 *   reason a remote peer should see also fill an optional mona_error. A refused argument (a malformed
 *   MVS stream, a struct too small, a handle the plugin does not own) is MONA_E_INVAL and one log line
 *   naming the function and the reason.
 *
 * STRUCTS A PLUGIN PASSES IN
 *   A struct that starts with abi_version and struct_size (mona_client_info) is read like the tables:
 *   the host accepts any struct_size from the size of its 1.0 layout (MONA_CLIENT_INFO_SIZE_1_0) up,
 *   copies the bytes struct_size covers and reads the fields beyond them (appended by later minors) as
 *   zero / NULL. A smaller struct_size is MONA_E_INVAL. The other structs (mona_addr, mona_send_part,
 *   mona_buffer, mona_error) have a fixed layout for the whole major.
 * ---------------------------------------------------------------------------------------------------
 */
#ifndef MONA_PLUGIN_H
#define MONA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------------------------------ */

/* History:
 *   1.0  first release.
 *   1.1  mona_plugin.writer_set_property (client.properties(key, value, options): HTTP/WebSocket cookies);
 *        MONA_PLUGIN_SIZE_1_0.
 *   1.2  MONA_PENDING: to a plugin of 1.2 or later, client_invoke says when the method waits for the
 *        host, with a token that the later writer_message(response = token) carries back (a plugin of
 *        1.0/1.1 still gets MONA_OK without results there); a late failure comes as response = -token.
 *        No table changed.
 *   1.3  Fan-out without copies: mona_host_api.shared_create, shared_release and tcp_send_parts (a
 *        frame encoded once, then written to many connections by reference); mona_plugin.sink_frame
 *        (sink_audio/sink_video with the frame's serial, so that a plugin knows it already encoded
 *        it); mona_media_frame; MONA_PLUGIN_SIZE_1_2.
 *   1.4  mona_host_api.config_default (protocol defaults belong to their plugin). The header declares
 *        mona_plugin_entry (C linkage, default visibility) and adds MONA_PLUGIN_VISIBLE,
 *        MONA_PLUGIN_EXPORT and MONA_CLIENT_INFO_SIZE_1_0. Stated and enforced for every minor:
 *        structs accepted from their 1.0 size; malformed MVS and another plugin's handles are
 *        MONA_E_INVAL with a log line; sink_frame alone subscribes; pub_audio/pub_video flags are
 *        honoured; work_done comes before destroy; the value formats' framing is documented.
 *   1.5  RTMFP's services: group_join, group_leave and peer_addresses are served (MONA_E_UNSUPPORTED
 *        before) and their meaning is set (32-byte group ids, memberships, introductions newest first,
 *        departures repaired by the plugin, peer_addresses asks onRendezVousUnknown);
 *        client_address_changed updates client.address and runs onAddressChanged;
 *        mona_host_api.handshake_targets (Lua onHandshake, redirection targets as mona_addr, "myself"
 *        as the wildcard address). dh_new accepts MODP groups 5 and 14.
 *   1.6  mona_host_api.udp_send_segments: a run of datagrams to one address in one call (UDP
 *        segmentation offload where the system has it).
 *   1.7  mona_host_api.pub_configs (a publication's cached codec configurations: RTSP's DESCRIBE).
 *   1.8  mona_host_api.metrics_text (the server's metrics in Prometheus' text format: HTTP's GET /metrics).
 *   1.9  mona_plugin.publication_started and publication_ended: every publication's start and end, told
 *        to the plugins that want them (HTTP packages HLS from a publication's start);
 *        MONA_PLUGIN_SIZE_1_8. */

/** Major version of this header. A host and a plugin must agree on it. */
#define MONA_ABI_MAJOR 1
/** Minor version of this header. Only appends fields within a major. */
#define MONA_ABI_MINOR 9
/** (MONA_ABI_MAJOR << 16) | MONA_ABI_MINOR, as a literal so that Swift and other FFIs import it. */
#define MONA_ABI_VERSION 0x00010009u

/** Major part of an abi_version value. */
#define MONA_ABI_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
/** Minor part of an abi_version value. */
#define MONA_ABI_VERSION_MINOR(v) ((uint32_t)(v) & 0xFFFFu)
/** True when a table whose struct_size is `size` contains field `field` of struct type `type`. */
#define MONA_HAS_FIELD(type, size, field) \
    ((size_t)(size) >= offsetof(type, field) + sizeof(((type *)0)->field))

/** Generic entry symbol exported by drop-in plugins. Built-ins export mona_plugin_entry_<name>. */
#define MONA_PLUGIN_ENTRY_SYMBOL "mona_plugin_entry"

/** Makes a symbol visible to dlsym even when the plugin is compiled with -fvisibility=hidden. */
#if defined(_WIN32) || defined(__CYGWIN__)
#define MONA_PLUGIN_VISIBLE __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define MONA_PLUGIN_VISIBLE __attribute__((visibility("default")))
#else
#define MONA_PLUGIN_VISIBLE
#endif

/** Exports a symbol of a plugin for the host with C linkage, from C or C++; e.g. the entry of a
 *  built-in: `MONA_PLUGIN_EXPORT const mona_plugin *mona_plugin_entry_foo(uint32_t host_abi_version)`.
 *  (mona_plugin_entry itself needs nothing: this header declares it.) */
#ifdef __cplusplus
#define MONA_PLUGIN_EXPORT extern "C" MONA_PLUGIN_VISIBLE
#else
#define MONA_PLUGIN_EXPORT MONA_PLUGIN_VISIBLE
#endif

/* ---- basic types -------------------------------------------------------------------------------- */

/** Opaque handle issued by the host (connection, listener, UDP socket, timer, client, writer, ...). 0 = none. */
typedef uint64_t mona_handle;

/** Status codes. */
#define MONA_OK 0
#define MONA_PENDING 1          /* client_invoke only (ABI >= 1.2): done, the answer comes later */
#define MONA_E_INVAL (-1)       /* a bad argument (unknown handle or another plugin's, wrong size, malformed MVS) */
#define MONA_E_NOTFOUND (-2)    /* no such plugin, application, method, publication, key */
#define MONA_E_REJECTED (-3)    /* refused by the application (Lua) or by policy (blacklist) */
#define MONA_E_SCRIPT (-4)      /* the Lua code raised an error */
#define MONA_E_EXISTS (-5)      /* already there (a publication with a publisher, ...) */
#define MONA_E_AGAIN (-6)       /* not now; retry later */
#define MONA_E_CLOSED (-7)      /* the handle is closing or closed */
#define MONA_E_NOMEM (-8)       /* a limit or the memory is exhausted */
#define MONA_E_UNSUPPORTED (-9) /* this host does not provide that service */
#define MONA_E_ADDRINUSE (-10)  /* the address/port is taken */
#define MONA_E_IO (-11)         /* any other system error; the host logs the errno text */

/** Log levels, MonaServer's numbering (the --log option): 1 fatal ... 8 trace. */
#define MONA_LOG_FATAL 1
#define MONA_LOG_CRITIC 2
#define MONA_LOG_ERROR 3
#define MONA_LOG_WARN 4
#define MONA_LOG_NOTE 5
#define MONA_LOG_INFO 6
#define MONA_LOG_DEBUG 7
#define MONA_LOG_TRACE 8

/** Address families of mona_addr. */
#define MONA_AF_NONE 0
#define MONA_AF_INET 4
#define MONA_AF_INET6 6

/**
 * A fixed-size socket address (20 bytes), so that no string is built per datagram.
 * IPv4 occupies ip[0..3] in network order and leaves ip[4..15] zero; IPv6 uses all 16 bytes.
 * The port is in host byte order.
 */
typedef struct mona_addr {
    uint16_t family; /* MONA_AF_* */
    uint16_t port;   /* host byte order */
    uint8_t ip[16];  /* network byte order */
} mona_addr;

/** Classes of a mona_error: each protocol maps them to its own answer (RTMP status, HTTP code, ...). */
#define MONA_ERR_NONE 0
#define MONA_ERR_APPLICATION 1 /* the application does not exist / is not reachable (RTMP InvalidApp, HTTP 503) */
#define MONA_ERR_SCRIPT 2      /* a Lua error or an explicit error(...) (RTMP Rejected / Call.Failed, HTTP 500) */
#define MONA_ERR_PERMISSION 3  /* refused (HTTP 403) */
#define MONA_ERR_NOTFOUND 4    /* method, file or publication unknown (HTTP 404) */
#define MONA_ERR_PROTOCOL 5    /* the peer broke the protocol */
#define MONA_ERR_OTHER 6

/** An error a remote peer should see. Filled by the host; `message` is NUL-terminated UTF-8, truncated to fit. */
typedef struct mona_error {
    int32_t kind;       /* MONA_ERR_* */
    char message[500];  /* human text, e.g. "Method client 'foo' not found in application /app" */
} mona_error;

/**
 * A byte buffer allocated by the host and handed to the plugin. The plugin owns it until it calls
 * host->buffer_free(host->ctx, &buffer) (which also zeroes the struct). `opaque` is the host's.
 * An empty result has data == NULL and size == 0 and needs no free (freeing it is harmless).
 */
typedef struct mona_buffer {
    uint8_t *data;
    size_t size;
    void *opaque;
} mona_buffer;

/* ---- values: the Mona Value Stream (MVS) ---------------------------------------------------------
 *
 * Every structured value that crosses the boundary (RPC arguments and results, connect responses,
 * metadata, properties) is a byte string in this one neutral format. Neither AMF nor JSON: plugins
 * translate their wire format to MVS, the host translates MVS to and from Lua.
 *
 * A value stream is a sequence of zero or more values laid end to end (several RPC arguments are
 * several values). Integers named `varuint` are unsigned LEB128 (7 bits per byte, least significant
 * group first, high bit set on every byte but the last, at most 10 bytes). Doubles are IEEE-754 binary64
 * in little-endian byte order. Strings are UTF-8 (not NUL-terminated).
 *
 *   tag  name       payload
 *   0x00 (invalid)  never written; a reader rejects it
 *   0x01 NIL        none
 *   0x02 FALSE      none
 *   0x03 TRUE       none
 *   0x04 NUMBER     8-byte double
 *   0x05 STRING     varuint length, bytes
 *   0x06 BYTES      varuint length, bytes              (Lua: a table with __raw)
 *   0x07 DATE       8-byte double, ms since 1970-01-01 UTC (Lua: a table with __time)
 *   0x08 ARRAY      varuint count, then count values   (Lua: a sequence 1..count)
 *   0x09 OBJECT     varuint type-name length, type-name bytes (empty: plain object; Lua: __type),
 *                   varuint count, then count pairs (key: varuint length + bytes, may be empty; value)
 *   0x0A MIXED      varuint count, count values (indexes 1..count),
 *                   then varuint count and keyed pairs as in OBJECT
 *   0x0B MAP        1 byte flags (bit 0: weak keys; other bits 0), varuint count, then count
 *                   (key value, value value) pairs (Lua: a table with __size; keys may be any value)
 *   0x0C REFERENCE  varuint index: the index-th ARRAY/OBJECT/MIXED/MAP opened so far in this stream,
 *                   counting from 0 in the order their tags appear (cycles and shared tables)
 *
 * A reader meeting an unknown tag stops with an error: tags are only ever added with a new minor.
 */
#define MONA_MVS_NIL 0x01
#define MONA_MVS_FALSE 0x02
#define MONA_MVS_TRUE 0x03
#define MONA_MVS_NUMBER 0x04
#define MONA_MVS_STRING 0x05
#define MONA_MVS_BYTES 0x06
#define MONA_MVS_DATE 0x07
#define MONA_MVS_ARRAY 0x08
#define MONA_MVS_OBJECT 0x09
#define MONA_MVS_MIXED 0x0A
#define MONA_MVS_MAP 0x0B
#define MONA_MVS_REFERENCE 0x0C

/**
 * Wire formats the host's codecs translate to and from MVS (host->value_encode / value_decode). What
 * crosses is always a value LIST (an MVS stream of zero or more values); each format frames it so:
 *   MVS     the stream itself (value_decode checks it; value_encode copies it).
 *   AMF0    each value one top-level AMF0 value, end to end; decoding reads values to the end of the
 *           bytes (none: an empty list).
 *   AMF3    the same, each value AMF0 switching to AMF3 with the marker 0x11; decoding reads AMF0 and
 *           AMF3 values alike. (RTMP's AMF3 messages carry one 0x00 byte before this stream; the
 *           plugin strips or adds it.)
 *   JSON    encoding: one JSON array holding the values, `[v1,v2,...]` (`[]` for none); decoding: a
 *           top-level array gives its items as the values, any other top-level value is one value,
 *           empty text is no value (a UTF-8 byte order mark is skipped).
 *   XMLRPC  encoding: a methodResponse with one <param> per value; decoding: a methodCall gives its
 *           method name (STRING) then its params, a methodResponse its params (a fault: one OBJECT).
 *   QUERY   encoding: values joined by '&', an object's fields as key=value, nested tables flattened;
 *           decoding: consecutive key=value pairs form one OBJECT, a bare token is a value of its own;
 *           '+' is a space, %XX decoded; null, true/false and numbers are typed, the rest are STRINGs.
 *   RAW     encoding: one BYTES or STRING value, its bytes (anything else: MONA_E_INVAL); decoding:
 *           the bytes as one BYTES value.
 * Malformed input is MONA_E_INVAL, an unknown format MONA_E_UNSUPPORTED.
 */
#define MONA_FORMAT_MVS 0
#define MONA_FORMAT_AMF0 1   /* pure AMF0 (what RTMP sends to objectEncoding 0 clients) */
#define MONA_FORMAT_AMF3 2   /* AMF0 switching to AMF3 per value with 0x11 (objectEncoding 3) */
#define MONA_FORMAT_JSON 3
#define MONA_FORMAT_XMLRPC 4
#define MONA_FORMAT_QUERY 5
#define MONA_FORMAT_RAW 6 /* uninterpreted bytes: one BYTES value */

/* ---- constants for the host services ------------------------------------------------------------ */

/** How host->tcp_close ends a connection. */
#define MONA_CLOSE_GRACEFUL 0 /* send what is queued, then close both directions */
#define MONA_CLOSE_WRITE 1    /* send what is queued, then shut down the sending side (half close) */
#define MONA_CLOSE_ABORT 2    /* drop what is queued and close now */

/** Why a connection ended (the `reason` of plugin->tcp_closed). */
#define MONA_CLOSED_BY_PLUGIN 0 /* the plugin called tcp_close */
#define MONA_CLOSED_BY_PEER 1   /* the peer closed or reset it */
#define MONA_CLOSED_ERROR 2     /* a socket error; the host logged it */
#define MONA_CLOSED_SHUTDOWN 3  /* the server is stopping */
#define MONA_CLOSED_LIMIT 4     /* the host's unconsumed-input limit was exceeded; the host logged it */

/** Most bytes the host keeps for a connection when tcp_data leaves them unconsumed. Past it the
 *  connection is closed with MONA_CLOSED_LIMIT. A plugin that needs bigger units consumes and buffers. */
#define MONA_TCP_MAX_UNCONSUMED 33554432u

/** Flags of media frames (pub_audio, pub_video, sink_audio, sink_video). */
#define MONA_MEDIA_CONFIG 0x1u   /* codec configuration (AAC AudioSpecificConfig, AVC/HEVC sequence header) */
#define MONA_MEDIA_KEY 0x2u      /* video key frame */
#define MONA_MEDIA_RELIABLE 0x4u /* must not be dropped (protocols with partial reliability) */

/** Kinds of mona_media_frame. */
#define MONA_MEDIA_AUDIO 1
#define MONA_MEDIA_VIDEO 2

/** One piece of a host->tcp_send_parts (ABI 1.3): borrowed bytes, or a range of a shared buffer. */
typedef struct mona_send_part {
    mona_handle shared;  /* 0: `data` holds the bytes (borrowed for the call, copied); else a handle
                            from host->shared_create, and the bytes are [offset, offset + size) of it */
    const uint8_t *data; /* the bytes when shared is 0; ignored otherwise */
    size_t offset;       /* where the bytes start in the shared buffer; ignored when shared is 0 */
    size_t size;         /* how many bytes */
} mona_send_part;

/** One audio or video frame for a subscriber (plugin->sink_frame, ABI 1.3). Borrowed for the call. */
typedef struct mona_media_frame {
    uint32_t abi_version; /* MONA_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(mona_media_frame) as the host was compiled */
    int32_t kind;         /* MONA_MEDIA_AUDIO or MONA_MEDIA_VIDEO */
    uint32_t flags;       /* MONA_MEDIA_* */
    uint32_t time_ms;     /* the frame's time on this subscriber's timeline */
    const uint8_t *data;  /* the FLV tag body, as for sink_audio/sink_video */
    size_t size;
    uint64_t serial;      /* the same for every subscriber of one pushed frame, different for every
                             frame pushed (the bytes are equal when the serials are); 0: a frame for
                             this subscriber only (e.g. a cached configuration sent to a late one) */
} mona_media_frame;

/** Decisions of host->client_read_file (HTTP onRead and the like). */
#define MONA_FILE_ALLOW 0    /* serve `path` */
#define MONA_FILE_DENY 1     /* refused: the mona_error says why (PERMISSION, NOTFOUND, SCRIPT) */
#define MONA_FILE_HANDLED 2  /* the application answered through the client's writer itself */

/* ---- the host's services ------------------------------------------------------------------------ */

/** Opaque host-side record of one loaded plugin: the first argument of every host function. */
typedef struct mona_host_ctx mona_host_ctx;

/** Information about a client a plugin opens (host->client_open). All pointers borrowed for the call. */
typedef struct mona_client_info {
    uint32_t abi_version;        /* MONA_ABI_VERSION */
    uint32_t struct_size;        /* sizeof(mona_client_info) */
    const char *protocol;        /* NUL-terminated: "RTMP", "RTMPE", "RTMFP", "HTTP", "WebSocket", "RTSP" */
    mona_addr peer;              /* the client's address */
    mona_addr local;             /* our address as the connection sees it (peer and local as tcp_accepted
                                    gave them: the host tells Lua client.secure by them, true when they
                                    are those of one of the plugin's TLS connections) */
    const char *server_address;  /* NUL-terminated host[:port] the client asked for (Host header, tcUrl), or NULL */
    const char *path;            /* NUL-terminated application path, "" or "/app/sub" (no trailing slash) */
    const char *query;           /* NUL-terminated raw query string without '?', or NULL */
    const uint8_t *properties;   /* MVS: one OBJECT with connect fields / headers / cookies, or NULL */
    size_t properties_size;
    const uint8_t *client_id;    /* 32 bytes of identity (RTMFP peer id), or NULL: the host draws a random id */
} mona_client_info;

/** Size of the 1.0 layout of mona_client_info (up to client_id): the least struct_size a host accepts. */
#define MONA_CLIENT_INFO_SIZE_1_0 (offsetof(mona_client_info, client_id) + sizeof(const uint8_t *))

/**
 * Services of the host. The host gives every loaded plugin its own copy; `ctx` identifies the plugin
 * and is the first argument of every function. Unless marked otherwise, call only on the loop thread.
 */
typedef struct mona_host_api {
    uint32_t abi_version; /* MONA_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(mona_host_api) as the host was compiled */
    mona_host_ctx *ctx;   /* pass as first argument to every function below */

    /* -- core ---------------------------------------------------------------------------------- */

    /** Logs `message` (not NUL-terminated) at `level` (MONA_LOG_*), prefixed with the plugin's name.
     *  `file` (NUL-terminated, may be NULL) and `line` locate the call. Thread-safe. */
    void (*log)(mona_host_ctx *ctx, int32_t level, const char *file, int32_t line, const char *message,
                size_t message_size);
    /** The most verbose level that is logged (0 = nothing, 8 = trace): skip formatting below it. Thread-safe. */
    int32_t (*log_level)(mona_host_ctx *ctx);
    /** Copies the value of configuration key `key` (NUL-terminated, case-sensitive, e.g. "HTTP.port",
     *  "host") into buffer (at most capacity bytes, NOT NUL-terminated) and returns its full length,
     *  or -1 when the key is absent. Call with capacity 0 to learn the length. */
    int64_t (*config_get)(mona_host_ctx *ctx, const char *key, char *buffer, size_t capacity);
    /** Calls `visit` for every configuration key that starts with `prefix` (NUL-terminated; "" for all),
     *  in key order. The strings passed to `visit` are borrowed for that call. */
    void (*config_iterate)(mona_host_ctx *ctx, const char *prefix,
                           void (*visit)(void *user, const char *key, size_t key_size, const char *value,
                                         size_t value_size),
                           void *user);
    /** Wall-clock time in milliseconds since 1970-01-01 UTC. Thread-safe. */
    int64_t (*time_ms)(mona_host_ctx *ctx);
    /** Monotonic time in nanoseconds (arbitrary origin), for timeouts and rates. Thread-safe. */
    uint64_t (*monotonic_ns)(mona_host_ctx *ctx);
    /** Gives back a buffer the host filled; zeroes *buffer. Harmless on an empty buffer. Thread-safe. */
    void (*buffer_free)(mona_host_ctx *ctx, mona_buffer *buffer);

    /* -- TCP ------------------------------------------------------------------------------------ */

    /** Listens on host:port (host NUL-terminated: an IPv4/IPv6 literal, "" or NULL for 0.0.0.0; port 0
     *  picks a free one). Accepted connections arrive as plugin->tcp_accepted with `listener_ctx`.
     *  Fills *listener and, if not NULL, *bound with the actual address. On failure the host logs one
     *  line naming the address and the configuration key to change, and returns MONA_E_ADDRINUSE or
     *  MONA_E_IO. */
    int32_t (*tcp_listen)(mona_host_ctx *ctx, const char *host, uint16_t port, void *listener_ctx,
                          mona_handle *listener, mona_addr *bound);
    /** Stops listening. Connections already accepted are unaffected. */
    int32_t (*tcp_unlisten)(mona_host_ctx *ctx, mona_handle listener);
    /** Queues bytes for sending. Returns the number of bytes still queued in the host after this call
     *  (0: everything went to the kernel), or a negative MONA_E_*. Back-pressure: when the result is
     *  above what the plugin tolerates, it stops producing (and may pause reading); the host calls
     *  plugin->tcp_writable once the queue has drained to 0 after a send that left bytes queued. */
    int64_t (*tcp_send)(mona_host_ctx *ctx, mona_handle connection, const uint8_t *data, size_t size);
    /** Pauses (enabled = 0) or resumes (enabled = 1) reading from the connection. While paused, the
     *  kernel's buffers fill up and TCP flow control slows the peer down. */
    int32_t (*tcp_set_reading)(mona_host_ctx *ctx, mona_handle connection, int32_t enabled);
    /** Ends the connection (how = MONA_CLOSE_*). plugin->tcp_closed follows, except after
     *  MONA_CLOSE_WRITE, which only half-closes: tcp_closed comes when the peer closes too. */
    int32_t (*tcp_close)(mona_host_ctx *ctx, mona_handle connection, int32_t how);
    /** Fills the peer's and our address of a connection (either pointer may be NULL). */
    int32_t (*tcp_addresses)(mona_host_ctx *ctx, mona_handle connection, mona_addr *peer, mona_addr *local);
    /** Hands the connection to another loaded plugin, identified by its section name (NUL-terminated,
     *  e.g. "WebSocket"). `bytes` are data already read from the socket that the target must see first;
     *  `request` is MVS the target receives in tcp_adopted (e.g. the HTTP upgrade request). After
     *  MONA_OK the calling plugin gets no more callbacks for the connection, not even tcp_closed, and
     *  whatever it left unconsumed is dropped; if called from tcp_data, its return value is ignored.
     *  MONA_E_NOTFOUND when no such plugin is loaded (the connection stays with the caller). */
    int32_t (*tcp_handoff)(mona_host_ctx *ctx, mona_handle connection, const char *plugin_section,
                           const uint8_t *bytes, size_t bytes_size, const uint8_t *request,
                           size_t request_size);

    /* -- UDP ------------------------------------------------------------------------------------ */

    /** Binds a UDP socket to host:port (as tcp_listen). Datagrams arrive as plugin->udp_datagram with
     *  `udp_ctx`. Fills *udp and, if not NULL, *bound. Failures are logged as for tcp_listen. */
    int32_t (*udp_bind)(mona_host_ctx *ctx, const char *host, uint16_t port, void *udp_ctx, mona_handle *udp,
                        mona_addr *bound);
    /** Sends one datagram. MONA_E_INVAL for a datagram over 65507 bytes or a bad address. */
    int32_t (*udp_send)(mona_host_ctx *ctx, mona_handle udp, const mona_addr *to, const uint8_t *data,
                        size_t size);
    /** Closes a UDP socket. No callback follows. */
    int32_t (*udp_close)(mona_host_ctx *ctx, mona_handle udp);

    /* -- timers and off-loop work ----------------------------------------------------------------- */

    /** Starts a timer firing plugin->timer_fired(timer_ctx) after delay_ms, then every period_ms if
     *  period_ms > 0. A one-shot timer ends after firing; a periodic one when cancelled. */
    int32_t (*timer_start)(mona_host_ctx *ctx, uint64_t delay_ms, uint64_t period_ms, void *timer_ctx,
                           mona_handle *timer);
    /** Cancels a timer; it never fires afterwards, even if already due. MONA_E_INVAL if already over. */
    int32_t (*timer_cancel)(mona_host_ctx *ctx, mona_handle timer);
    /** Runs work(work_ctx) on a pool thread, then plugin->work_done(work_ctx) on the loop thread.
     *  `work` must only use the thread-safe host functions (see THREADING). work_done always comes,
     *  once per call, and before destroy: at a stop (or a failed start) the host waits for the
     *  plugin's pending items after its stop returns and its sockets are closed, delivers their
     *  work_done, then calls destroy, so work_ctx is always given back (a work function that never
     *  returns therefore holds up the stop). MONA_E_UNSUPPORTED when the plugin has no work_done. */
    int32_t (*run_blocking)(mona_host_ctx *ctx, void (*work)(void *work_ctx), void *work_ctx);

    /* -- crypto (OpenSSL in the host; stateless ones are thread-safe) ------------------------------ */

    /** Fills `out` with cryptographically secure random bytes. */
    int32_t (*random_bytes)(mona_host_ctx *ctx, uint8_t *out, size_t size);
    /** SHA-1 of data into out[20] (WebSocket handshake). */
    void (*sha1)(mona_host_ctx *ctx, const uint8_t *data, size_t size, uint8_t out[20]);
    /** SHA-256 of data into out[32]. */
    void (*sha256)(mona_host_ctx *ctx, const uint8_t *data, size_t size, uint8_t out[32]);
    /** HMAC-SHA256(key, data) into out[32]. */
    void (*hmac_sha256)(mona_host_ctx *ctx, const uint8_t *key, size_t key_size, const uint8_t *data,
                        size_t size, uint8_t out[32]);
    /** AES-128-CBC in place over size bytes (a multiple of 16, no padding added or removed);
     *  encrypt = 1 encrypts, 0 decrypts; iv NULL means 16 zero bytes. MONA_E_INVAL on a bad size. */
    int32_t (*aes128_cbc)(mona_host_ctx *ctx, int32_t encrypt, const uint8_t key[16], const uint8_t *iv,
                          uint8_t *data, size_t size);
    /** Creates an RC4 key stream from key (1..256 bytes) into *rc4. */
    int32_t (*rc4_new)(mona_host_ctx *ctx, const uint8_t *key, size_t key_size, mona_handle *rc4);
    /** XORs data in place with the next size bytes of the key stream. */
    int32_t (*rc4_apply)(mona_host_ctx *ctx, mona_handle rc4, uint8_t *data, size_t size);
    /** Frees an RC4 key stream. */
    int32_t (*rc4_free)(mona_host_ctx *ctx, mona_handle rc4);
    /** Creates a Diffie-Hellman key pair in MODP group `group`, generator 2: 2 (RFC 2409, 1024-bit),
     *  5 or 14 (RFC 3526, 1536- and 2048-bit; since ABI 1.5, group 2 alone before). Writes the public
     *  key, big-endian, left-padded with zeros to the prime's size (128, 192 or 256 bytes), into
     *  public_key and sets *public_size to that size. MONA_E_UNSUPPORTED for another group,
     *  MONA_E_INVAL when capacity is below the key's size. */
    int32_t (*dh_new)(mona_host_ctx *ctx, int32_t group, mona_handle *dh, uint8_t *public_key,
                      size_t capacity, size_t *public_size);
    /** Computes the shared secret with the peer's public key (big-endian, any length up to the prime's
     *  size) into secret, big-endian and without leading zeros (RTMFP keys need it so); sets
     *  *secret_size. MONA_E_INVAL if the peer key is out of range (0, 1 or >= p-1) or longer than the
     *  prime, or if capacity is below the secret's size (the prime's size always suffices). */
    int32_t (*dh_secret)(mona_host_ctx *ctx, mona_handle dh, const uint8_t *peer_key, size_t peer_size,
                         uint8_t *secret, size_t capacity, size_t *secret_size);
    /** Frees a Diffie-Hellman key pair. */
    int32_t (*dh_free)(mona_host_ctx *ctx, mona_handle dh);

    /* -- values --------------------------------------------------------------------------------- */

    /** Translates MVS into a wire format (MONA_FORMAT_*, framed as described there) into *out.
     *  Thread-safe. */
    int32_t (*value_encode)(mona_host_ctx *ctx, int32_t format, const uint8_t *mvs, size_t size,
                            mona_buffer *out);
    /** Translates a wire format into MVS into *out. Thread-safe. */
    int32_t (*value_decode)(mona_host_ctx *ctx, int32_t format, const uint8_t *data, size_t size,
                            mona_buffer *out);

    /* -- clients, RPC and writers (the Lua object model) ------------------------------------------ */

    /** Opens a client: resolves info->path to an application and runs its Lua onConnection(client,
     *  args...) with `args` (MVS, may be empty). `writer_ctx` is the plugin's context for the client's
     *  main writer (Lua client.writer): the host drives it through plugin->writer_*. On MONA_OK, *client
     *  is set and *response receives MVS: one OBJECT with the table onConnection returned (RTMP merges
     *  it into _result), or nothing. On MONA_E_REJECTED / MONA_E_NOTFOUND, err says why
     *  (APPLICATION, SCRIPT with the message of error(...), or "client rejected"). */
    int32_t (*client_open)(mona_host_ctx *ctx, const mona_client_info *info, const uint8_t *args,
                           size_t args_size, void *writer_ctx, mona_handle *client, mona_buffer *response,
                           mona_error *err);
    /** Closes a client: unsubscribes and unpublishes what it holds, then runs onDisconnection. The
     *  host then calls plugin->writer_released for each of its writers. */
    int32_t (*client_close)(mona_host_ctx *ctx, mona_handle client);
    /** Calls the Lua method client:<method>(args...). On MONA_OK, *results receives the returned values
     *  as MVS (possibly none). A method that waits for the host (a DNS look-up) returns at once:
     *  MONA_PENDING with *results holding one NUMBER, the call's token (1...0x7FFFFFFF), for a plugin
     *  of ABI 1.2 or later; MONA_OK without results for older ones. Its results arrive later as
     *  plugin->writer_message(response = token) on the client's main writer (the reply to that call).
     *  MONA_E_NOTFOUND (err: "Method client 'm' not found in application /p") or MONA_E_SCRIPT (err:
     *  the Lua message). */
    int32_t (*client_invoke)(mona_host_ctx *ctx, mona_handle client, const char *method, size_t method_size,
                             const uint8_t *args, size_t args_size, mona_buffer *results, mona_error *err);
    /** Copies client.parameters[key] (as text) like config_get: its length, or -1 if absent. */
    int64_t (*client_parameter)(mona_host_ctx *ctx, mona_handle client, const char *key, char *buffer,
                                size_t capacity);
    /** Sets client.properties[key] to an MVS value (one value). */
    int32_t (*client_set_property)(mona_host_ctx *ctx, mona_handle client, const char *key,
                                   const uint8_t *value, size_t size);
    /** The client's peer address changed (RTMFP address mobility): client.address becomes `peer`, then
     *  Lua client:onAddressChanged(old) runs with the previous address as "ip:port" text (1.5; before,
     *  MONA_E_UNSUPPORTED). Nothing happens when the address is the same. MONA_E_INVAL for a NULL peer
     *  or a client the plugin does not own. */
    int32_t (*client_address_changed)(mona_host_ctx *ctx, mona_handle client, const mona_addr *peer);
    /** Declares an additional writer of a client (RTMFP flow, Lua writer:newWriter()) driven through
     *  plugin->writer_* with writer_ctx. */
    int32_t (*writer_open)(mona_host_ctx *ctx, mona_handle client, void *writer_ctx, mona_handle *writer);
    /** The protocol closed a writer by itself (code as in Lua writer:close(code)). */
    int32_t (*writer_closed)(mona_host_ctx *ctx, mona_handle writer, int32_t code);
    /** Resolves a file request of a client (HTTP GET): runs Lua client:onRead(name, parameters…) and
     *  confines the result to www/. `name` is the requested file relative to the client's application
     *  folder ("" for the folder itself); `parameters` is MVS (the values after the name, e.g. the query
     *  as one OBJECT). On MONA_OK, *decision is MONA_FILE_*:
     *   ALLOW: *path receives the absolute path to serve (maybe another file the application chose; a
     *          folder ends with '/'), *properties an MVS OBJECT of template values (empty when none);
     *   DENY: err says why: PERMISSION (onRead returned nil: "No authorization to see the content of
     *          <name>"), NOTFOUND (no such file, outside www/, or a Lua script: scripts are never
     *          served), SCRIPT (onRead raised an error);
     *   HANDLED: onRead answered through the client's writer itself. */
    int32_t (*client_read_file)(mona_host_ctx *ctx, mona_handle client, const char *name, size_t name_size,
                                const uint8_t *parameters, size_t parameters_size, int32_t *decision,
                                mona_buffer *path, mona_buffer *properties, mona_error *err);

    /* -- media: publications and subscriptions --------------------------------------------------
     * Audio and video payloads are FLV tag bodies (the first byte holds codec and flags, as RTMP
     * carries them); the host parses them for configs and key frames and caches what a late
     * subscriber needs. Timestamps are milliseconds. */

    /** Publishes `name` for `client`, one of the plugin's clients (the server's own publications come
     *  from Lua's mona:publish, not through this call: client 0 is MONA_E_INVAL). Runs Lua onPublish.
     *  MONA_E_EXISTS if it already has a publisher; MONA_E_REJECTED with err when Lua refuses. */
    int32_t (*publish)(mona_host_ctx *ctx, mona_handle client, const char *name, size_t name_size,
                       mona_handle *publication, mona_error *err);
    /** Ends a publication (Lua onUnpublish); subscribers stay, waiting for a next publisher. */
    int32_t (*unpublish)(mona_host_ctx *ctx, mona_handle publication);
    /** Pushes one audio frame of a publication of one of the plugin's clients. `flags` (MONA_MEDIA_*)
     *  add to what the host reads in the FLV tag itself: CONFIG caches the frame as the codec
     *  configuration a late subscriber gets first, KEY (video) lets a subscriber waiting for a key
     *  frame start on it, RELIABLE is passed on (CONFIG and KEY imply it); other bits are ignored. */
    int32_t (*pub_audio)(mona_host_ctx *ctx, mona_handle publication, uint32_t time_ms, const uint8_t *data,
                         size_t size, uint32_t flags);
    /** Pushes one video frame (flags as for pub_audio). */
    int32_t (*pub_video)(mona_host_ctx *ctx, mona_handle publication, uint32_t time_ms, const uint8_t *data,
                         size_t size, uint32_t flags);
    /** Pushes a data message in `format` (MONA_FORMAT_*), e.g. an AMF0 "@setDataFrame"/"onMetaData".
     *  MONA_E_INVAL for malformed MVS or an unknown format; AMF, JSON or XML-RPC the host cannot read
     *  is still relayed to the subscribers (Lua's onData sees no values). */
    int32_t (*pub_data)(mona_host_ctx *ctx, mona_handle publication, int32_t format, const uint8_t *data,
                        size_t size);
    /** Replaces the publication's metadata (MVS, one OBJECT); sent to current and future subscribers. */
    int32_t (*pub_set_metadata)(mona_host_ctx *ctx, mona_handle publication, const uint8_t *mvs, size_t size);
    /** Clears the metadata. */
    int32_t (*pub_clear_metadata)(mona_host_ctx *ctx, mona_handle publication);
    /** Ends a batch: subscribers get one sink_flush (one socket wake-up for many frames). */
    int32_t (*pub_flush)(mona_host_ctx *ctx, mona_handle publication);
    /** Subscribes `client` to `name` (query: the part after '?', becomes listener.parameters). Runs Lua
     *  onSubscribe. The media arrive through plugin->sink_* with sink_ctx: the plugin needs sink_frame,
     *  or sink_audio and sink_video, else MONA_E_UNSUPPORTED. When the publication has a publisher,
     *  sink_start (then sink_metadata, if any) is called before subscribe returns: a plugin knows on
     *  return whether the name is being published (HTTP answers 404 when it is not). */
    int32_t (*subscribe)(mona_host_ctx *ctx, mona_handle client, const char *name, size_t name_size,
                         const char *query, size_t query_size, void *sink_ctx, mona_handle *subscription,
                         mona_error *err);
    /** Ends a subscription (Lua onUnsubscribe); plugin->sink_released follows. */
    int32_t (*unsubscribe)(mona_host_ctx *ctx, mona_handle subscription);
    /** Sets a subscription option from MVS: "receiveAudio", "receiveVideo" (booleans),
     *  "bufferTime" (number, ms). */
    int32_t (*sub_set_option)(mona_host_ctx *ctx, mona_handle subscription, const char *key,
                              const uint8_t *value, size_t size);

    /* -- groups and rendezvous (RTMFP; served from ABI 1.5, MONA_E_UNSUPPORTED before) -------------
     * A group is named by 32 raw bytes (RTMFP: the SHA-256 of the group specifier, or the raw id the
     * NetGroup message carries); Lua shows it as group.rawId and, in lower-case hex, as group.id and
     * its key in mona.groups. Its members are clients (a client's peer id is its client_id) and the
     * virtual members of Lua's mona:joinGroup, ordered by the time they joined; the group exists from
     * its first member to the departure of its last. */

    /** Makes `client`, one the plugin opened, the newest member of the group `group_id` (`group_size`
     *  must be 32), then runs Lua client:onJoinGroup(group), the client already in group.members. Fills
     *  `peers` (room for `capacity` ids of 32 bytes; NULL when capacity is 0) with the peer ids of the
     *  other members to introduce to the newcomer, best first: the most recently joined first (RTMFP
     *  writes them as member messages, 6 at most in 1.x), sets *count and *membership (the handle that
     *  group_leave ends). MONA_E_EXISTS (and no onJoinGroup) when a member of the group has the
     *  client's peer id already; MONA_E_CLOSED when the client was closed during onJoinGroup;
     *  MONA_E_INVAL for a group_size other than 32, a NULL count or membership, or a client the plugin
     *  does not own. */
    int32_t (*group_join)(mona_host_ctx *ctx, mona_handle client, const uint8_t *group_id, size_t group_size,
                          uint8_t *peers, size_t capacity, size_t *count, mona_handle *membership);
    /** Ends a membership: runs Lua client:onUnjoinGroup(group) while the client is still a member, then
     *  removes it; the group leaves mona.groups with its last member. client_close ends the client's
     *  memberships the same way, before onDisconnection (their handles are unknown afterwards).
     *  The host introduces nobody after a departure: the plugin repairs its overlay from its own view
     *  of the group (RTMFP: its sessions in the group, in the order they joined; as 1.x, the member
     *  that joined right after the one that left is sent the peer id of the member now 6 places before
     *  it, when there is one). MONA_E_INVAL for a membership that is unknown, ended or another
     *  plugin's. */
    int32_t (*group_leave)(mona_host_ctx *ctx, mona_handle membership);
    /** Rendezvous with a peer none of the plugin's own clients is (the plugin looks its own peers up
     *  itself; RTMFP: an IHello naming an unknown peer id): runs Lua onRendezVousUnknown(protocol,
     *  peerId) of the root application, protocol being the plugin's configuration section ("RTMFP")
     *  and peerId the 32 raw bytes, and fills at most `capacity` of the addresses it returned
     *  (redirection targets as handshake_targets reads them, but "myself" and wildcard hosts are
     *  skipped, as 1.x does), setting *count. MONA_OK with *count 0: nobody to redirect to (no handler,
     *  nothing returned, or a Lua error, which is logged). MONA_E_INVAL for a NULL peer_id or count, or
     *  NULL addresses with a capacity. */
    int32_t (*peer_addresses)(mona_host_ctx *ctx, const uint8_t peer_id[32], mona_addr *addresses,
                              size_t capacity, size_t *count);

    /* -- 1.3: shared buffers and gathered sends --------------------------------------------------
     * Read them only when struct_size covers them (MONA_HAS_FIELD(mona_host_api, ...)). */

    /** Creates a shared buffer of `size` bytes (> 0) and points *data at its memory, which the plugin
     *  fills before the first tcp_send_parts that names it and never changes afterwards (the host may
     *  keep a large buffer in an in-memory file and have the kernel send its pages by reference, so a
     *  change could reach connections still sending it). Returns its handle, or 0 (and *data NULL)
     *  when size is 0 or memory is short. */
    mona_handle (*shared_create)(mona_host_ctx *ctx, size_t size, uint8_t **data);
    /** Gives up the plugin's use of a shared buffer: the handle is invalid afterwards, while the sends
     *  already queued with it keep its bytes alive until they are written. Harmless on 0. */
    void (*shared_release)(mona_host_ctx *ctx, mona_handle shared);
    /** Queues the concatenation of `count` parts (borrowed array) like one tcp_send of those bytes, with
     *  the same result and back-pressure. Borrowed parts are copied; ranges of shared buffers are
     *  written by reference (no copy), so a frame encoded once can go to many connections. Returns
     *  MONA_E_INVAL, queuing nothing, when a part names an unknown shared buffer (or one of another
     *  plugin) or a range outside it. */
    int64_t (*tcp_send_parts)(mona_host_ctx *ctx, mona_handle connection, const mona_send_part *parts,
                              size_t count);

    /* -- 1.4: configuration defaults -------------------------------------------------------------
     * Read it only when struct_size covers it (MONA_HAS_FIELD(mona_host_api, ...)). */

    /** Declares the default of one of the plugin's settings: `key` (NUL-terminated, relative to the
     *  plugin's section: "port" for "RTMP.port") takes `value` (NUL-terminated) unless the
     *  configuration already has it. The plugin owns its defaults (the host knows none of any
     *  protocol's); once declared, config_get and Lua's mona.configs show them. Call it from create or
     *  start, before reading the setting. MONA_OK when set or already configured; MONA_E_INVAL for a
     *  NULL or empty key, or a NULL value. */
    int32_t (*config_default)(mona_host_ctx *ctx, const char *key, const char *value);

    /* -- 1.5: handshake redirection --------------------------------------------------------------
     * Read it only when struct_size covers it (MONA_HAS_FIELD(mona_host_api, ...)). */

    /** Asks the application of `path` whether a client that is shaking hands goes elsewhere (RTMFP: an
     *  IHello carrying a URL). Loads the application as client_open would (`path` NUL-terminated, ""
     *  or "/app/sub", normalised the same way; NULL is the root), runs its Lua onHandshake(protocol,
     *  address, path, properties, attempts) — protocol NUL-terminated (NULL: the plugin's section
     *  name), address `peer` as "ip:port", path normalised, properties a table of `properties` (MVS,
     *  one OBJECT such as client_open's, e.g. the URL's query; NULL: empty) with text values
     *  type-converted as client.properties are, attempts as the plugin counts them from 1 — and fills
     *  at most `capacity` of the redirection targets it returned into `targets`, in order and without
     *  duplicates, setting *count. *count 0 means no redirection: connect the client normally; so it
     *  is when the application does not exist, has no onHandshake, or raised an error (logged).
     *  Targets (several return values, and arrays of targets, nested), as 1.x reads them: "ip:port"
     *  text and SocketAddress objects, IPAddress objects (port 0), a number (that port of the wildcard
     *  host), and "myself", filled as MONA_AF_INET 0.0.0.0 port 0: the address the client used to reach
     *  this server, which the plugin substitutes; every target with a wildcard host is filled so. A
     *  host must be an IP literal (no DNS: a name is logged and skipped); other values (server objects
     *  do not exist yet) are logged and skipped too.
     *  MONA_E_INVAL for a NULL peer or count, NULL targets with a capacity, or malformed MVS. */
    int32_t (*handshake_targets)(mona_host_ctx *ctx, const char *protocol, const mona_addr *peer, const char *path,
                                 const uint8_t *properties, size_t properties_size, uint32_t attempts,
                                 mona_addr *targets, size_t capacity, size_t *count);

    /* -- 1.6: datagrams in runs ------------------------------------------------------------------
     * Read it only when struct_size covers it (MONA_HAS_FIELD(mona_host_api, udp_send_segments)). */

    /** Sends the datagrams held back to back in `data` (size bytes in all) to `to`, in order: each is
     *  `segment_size` bytes but the last, which may be shorter (size need not be a multiple). The
     *  result, for the peer, is that of udp_send called once per datagram; the host hands them to the
     *  system in as few calls as it can (Linux UDP_SEGMENT, or one call each where the system or the
     *  route refuses it). The caller keeps `data`; the host copies what it must queue. MONA_E_INVAL
     *  for a segment_size of 0 or over 65507, a bad address, or NULL data with a size; MONA_E_IO when
     *  a datagram could neither be sent nor queued (the following ones are not sent). */
    int32_t (*udp_send_segments)(mona_host_ctx *ctx, mona_handle udp, const mona_addr *to, const uint8_t *data,
                                 size_t size, size_t segment_size);

    /* -- 1.7: a publication's codec configurations (RTSP's DESCRIBE) ------------------------------
     * Read it only when struct_size covers it (MONA_HAS_FIELD(mona_host_api, ...)). */

    /** Copies the codec configurations the host caches for the publication `name` (UTF-8, name_size
     *  bytes; any plugin may ask, as for subscribe), those a new subscriber gets before its first
     *  frames: the last audio configuration frame (an FLV tag body, e.g. AAC's AudioSpecificConfig)
     *  into *audio and the last video one (an AVC/HEVC sequence header) into *video. Each buffer is
     *  filled by the host and freed by the plugin with buffer_free; it is empty (data NULL, size 0)
     *  when there is no such configuration yet. MONA_E_NOTFOUND, both empty, when nobody publishes
     *  `name` (publications of Lua's mona:publish count as published); MONA_E_INVAL for a NULL audio
     *  or video, or a NULL name with a size. */
    int32_t (*pub_configs)(mona_host_ctx *ctx, const char *name, size_t name_size, mona_buffer *audio,
                           mona_buffer *video);

    /* -- 1.8: metrics (HTTP's GET /metrics) ------------------------------------------------------
     * Read it only when struct_size covers it (MONA_HAS_FIELD(mona_host_api, metrics_text)). */

    /** Renders the server's metrics (every plugin's connections, bytes and RPC calls, the clients,
     *  publications and subscribers, the time Lua takes per event, the loop's lag, the process's
     *  memory and CPU) in Prometheus' text exposition format 0.0.4 (UTF-8, lines ending in "\n"), as
     *  they are at the call, for the peer at `peer` (borrowed for the call; the address the request
     *  came from, as tcp_accepted gave it). The text goes into *text, filled by the host and freed by
     *  the plugin with buffer_free (its content type: "text/plain; version=0.0.4; charset=utf-8").
     *  MONA_E_UNSUPPORTED, *text empty, when the configuration does not enable metrics
     *  (`metrics.enabled`): the plugin then treats the request as any other (HTTP: a file, or 404);
     *  MONA_E_REJECTED, *text empty, when metrics are on but `peer` may not read them (only loopback
     *  addresses and those `metrics.allow` lists may): the plugin answers as if nothing were there
     *  (HTTP: its usual 404). MONA_E_INVAL for a NULL peer or text. */
    int32_t (*metrics_text)(mona_host_ctx *ctx, const mona_addr *peer, mona_buffer *text);
} mona_host_api;

/* ---- the plugin's entry points ------------------------------------------------------------------ */

/**
 * Entry points of a plugin. The plugin returns a pointer to a static instance from its entry symbol.
 * Every callback receives the `plugin` context returned by `create` first. Callbacks for facilities a
 * plugin does not use may be NULL (the host then never creates such objects for it: e.g. tcp_listen
 * fails with MONA_E_UNSUPPORTED if tcp_accepted is NULL). All run on the loop thread.
 */
typedef struct mona_plugin {
    uint32_t abi_version;    /* MONA_ABI_VERSION the plugin was compiled with */
    uint32_t struct_size;    /* sizeof(mona_plugin) as the plugin was compiled */
    const char *name;        /* NUL-terminated short name, e.g. "http"; static storage */
    const char *version;     /* NUL-terminated version text; static storage */

    /* -- lifecycle ------------------------------------------------------------------------------ */

    /** Creates the plugin instance for configuration section `section` (NUL-terminated, e.g. "HTTP";
     *  its keys are "<section>.<key>"). `host` stays valid until destroy returns. NULL = failure. */
    void *(*create)(const mona_host_api *host, const char *section);
    /** Starts: reads its configuration, listens, binds, starts timers. A negative result means the
     *  plugin could not start: the host logs it, calls destroy and goes on with the other plugins. */
    int32_t (*start)(void *plugin);
    /** Stops (graceful server stop, plugins in reverse load order): close sessions politely. Once it
     *  returns, the host closes whatever sockets and timers the plugin still holds, with
     *  MONA_CLOSED_SHUTDOWN callbacks. */
    void (*stop)(void *plugin);
    /** Frees the instance, after every run_blocking item has had its work_done. No callback follows. */
    void (*destroy)(void *plugin);

    /* -- TCP ------------------------------------------------------------------------------------ */

    /** A connection was accepted on a listener. Returns the session context for it, or NULL to refuse
     *  (the host closes the connection without a tcp_closed callback). `peer` and `local` are never
     *  NULL (borrowed for the call); an address the system could not give has family MONA_AF_NONE. */
    void *(*tcp_accepted)(void *plugin, void *listener_ctx, mona_handle connection, const mona_addr *peer,
                          const mona_addr *local);
    /** Bytes arrived. `data` holds what the plugin left unconsumed last time followed by the new bytes.
     *  Returns how many bytes from the start it consumed; the host keeps the rest and passes it again
     *  with the next bytes (up to MONA_TCP_MAX_UNCONSUMED). */
    size_t (*tcp_data)(void *plugin, void *session, mona_handle connection, const uint8_t *data, size_t size);
    /** The send queue drained to 0 after a tcp_send left bytes queued: produce more. May be NULL. */
    void (*tcp_writable)(void *plugin, void *session, mona_handle connection);
    /** The peer half-closed (it sends nothing more but can still receive). NULL: the host closes
     *  gracefully on the plugin's behalf. */
    void (*tcp_eof)(void *plugin, void *session, mona_handle connection);
    /** The connection is over (reason MONA_CLOSED_*). The last callback for this session. */
    void (*tcp_closed)(void *plugin, void *session, mona_handle connection, int32_t reason);
    /** A connection handed over by another plugin (host->tcp_handoff). `request` is the MVS the
     *  sender attached (valid MVS; NULL when request_size is 0). `peer` and `local` as for tcp_accepted.
     *  Returns the session context, or NULL to refuse (the host closes it). The already-read bytes
     *  follow as an ordinary tcp_data. */
    void *(*tcp_adopted)(void *plugin, mona_handle connection, const mona_addr *peer, const mona_addr *local,
                         const uint8_t *request, size_t request_size);

    /* -- UDP, timers, work ---------------------------------------------------------------------- */

    /** One datagram arrived on a socket from host->udp_bind. `from` is never NULL. */
    void (*udp_datagram)(void *plugin, void *udp_ctx, mona_handle udp, const mona_addr *from,
                         const uint8_t *data, size_t size);
    /** A timer fired. */
    void (*timer_fired)(void *plugin, void *timer_ctx, mona_handle timer);
    /** A run_blocking work item finished: always delivered, once, before destroy (even after stop). */
    void (*work_done)(void *plugin, void *work_ctx);

    /* -- writers: what Lua's client.writer does, encoded by the protocol -------------------------- */

    /** writer:writeInvocation(name, ...): args is MVS. */
    int32_t (*writer_invoke)(void *plugin, void *writer, const char *name, size_t name_size, const uint8_t *args,
                             size_t args_size);
    /** writer:writeMessage(...) (response = 0), or, with response > 0, the late results of an RPC whose
     *  method waited for the host: `response` is the token client_invoke gave with MONA_PENDING, so the
     *  reply goes to that call (RTMP _result with its transaction, WebSocket JSON array, HTTP body; args
     *  may be empty: the method returned nothing). With response < 0 (ABI 1.2 and later) the call of
     *  token -response failed: args is one STRING, the Lua error message (RTMP _error). args is MVS. */
    int32_t (*writer_message)(void *plugin, void *writer, int32_t response, const uint8_t *args,
                              size_t args_size);
    /** writer:writeRaw(bytes). */
    int32_t (*writer_raw)(void *plugin, void *writer, const uint8_t *data, size_t size);
    /** writer:flush([full]). */
    int32_t (*writer_flush)(void *plugin, void *writer, int32_t full);
    /** writer:newWriter(): the plugin opens a channel and declares it with host->writer_open, setting *created. */
    int32_t (*writer_new)(void *plugin, void *writer, mona_handle *created);
    /** writer:close([code]). */
    int32_t (*writer_close)(void *plugin, void *writer, int32_t code);
    /** writer.reliable = value. */
    int32_t (*writer_set_reliable)(void *plugin, void *writer, int32_t reliable);
    /** The host no longer references this writer context. The last call for it. */
    void (*writer_released)(void *plugin, void *writer);

    /* -- media sinks: one per subscription ------------------------------------------------------- */

    /** The publication starts (or restarts with a new publisher): send the protocol's "play start". */
    int32_t (*sink_start)(void *plugin, void *sink, const char *name, size_t name_size);
    /** The publication stopped (its publisher left). */
    int32_t (*sink_stop)(void *plugin, void *sink, const char *name, size_t name_size);
    /** Metadata (MVS, one OBJECT). */
    int32_t (*sink_metadata)(void *plugin, void *sink, const uint8_t *mvs, size_t size);
    /** One audio frame, time rebased for this subscriber; flags MONA_MEDIA_*. May answer MONA_E_AGAIN
     *  when the subscriber cannot take more now (its socket queue is too long): the frame is not counted
     *  as sent, and after a video frame refused so the host skips this subscriber's video to the next
     *  key frame (codec configuration first). Frames flagged MONA_MEDIA_RELIABLE should be taken. */
    int32_t (*sink_audio)(void *plugin, void *sink, uint32_t time_ms, const uint8_t *data, size_t size,
                          uint32_t flags);
    /** One video frame. */
    int32_t (*sink_video)(void *plugin, void *sink, uint32_t time_ms, const uint8_t *data, size_t size,
                          uint32_t flags);
    /** One data message in `format`. */
    int32_t (*sink_data)(void *plugin, void *sink, int32_t format, const uint8_t *data, size_t size);
    /** End of a batch of frames: write to the socket now. */
    int32_t (*sink_flush)(void *plugin, void *sink);
    /** The host no longer references this sink context. The last call for it. */
    void (*sink_released)(void *plugin, void *sink);

    /* -- 1.1 -------------------------------------------------------------------------------------- */

    /** client.properties(key, value[, options]) from Lua: a property the client's protocol shows its
     *  peer. HTTP and WebSocket set a cookie: `Set-Cookie: key=value; …` on the next response (for
     *  WebSocket, the 101 when called from onConnection). `key` is UTF-8 (pointer, length); `args` is
     *  MVS: the value (STRING) then, optionally, an OBJECT of options `expires` (NUMBER, seconds from
     *  now; negative deletes), `path`, `domain` (STRING), `secure`, `httponly` (BOOLEAN). `writer` is a
     *  writer context the plugin gave to client_open or writer_open. MONA_E_UNSUPPORTED when the
     *  protocol has no such property (RTMP, RTMFP), MONA_E_INVAL for a key it cannot carry. May be NULL
     *  (= unsupported). Hosts read it only when struct_size covers it (MONA_HAS_FIELD). */
    int32_t (*writer_set_property)(void *plugin, void *writer, const char *key, size_t key_size,
                                   const uint8_t *args, size_t args_size);

    /* -- 1.3 -------------------------------------------------------------------------------------- */

    /** One audio or video frame, as sink_audio/sink_video (same answers, MONA_E_AGAIN included) with
     *  the frame's serial: a plugin that writes the same bytes to many subscribers encodes a frame
     *  once (e.g. into a shared buffer) and reuses it while the serial stays the same. When the plugin
     *  sets it, the host calls it instead of sink_audio and sink_video. May be NULL. */
    int32_t (*sink_frame)(void *plugin, void *sink, const mona_media_frame *frame);

    /* -- 1.9: publications starting and ending ----------------------------------------------------
     * Every publication of the server, whoever publishes it (a client of any plugin, this one's
     * included, or Lua's mona:publish), told to each plugin that sets these fields and whose
     * struct_size covers them (MONA_HAS_FIELD(mona_plugin, ...): the host never calls them for a
     * shorter table), in load order, on the loop thread, and only between the plugin's start and its
     * stop (a publication that started before its start is not told: the plugin finds it by other
     * means, e.g. a subscribe that succeeds). Either may be NULL: not interested. `path` is the
     * application of the publisher, normalised as client_open gives it ("" for the root, "/app/sub"):
     * the publishing client's, or, for mona:publish, that of the script that called it; `name` is the
     * publication's name (what subscribe takes). Both are UTF-8 (pointer, length), borrowed for the
     * call, not NUL-terminated. A callback may call the host (subscribe to the publication, open a
     * client, ...); when the plugin itself publishes, it comes inside its own publish or unpublish
     * call, before that returns. Nothing is answered: a plugin that cannot follow the publication logs
     * it. */

    /** `name` has a publisher now: after Lua's onPublish accepted it and the current subscribers got
     *  sink_start, before the publisher's first frame: a subscribe made here misses none of its media. */
    void (*publication_started)(void *plugin, const char *path, size_t path_size, const char *name, size_t name_size);
    /** The publisher of `name` left (unpublish, its client closed): after the subscribers got sink_stop
     *  and before Lua's onUnpublish, so that a publication that onUnpublish starts again comes as a
     *  publication_started after this call. `path` is the one publication_started gave. Subscriptions
     *  stay until their plugin ends them (they would get a next publisher's media). */
    void (*publication_ended)(void *plugin, const char *path, size_t path_size, const char *name, size_t name_size);
} mona_plugin;

/** Size of the 1.0 layout of mona_plugin (up to sink_released): the least struct_size a host accepts. */
#define MONA_PLUGIN_SIZE_1_0 (offsetof(mona_plugin, sink_released) + sizeof(void (*)(void)))
/** Size of the 1.1/1.2 layout of mona_plugin (up to writer_set_property). */
#define MONA_PLUGIN_SIZE_1_2 (offsetof(mona_plugin, writer_set_property) + sizeof(void (*)(void)))
/** Size of the 1.3 to 1.8 layout of mona_plugin (up to sink_frame): a plugin of those minors. */
#define MONA_PLUGIN_SIZE_1_8 (offsetof(mona_plugin, sink_frame) + sizeof(void (*)(void)))

/** Signature of the entry symbol: returns the plugin's table, or NULL to refuse host_abi_version. */
typedef const mona_plugin *(*mona_plugin_entry_fn)(uint32_t host_abi_version);

/** The entry of a drop-in plugin (MONA_PLUGIN_ENTRY_SYMBOL), which the plugin defines: returns its
 *  table, or NULL to refuse host_abi_version. Declared here with C linkage and default visibility, so
 *  that a plugin that includes this header and defines it loads whether it is compiled as C, as C++
 *  (no extern "C" of its own) or with -fvisibility=hidden. The host never calls it by this name: it
 *  looks it up with dlsym. */
MONA_PLUGIN_VISIBLE const mona_plugin *mona_plugin_entry(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* MONA_PLUGIN_H */
