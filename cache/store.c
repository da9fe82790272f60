/* The store over LMDB.  Invariants and tables are in store.h; this block
 * says how the environment is opened and why.
 *
 * Durability.  The environment is opened with MDB_NOMETASYNC and without
 * MDB_WRITEMAP.  A commit writes the new pages with write(2), fdatasyncs
 * them, then writes the meta page that makes them reachable without syncing
 * it; the next commit's sync (or the sync at close) carries it.  So:
 *   - a writer killed at any point (kill -9 included) leaves the last
 *     committed state: uncommitted pages live in the writer's heap or in
 *     free pages that no meta page references, and the writer mutex is
 *     robust, so the next writer recovers it;
 *   - a crash of the whole machine may undo the last commit but never
 *     corrupts the tree, because the data pages are on disk before any
 *     meta page points at them.  Losing the last commit only costs a rebuild.
 * MDB_NOSYNC is refused: after a machine crash it can leave a tree whose
 * pages never reached the disk, and a shared cache that is corrupt is worse
 * than one that is slow.
 *
 * No MDB_WRITEMAP: the map stays read-only, so a stray pointer write in
 * stage code cannot corrupt the shared cache, and LMDB never truncates the
 * data file to one process's map size while another maps more of it.
 *
 * MDB_NOTLS: read transactions are not tied to threads, so several threads
 * of one process may read at once.  One rwlock per store guards the map:
 * transactions hold it shared, and changing the map size (growth after
 * MDB_MAP_FULL, adoption after MDB_MAP_RESIZED) holds it exclusive, because
 * LMDB remaps and no transaction of the process may be live then.
 *
 * Sharing.  The directory is made with mode 0777 and the files with 0666,
 * both less the umask: a team sharing a cache runs with umask 002 and gives
 * the directory the setgid bit so that files keep its group.
 *
 * Reads hash while copying, in blocks that stay in the cache, into one
 * aligned buffer; writes reserve each chunk's space in LMDB (MDB_RESERVE)
 * and copy the bytes once.
 *
 * Memory.  LMDB keeps a write transaction's pages in malloc'd blocks, one
 * of just over DFM_CHUNK_SIZE per chunk, until the commit writes them out.
 * glibc serves blocks that size with fresh mappings and unmaps them on
 * free, so every commit would fault in new zeroed pages for all it writes;
 * on a virtual machine that is most of a large commit's time.  The store
 * therefore raises glibc's mmap threshold above a chunk and lets the heap
 * keep up to STORE_HEAP_KEEP bytes free between commits. */
#include <errno.h>
#include <lmdb.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cache/error.h"
#include "cache/store.h"

#define DEFAULT_MAPSIZE ((size_t)1 << 30)
#define MAX_READERS 1022
#define HASH_BLOCK ((size_t)64 << 10)
#define GROW_TRIES 40
#define STORE_MMAP_THRESHOLD (4 * DFM_CHUNK_SIZE)
#define STORE_HEAP_KEEP ((size_t)512 << 20)
#define POPULATE_MIN (4 * DFM_CHUNK_SIZE)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum table { T_CHUNKS, T_META, T_ACTIONS, T_RECORDS, T_LOGS, T_MEMO, T_COUNT };

static const char *const table_names[T_COUNT] = {
	"chunks", "meta", "actions", "records", "logs", "memo",
};

struct dfm_store {
	MDB_env *env;
	MDB_dbi dbi[T_COUNT];
	pthread_rwlock_t map_lock;
	char *dir;
	int opened;
	dev_t dev;
	ino_t ino;
	pid_t pid;
	struct dfm_store *next;
};

/* Caches this process has open.  LMDB's POSIX locks belong to the process,
 * so a second environment on the same files would drop the first one's
 * locks when closed, and another process could then reset the reader table
 * under it.  Entries carry the pid that opened them: a forked child may
 * open the cache its parent has open. */
static pthread_mutex_t open_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct dfm_store *open_list;

static _Thread_local char errmsg[512];

/* A step run inside a transaction; returns 0, an LMDB code or one of ours. */
typedef int (*txn_fn)(struct dfm_store *s, MDB_txn *txn, void *arg);

/* Keeps "what failed: why" for dfm_store_errmsg and returns err. */
__attribute__((format(printf, 2, 3))) static int
fail(int err, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(errmsg, sizeof errmsg, "%s: %s", what, dfm_strerror(err));
	return err;
}

/* Maps a transaction's result to the error scheme: LMDB's own codes become
 * DFM_ERR_STORE (its text is kept for messages), errno values pass. */
static int
lmdb_result(struct dfm_store *s, int rc)
{
	if (rc == MDB_NOTFOUND)
		rc = DFM_ERR_NOTFOUND;
	if (rc)
		fail(rc, "cache '%s'", s->dir);
	if (rc == 0 || rc > 0 || (rc >= DFM_ERR_FIRST && rc < DFM_ERR_LAST))
		return rc;
	return DFM_ERR_STORE;
}

const char *
dfm_store_errmsg(const struct dfm_store *s)
{
	(void)s;
	return errmsg;
}

