/* OpenSSL-backed primitives for the host (see include/mona_crypto.h). */
#include "mona_crypto.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>

int mona_crypto_random(uint8_t *out, size_t size) {
    while (size > 0) {
        int chunk = size > (1u << 30) ? (1 << 30) : (int)size;
        if (RAND_bytes(out, chunk) != 1) return -1;
        out += chunk;
        size -= (size_t)chunk;
    }
    return 0;
}

static void digest(const EVP_MD *md, const uint8_t *data, size_t size, uint8_t *out) {
    unsigned int len = 0;
    EVP_Digest(data, size, out, &len, md, NULL);
}

void mona_crypto_md5(const uint8_t *data, size_t size, uint8_t *out) { digest(EVP_md5(), data, size, out); }
void mona_crypto_sha1(const uint8_t *data, size_t size, uint8_t *out) { digest(EVP_sha1(), data, size, out); }
void mona_crypto_sha256(const uint8_t *data, size_t size, uint8_t *out) { digest(EVP_sha256(), data, size, out); }

int mona_crypto_rc4_init(mona_rc4 *rc4, const uint8_t *key, size_t key_size) {
    if (key_size == 0 || key_size > 256) return -1;
    for (int n = 0; n < 256; n++) rc4->s[n] = (uint8_t)n;
    uint8_t j = 0;
    for (int n = 0; n < 256; n++) {
        j = (uint8_t)(j + rc4->s[n] + key[(size_t)n % key_size]);
        uint8_t t = rc4->s[n];
        rc4->s[n] = rc4->s[j];
        rc4->s[j] = t;
    }
    rc4->i = rc4->j = 0;
    return 0;
}

void mona_crypto_rc4_apply(mona_rc4 *rc4, uint8_t *data, size_t size) {
    uint8_t i = rc4->i, j = rc4->j;
    for (size_t n = 0; n < size; n++) {
        i = (uint8_t)(i + 1);
        j = (uint8_t)(j + rc4->s[i]);
        uint8_t t = rc4->s[i];
        rc4->s[i] = rc4->s[j];
        rc4->s[j] = t;
        data[n] ^= rc4->s[(uint8_t)(rc4->s[i] + rc4->s[j])];
    }
    rc4->i = i;
    rc4->j = j;
}

struct mona_dh {
    BIGNUM *p;
    BIGNUM *priv;
    BIGNUM *pub;
    size_t size;
};

void mona_crypto_dh_free(mona_dh *dh) {
    if (!dh) return;
    BN_free(dh->p);
    BN_clear_free(dh->priv);
    BN_free(dh->pub);
    free(dh);
}

mona_dh *mona_crypto_dh_new(int group) {
    BIGNUM *p = NULL;
    if (group == 2) p = BN_get_rfc2409_prime_1024(NULL);
    else if (group == 5) p = BN_get_rfc3526_prime_1536(NULL);
    else if (group == 14) p = BN_get_rfc3526_prime_2048(NULL);
    if (!p) return NULL;
    mona_dh *dh = calloc(1, sizeof *dh);
    BN_CTX *bn = BN_CTX_new();
    BIGNUM *g = BN_new();
    int ok = dh && bn && g && BN_set_word(g, 2);
    if (dh) {
        dh->p = p;
        dh->size = (size_t)BN_num_bytes(p);
        dh->priv = BN_secure_new();
        dh->pub = BN_new();
        /* private exponent in [2, p-2], 1 bit shorter than p for uniform-enough sampling */
        ok = ok && dh->priv && dh->pub && BN_priv_rand(dh->priv, BN_num_bits(p) - 1, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
             BN_mod_exp(dh->pub, g, dh->priv, p, bn);
    }
    BN_free(g);
    BN_CTX_free(bn);
    if (!ok) {
        if (dh) mona_crypto_dh_free(dh);
        else BN_free(p);
        return NULL;
    }
    return dh;
}

size_t mona_crypto_dh_size(const mona_dh *dh) { return dh->size; }

int mona_crypto_dh_public(const mona_dh *dh, uint8_t *out, size_t capacity, size_t *size) {
    if (capacity < dh->size) return -1;
    if (BN_bn2binpad(dh->pub, out, (int)dh->size) < 0) return -1;
    *size = dh->size;
    return 0;
}

int mona_crypto_dh_secret(const mona_dh *dh, const uint8_t *peer, size_t peer_size, uint8_t *out,
                          size_t capacity, size_t *size) {
    if (peer_size == 0 || peer_size > dh->size) return -1;
    BIGNUM *y = BN_bin2bn(peer, (int)peer_size, NULL);
    BIGNUM *limit = BN_dup(dh->p);
    BIGNUM *s = BN_secure_new();
    BN_CTX *bn = BN_CTX_new();
    int ok = y && limit && s && bn && BN_sub_word(limit, 1);
    /* a peer key must lie in [2, p-2] */
    ok = ok && !BN_is_zero(y) && !BN_is_one(y) && BN_cmp(y, limit) < 0;
    ok = ok && BN_mod_exp(s, y, dh->priv, dh->p, bn);
    if (ok) {
        size_t n = (size_t)BN_num_bytes(s);
        ok = n <= capacity && BN_bn2bin(s, out) == (int)n;
        if (ok) *size = n;
    }
    BN_free(y);
    BN_free(limit);
    BN_clear_free(s);
    BN_CTX_free(bn);
    return ok ? 0 : -1;
}
