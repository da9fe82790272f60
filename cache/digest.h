/* Content digests: XXH3-128 of bytes, printed as 32 lowercase hex digits.
 * Artifacts are named by the digest of their bytes and stage instances by
 * the digest of their canonical key encoding. */
#ifndef DFM_DIGEST_H
#define DFM_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DFM_DIGEST_SIZE 16
#define DFM_DIGEST_HEX (2 * DFM_DIGEST_SIZE + 1)

/* Big-endian bytes of the XXH3-128 canonical form: high 64 bits first. */
struct dfm_digest {
	uint8_t b[DFM_DIGEST_SIZE];
};

/* Digest of size bytes at data. */
struct dfm_digest dfm_digest_of(const void *data, size_t size);

/* Writes the 32-digit hex form and a NUL into hex; returns hex. */
char *dfm_digest_hex(const struct dfm_digest *d, char hex[DFM_DIGEST_HEX]);

/* Parses 32 hex digits; returns 0 or DFM_ERR_FORMAT. */
int dfm_digest_parse(const char *hex, struct dfm_digest *d);

/* Nonzero when the two digests are equal. */
int dfm_digest_eq(const struct dfm_digest *a, const struct dfm_digest *b);

/* Streaming digest for data that arrives in pieces. */
struct dfm_hasher;
struct dfm_hasher *dfm_hasher_new(void);
void dfm_hasher_add(struct dfm_hasher *h, const void *data, size_t size);
struct dfm_digest dfm_hasher_end(struct dfm_hasher *h);  /* frees h */

#endif