const char *
dfm_store_dir(const struct dfm_store *s)
{
	return s->dir;
}

/* ---- byte encodings ---- */

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

struct chunk_key {
	uint8_t b[DFM_DIGEST_SIZE + 4];
};

static MDB_val
chunk_key(struct chunk_key *k, const struct dfm_digest *d, uint32_t index)
{
	memcpy(k->b, d->b, DFM_DIGEST_SIZE);
	put_be(k->b + DFM_DIGEST_SIZE, index, 4);
	return (MDB_val){sizeof k->b, k->b};
}

static MDB_val
digest_val(const struct dfm_digest *d)
{
	return (MDB_val){DFM_DIGEST_SIZE, (void *)d->b};
}

static uint32_t
chunk_count(uint64_t size)
{
	return (uint32_t)((size + DFM_CHUNK_SIZE - 1) / DFM_CHUNK_SIZE);
}

static size_t
chunk_len(uint64_t size, uint32_t index)
{
	uint64_t left = size - (uint64_t)index * DFM_CHUNK_SIZE;

	return left < DFM_CHUNK_SIZE ? (size_t)left : DFM_CHUNK_SIZE;
}

/* Meta entry: u64 size, u32 chunk count, big-endian. */
enum { META_LEN = 12 };

static int
meta_read(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d,
	  uint64_t *size)
{
	MDB_val k = digest_val(d), v;
	int rc = mdb_get(txn, s->dbi[T_META], &k, &v);

	if (rc)
		return rc;
	if (v.mv_size != META_LEN)
		return DFM_ERR_CORRUPT;
	*size = get_be(v.mv_data, 8);
	if (get_be((const uint8_t *)v.mv_data + 8, 4) != chunk_count(*size))
		return DFM_ERR_CORRUPT;
	return 0;
}

/* ---- map size ---- */

static int
env_mapsize(const char **text, size_t *size)
{
	char *end;
	unsigned long long v;

	*text = getenv("DFMAKE_MAPSIZE");
	*size = DEFAULT_MAPSIZE;
	if (!*text || !**text)
		return 0;
	errno = 0;
	v = strtoull(*text, &end, 10);
	if (errno || *end || v < 65536 || v > SIZE_MAX)
		return EINVAL;
	*size = (size_t)v;
	return 0;
}

static size_t
current_mapsize(struct dfm_store *s)
{
	MDB_envinfo info;

	mdb_env_info(s->env, &info);
	return info.me_mapsize;
}

/* Grows the map after MDB_MAP_FULL, unless another thread already did
 * since seen was read: at least doubles it, and leaves room for need.
 * First clears reader slots of dead processes: the pages they pinned become
 * free again, which may be all the room the transaction lacked. */
static int
grow_map(struct dfm_store *s, size_t seen, size_t need)
{
	size_t cur, want;
	int rc = 0, dead = 0;

	pthread_rwlock_wrlock(&s->map_lock);
	cur = current_mapsize(s);
	mdb_reader_check(s->env, &dead);
	if (cur == seen && dead == 0) {
		want = cur + need + need / 8 + ((size_t)1 << 20);
		if (want < 2 * cur)
			want = 2 * cur;
		rc = mdb_env_set_mapsize(s->env, want);
	}
	pthread_rwlock_unlock(&s->map_lock);
	return rc;
}

/* Takes over the larger map another process committed (MDB_MAP_RESIZED). */
static int
adopt_map(struct dfm_store *s)
{
	int rc;

	pthread_rwlock_wrlock(&s->map_lock);
	rc = mdb_env_set_mapsize(s->env, 0);
	pthread_rwlock_unlock(&s->map_lock);
	return rc;
}

/* ---- transactions ---- */

/* Runs fn in a read transaction. */
static int
read_txn(struct dfm_store *s, txn_fn fn, void *arg)
{
	MDB_txn *txn;
	int rc = MDB_MAP_RESIZED;

	for (int tries = 0; tries < GROW_TRIES; tries++) {
		pthread_rwlock_rdlock(&s->map_lock);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
		if (rc == 0) {
			rc = fn(s, txn, arg);
			mdb_txn_abort(txn);
		}
		pthread_rwlock_unlock(&s->map_lock);
		if (rc != MDB_MAP_RESIZED)
			return lmdb_result(s, rc);
		rc = adopt_map(s);
		if (rc)
			return lmdb_result(s, rc);
	}
	return lmdb_result(s, MDB_MAP_RESIZED);
}

/* Runs fn in a write transaction and commits it.  When the map is full the
 * whole transaction is undone, the map grown (need is a hint of the bytes
 * the transaction adds) and fn run again from the start. */
