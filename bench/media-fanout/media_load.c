// media_load.c: players of one live publication over RTSP (TCP interleaved or UDP), WebSocket fMP4,
// HTTP-FLV and HLS, for bench/media-fanout, bench/hls and bench/rtsp-peer (one thread, epoll,
// non-blocking, loopback).
//
//   media_load <mode> <port> <path> <players> <settle_s> <window_s> <pub_pid|@progress_file|0> [server_pid...]
//
// The 7th argument says where the publisher's rate (each player's expected rate) comes from:
//   <pub_pid>          the bytes the sockets of that process sent and got acknowledged
//                      (ss -tinp: TCP only)
//   @<progress_file>   the last complete total_size= line of an ffmpeg -progress file (written
//                      every -stats_period; for a publisher that sends over UDP, which ss -t does
//                      not see)
//   0                  none (pub_kbps and delivered_pct are then -1)
//
// mode      path (what the player asks for)
// rtsp-tcp  /live/bench         DESCRIBE, SETUP of every track
//                               (RTP/AVP/TCP;unicast;interleaved=2t-2t+1), PLAY; reads the `$` frames
//                               (RTP and RTCP) and any RTSP answer between them
// rtsp-udp  /live/bench         the same with RTP/AVP;unicast;client_port=a-b (a socket pair per
//                               track, 4 MiB receive buffers); reads the RTP datagrams (RTCP is not
//                               read)
//           Both play against any RTSP server (ours and GStreamer's): a relative a=control is
//           resolved against Content-Base; PLAY names the aggregate control URL, the SDP's
//           session-level a=control (absent or "*": Content-Base without its trailing '/', RFC 2326
//           C.1.1); once playing, every player sends an OPTIONS keep-alive every 20 s, the first at
//           a random point of 10-20 s (GStreamer closes the RTSP connection of a UDP player after
//           60 s without a request)
// ws        /live/bench         the WebSocket upgrade to /live/, then the text frame ["__play","bench","fmp4"];
//                               reads binary frames (fMP4 init segment and fragments)
// flv       /live/bench.flv     GET, then reads the FLV tags of the endless response
// hls       /live/bench.ts.m3u8 each viewer polls the playlist on its keep-alive connection every
//                               half target duration (first poll at a random point of it) and
//                               fetches every segment it has not fetched (from the last 3 of its
//                               first playlist on), the init segment (EXT-X-MAP) once
//
// A player counts as playing once it got media (RTSP: an RTP packet of every track, ws: a binary
// frame, flv: a video and an audio tag, hls: a segment). When all play it waits <settle_s>, then
// measures for <window_s>: the bytes all players received (TCP payload or UDP payload: what the
// server sent), the media units (RTP packets, frames, tags, segments), the server pids' on-CPU time
// (/proc/<pid>/task/*/schedstat, all threads), their VmRSS at the end, the publisher's output bytes
// (see the 7th argument: the expected rate), its own CPU and the machine's busy ticks. Prints one
// line of key=value. Every player must receive media during the window.
//
// Exits 1 on any failure (a refused or closed connection, an error status, a player without media
// in the window, set-up over 120 s), 2 on bad usage.
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SETUP_LIMIT_S 120.0
#define KEEPALIVE_S 20.0
#define MAX_PENDING 64
#define MAX_PIDS 16
#define MAX_TRACKS 4
#define MAX_HEAD 65536
#define MAX_SEGMENTS 64

enum mode { M_RTSP_TCP, M_RTSP_UDP, M_WS, M_FLV, M_HLS };
enum { ST_CONNECTING, ST_SETUP, ST_PLAYING };
enum { EV_TCP, EV_UDP };

struct conn;

// What epoll hands back: a connection's TCP socket or one of its RTP sockets.
struct watch {
    int kind, track;
    struct conn *c;
};

