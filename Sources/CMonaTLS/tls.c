/* The server side of TLS over the host's own sockets (see mona_tls.h).
 *
 * Each connection's SSL reads and writes through one small BIO of ours: reading takes the ciphertext
 * the host fed (borrowed from its read buffer; what is left when the host settles is copied and kept,
 * then freed once consumed), writing appends to the host's one output collector, which the host
 * empties into the socket after every call. So no memory BIO keeps its peak size per connection, and
 * an idle connection holds only its SSL (whose record buffers SSL_MODE_RELEASE_BUFFERS frees). */
#include "mona_tls.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mona_tls_context {
    SSL_CTX *ctx;
};

struct mona_tls {
    SSL *ssl;
    mona_tls_output *output;
    const uint8_t *in;    /* ciphertext not consumed yet: borrowed, or inside `kept` */
    size_t in_size;
    uint8_t *kept;        /* ciphertext kept across calls (NULL when none) */
    size_t kept_capacity;
};

/* ---- the BIO between an SSL and the host -------------------------------------------------------- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *bio, const char *data, int size) {
    mona_tls *tls = BIO_get_data(bio);
    mona_tls_output *output = tls->output;
    BIO_clear_retry_flags(bio);
    if (size <= 0) return 0;
    if (output->size + (size_t)size > output->capacity) {
        size_t capacity = output->capacity ? output->capacity : 16384;
        while (capacity < output->size + (size_t)size) capacity *= 2;
        uint8_t *grown = realloc(output->data, capacity);
        if (!grown) return -1;
        output->data = grown;
        output->capacity = capacity;
    }
    memcpy(output->data + output->size, data, (size_t)size);
    output->size += (size_t)size;
    return size;
}

static int bio_read(BIO *bio, char *out, int size) {
    mona_tls *tls = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (size <= 0) return 0;
    if (tls->in_size == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t count = tls->in_size < (size_t)size ? tls->in_size : (size_t)size;
    memcpy(out, tls->in, count);
    tls->in += count;
    tls->in_size -= count;
    return (int)count;
}

static long bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    switch (command) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING: {
        mona_tls *tls = BIO_get_data(bio);
        return tls ? (long)(tls->in_size > LONG_MAX ? LONG_MAX : tls->in_size) : 0;
    }
    default:
        return 0;
    }
}

static int bio_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

static void make_bio_method(void) {
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mona host socket");
    if (!bio_method) return;
    BIO_meth_set_write(bio_method, bio_write);
    BIO_meth_set_read(bio_method, bio_read);
    BIO_meth_set_ctrl(bio_method, bio_ctrl);
    BIO_meth_set_create(bio_method, bio_create);
}

/* ---- errors --------------------------------------------------------------------------------------- */

/* The reason of OpenSSL's last error ("wrong version number", "http request"…), or `fallback`. */
static void describe(char *error, size_t error_size, const char *fallback) {
    if (!error || error_size == 0) return;
    unsigned long code = ERR_peek_last_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;
    if (reason) {
        snprintf(error, error_size, "%s", reason);
    } else if (code) {
        snprintf(error, error_size, "OpenSSL error %lx", code);
    } else {
        snprintf(error, error_size, "%s", fallback);
    }
    ERR_clear_error();
}

/* ---- contexts ----------------------------------------------------------------------------------- */

/* ALPN: http/1.1 when the client offers it (HTTPS, WSS); no ALPN otherwise (RTMPS clients send none). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_size, const unsigned char *in,
                       unsigned int in_size, void *argument) {
    (void)ssl;
    (void)argument;
    static const unsigned char offered[] = "\x08http/1.1";
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, out_size, offered, sizeof offered - 1, in, in_size) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

mona_tls_context *mona_tls_context_new(const char *certificate, const char *key, char *error, size_t error_size) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        describe(error, error_size, "cannot create an OpenSSL context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Resumption by tickets only: no server-side cache growing with the number of clients. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    const char *step = "certificate";
    if (SSL_CTX_use_certificate_chain_file(ctx, certificate) != 1 ||
        (step = "key", SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) ||
        (step = "key match", SSL_CTX_check_private_key(ctx) != 1)) {
        char reason[256];
        describe(reason, sizeof reason, "unreadable");
        if (error && error_size)
            snprintf(error, error_size, "%s: %s", strcmp(step, "key match") == 0 ? "the key does not match the certificate"
                                                                                  : step, reason);
        SSL_CTX_free(ctx);
        return NULL;
    }
    mona_tls_context *context = malloc(sizeof *context);
    if (!context) {
        SSL_CTX_free(ctx);
        if (error && error_size) snprintf(error, error_size, "out of memory");
        return NULL;
    }
    context->ctx = ctx;
    return context;
}

void mona_tls_context_free(mona_tls_context *context) {
    if (!context) return;
    SSL_CTX_free(context->ctx); /* each SSL made from it holds a reference of its own */
    free(context);
}