static int
write_txn(struct dfm_store *s, size_t need, txn_fn fn, void *arg)
{
	MDB_txn *txn;
	size_t seen;
	int rc;

	for (int tries = 0; tries < GROW_TRIES; tries++) {
		pthread_rwlock_rdlock(&s->map_lock);
		seen = current_mapsize(s);
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc == 0) {
			rc = fn(s, txn, arg);
			if (rc == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
		pthread_rwlock_unlock(&s->map_lock);
		if (rc == MDB_MAP_RESIZED)
			rc = adopt_map(s);
		else if (rc == MDB_MAP_FULL)
			rc = grow_map(s, seen, need);
		else
			return lmdb_result(s, rc);
		if (rc)
			return lmdb_result(s, rc);
	}
	return lmdb_result(s, MDB_MAP_FULL);
}

/* ---- opening ---- */

static int
make_dirs(const char *dir)
{
	char *path;
	int rc = 0;

	if (!*dir)
		return ENOENT;
	path = strdup(dir);
	if (!path)
		return DFM_ERR_NOMEM;
	for (char *p = path + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			rc = errno;
		*p = '/';
	}
	if (rc == 0 && mkdir(path, 0777) != 0 && errno != EEXIST)
		rc = errno;
	free(path);
	return rc;
}

struct fs_kind {
	long magic;
	const char *name;
};

/* Filesystems whose files other hosts can map and lock: LMDB's shared
 * memory map and its lock file only work among processes of one kernel. */
static const struct fs_kind network_fs[] = {
	{0x6969, "nfs"},
	{0x517b, "smb"},
	{0xff534d42, "cifs"},
	{0xfe534d42, "smb2"},
	{0x5346414f, "afs"},
	{0x6b414653, "afs"},
	{0x00c36400, "ceph"},
	{0x01021997, "9p"},
	{0x65735546, "fuse"},
	{0x0bd00bd0, "lustre"},
	{0x47504653, "gpfs"},
	{0x73757245, "coda"},
	{0x564c, "ncp"},
	{0x7461636f, "ocfs2"},
	{0x01161970, "gfs2"},
	{0x013111a8, "ibrix"},
	{0, NULL},
};

/* The network filesystem dir is on, or NULL.  DFMAKE_FAKE_FSTYPE names a
 * filesystem to pretend, so that tests can see the refusal. */
static const char *
network_fs_of(const char *dir)
{
	const char *fake = getenv("DFMAKE_FAKE_FSTYPE");
	struct statfs st;

	for (const struct fs_kind *k = network_fs; fake && k->name; k++) {
		if (strcmp(fake, k->name) == 0)
			return k->name;
	}
	if (fake && *fake)
		return NULL;
	if (statfs(dir, &st) != 0)
		return NULL;
	for (const struct fs_kind *k = network_fs; k->name; k++) {
		if ((unsigned long)st.f_type == (unsigned long)k->magic)
			return k->name;
	}
	return NULL;
}

static int
refuse_network_fs(const char *dir, const char *fs)
{
	snprintf(errmsg, sizeof errmsg,
		 "cache directory '%s' is on a network filesystem (%s): LMDB's locks "
		 "and memory map are not safe across hosts; use a local directory",
		 dir, fs);
	return DFM_ERR_NFS;
}

static int
open_tables(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	unsigned flags = arg ? MDB_CREATE : 0;
	int rc = 0;

	for (int i = 0; i < T_COUNT && rc == 0; i++)
		rc = mdb_dbi_open(txn, table_names[i], flags, &s->dbi[i]);
	return rc;
}

/* Opens the tables, creating them only when one is missing, so that opening
 * an existing cache never waits for a writer. */
static int
find_tables(struct dfm_store *s)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return rc;
	rc = open_tables(s, txn, NULL);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return rc;
	return write_txn(s, 0, open_tables, s);
}

/* Uses the larger of the wanted map size and the one the environment has
 * recorded, so that a small setting never shrinks a grown cache's map. */
static int
settle_mapsize(struct dfm_store *s, size_t want)
{
	int rc = mdb_env_set_mapsize(s->env, 0);

	if (rc == 0 && current_mapsize(s) < want)
		rc = mdb_env_set_mapsize(s->env, want);
	return rc;
}

static int
open_env(struct dfm_store *s, size_t mapsize)
{
	int rc, dead;

	rc = mdb_env_create(&s->env);
	if (rc)
		return rc;
	rc = mdb_env_set_maxdbs(s->env, T_COUNT);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(s->env, MAX_READERS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, mapsize);
	if (rc == 0)
		rc = mdb_env_open(s->env, s->dir, MDB_NOTLS | MDB_NOMETASYNC, 0666);
	s->opened = rc == 0;
	if (rc == 0)
		rc = mdb_reader_check(s->env, &dead);
	if (rc == 0)
		rc = settle_mapsize(s, mapsize);
	return rc;
}

static int
list_open(struct dfm_store *s)
{
	struct stat st;
	int rc = 0;

	if (stat(s->dir, &st) != 0)
		return fail(errno, "cannot open cache '%s'", s->dir);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->pid = getpid();
	pthread_mutex_lock(&open_mutex);
	for (struct dfm_store *o = open_list; o && rc == 0; o = o->next) {
		if (o->dev == s->dev && o->ino == s->ino && o->pid == s->pid)
			rc = EBUSY;
	}
	if (rc == 0) {
		s->next = open_list;
		open_list = s;
	}
	pthread_mutex_unlock(&open_mutex);
	return rc ? fail(rc, "cache '%s' is already open in this process", s->dir) : 0;
}