struct conn {
    int fd, id, state;
    struct watch tcp_watch;
    uint8_t *in;
    size_t in_len, in_cap;
    char out[4096];
    size_t out_len;
    uint64_t rx, units;
    int playing;
    // RTSP
    int cseq, step, tracks, video_track;
    char session[128], base[512], aggregate[512], control[MAX_TRACKS][256];
    uint64_t track_units[MAX_TRACKS];
    int udp[MAX_TRACKS][2];
    struct watch udp_watch[MAX_TRACKS];
    double next_keepalive;
    // FLV: bytes of the header and tags left to skip, audio/video tags
    int flv_started;
    uint64_t flv_skip, audio, video;
    // WebSocket/HTTP response state
    int head_done;
    uint64_t body_left;
    // HLS
    double next_poll;
    int asking_playlist, have_init, in_flight;
    long long last_seq;
    char queue[MAX_SEGMENTS][256];
    int queued;
};

static enum mode mode;
static int ep, port, nconns, opened, pending, ready;
static const char *path;
static struct conn *conns;
static pid_t pids[MAX_PIDS];
static int npids;
static pid_t pub_pid;
static const char *pub_progress;
static double hls_poll_s = 1.0;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "media_load: ");
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

// --- /proc (as in bench/rtmp-fanout/rtmp_load.c) ----------------------------

static long long servers_ns(void) {
    long long sum = 0;
    for (int i = 0; i < npids; i++) {
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/task", (int)pids[i]);
        DIR *d = opendir(dir);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char file[300];
            snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", (int)pids[i], e->d_name);
            FILE *f = fopen(file, "r");
            if (!f) continue;
            long long ns = 0;
            if (fscanf(f, "%lld", &ns) != 1) ns = 0;
            fclose(f);
            sum += ns;
        }
        closedir(d);
    }
    return sum;
}

static long long servers_rss_kb(void) {
    long long sum = 0;
    for (int i = 0; i < npids; i++) {
        char file[64], line[256];
        snprintf(file, sizeof file, "/proc/%d/status", (int)pids[i]);
        FILE *f = fopen(file, "r");
        if (!f) return -1;
        long long kb = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmRSS: %lld", &kb) == 1) break;
        fclose(f);
        sum += kb;
    }
    return sum;
}

// Bytes the publisher's sockets (any port: it publishes to the server) sent and got acknowledged.
static long long socket_bytes(pid_t pid) {
    char line[4096], tag[32];
    snprintf(tag, sizeof tag, "pid=%d,", (int)pid);
    FILE *f = popen("ss -tinpH state established 2>/dev/null", "r");
    if (!f) return -1;
    long long v = -1;
    int mine = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != ' ' && line[0] != '\t') { mine = strstr(line, tag) != NULL; continue; }
        char *b = strstr(line, "bytes_acked:");
        if (mine && b) v = (v < 0 ? 0 : v) + atoll(b + 12);
    }
    pclose(f);
    return v;
}

// The last complete "total_size=<bytes>" line of an ffmpeg -progress file, -1 if none.
static long long progress_bytes(const char *file) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    char buf[8193];
    long long v = -1;
    if (fstat(fd, &st) == 0) {
        off_t from = st.st_size > 8192 ? st.st_size - 8192 : 0;
        ssize_t n = pread(fd, buf, 8192, from);
        if (n > 0) {
            buf[n] = 0;
            for (char *p = buf; (p = strstr(p, "total_size=")); p += 11) {
                char *end;
                long long x = strtoll(p + 11, &end, 10);
                if (end > p + 11 && *end == '\n') v = x;
            }
        }
    }
    close(fd);
    return v;
}

static long long publisher_bytes(void) {
    if (pub_progress) return progress_bytes(pub_progress);
    return pub_pid > 0 ? socket_bytes(pub_pid) : -1;
}

