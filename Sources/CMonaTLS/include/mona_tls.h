/* mona_tls.h — the server side of TLS (OpenSSL's libssl) over bytes the host reads and writes itself.
 *
 * OpenSSL never touches a socket here: the host hands each read's ciphertext in (mona_tls_feed, then
 * the calls below pull it, and mona_tls_settle keeps what they left), and every byte of ciphertext a
 * call produces is appended to one mona_tls_output, which the host writes to the connection's socket
 * right after that call. All functions are for one thread (the host's loop). */
#ifndef MONA_TLS_H
#define MONA_TLS_H

#include <stddef.h>
#include <stdint.h>

/** A certificate and its key, with the server's settings (TLS 1.2 and 1.3, ALPN http/1.1). */
typedef struct mona_tls_context mona_tls_context;
/** The TLS state of one connection. */
typedef struct mona_tls mona_tls;

/** Ciphertext produced by the last call, to write out (then set size to 0). Owned by the host. */
typedef struct mona_tls_output {
    uint8_t *data;
    size_t size;
    size_t capacity;
} mona_tls_output;

/** What mona_tls_read answers besides a count of bytes. */
#define MONA_TLS_WANT_INPUT 0 /* nothing decrypted: more ciphertext is needed */
#define MONA_TLS_CLOSED (-1)  /* the peer ended its side with a close_notify */
#define MONA_TLS_FAILED (-2)  /* a protocol error: the error text says which */

/** Loads a PEM certificate chain and its PEM private key. NULL on failure, with the reason in error. */
mona_tls_context *mona_tls_context_new(const char *certificate, const char *key, char *error, size_t error_size);
/** Drops the host's reference: connections made with the context keep it until they are freed. */
void mona_tls_context_free(mona_tls_context *context);

/** A new server-side connection whose ciphertext goes to `output`. NULL when memory is short. */
mona_tls *mona_tls_new(mona_tls_context *context, mona_tls_output *output);
/** Frees a connection (and what it kept). */
void mona_tls_free(mona_tls *tls);

/** Hands ciphertext read from the socket, borrowed until mona_tls_settle. */
void mona_tls_feed(mona_tls *tls, const uint8_t *data, size_t size);
/** Copies the ciphertext the calls did not consume (the borrowed bytes become free). 0, or -1 when
 *  memory is short. */
int mona_tls_settle(mona_tls *tls);
/** 1 while decrypted bytes or unread ciphertext wait inside: mona_tls_read would make progress. */
int mona_tls_has_input(const mona_tls *tls);

/** Advances the handshake: 1 done, 0 more input needed, -1 failed (reason in error). */
int mona_tls_handshake(mona_tls *tls, char *error, size_t error_size);
/** Decrypts up to capacity bytes into out: a count > 0, or MONA_TLS_WANT_INPUT, CLOSED or FAILED. */
long mona_tls_read(mona_tls *tls, uint8_t *out, size_t capacity, char *error, size_t error_size);
/** Encrypts all `size` bytes into the output. 0, or -1 (reason in error). */
int mona_tls_write(mona_tls *tls, const uint8_t *data, size_t size, char *error, size_t error_size);
/** Appends a close_notify alert to the output (once; nothing before the handshake is done). */
void mona_tls_close_notify(mona_tls *tls);
/** The negotiated protocol version ("TLSv1.3"), static text. */
const char *mona_tls_version(const mona_tls *tls);

#endif