static void
unlist_open(struct dfm_store *s)
{
	pthread_mutex_lock(&open_mutex);
	for (struct dfm_store **p = &open_list; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&open_mutex);
}

static void
keep_chunk_blocks(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, (int)STORE_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, (int)STORE_HEAP_KEEP);
#endif
}

int
dfm_store_open(const char *dir, struct dfm_store **out)
{
	static pthread_once_t tuned = PTHREAD_ONCE_INIT;
	struct dfm_store *s = NULL;
	const char *fs, *text;
	size_t mapsize;
	int rc;

	*out = NULL;
	pthread_once(&tuned, keep_chunk_blocks);
	if (env_mapsize(&text, &mapsize))
		return fail(EINVAL, "DFMAKE_MAPSIZE '%s' is not a byte count of 64 KiB or more",
			    text);
	rc = make_dirs(dir);
	if (rc)
		return fail(rc, "cannot create cache directory '%s'", dir);
	fs = network_fs_of(dir);
	if (fs)
		return refuse_network_fs(dir, fs);

	s = calloc(1, sizeof *s);
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return fail(DFM_ERR_NOMEM, "cannot open cache '%s'", dir);
	}
	pthread_rwlock_init(&s->map_lock, NULL);
	rc = list_open(s);
	if (rc) {
		dfm_store_close(s);
		return rc;
	}
	rc = open_env(s, mapsize);
	if (rc == 0)
		rc = find_tables(s);
	if (rc) {
		rc = lmdb_result(s, rc);
		dfm_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
dfm_store_close(struct dfm_store *s)
{
	if (!s)
		return;
	unlist_open(s);
	if (s->opened)
		mdb_env_sync(s->env, 1);
	if (s->env)
		mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->map_lock);
	free(s->dir);
	free(s);
}

/* ---- artifacts: writing ---- */

static int drop_artifact(struct dfm_store *s, MDB_txn *txn,
			 const struct dfm_digest *d, size_t *freed);

static int
write_chunks(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d,
	     const uint8_t *data, uint64_t size)
{
	uint32_t n = chunk_count(size);
	struct chunk_key ck;
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		MDB_val k = chunk_key(&ck, d, i);
		MDB_val v = {chunk_len(size, i), NULL};

		rc = mdb_put(txn, s->dbi[T_CHUNKS], &k, &v, MDB_RESERVE);
		if (rc)
			return rc;
		memcpy(v.mv_data, data + (size_t)i * DFM_CHUNK_SIZE, v.mv_size);
	}
	return 0;
}

/* Writes an artifact's chunks and meta entry, unless it is already there. */
static int
write_artifact(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d,
	       const void *data, size_t size)
{
	uint8_t meta[META_LEN];
	MDB_val k = digest_val(d), v = {sizeof meta, meta};
	uint64_t have;
	int rc;

	rc = meta_read(s, txn, d, &have);
	if (rc == DFM_ERR_CORRUPT)
		rc = drop_artifact(s, txn, d, NULL) ? rc : MDB_NOTFOUND;
	if (rc != MDB_NOTFOUND)
		return rc;
	rc = write_chunks(s, txn, d, data, size);
	if (rc)
		return rc;
	put_be(meta, size, 8);
	put_be(meta + 8, chunk_count(size), 4);
	return mdb_put(txn, s->dbi[T_META], &k, &v, 0);
}

struct put_arg {
	const void *data;
	size_t size;
	const struct dfm_digest *digest;
};

static int
put_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct put_arg *a = arg;

	return write_artifact(s, txn, a->digest, a->data, a->size);
}

int
dfm_store_put(struct dfm_store *s, const void *data, size_t size,
	      struct dfm_digest *digest)
{
	struct put_arg a = {data, size, digest};
	size_t have;

	*digest = dfm_digest_of(data, size);
	if (dfm_store_stat(s, digest, &have) == 0)
		return 0;
	return write_txn(s, size, put_step, &a);
}

/* ---- artifacts: reading ---- */

/* Hashes the artifact's chunks, copying them to dst when it is not NULL.
 * DFM_ERR_CORRUPT when a chunk is missing, has the wrong length, or the
 * bytes do not hash to d. */
static int
read_chunks(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d,
	    uint64_t size, uint8_t *dst)
{
	struct dfm_hasher *h = dfm_hasher_new();
	struct chunk_key ck;
	struct dfm_digest got;
	int rc = 0;

	if (!h)
		return DFM_ERR_NOMEM;
	for (uint32_t i = 0; i < chunk_count(size) && rc == 0; i++) {
		MDB_val k = chunk_key(&ck, d, i), v;

		rc = mdb_get(txn, s->dbi[T_CHUNKS], &k, &v);
		if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != chunk_len(size, i)))
			rc = DFM_ERR_CORRUPT;
		for (size_t off = 0; rc == 0 && off < v.mv_size; off += HASH_BLOCK) {
			size_t len = v.mv_size - off < HASH_BLOCK ? v.mv_size - off : HASH_BLOCK;
			const uint8_t *src = (const uint8_t *)v.mv_data + off;

			if (dst) {
				memcpy(dst, src, len);
				src = dst;
				dst += len;
			}
			dfm_hasher_add(h, src, len);
		}
	}
	got = dfm_hasher_end(h);
	if (rc == 0 && !dfm_digest_eq(&got, d))
		rc = DFM_ERR_CORRUPT;
	return rc;
}