static long long busy_ticks(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    return n < 8 ? -1 : (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

static double own_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// --- output (requests are small: written at once, the rest on EPOLLOUT) --------

static void set_out(struct conn *c, int want) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = &c->tcp_watch};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

static void flush_out(struct conn *c) {
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) { set_out(c, 1); return; }
            die("player %d: send: %s", c->id, strerror(errno));
        }
        memmove(c->out, c->out + n, c->out_len - n);
        c->out_len -= n;
    }
    set_out(c, 0);
}

static void sendf(struct conn *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out + c->out_len, sizeof c->out - c->out_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof c->out - c->out_len) die("player %d: request too long", c->id);
    c->out_len += n;
    if (c->state != ST_CONNECTING) flush_out(c);
}

static void became_playing(struct conn *c) {
    if (c->playing) return;
    c->playing = 1;
    ready++;
}

// --- HTTP-like heads --------------------------------------------------------

// Length of the head (through the blank line) at the start of the input, 0 if incomplete.
static size_t head_length(struct conn *c) {
    for (size_t i = 3; i < c->in_len; i++)
        if (c->in[i] == '\n' && c->in[i - 1] == '\r' && c->in[i - 2] == '\n' && c->in[i - 3] == '\r') return i + 1;
    if (c->in_len > MAX_HEAD) die("player %d: head over %d bytes", c->id, MAX_HEAD);
    return 0;
}

// Value of a header field in a head (copied, NUL-terminated), or NULL.
static char *header(const char *head, size_t len, const char *name, char *out, size_t size) {
    size_t nl = strlen(name);
    for (const char *p = head; p < head + len;) {
        const char *eol = memchr(p, '\n', head + len - p);
        if (!eol) break;
        if ((size_t)(eol - p) > nl + 1 && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t n = eol - v;
            if (n && v[n - 1] == '\r') n--;
            if (n >= size) n = size - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return out;
        }
        p = eol + 1;
    }
    return NULL;
}

static int status_code(const char *head) {
    const char *sp = strchr(head, ' ');
    return sp ? atoi(sp + 1) : 0;
}

static void consume(struct conn *c, size_t n) {
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

// --- RTSP -------------------------------------------------------------------

static void rtsp_setup_next(struct conn *c);

static void rtsp_request(struct conn *c, const char *method, const char *url, const char *extra) {
    c->cseq++;
    sendf(c, "%s %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: media_load\r\n%s%s%s%s\r\n", method, url, c->cseq, extra,
          c->session[0] ? "Session: " : "", c->session, c->session[0] ? "\r\n" : "");
}

static void rtsp_describe(struct conn *c) {
    snprintf(c->base, sizeof c->base, "rtsp://127.0.0.1:%d%s", port, path);
    rtsp_request(c, "DESCRIBE", c->base, "Accept: application/sdp\r\n");
}

static int bind_udp(int port_number) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s (raise ulimit -n)", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port_number)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return fd;
}

// A pair of UDP sockets on consecutive ports (RTP even, RTCP odd) for a track; returns the RTP port.
static int udp_pair(struct conn *c, int track) {
    for (int tries = 0; tries < 1000; tries++) {
        int p = 20000 + 2 * (rand() % 20000);
        int a = bind_udp(p);
        if (a < 0) continue;
        int b = bind_udp(p + 1);
        if (b < 0) { close(a); continue; }
        c->udp[track][0] = a;
        c->udp[track][1] = b;
        c->udp_watch[track] = (struct watch){.kind = EV_UDP, .track = track, .c = c};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->udp_watch[track]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
        return p;
    }
    die("no free UDP port pair");
    return -1;
}

// An absolute URL from a control attribute: itself if absolute, else relative to Content-Base.
static void resolve(const struct conn *c, const char *control, char *url, size_t size) {
    if (!strncmp(control, "rtsp://", 7)) snprintf(url, size, "%s", control);
    else snprintf(url, size, "%s%s%s", c->base, c->base[strlen(c->base) - 1] == '/' ? "" : "/", control);
}

