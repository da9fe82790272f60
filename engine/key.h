/* Instance keys: XXH3-128 over a canonical, versioned byte encoding of a
 * stage instance's kind, kind version, typed parameters (sorted by name),
 * input artifact digests (in slot order) and the digests of the external
 * files its kind reads.  Nothing else: no paths, times, hosts or thread
 * counts.  docs/design.md specifies the encoding byte by byte. */
#ifndef DFM_KEY_H
#define DFM_KEY_H

#include <stddef.h>

#include "cache/digest.h"
#include "engine/param.h"

#define DFM_KEY_ENCODING 1

/* The inputs bound to one slot, in order. */
struct dfm_key_slot {
	const char *name;
	size_t n;
	const struct dfm_digest *digests;
};

struct dfm_key_input {
	const char *kind;
	int kind_version;
	size_t nparams;
	const char *const *param_names;
	const struct dfm_value *params;     /* parallel to param_names */
	size_t nslots;
	const struct dfm_key_slot *slots;
	size_t nsources;
	const struct dfm_digest *sources;   /* external files, in kind order */
};

/* Writes the canonical encoding into a malloc'd buffer the caller frees.
 * Returns 0 or DFM_ERR_NOMEM. */
int dfm_key_encode(const struct dfm_key_input *in, unsigned char **buf, size_t *len);

/* The key: the digest of the canonical encoding. */
int dfm_key(const struct dfm_key_input *in, struct dfm_digest *key);

#endif