/* Maps all of a large new buffer's pages in one call: faulting them in one
 * by one while copying costs a trap per page, which on a virtual machine is
 * a large part of reading an artifact.  Only an optimisation, so kernels
 * without MADV_POPULATE_WRITE (before Linux 5.14) just fault as usual. */
static void
populate(void *buf, size_t size)
{
	uintptr_t lo = ((uintptr_t)buf + 4095) & ~(uintptr_t)4095;
	uintptr_t hi = ((uintptr_t)buf + size) & ~(uintptr_t)4095;

	if (size >= POPULATE_MIN && hi > lo)
		madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

struct get_arg {
	const struct dfm_digest *digest;
	uint8_t *data;
	size_t size;
	int keep;
};

static int
get_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct get_arg *a = arg;
	uint64_t size;
	size_t cap;
	int rc;

	rc = meta_read(s, txn, a->digest, &size);
	if (rc || !a->keep)
		return rc ? rc : read_chunks(s, txn, a->digest, size, NULL);
	if (size > SIZE_MAX - 64)
		return DFM_ERR_CORRUPT;
	cap = ((size_t)size + 63) / 64 * 64;
	a->data = aligned_alloc(64, cap ? cap : 64);
	if (!a->data)
		return DFM_ERR_NOMEM;
	populate(a->data, cap);
	a->size = (size_t)size;
	return read_chunks(s, txn, a->digest, size, a->data);
}

/* Drops the artifact if it is still corrupt when seen by a writer: another
 * process may have replaced it with good bytes in the meantime. */
static int
drop_corrupt_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	const struct dfm_digest *d = arg;
	uint64_t size;
	int rc;

	rc = meta_read(s, txn, d, &size);
	if (rc == 0)
		rc = read_chunks(s, txn, d, size, NULL);
	if (rc == DFM_ERR_CORRUPT)
		return drop_artifact(s, txn, d, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
dfm_store_get(struct dfm_store *s, const struct dfm_digest *digest,
	      void **data, size_t *size)
{
	struct get_arg a = {digest, NULL, 0, 1};
	char hex[DFM_DIGEST_HEX];
	int rc;

	*data = NULL;
	*size = 0;
	rc = read_txn(s, get_step, &a);
	if (rc == 0) {
		*data = a.data;
		*size = a.size;
		return 0;
	}
	free(a.data);
	if (rc != DFM_ERR_CORRUPT)
		return rc;
	write_txn(s, 0, drop_corrupt_step, (void *)digest);
	snprintf(errmsg, sizeof errmsg,
		 "artifact %s in cache '%s' was dropped: %s",
		 dfm_digest_hex(digest, hex), s->dir, dfm_strerror(DFM_ERR_CORRUPT));
	return DFM_ERR_CORRUPT;
}

struct stat_arg {
	const struct dfm_digest *digest;
	uint64_t size;
};

static int
stat_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct stat_arg *a = arg;

	return meta_read(s, txn, a->digest, &a->size);
}

int
dfm_store_stat(struct dfm_store *s, const struct dfm_digest *digest,
	       size_t *size)
{
	struct stat_arg a = {digest, 0};
	int rc = read_txn(s, stat_step, &a);

	*size = rc ? 0 : (size_t)a.size;
	return rc;
}

int
dfm_store_verify(struct dfm_store *s, const struct dfm_digest *digest)
{
	struct get_arg a = {digest, NULL, 0, 0};

	return read_txn(s, get_step, &a);
}

/* ---- actions ---- */

/* Action encoding, all integers big-endian:
 *   u8 version (1), u16 output count,
 *   then per output: u16 name length, the name's bytes (no NUL), the
 *   16-byte digest.
 * Output order is kept as committed. */
enum { ACTION_VERSION = 1, ACTION_HEAD = 3, OUT_FIXED = 2 + DFM_DIGEST_SIZE };

void
dfm_action_free(struct dfm_action *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nout; i++)
		free(a->out[i].name);
	free(a->out);
	free(a);
}

static int
action_size(size_t nout, const struct dfm_output_bytes *outs, size_t *len)
{
	*len = ACTION_HEAD;
	if (nout > UINT16_MAX)
		return EINVAL;
	for (size_t i = 0; i < nout; i++) {
		size_t n = outs[i].name ? strlen(outs[i].name) : 0;

		if (n == 0 || n > UINT16_MAX)
			return EINVAL;
		*len += OUT_FIXED + n;
	}
	return 0;
}

static void
action_encode(uint8_t *p, size_t nout, const struct dfm_output_bytes *outs,
	      const struct dfm_digest *digests)
{
	*p++ = ACTION_VERSION;
	put_be(p, nout, 2);
	p += 2;
	for (size_t i = 0; i < nout; i++) {
		size_t n = strlen(outs[i].name);

		put_be(p, n, 2);
		memcpy(p + 2, outs[i].name, n);
		memcpy(p + 2 + n, digests[i].b, DFM_DIGEST_SIZE);
		p += OUT_FIXED + n;
	}
}