static void rtsp_setup_next(struct conn *c) {
    int t = c->step;
    char url[1024], transport[160];
    resolve(c, c->control[t], url, sizeof url);
    if (mode == M_RTSP_TCP) {
        snprintf(transport, sizeof transport, "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n", 2 * t, 2 * t + 1);
    } else {
        int p = udp_pair(c, t);
        snprintf(transport, sizeof transport, "Transport: RTP/AVP;unicast;client_port=%d-%d\r\n", p, p + 1);
    }
    rtsp_request(c, "SETUP", url, transport);
}

// The SDP of DESCRIBE: a=control of each m= section, and the session-level one (the aggregate
// control URL: "*" or absent means Content-Base itself, RFC 2326 C.1.1).
static void rtsp_parse_sdp(struct conn *c, const char *sdp, size_t len) {
    int in_media = 0;
    char session_control[256] = "";
    c->video_track = -1;
    for (const char *p = sdp; p < sdp + len;) {
        const char *eol = memchr(p, '\n', sdp + len - p);
        size_t n = eol ? (size_t)(eol - p) : (size_t)(sdp + len - p);
        if (n && p[n - 1] == '\r') n--;
        if (n > 2 && !strncmp(p, "m=", 2)) {
            if (c->tracks >= MAX_TRACKS) die("player %d: more than %d tracks", c->id, MAX_TRACKS);
            in_media = 1;
            if (!strncmp(p, "m=video", 7) && c->video_track < 0) c->video_track = c->tracks;
            c->control[c->tracks++][0] = 0;
        } else if (n > 10 && !strncmp(p, "a=control:", 10)) {
            size_t m = n - 10 < 255 ? n - 10 : 255;
            char *to = in_media ? c->control[c->tracks - 1] : session_control;
            memcpy(to, p + 10, m);
            to[m] = 0;
        }
        if (!eol) break;
        p = eol + 1;
    }
    if (!c->tracks) die("player %d: no track in the SDP", c->id);
    if (session_control[0] && strcmp(session_control, "*")) {
        resolve(c, session_control, c->aggregate, sizeof c->aggregate);
    } else {
        // Content-Base ends with '/' so that relative track URLs resolve under it; the presentation
        // itself is named without it
        snprintf(c->aggregate, sizeof c->aggregate, "%s", c->base);
        size_t l = strlen(c->aggregate);
        if (l > 8 && c->aggregate[l - 1] == '/') c->aggregate[l - 1] = 0;
    }
}

// One RTSP answer at the start of the input; returns 0 if incomplete.
static int rtsp_answer(struct conn *c) {
    size_t hl = head_length(c);
    if (!hl) return 0;
    char value[512];
    const char *head = (const char *)c->in;
    size_t body = header(head, hl, "Content-Length", value, sizeof value) ? (size_t)atol(value) : 0;
    if (c->in_len < hl + body) return 0;
    int status = status_code(head);
    if (status != 200) die("player %d: RTSP status %d at step %d", c->id, status, c->step);
    if (c->state == ST_SETUP) {
        if (c->step == -1) { // DESCRIBE
            if (header(head, hl, "Content-Base", value, sizeof value)) snprintf(c->base, sizeof c->base, "%s", value);
            rtsp_parse_sdp(c, head + hl, body);
            c->step = 0;
            rtsp_setup_next(c);
        } else if (c->step < c->tracks) { // SETUP
            if (header(head, hl, "Session", value, sizeof value)) {
                char *semi = strchr(value, ';');
                if (semi) *semi = 0;
                snprintf(c->session, sizeof c->session, "%.127s", value);
            }
            if (++c->step < c->tracks) rtsp_setup_next(c);
            else rtsp_request(c, "PLAY", c->aggregate, "Range: npt=0.000-\r\n");
        } else {
            c->state = ST_PLAYING;
            c->next_keepalive = now_s() + KEEPALIVE_S * (0.5 + 0.5 * rand() / RAND_MAX);
        }
    }
    consume(c, hl + body);
    return 1;
}

