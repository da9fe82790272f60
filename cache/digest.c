#include <string.h>
#include <xxhash.h>

#include "cache/digest.h"
#include "cache/error.h"

static struct dfm_digest
from_hash(XXH128_hash_t h)
{
	struct dfm_digest d;
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(d.b, c.digest, sizeof d.b);
	return d;
}

struct dfm_digest
dfm_digest_of(const void *data, size_t size)
{
	return from_hash(XXH3_128bits(data, size));
}

char *
dfm_digest_hex(const struct dfm_digest *d, char hex[DFM_DIGEST_HEX])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < DFM_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[d->b[i] >> 4];
		hex[2 * i + 1] = digits[d->b[i] & 15];
	}
	hex[2 * DFM_DIGEST_SIZE] = '\0';
	return hex;
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
dfm_digest_parse(const char *hex, struct dfm_digest *d)
{
	for (int i = 0; i < DFM_DIGEST_SIZE; i++) {
		int hi = nibble(hex[2 * i]), lo = hi < 0 ? -1 : nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return DFM_ERR_FORMAT;
		d->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * DFM_DIGEST_SIZE] == '\0' ? 0 : DFM_ERR_FORMAT;
}

int
dfm_digest_eq(const struct dfm_digest *a, const struct dfm_digest *b)
{
	return memcmp(a->b, b->b, DFM_DIGEST_SIZE) == 0;
}

struct dfm_hasher *
dfm_hasher_new(void)
{
	XXH3_state_t *s = XXH3_createState();

	if (s)
		XXH3_128bits_reset(s);
	return (struct dfm_hasher *)s;
}

void
dfm_hasher_add(struct dfm_hasher *h, const void *data, size_t size)
{
	XXH3_128bits_update((XXH3_state_t *)h, data, size);
}

struct dfm_digest
dfm_hasher_end(struct dfm_hasher *h)
{
	XXH3_state_t *s = (XXH3_state_t *)h;
	struct dfm_digest d = from_hash(XXH3_128bits_digest(s));

	XXH3_freeState(s);
	return d;
}