/* Walks an encoded action: calls fn for each output; nonzero stops. */
static int
action_walk(const uint8_t *p, size_t len,
	    int (*fn)(const uint8_t *name, size_t n, const uint8_t *digest, void *arg),
	    void *arg)
{
	const uint8_t *end = p + len;
	size_t nout;
	int rc;

	if (len < ACTION_HEAD || p[0] != ACTION_VERSION)
		return DFM_ERR_FORMAT;
	nout = get_be(p + 1, 2);
	p += ACTION_HEAD;
	for (size_t i = 0; i < nout; i++) {
		size_t n;

		if ((size_t)(end - p) < OUT_FIXED)
			return DFM_ERR_FORMAT;
		n = get_be(p, 2);
		if ((size_t)(end - p) < OUT_FIXED + n)
			return DFM_ERR_FORMAT;
		rc = fn(p + 2, n, p + 2 + n, arg);
		if (rc)
			return rc;
		p += OUT_FIXED + n;
	}
	return p == end ? 0 : DFM_ERR_FORMAT;
}

static int
decode_out(const uint8_t *name, size_t n, const uint8_t *digest, void *arg)
{
	struct dfm_action *a = arg;
	struct dfm_action_out *o = &a->out[a->nout];

	o->name = strndup((const char *)name, n);
	if (!o->name)
		return DFM_ERR_NOMEM;
	memcpy(o->digest.b, digest, DFM_DIGEST_SIZE);
	a->nout++;
	return 0;
}

static int
action_decode(const MDB_val *v, struct dfm_action **out)
{
	const uint8_t *p = v->mv_data;
	struct dfm_action *a;
	size_t nout;
	int rc;

	*out = NULL;
	if (v->mv_size < ACTION_HEAD)
		return DFM_ERR_FORMAT;
	nout = get_be(p + 1, 2);
	a = calloc(1, sizeof *a);
	if (!a || !(a->out = calloc(nout ? nout : 1, sizeof *a->out))) {
		free(a);
		return DFM_ERR_NOMEM;
	}
	rc = action_walk(p, v->mv_size, decode_out, a);
	if (rc) {
		dfm_action_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

struct action_arg {
	const struct dfm_digest *key;
	struct dfm_action *action;
};

static int
action_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct action_arg *a = arg;
	MDB_val k = digest_val(a->key), v;
	int rc = mdb_get(txn, s->dbi[T_ACTIONS], &k, &v);

	return rc ? rc : action_decode(&v, &a->action);
}

int
dfm_store_action(struct dfm_store *s, const struct dfm_digest *key,
		 struct dfm_action **out)
{
	struct action_arg a = {key, NULL};
	int rc = read_txn(s, action_step, &a);

	*out = rc ? NULL : a.action;
	if (rc)
		dfm_action_free(a.action);
	return rc;
}

static int
drop_action_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	MDB_val k = digest_val(arg);

	return mdb_del(txn, s->dbi[T_ACTIONS], &k, NULL);
}

int
dfm_store_drop_action(struct dfm_store *s, const struct dfm_digest *key)
{
	return write_txn(s, 0, drop_action_step, (void *)key);
}

static int
names_digest(const uint8_t *name, size_t n, const uint8_t *digest, void *arg)
{
	(void)name;
	(void)n;
	return memcmp(digest, arg, DFM_DIGEST_SIZE) == 0;
}

/* Deletes every action that names d.  A scan: the table has one entry per
 * instance ever built, and drops are rare (gc, corruption). */