static void rtp_packet(struct conn *c, int track) {
    c->units++;
    c->track_units[track]++;
    if (!c->playing) {
        for (int t = 0; t < c->tracks; t++)
            if (!c->track_units[t]) return;
        became_playing(c);
    }
}

static void rtsp_input(struct conn *c) {
    for (;;) {
        if (c->body_left) { // the rest of a `$` frame
            size_t n = c->in_len < c->body_left ? c->in_len : c->body_left;
            c->body_left -= n;
            consume(c, n);
            if (c->body_left) return;
            continue;
        }
        if (!c->in_len) return;
        if (c->in[0] == '$') {
            if (c->in_len < 4) return;
            int channel = c->in[1];
            size_t len = (size_t)c->in[2] << 8 | c->in[3];
            if (channel / 2 >= c->tracks) die("player %d: `$` frame on channel %d", c->id, channel);
            if (channel % 2 == 0) rtp_packet(c, channel / 2);
            consume(c, 4);
            c->body_left = len;
            continue;
        }
        if (!rtsp_answer(c)) return;
    }
}

static void udp_readable(struct conn *c, int track) {
    static uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(c->udp[track][0], buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN) return;
            die("player %d: recv: %s", c->id, strerror(errno));
        }
        c->rx += n;
        rtp_packet(c, track);
    }
}

// --- WebSocket --------------------------------------------------------------

static void ws_input(struct conn *c) {
    if (!c->head_done) {
        size_t hl = head_length(c);
        if (!hl) return;
        if (status_code((char *)c->in) != 101) die("player %d: upgrade answered %d", c->id, status_code((char *)c->in));
        consume(c, hl);
        c->head_done = 1;
        // ["__play","<name>","fmp4"], masked with a zero key (a client must mask; any key will do)
        char text[200];
        int n = snprintf(text, sizeof text, "[\"__play\",\"%s\",\"fmp4\"]", strrchr(path, '/') + 1);
        char frame[256] = {(char)0x81, (char)(0x80 | n), 0, 0, 0, 0};
        memcpy(frame + 6, text, n);
        memcpy(c->out + c->out_len, frame, n + 6);
        c->out_len += n + 6;
        flush_out(c);
        c->state = ST_PLAYING;
    }
    for (;;) {
        if (c->body_left) {
            size_t n = c->in_len < c->body_left ? c->in_len : c->body_left;
            c->body_left -= n;
            consume(c, n);
            if (c->body_left) return;
            continue;
        }
        if (c->in_len < 2) return;
        int opcode = c->in[0] & 0x0F;
        uint64_t len = c->in[1] & 0x7F;
        size_t header_size = 2;
        if (len == 126) {
            if (c->in_len < 4) return;
            len = (uint64_t)c->in[2] << 8 | c->in[3];
            header_size = 4;
        } else if (len == 127) {
            if (c->in_len < 10) return;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | c->in[2 + i];
            header_size = 10;
        }
        if (opcode == 8) die("player %d: the server closed the WebSocket", c->id);
        if (opcode == 2 || opcode == 0) {
            c->units++;
            became_playing(c);
        }
        consume(c, header_size);
        c->body_left = len;
    }
}

// --- HTTP-FLV ---------------------------------------------------------------

static void flv_input(struct conn *c) {
    if (!c->head_done) {
        size_t hl = head_length(c);
        if (!hl) return;
        if (status_code((char *)c->in) != 200) die("player %d: GET answered %d", c->id, status_code((char *)c->in));
        char value[64];
        if (header((char *)c->in, hl, "Transfer-Encoding", value, sizeof value)) die("player %d: chunked FLV not handled", c->id);
        consume(c, hl);
        c->head_done = 1;
        c->state = ST_PLAYING;
        c->flv_skip = 13; // FLV header and the first previous-tag size
    }
    for (;;) {
        if (c->flv_skip) {
            size_t n = c->in_len < c->flv_skip ? c->in_len : c->flv_skip;
            c->flv_skip -= n;
            consume(c, n);
            if (c->flv_skip) return;
        }
        if (c->in_len < 11) return;
        int type = c->in[0] & 0x1F;
        uint64_t size = (uint64_t)c->in[1] << 16 | (uint64_t)c->in[2] << 8 | c->in[3];
        if (type == 8) c->audio++;
        else if (type == 9) c->video++;
        else if (type != 18) die("player %d: FLV tag of type %d", c->id, type);
        c->units++;
        if (c->audio && c->video) became_playing(c);
        c->flv_skip = 11 + size + 4;
    }
}

