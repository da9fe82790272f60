/* The store: one LMDB environment in a cache directory holding artifacts,
 * actions, run records, logs and small memo entries.  It stores bytes and
 * knows nothing of stages or file formats.
 *
 * Tables (LMDB named databases):
 *   chunks   digest(16) + index(u32 BE)  -> up to DFM_CHUNK_SIZE bytes
 *   meta     digest(16)                  -> u64 size, u32 chunk count
 *   actions  instance key(16)            -> output names and digests
 *   records  instance key(16)            -> run record (JSON text)
 *   logs     instance key(16)            -> log text of the run
 *   memo     any bytes                   -> any bytes (engine bookkeeping)
 *
 * Invariants:
 *   - an artifact's meta entry exists only when all its chunks do, and they
 *     were written in the same transaction;
 *   - an action names only artifacts whose meta entries exist;
 *   - a stage's outputs, action, record and log are written in one
 *     transaction (dfm_store_commit), so a crash leaves all or none;
 *   - every read of an artifact re-hashes its bytes; a mismatch drops the
 *     artifact and every action naming it, and reports DFM_ERR_CORRUPT.
 *
 * A struct dfm_store belongs to the process that opened it; a forked child
 * must open its own.  A process opens a cache once (LMDB's POSIX locks are
 * per process): a second open fails with EBUSY.  Threads of the process may
 * share the store.
 *
 * The initial map size is 1 GiB, or DFMAKE_MAPSIZE bytes when set; the map
 * grows when full.  DFMAKE_FAKE_FSTYPE names a filesystem to pretend the
 * cache is on, for tests of the network filesystem refusal. */
#ifndef DFM_STORE_H
#define DFM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/digest.h"

#define DFM_CHUNK_SIZE (1u << 20)

struct dfm_store;

/* Opens (creating when needed) the store in directory dir.  Refuses a
 * network filesystem with DFM_ERR_NFS; clears reader slots left by dead
 * processes.  Returns 0 and *out, or an error (text in dfm_store_errmsg).
 * The first open in a process tunes glibc's malloc for the whole process:
 * blocks up to 4 MiB come from the heap, which keeps up to 512 MiB free
 * between commits (see store.c). */
int dfm_store_open(const char *dir, struct dfm_store **out);

void dfm_store_close(struct dfm_store *s);

/* The directory the store was opened on.  Valid until close. */
const char *dfm_store_dir(const struct dfm_store *s);

/* Stores bytes as an artifact in a transaction of its own; *digest names
 * it.  Storing bytes that are already present costs one lookup. */
int dfm_store_put(struct dfm_store *s, const void *data, size_t size,
		  struct dfm_digest *digest);

/* Reads an artifact into a new 64-byte-aligned buffer the caller frees with
 * free().  Verifies the digest: on mismatch drops the artifact (and actions
 * naming it) and returns DFM_ERR_CORRUPT; DFM_ERR_NOTFOUND when absent. */
int dfm_store_get(struct dfm_store *s, const struct dfm_digest *digest,
		  void **data, size_t *size);

/* Size of a stored artifact without reading it; DFM_ERR_NOTFOUND when
 * absent.  Does not verify. */
int dfm_store_stat(struct dfm_store *s, const struct dfm_digest *digest,
		   size_t *size);

/* Reads and re-hashes an artifact without keeping it.  0, DFM_ERR_CORRUPT
 * (nothing is dropped) or DFM_ERR_NOTFOUND. */
int dfm_store_verify(struct dfm_store *s, const struct dfm_digest *digest);

/* Removes an artifact; *freed (may be NULL) gets its size. */
int dfm_store_drop(struct dfm_store *s, const struct dfm_digest *digest,
		   size_t *freed);

/* Calls fn for every stored artifact; a nonzero return stops the walk and
 * is returned.  The walk is over a snapshot taken first, so fn may use the
 * store, dropping artifacts included. */
int dfm_store_each(struct dfm_store *s,
		   int (*fn)(const struct dfm_digest *d, size_t size, void *arg),
		   void *arg);

/* One output of an action. */
struct dfm_action_out {
	char *name;
	struct dfm_digest digest;
};

/* An action: the outputs that one instance key produced. */
struct dfm_action {
	size_t nout;
	struct dfm_action_out *out;
};

void dfm_action_free(struct dfm_action *a);

/* Looks up an instance key.  0 and a malloc'd *out (free with
 * dfm_action_free), or DFM_ERR_NOTFOUND. */
int dfm_store_action(struct dfm_store *s, const struct dfm_digest *key,
		     struct dfm_action **out);

/* Forgets an action (not its artifacts, record or log). */
int dfm_store_drop_action(struct dfm_store *s, const struct dfm_digest *key);

/* Calls fn for every action, over a snapshot as dfm_store_each does; a
 * nonzero return stops the walk and is returned.  a is valid during the
 * call only. */
int dfm_store_each_action(struct dfm_store *s,
			  int (*fn)(const struct dfm_digest *key,
				    const struct dfm_action *a, void *arg),
			  void *arg);

/* One output handed to dfm_store_commit. */
struct dfm_output_bytes {
	const char *name;
	const void *data;
	size_t size;
};

/* Commits a finished instance in one write transaction: every output
 * artifact (digests written to outs_digest[i]), the action for key, the run
 * record (JSON, may be NULL) and the log (may be NULL). */
int dfm_store_commit(struct dfm_store *s, const struct dfm_digest *key,
		     size_t nout, const struct dfm_output_bytes *outs,
		     struct dfm_digest *outs_digest,
		     const char *record, const char *log);

/* The run record or log of an instance key, as a malloc'd NUL-terminated
 * string; DFM_ERR_NOTFOUND when absent. */
int dfm_store_record(struct dfm_store *s, const struct dfm_digest *key, char **json);
int dfm_store_log(struct dfm_store *s, const struct dfm_digest *key, char **text);

/* Memo entries: small engine bookkeeping (digests of source files by path,
 * size and time, say).  get returns a malloc'd copy (NUL-terminated beyond
 * *vlen).  Keys must not be empty; keys longer than LMDB's limit (511
 * bytes) are stored under their digest. */
int dfm_store_memo_put(struct dfm_store *s, const void *key, size_t klen,
		       const void *val, size_t vlen);
int dfm_store_memo_get(struct dfm_store *s, const void *key, size_t klen,
		       void **val, size_t *vlen);

/* Total bytes of artifacts and the size of the LMDB data file (its high
 * water mark: LMDB reuses freed pages but never shrinks the file). */
int dfm_store_usage(struct dfm_store *s, uint64_t *artifact_bytes,
		    uint64_t *file_bytes);

/* The text of the calling thread's last store error, for messages: what
 * failed, on which directory or artifact, and why.  s may be NULL, as after a
 * failed dfm_store_open.  Valid until the thread's next store call. */
const char *dfm_store_errmsg(const struct dfm_store *s);

#endif