static int
drop_actions_naming(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, s->dbi[T_ACTIONS], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int hit = action_walk(v.mv_data, v.mv_size, names_digest, (void *)d->b);

		if (hit == 1 || hit == DFM_ERR_FORMAT)
			rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- dropping artifacts ---- */

/* Deletes every chunk keyed by d, found by key range rather than by the
 * meta entry's count so that a damaged meta entry leaves nothing behind. */
static int
drop_chunks(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d)
{
	struct chunk_key ck;
	MDB_val k = chunk_key(&ck, d, 0), v;
	MDB_cursor *c;
	int rc;

	rc = mdb_cursor_open(txn, s->dbi[T_CHUNKS], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != sizeof ck.b || memcmp(k.mv_data, d->b, DFM_DIGEST_SIZE))
			break;
		rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int
drop_artifact(struct dfm_store *s, MDB_txn *txn, const struct dfm_digest *d,
	      size_t *freed)
{
	MDB_val k = digest_val(d);
	uint64_t size = 0;
	int rc;

	rc = meta_read(s, txn, d, &size);
	if (rc && rc != DFM_ERR_CORRUPT)
		return rc;
	rc = drop_chunks(s, txn, d);
	if (rc == 0)
		rc = mdb_del(txn, s->dbi[T_META], &k, NULL);
	if (rc == 0)
		rc = drop_actions_naming(s, txn, d);
	if (freed)
		*freed = (size_t)size;
	return rc;
}

struct drop_arg {
	const struct dfm_digest *digest;
	size_t freed;
};

static int
drop_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct drop_arg *a = arg;

	return drop_artifact(s, txn, a->digest, &a->freed);
}

int
dfm_store_drop(struct dfm_store *s, const struct dfm_digest *digest,
	       size_t *freed)
{
	struct drop_arg a = {digest, 0};
	int rc = write_txn(s, 0, drop_step, &a);

	if (freed)
		*freed = rc ? 0 : a.freed;
	return rc;
}

/* ---- walks ---- */

/* Entries copied out of a read transaction, so that the callback runs with
 * no transaction open and may use the store as it likes. */
struct copied {
	size_t n, cap;
	struct entry {
		struct dfm_digest key;
		uint64_t size;
		void *val;
	} *e;
};

static int
copy_entry(struct copied *c, const MDB_val *k, const MDB_val *v, int keep)
{
	struct entry *e;

	if (k->mv_size != DFM_DIGEST_SIZE)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct entry *grown = realloc(c->e, cap * sizeof *grown);

		if (!grown)
			return DFM_ERR_NOMEM;
		c->e = grown;
		c->cap = cap;
	}
	e = &c->e[c->n];
	memcpy(e->key.b, k->mv_data, DFM_DIGEST_SIZE);
	e->size = v->mv_size;
	e->val = NULL;
	if (keep) {
		e->val = malloc(v->mv_size ? v->mv_size : 1);
		if (!e->val)
			return DFM_ERR_NOMEM;
		memcpy(e->val, v->mv_data, v->mv_size);
	} else if (v->mv_size == META_LEN) {
		e->size = get_be(v->mv_data, 8);
	}
	c->n++;
	return 0;
}

static void
copied_free(struct copied *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].val);
	free(c->e);
}

struct copy_arg {
	enum table table;
	struct copied *out;
};

static int
copy_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct copy_arg *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	a->out->n = 0;
	rc = mdb_cursor_open(txn, s->dbi[a->table], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		rc = copy_entry(a->out, &k, &v, a->table != T_META);
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
copy_table(struct dfm_store *s, enum table t, struct copied *out)
{
	struct copy_arg a = {t, out};

	memset(out, 0, sizeof *out);
	return read_txn(s, copy_step, &a);
}

int
dfm_store_each(struct dfm_store *s,
	       int (*fn)(const struct dfm_digest *d, size_t size, void *arg),
	       void *arg)
{
	struct copied c;
	int rc = copy_table(s, T_META, &c);

	for (size_t i = 0; rc == 0 && i < c.n; i++)
		rc = fn(&c.e[i].key, (size_t)c.e[i].size, arg);
	copied_free(&c);
	return rc;
}

int
dfm_store_each_action(struct dfm_store *s,
		      int (*fn)(const struct dfm_digest *key,
				const struct dfm_action *a, void *arg),
		      void *arg)
{
	struct copied c;
	int rc = copy_table(s, T_ACTIONS, &c);

	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		MDB_val v = {(size_t)c.e[i].size, c.e[i].val};
		struct dfm_action *a;

		if (action_decode(&v, &a) != 0)
			continue;
		rc = fn(&c.e[i].key, a, arg);
		dfm_action_free(a);
	}
	copied_free(&c);
	return rc;
}

/* ---- commit ---- */

struct commit_arg {
	const struct dfm_digest *key;
	size_t nout;
	const struct dfm_output_bytes *outs;
	const struct dfm_digest *digests;
	const uint8_t *action;
	size_t action_len;
	const char *record, *log;
};

/* Stores text under key in table t, or deletes an older one when text is
 * NULL, so that a record and log always belong to the latest commit. */
static int
put_text(struct dfm_store *s, MDB_txn *txn, enum table t,
	 const struct dfm_digest *key, const char *text)
{
	MDB_val k = digest_val(key), v;
	int rc;

	if (!text) {
		rc = mdb_del(txn, s->dbi[t], &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	v.mv_size = strlen(text);
	v.mv_data = (void *)text;
	return mdb_put(txn, s->dbi[t], &k, &v, 0);
}

static int
commit_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct commit_arg *a = arg;
	MDB_val k = digest_val(a->key), v = {a->action_len, (void *)a->action};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < a->nout; i++)
		rc = write_artifact(s, txn, &a->digests[i], a->outs[i].data,
				    a->outs[i].size);
	if (rc == 0)
		rc = mdb_put(txn, s->dbi[T_ACTIONS], &k, &v, 0);
	if (rc == 0)
		rc = put_text(s, txn, T_RECORDS, a->key, a->record);
	if (rc == 0)
		rc = put_text(s, txn, T_LOGS, a->key, a->log);
	return rc;
}