// --- HLS --------------------------------------------------------------------

static void hls_get(struct conn *c, const char *uri) {
    char target[600];
    if (uri[0] == '/') snprintf(target, sizeof target, "%s", uri);
    else {
        const char *slash = strrchr(path, '/');
        snprintf(target, sizeof target, "%.*s%s", (int)(slash - path + 1), path, uri);
    }
    sendf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: media_load\r\n\r\n", target);
    c->in_flight = 1;
}

static void hls_next(struct conn *c) {
    if (c->in_flight) return;
    if (c->queued) {
        char uri[256];
        memcpy(uri, c->queue[0], sizeof uri);
        memmove(c->queue[0], c->queue[1], (size_t)(--c->queued) * sizeof c->queue[0]);
        c->asking_playlist = 0;
        hls_get(c, uri);
    } else if (now_s() >= c->next_poll) {
        c->asking_playlist = 1;
        c->next_poll = now_s() + hls_poll_s;
        hls_get(c, path);
    }
}

static void hls_playlist(struct conn *c, const char *text, size_t len) {
    long long seq = 0;
    char uris[MAX_SEGMENTS][256];
    int n = 0;
    double target = 0;
    for (const char *p = text; p < text + len;) {
        const char *eol = memchr(p, '\n', text + len - p);
        size_t l = eol ? (size_t)(eol - p) : (size_t)(text + len - p);
        if (l && p[l - 1] == '\r') l--;
        char line[300];
        if (l >= sizeof line) l = sizeof line - 1;
        memcpy(line, p, l);
        line[l] = 0;
        if (!strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22)) seq = atoll(line + 22);
        else if (!strncmp(line, "#EXT-X-TARGETDURATION:", 22)) target = atof(line + 22);
        else if (!strncmp(line, "#EXT-X-MAP:", 11) && !c->have_init) {
            char *u = strstr(line, "URI=\"");
            if (u) {
                char *end = strchr(u + 5, '"');
                if (end) *end = 0;
                if (c->queued < MAX_SEGMENTS) snprintf(c->queue[c->queued++], 256, "%s", u + 5);
                c->have_init = 1;
            }
        } else if (l && line[0] != '#' && n < MAX_SEGMENTS) snprintf(uris[n++], 256, "%.255s", line);
        if (!eol) break;
        p = eol + 1;
    }
    if (target > 0) hls_poll_s = target / 2;
    int first = c->last_seq < 0 ? (n > 3 ? n - 3 : 0) : (int)(c->last_seq + 1 - seq);
    if (first < 0) first = 0; // fell out of the window
    for (int i = first; i < n && c->queued < MAX_SEGMENTS; i++) snprintf(c->queue[c->queued++], 256, "%s", uris[i]);
    if (n) c->last_seq = seq + n - 1;
}

static void hls_input(struct conn *c) {
    for (;;) {
        size_t hl = head_length(c);
        if (!hl) return;
        char value[64];
        const char *head = (const char *)c->in;
        int status = status_code(head);
        if (!header(head, hl, "Content-Length", value, sizeof value)) die("player %d: an answer without Content-Length", c->id);
        size_t body = (size_t)atol(value);
        if (c->in_len < hl + body) {
            if (hl + body > c->in_cap) {
                c->in_cap = hl + body;
                if (!(c->in = realloc(c->in, c->in_cap))) die("out of memory");
            }
            return;
        }
        c->in_flight = 0;
        if (c->asking_playlist) {
            if (status != 200) die("player %d: playlist answered %d", c->id, status);
            hls_playlist(c, head + hl, body);
        } else if (status == 200) {
            c->units++;
            became_playing(c);
        } else if (status != 404) { // 404: a segment that just left the window
            die("player %d: segment answered %d", c->id, status);
        }
        consume(c, hl + body);
        hls_next(c);
    }
}

