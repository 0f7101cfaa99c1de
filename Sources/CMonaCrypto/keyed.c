/* Keyed primitives (AES-128-CBC, HMAC-SHA256) over per-thread caches of OpenSSL contexts.
 *
 * A protocol such as RTMFP encrypts and authenticates every packet with the same few keys per
 * session; building an OpenSSL context per call (allocation, algorithm fetch under a lock, key
 * schedule, HMAC pads) cost about as much as the work itself. Each thread keeps a direct-mapped table
 * of contexts indexed by a hash of the key: a call whose key is in its slot only resets the IV (or the
 * HMAC state); another key takes the slot over (its context is re-keyed, not reallocated). The tables
 * are the calling thread's own, so the functions stay thread-safe without locks, and are freed (and
 * the keys in them cleansed by OpenSSL) when the thread ends. Empty HMAC keys and keys longer than
 * MONA_CRYPTO_HMAC_CACHED_KEY (one-off derivations, RTMP's handshake keys) are not cached: a packet
 * key (RTMFP's are 32 bytes) is. */
#include "mona_crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define AES_SLOTS 4096
#define HMAC_SLOTS 4096
#define MONA_CRYPTO_HMAC_CACHED_KEY 32

typedef struct {
    EVP_CIPHER_CTX *ctx;
    uint8_t key[16];
    int encrypt;
} aes_slot;

typedef struct {
    EVP_MAC_CTX *ctx;
    uint8_t key[MONA_CRYPTO_HMAC_CACHED_KEY];
    size_t key_size;
} hmac_slot;

typedef struct {
    EVP_MAC *mac;
    aes_slot aes[AES_SLOTS];
    hmac_slot hmac[HMAC_SLOTS];
} keyed_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *pointer) {
    keyed_cache *cache = pointer;
    for (size_t n = 0; n < AES_SLOTS; n++) EVP_CIPHER_CTX_free(cache->aes[n].ctx);
    for (size_t n = 0; n < HMAC_SLOTS; n++) EVP_MAC_CTX_free(cache->hmac[n].ctx);
    EVP_MAC_free(cache->mac);
    OPENSSL_cleanse(cache, sizeof *cache);
    free(cache);
}

static void cache_key_create(void) { pthread_key_create(&cache_key, cache_free); }

/* The calling thread's cache, created on first use; NULL if memory runs out (callers go one-shot). */
static keyed_cache *thread_cache(void) {
    pthread_once(&cache_once, cache_key_create);
    keyed_cache *cache = pthread_getspecific(cache_key);
    if (cache) return cache;
    cache = calloc(1, sizeof *cache);
    if (!cache) return NULL;
    if (pthread_setspecific(cache_key, cache) != 0) {
        free(cache);
        return NULL;
    }
    return cache;
}

/* FNV-1a of the key and a tag, folded to a slot index (slots are a power of two). */
static size_t slot_index(const uint8_t *key, size_t size, uint8_t tag, size_t slots) {
    uint64_t hash = 0xcbf29ce484222325ull ^ tag;
    for (size_t n = 0; n < size; n++) hash = (hash ^ key[n]) * 0x100000001b3ull;
    return (size_t)(hash ^ (hash >> 32)) & (slots - 1);
}

static int aes_run(EVP_CIPHER_CTX *ctx, uint8_t *data, size_t size) {
    int out_len = 0, final_len = 0;
    return EVP_CipherUpdate(ctx, data, &out_len, data, (int)size) == 1 &&
           EVP_CipherFinal_ex(ctx, data + out_len, &final_len) == 1 && (size_t)(out_len + final_len) == size;
}

int mona_crypto_aes128_cbc(int encrypt, const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t size) {
    static const uint8_t zero_iv[16] = {0};
    if (size % 16 != 0 || size > (size_t)1 << 30) return -1;
    if (size == 0) return 0;
    encrypt = encrypt ? 1 : 0;
    keyed_cache *cache = thread_cache();
    if (!cache) {
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv ? iv : zero_iv, encrypt) == 1 &&
                 EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 && aes_run(ctx, data, size);
        EVP_CIPHER_CTX_free(ctx);
        return ok ? 0 : -1;
    }
    aes_slot *slot = &cache->aes[slot_index(key, 16, (uint8_t)encrypt, AES_SLOTS)];
    int keyed = slot->ctx && slot->encrypt == encrypt && memcmp(slot->key, key, 16) == 0;
    if (!slot->ctx && !(slot->ctx = EVP_CIPHER_CTX_new())) return -1;
    int ok;
    if (keyed) {
        ok = EVP_CipherInit_ex(slot->ctx, NULL, NULL, NULL, iv ? iv : zero_iv, encrypt) == 1;
    } else {
        ok = EVP_CipherInit_ex(slot->ctx, EVP_aes_128_cbc(), NULL, key, iv ? iv : zero_iv, encrypt) == 1 &&
             EVP_CIPHER_CTX_set_padding(slot->ctx, 0) == 1;
        if (ok) {
            memcpy(slot->key, key, 16);
            slot->encrypt = encrypt;
        } else {
            slot->encrypt = -1; /* the slot holds no usable key */
        }
    }
    return ok && aes_run(slot->ctx, data, size) ? 0 : -1;
}

void mona_crypto_hmac_sha256(const uint8_t *key, size_t key_size, const uint8_t *data, size_t size, uint8_t *out) {
    static const uint8_t empty = 0;
    const uint8_t *safe_key = key_size ? key : &empty;
    const uint8_t *safe_data = size ? data : &empty;
    keyed_cache *cache = key_size > 0 && key_size <= MONA_CRYPTO_HMAC_CACHED_KEY ? thread_cache() : NULL;
    if (cache && !cache->mac) cache->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (cache && cache->mac) {
        hmac_slot *slot = &cache->hmac[slot_index(safe_key, key_size, 0x48, HMAC_SLOTS)];
        int keyed = slot->ctx && slot->key_size == key_size && memcmp(slot->key, safe_key, key_size) == 0;
        if (!slot->ctx) slot->ctx = EVP_MAC_CTX_new(cache->mac);
        if (slot->ctx) {
            int ok;
            if (keyed) {
                ok = EVP_MAC_init(slot->ctx, NULL, 0, NULL) == 1;
            } else {
                char sha256[] = "SHA256";
                OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
                                       OSSL_PARAM_construct_end()};
                ok = EVP_MAC_init(slot->ctx, safe_key, key_size, params) == 1;
                slot->key_size = ok ? key_size : (size_t)-1;
                if (ok) memcpy(slot->key, safe_key, key_size);
            }
            size_t length = 0;
            if (ok && EVP_MAC_update(slot->ctx, safe_data, size) == 1 && EVP_MAC_final(slot->ctx, out, &length, 32) == 1 &&
                length == 32) {
                return;
            }
            slot->key_size = (size_t)-1;
        }
    }
    unsigned int length = 0;
    HMAC(EVP_sha256(), safe_key, (int)key_size, safe_data, size, out, &length);
}