int
dfm_store_commit(struct dfm_store *s, const struct dfm_digest *key,
		 size_t nout, const struct dfm_output_bytes *outs,
		 struct dfm_digest *outs_digest,
		 const char *record, const char *log)
{
	struct commit_arg a = {key, nout, outs, outs_digest, NULL, 0, record, log};
	size_t need = 0;
	uint8_t *enc;
	int rc;

	if (action_size(nout, outs, &a.action_len))
		return fail(EINVAL, "commit to cache '%s': an output name is empty or too long",
			    s->dir);
	enc = malloc(a.action_len);
	if (!enc)
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < nout; i++) {
		outs_digest[i] = dfm_digest_of(outs[i].data, outs[i].size);
		need += outs[i].size;
	}
	need += (record ? strlen(record) : 0) + (log ? strlen(log) : 0);
	action_encode(enc, nout, outs, outs_digest);
	a.action = enc;
	rc = write_txn(s, need, commit_step, &a);
	free(enc);
	return rc;
}

/* ---- records, logs, memo ---- */

struct text_arg {
	enum table table;
	MDB_val key;
	char *text;
	size_t len;
};

static int
text_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct text_arg *a = arg;
	MDB_val v;
	int rc = mdb_get(txn, s->dbi[a->table], &a->key, &v);

	if (rc)
		return rc;
	a->text = malloc(v.mv_size + 1);
	if (!a->text)
		return DFM_ERR_NOMEM;
	memcpy(a->text, v.mv_data, v.mv_size);
	a->text[v.mv_size] = '\0';
	a->len = v.mv_size;
	return 0;
}

static int
get_text(struct dfm_store *s, enum table t, MDB_val key, char **out, size_t *len)
{
	struct text_arg a = {t, key, NULL, 0};
	int rc = read_txn(s, text_step, &a);

	if (rc) {
		free(a.text);
		a.text = NULL;
	}
	*out = a.text;
	if (len)
		*len = rc ? 0 : a.len;
	return rc;
}

int
dfm_store_record(struct dfm_store *s, const struct dfm_digest *key, char **json)
{
	return get_text(s, T_RECORDS, digest_val(key), json, NULL);
}

int
dfm_store_log(struct dfm_store *s, const struct dfm_digest *key, char **text)
{
	return get_text(s, T_LOGS, digest_val(key), text, NULL);
}

/* Memo keys longer than LMDB allows are stored under a marker byte and the
 * digest of the key; the marker (0xff) cannot start a short key's 17-byte
 * form by accident unless a caller uses exactly that form. */
struct memo_key {
	uint8_t b[1 + DFM_DIGEST_SIZE];
};

static int
memo_key(struct dfm_store *s, const void *key, size_t klen, struct memo_key *mk,
	 MDB_val *k)
{
	struct dfm_digest d;

	if (klen == 0)
		return EINVAL;
	if (klen <= (size_t)mdb_env_get_maxkeysize(s->env)) {
		*k = (MDB_val){klen, (void *)key};
		return 0;
	}
	d = dfm_digest_of(key, klen);
	mk->b[0] = 0xff;
	memcpy(mk->b + 1, d.b, DFM_DIGEST_SIZE);
	*k = (MDB_val){sizeof mk->b, mk->b};
	return 0;
}

struct memo_arg {
	MDB_val key, val;
};

static int
memo_put_step(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	struct memo_arg *a = arg;

	return mdb_put(txn, s->dbi[T_MEMO], &a->key, &a->val, 0);
}

int
dfm_store_memo_put(struct dfm_store *s, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	struct memo_key mk;
	struct memo_arg a = {{0, NULL}, {vlen, (void *)val}};

	if (memo_key(s, key, klen, &mk, &a.key))
		return fail(EINVAL, "memo key for cache '%s' is empty", s->dir);
	return write_txn(s, vlen + klen, memo_put_step, &a);
}

int
dfm_store_memo_get(struct dfm_store *s, const void *key, size_t klen,
		   void **val, size_t *vlen)
{
	struct memo_key mk;
	MDB_val k;
	char *text;
	int rc;

	*val = NULL;
	*vlen = 0;
	if (memo_key(s, key, klen, &mk, &k))
		return fail(EINVAL, "memo key for cache '%s' is empty", s->dir);
	rc = get_text(s, T_MEMO, k, &text, vlen);
	*val = text;
	return rc;
}

/* ---- usage ---- */

static int
sum_sizes(struct dfm_store *s, MDB_txn *txn, void *arg)
{
	uint64_t *total = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*total = 0;
	rc = mdb_cursor_open(txn, s->dbi[T_META], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (v.mv_size == META_LEN)
			*total += get_be(v.mv_data, 8);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
dfm_store_usage(struct dfm_store *s, uint64_t *artifact_bytes,
		uint64_t *file_bytes)
{
	char *path;
	struct stat st;
	int rc;

	*artifact_bytes = *file_bytes = 0;
	rc = read_txn(s, sum_sizes, artifact_bytes);
	if (rc)
		return rc;
	if (asprintf(&path, "%s/data.mdb", s->dir) < 0)
		return DFM_ERR_NOMEM;
	rc = stat(path, &st) == 0 ? 0 : fail(errno, "cannot stat '%s'", path);
	if (rc == 0)
		*file_bytes = (uint64_t)st.st_size;
	free(path);
	return rc;
}