// --- connections ------------------------------------------------------------

static void start_session(struct conn *c) {
    c->state = ST_SETUP;
    switch (mode) {
    case M_RTSP_TCP:
    case M_RTSP_UDP: c->step = -1; rtsp_describe(c); break;
    case M_WS:
        sendf(c, "GET %.*s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
              (int)(strrchr(path, '/') - path + 1), path);
        break;
    case M_FLV: sendf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: media_load\r\n\r\n", path); break;
    case M_HLS:
        c->state = ST_PLAYING;
        c->last_seq = -1;
        c->next_poll = 0;
        hls_next(c);
        break;
    }
}

static void on_writable(struct conn *c) {
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) die("player %d: connect: %s", c->id, strerror(err));
        pending--;
        start_session(c);
        return;
    }
    flush_out(c);
}

static void on_readable(struct conn *c) {
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->in_cap - c->in_len < 16384) {
            c->in_cap *= 2;
            if (!(c->in = realloc(c->in, c->in_cap))) die("out of memory");
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n == 0) die("player %d: the server closed the connection", c->id);
        if (n < 0) {
            if (errno == EAGAIN) return;
            die("player %d: recv: %s", c->id, strerror(errno));
        }
        c->rx += n;
        c->in_len += n;
        switch (mode) {
        case M_RTSP_TCP:
        case M_RTSP_UDP: rtsp_input(c); break;
        case M_WS: ws_input(c); break;
        case M_FLV: flv_input(c); break;
        case M_HLS: hls_input(c); break;
        }
    }
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
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) die("connect: %s", strerror(errno));
    c->state = ST_CONNECTING;
    c->in_cap = 65536;
    if (!(c->in = malloc(c->in_cap))) die("out of memory");
    c->tcp_watch = (struct watch){.kind = EV_TCP, .c = c};
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &c->tcp_watch};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    pending++;
}

// RTSP: an OPTIONS to every playing player whose keep-alive is due (the answer is read between
// the `$` frames).
static void rtsp_keepalives(void) {
    double t = now_s();
    for (int i = 0; i < opened; i++) {
        struct conn *c = &conns[i];
        if (c->state != ST_PLAYING || t < c->next_keepalive) continue;
        c->next_keepalive = t + KEEPALIVE_S;
        rtsp_request(c, "OPTIONS", c->aggregate, "");
    }
}