/* ---- connections -------------------------------------------------------------------------------- */

mona_tls *mona_tls_new(mona_tls_context *context, mona_tls_output *output) {
    pthread_once(&bio_once, make_bio_method);
    if (!bio_method) return NULL;
    mona_tls *tls = calloc(1, sizeof *tls);
    if (!tls) return NULL;
    tls->output = output;
    tls->ssl = SSL_new(context->ctx);
    BIO *bio = BIO_new(bio_method);
    if (!tls->ssl || !bio) {
        BIO_free(bio);
        SSL_free(tls->ssl);
        free(tls);
        return NULL;
    }
    BIO_set_data(bio, tls);
    SSL_set_bio(tls->ssl, bio, bio); /* one BIO both ways: SSL takes the one reference */
    SSL_set_accept_state(tls->ssl);
    return tls;
}

void mona_tls_free(mona_tls *tls) {
    if (!tls) return;
    SSL_free(tls->ssl);
    free(tls->kept);
    free(tls);
}

void mona_tls_feed(mona_tls *tls, const uint8_t *data, size_t size) {
    if (size == 0) return;
    if (tls->in_size == 0) {
        tls->in = data;
        tls->in_size = size;
        return;
    }
    /* Bytes wait already: kept at the start of `kept`, the new ones follow them. */
    if (mona_tls_settle(tls) != 0) return;
    size_t needed = tls->in_size + size;
    if (needed > tls->kept_capacity) {
        uint8_t *grown = realloc(tls->kept, needed);
        if (!grown) return; /* the new bytes are lost: the next record fails and the connection closes */
        tls->kept = grown;
        tls->kept_capacity = needed;
    }
    memcpy(tls->kept + tls->in_size, data, size);
    tls->in = tls->kept;
    tls->in_size = needed;
}

int mona_tls_settle(mona_tls *tls) {
    if (tls->in_size == 0) {
        free(tls->kept);
        tls->kept = NULL;
        tls->kept_capacity = 0;
        tls->in = NULL;
        return 0;
    }
    int inside = tls->kept && tls->in >= tls->kept && tls->in < tls->kept + tls->kept_capacity;
    if (inside) {
        if (tls->in != tls->kept) memmove(tls->kept, tls->in, tls->in_size);
    } else {
        if (tls->in_size > tls->kept_capacity) {
            uint8_t *grown = realloc(tls->kept, tls->in_size);
            if (!grown) return -1;
            tls->kept = grown;
            tls->kept_capacity = tls->in_size;
        }
        memcpy(tls->kept, tls->in, tls->in_size);
    }
    tls->in = tls->kept;
    return 0;
}

int mona_tls_has_input(const mona_tls *tls) {
    return tls->in_size > 0 || SSL_has_pending(tls->ssl);
}

int mona_tls_handshake(mona_tls *tls, char *error, size_t error_size) {
    ERR_clear_error();
    int result = SSL_do_handshake(tls->ssl);
    if (result == 1) return 1;
    int reason = SSL_get_error(tls->ssl, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return 0;
    describe(error, error_size, "handshake failed");
    return -1;
}

long mona_tls_read(mona_tls *tls, uint8_t *out, size_t capacity, char *error, size_t error_size) {
    ERR_clear_error();
    int result = SSL_read(tls->ssl, out, capacity > INT_MAX ? INT_MAX : (int)capacity);
    if (result > 0) return result;
    switch (SSL_get_error(tls->ssl, result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return MONA_TLS_WANT_INPUT;
    case SSL_ERROR_ZERO_RETURN:
        return MONA_TLS_CLOSED;
    default:
        describe(error, error_size, "read failed");
        return MONA_TLS_FAILED;
    }
}

int mona_tls_write(mona_tls *tls, const uint8_t *data, size_t size, char *error, size_t error_size) {
    ERR_clear_error();
    while (size > 0) {
        int result = SSL_write(tls->ssl, data, size > INT_MAX ? INT_MAX : (int)size);
        if (result <= 0) {
            describe(error, error_size, "write failed");
            return -1;
        }
        data += result;
        size -= (size_t)result;
    }
    return 0;
}

void mona_tls_close_notify(mona_tls *tls) {
    if (!SSL_is_init_finished(tls->ssl) || (SSL_get_shutdown(tls->ssl) & SSL_SENT_SHUTDOWN)) return;
    ERR_clear_error();
    SSL_shutdown(tls->ssl);
    ERR_clear_error();
}

const char *mona_tls_version(const mona_tls *tls) {
    return SSL_get_version(tls->ssl);
}
