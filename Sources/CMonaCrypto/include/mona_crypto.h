/* mona_crypto.h — the few OpenSSL (libcrypto) primitives the host offers to plugins, as plain C. */
#ifndef MONA_CRYPTO_H
#define MONA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/** Fills out with secure random bytes; 0 on success. */
int mona_crypto_random(uint8_t *out, size_t size);
/** MD5 into out[16]. */
void mona_crypto_md5(const uint8_t *data, size_t size, uint8_t *out);
/** SHA-1 into out[20]. */
void mona_crypto_sha1(const uint8_t *data, size_t size, uint8_t *out);
/** SHA-256 into out[32]. */
void mona_crypto_sha256(const uint8_t *data, size_t size, uint8_t *out);
/** HMAC-SHA256 into out[32]. */
void mona_crypto_hmac_sha256(const uint8_t *key, size_t key_size, const uint8_t *data, size_t size, uint8_t *out);
/** AES-128-CBC in place, no padding; size must be a multiple of 16; iv NULL = zeros. 0 on success. */
int mona_crypto_aes128_cbc(int encrypt, const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t size);

/** An RC4 key stream (the algorithm is tiny; OpenSSL 3 only has it in its legacy provider). */
typedef struct mona_rc4 {
    uint8_t s[256];
    uint8_t i, j;
} mona_rc4;
/** Initialises an RC4 key stream; key_size 1..256. 0 on success. */
int mona_crypto_rc4_init(mona_rc4 *rc4, const uint8_t *key, size_t key_size);
/** XORs data in place with the key stream. */
void mona_crypto_rc4_apply(mona_rc4 *rc4, uint8_t *data, size_t size);

/** A Diffie-Hellman key pair (opaque). */
typedef struct mona_dh mona_dh;
/** New key pair in MODP group 2 (RFC 2409, 1024 bits), 5 (RFC 3526, 1536 bits) or 14 (RFC 3526, 2048 bits),
 *  generator 2. NULL for another group or on failure. */
mona_dh *mona_crypto_dh_new(int group);
/** Size in bytes of the group's prime: 128 for group 2, 192 for group 5, 256 for group 14. */
size_t mona_crypto_dh_size(const mona_dh *dh);
/** Public key, big-endian, left-padded with zeros to mona_crypto_dh_size bytes. 0 on success. */
int mona_crypto_dh_public(const mona_dh *dh, uint8_t *out, size_t capacity, size_t *size);
/** Shared secret, big-endian without leading zeros. -1 on a bad peer key or small capacity. */
int mona_crypto_dh_secret(const mona_dh *dh, const uint8_t *peer, size_t peer_size, uint8_t *out,
                          size_t capacity, size_t *size);
/** Frees a key pair. */
void mona_crypto_dh_free(mona_dh *dh);

#endif