static void run(double until, int stop_when_ready) {
    struct epoll_event evs[256];
    double next_check = 0;
    for (;;) {
        while (opened < nconns && pending < MAX_PENDING) open_conn();
        if (stop_when_ready && ready >= nconns) return;
        double left = until - now_s();
        if (left <= 0) return;
        int ms = left > 0.02 ? 20 : (int)(left * 1000) + 1;
        int n = epoll_wait(ep, evs, 256, ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            if (w->kind == EV_UDP) { udp_readable(w->c, w->track); continue; }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (w->c->state == ST_CONNECTING) on_writable(w->c);
                else on_readable(w->c);
            }
            if (evs[i].events & EPOLLOUT) on_writable(w->c);
        }
        if (mode == M_HLS)
            for (int i = 0; i < opened; i++)
                if (conns[i].state == ST_PLAYING) hls_next(&conns[i]);
        if ((mode == M_RTSP_TCP || mode == M_RTSP_UDP) && now_s() >= next_check) {
            rtsp_keepalives();
            next_check = now_s() + 1;
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: media_load rtsp-tcp|rtsp-udp|ws|flv|hls <port> <path> <players> <settle_s> <window_s> <pub_pid|@progress_file|0> [server_pid...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 8) usage();
    signal(SIGPIPE, SIG_IGN);
    srand(getpid());
    const char *m = argv[1];
    if (!strcmp(m, "rtsp-tcp")) mode = M_RTSP_TCP;
    else if (!strcmp(m, "rtsp-udp")) mode = M_RTSP_UDP;
    else if (!strcmp(m, "ws")) mode = M_WS;
    else if (!strcmp(m, "flv")) mode = M_FLV;
    else if (!strcmp(m, "hls")) mode = M_HLS;
    else usage();
    port = atoi(argv[2]);
    path = argv[3];
    nconns = atoi(argv[4]);
    double settle = atof(argv[5]), window = atof(argv[6]);
    if (argv[7][0] == '@') {
        pub_progress = argv[7] + 1;
        if (!*pub_progress) usage();
    } else {
        pub_pid = atoi(argv[7]);
    }
    if (port <= 0 || port > 65535 || nconns < 1 || settle < 0 || window <= 0 || path[0] != '/' || strlen(path) > 200) usage();
    for (int i = 8; i < argc && npids < MAX_PIDS; i++) pids[npids++] = atoi(argv[i]);
    if (!(conns = calloc(nconns, sizeof *conns))) die("out of memory");
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1: %s", strerror(errno));

    double t0 = now_s();
    run(t0 + SETUP_LIMIT_S, 1);
    if (ready < nconns) die("only %d of %d players playing after %.0f s", ready, nconns, SETUP_LIMIT_S);
    double setup = now_s() - t0;
    run(now_s() + settle, 0);

    uint64_t *rx0 = calloc(nconns, sizeof *rx0), *u0 = calloc(nconns, sizeof *u0);
    if (!rx0 || !u0) die("out of memory");
    for (int i = 0; i < nconns; i++) {
        rx0[i] = conns[i].rx;
        u0[i] = conns[i].units;
    }
    long long ns0 = servers_ns(), busy0 = busy_ticks(), pw0 = publisher_bytes();
    double cpu0 = own_cpu_s(), w0 = now_s();
    run(w0 + window, 0);
    double w1 = now_s(), cpu1 = own_cpu_s();
    long long ns1 = servers_ns(), busy1 = busy_ticks(), pw1 = publisher_bytes();
    long long rss = servers_rss_kb();
    double secs = w1 - w0;

    uint64_t bytes = 0, units = 0, minb = UINT64_MAX, maxb = 0;
    for (int i = 0; i < nconns; i++) {
        uint64_t d = conns[i].rx - rx0[i], du = conns[i].units - u0[i];
        if (!du) die("player %d got no media in the window", i);
        bytes += d;
        units += du;
        if (d < minb) minb = d;
        if (d > maxb) maxb = d;
    }
    double pub_bps = pw0 >= 0 && pw1 >= pw0 ? (pw1 - pw0) / secs : -1;
    printf("mode=%s players=%d seconds=%.2f bytes=%llu mbit_per_s=%.1f player_kbps_min=%.0f player_kbps_max=%.0f "
           "pub_kbps=%.0f delivered_pct=%.1f units=%llu srv_ns=%lld srv_rss_kb=%lld load_cpu_pct=%.0f busy_ticks=%lld setup_s=%.2f\n",
           m, nconns, secs, (unsigned long long)bytes, bytes * 8 / secs / 1e6, minb * 8 / secs / 1e3, maxb * 8 / secs / 1e3,
           pub_bps >= 0 ? pub_bps * 8 / 1e3 : -1, pub_bps > 0 ? 100.0 * bytes / secs / (pub_bps * nconns) : -1,
           (unsigned long long)units, ns0 >= 0 && ns1 >= 0 ? ns1 - ns0 : -1, rss, 100 * (cpu1 - cpu0) / secs,
           busy0 >= 0 && busy1 >= 0 ? busy1 - busy0 : -1, setup);
    return 0;
}
