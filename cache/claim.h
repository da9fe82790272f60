/* Claims: at most one process on a host builds an instance key at a time.
 *
 * A claim is an exclusive lock (flock) on the file claims/KEY.lock in the
 * cache directory.  The kernel drops the lock when its holder dies, however
 * it dies, so a claim left by a dead process is taken over by the next
 * process that asks.  The file also records the holder's pid and host, for
 * messages.  The file is removed on release; a claimer checks after locking
 * that the path still names the file it locked, so removal cannot let two
 * processes hold one claim. */
#ifndef DFM_CLAIM_H
#define DFM_CLAIM_H

#include "cache/digest.h"

struct dfm_claim;

/* Tries to claim key without waiting.  0 and *out when claimed;
 * DFM_ERR_BUSY when another live process holds it (then *holder, when not
 * NULL, gets a static "pid N on HOST" description); another error else. */
int dfm_claim_try(const char *cache_dir, const struct dfm_digest *key,
		  struct dfm_claim **out, const char **holder);

/* Claims key, waiting as long as another process holds it. */
int dfm_claim_wait(const char *cache_dir, const struct dfm_digest *key,
		   struct dfm_claim **out);

/* The claim's lock file descriptor, for a child process that inherits the
 * claim: the lock lives as long as any holder of the descriptor. */
int dfm_claim_fd(const struct dfm_claim *c);

/* Releases the claim and removes its lock file.  Call it once no child
 * that inherited the descriptor is still building under the claim: the
 * removed file no longer excludes anyone. */
void dfm_claim_release(struct dfm_claim *c);

#endif
