/* hub/sha256.h: streaming SHA-256 (FIPS 180-4), used to verify downloads
 * against the sha256 the Hugging Face Hub reports for LFS files. */
#ifndef PHI3VK_HUB_SHA256_H
#define PHI3VK_HUB_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct util_sha256 {
    uint32_t h[8];      /* running hash state */
    uint64_t n_bytes;   /* bytes fed so far */
    uint8_t block[64];  /* pending partial block */
    size_t n_block;     /* bytes used in block, < 64 */
} util_sha256;

/* Starts a new hash. */
void util_sha256_init(util_sha256 *s);
/* Feeds n bytes (n may be 0, data may then be NULL). */
void util_sha256_update(util_sha256 *s, const void *data, size_t n);
/* Finishes the hash and writes it as 64 lowercase hex digits + NUL into hex.
 * The state must be re-initialised before reuse. */
void util_sha256_final(util_sha256 *s, char hex[65]);

#endif
