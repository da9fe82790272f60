#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "cache/error.h"
#include "cache/store.h"
#include "tests/unit/test.h"

/* Deterministic bytes that differ for every (seed, offset). */
static void
fill(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static void *
bytes(size_t n, uint64_t seed)
{
	void *p = malloc(n ? n : 1);

	if (p)
		fill(p, n, seed);
	return p;
}

static char *
cache_path(void)
{
	static char path[400];

	snprintf(path, sizeof path, "%s/cache", dfm_test_dir());
	return path;
}

static struct dfm_store *
open_cache(void)
{
	struct dfm_store *s = NULL;
	int rc = dfm_store_open(cache_path(), &s);

	if (rc)
		fprintf(stderr, "  open: %s (%s)\n", dfm_strerror(rc), dfm_store_errmsg(NULL));
	return s;
}

/* Puts n bytes, reads them back and compares; returns nonzero when equal. */
static int
roundtrip(struct dfm_store *s, size_t n, uint64_t seed)
{
	uint8_t *data = bytes(n, seed);
	struct dfm_digest d, want = dfm_digest_of(data, n);
	void *got = NULL;
	size_t size = 12345;
	int ok;

	ok = dfm_store_put(s, data, n, &d) == 0 && dfm_digest_eq(&d, &want) &&
	     dfm_store_get(s, &d, &got, &size) == 0 && size == n &&
	     (uintptr_t)got % 64 == 0 && memcmp(got, data, n) == 0;
	free(got);
	free(data);
	return ok;
}

TEST(store_roundtrip_sizes)
{
	struct dfm_store *s = open_cache();

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(roundtrip(s, 0, 1));
	CHECK(roundtrip(s, 1, 2));
	CHECK(roundtrip(s, 1000, 3));
	CHECK(roundtrip(s, DFM_CHUNK_SIZE - 1, 4));
	CHECK(roundtrip(s, DFM_CHUNK_SIZE, 5));
	CHECK(roundtrip(s, DFM_CHUNK_SIZE + 1, 6));
	CHECK(roundtrip(s, 2 * DFM_CHUNK_SIZE + DFM_CHUNK_SIZE / 2, 7));
	dfm_store_close(s);

	s = open_cache();
	CHECK(s != NULL);
	if (s)
		CHECK(roundtrip(s, 1000, 3));
	dfm_store_close(s);
}

TEST(store_dedup_stat_verify_drop)
{
	struct dfm_store *s = open_cache();
	size_t n = 3 * DFM_CHUNK_SIZE / 2, size = 0, freed = 0;
	uint8_t *data = bytes(n, 11);
	struct dfm_digest d1, d2;
	uint64_t art, file1, file2;
	void *got;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_put(s, data, n, &d1), 0);
	CHECK_INT(dfm_store_usage(s, &art, &file1), 0);
	CHECK_INT(dfm_store_put(s, data, n, &d2), 0);
	CHECK(dfm_digest_eq(&d1, &d2));
	CHECK_INT(dfm_store_usage(s, &art, &file2), 0);
	CHECK_INT(art, n);
	CHECK(file2 < file1 + 64 * 1024);

	CHECK_INT(dfm_store_stat(s, &d1, &size), 0);
	CHECK_INT(size, n);
	CHECK_INT(dfm_store_verify(s, &d1), 0);
	CHECK_INT(dfm_store_drop(s, &d1, &freed), 0);
	CHECK_INT(freed, n);
	CHECK_INT(dfm_store_stat(s, &d1, &size), DFM_ERR_NOTFOUND);
	CHECK_INT(dfm_store_verify(s, &d1), DFM_ERR_NOTFOUND);
	CHECK_INT(dfm_store_get(s, &d1, &got, &size), DFM_ERR_NOTFOUND);
	CHECK(got == NULL);
	CHECK_INT(dfm_store_drop(s, &d1, NULL), DFM_ERR_NOTFOUND);
	CHECK_INT(dfm_store_usage(s, &art, &file2), 0);
	CHECK_INT(art, 0);
	free(data);
	dfm_store_close(s);
}

struct seen {
	int n;
	size_t total;
	struct dfm_digest want;
	int found;
};

static int
count_artifact(const struct dfm_digest *d, size_t size, void *arg)
{
	struct seen *w = arg;

	w->n++;
	w->total += size;
	if (dfm_digest_eq(d, &w->want))
		w->found = 1;
	return 0;
}

static int
stop_at_two(const struct dfm_digest *d, size_t size, void *arg)
{
	int *n = arg;

	(void)d;
	(void)size;
	return ++*n == 2 ? 42 : 0;
}

TEST(store_each_and_usage)
{
	struct dfm_store *s = open_cache();
	size_t sizes[3] = {10, 5000, DFM_CHUNK_SIZE + 7};
	struct seen w = {0};
	struct dfm_digest d;
	uint64_t art, file;
	int n = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	for (int i = 0; i < 3; i++) {
		void *data = bytes(sizes[i], 20 + i);

		CHECK_INT(dfm_store_put(s, data, sizes[i], &d), 0);
		free(data);
	}
	w.want = d;
	CHECK_INT(dfm_store_each(s, count_artifact, &w), 0);
	CHECK_INT(w.n, 3);
	CHECK_INT(w.total, sizes[0] + sizes[1] + sizes[2]);
	CHECK(w.found);
	CHECK_INT(dfm_store_each(s, stop_at_two, &n), 42);
	CHECK_INT(n, 2);
	CHECK_INT(dfm_store_usage(s, &art, &file), 0);
	CHECK_INT(art, sizes[0] + sizes[1] + sizes[2]);
	CHECK(file >= art);
	dfm_store_close(s);
}

static struct dfm_digest
key_of(const char *name)
{
	return dfm_digest_of(name, strlen(name));
}

static int
count_action(const struct dfm_digest *key, const struct dfm_action *a, void *arg)
{
	int *n = arg;

	(void)key;
	*n += (int)a->nout;
	return 0;
}

TEST(store_commit_actions_records_logs)
{
	struct dfm_store *s = open_cache();
	struct dfm_digest key = key_of("train-gan/df/seed=1"), dig[3], other;
	uint8_t *big = bytes(2 * DFM_CHUNK_SIZE + 5, 31);
	struct dfm_output_bytes outs[3] = {
		{"weights", big, 2 * DFM_CHUNK_SIZE + 5},
		{"empty", "", 0},
		{"metrics", "{\"is\":7.5}", 10},
	};
	struct dfm_action *a = NULL;
	uint64_t art, file1, file2;
	char *text = NULL;
	void *got = NULL;
	size_t size;
	int n = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_commit(s, &key, 3, outs, dig, "{\"seed\":1}", "step 1\nstep 2\n"), 0);
	CHECK_INT(dfm_store_action(s, &key, &a), 0);
	CHECK(a && a->nout == 3);
	for (size_t i = 0; a && i < a->nout; i++) {
		CHECK_STR(a->out[i].name, outs[i].name);
		CHECK(dfm_digest_eq(&a->out[i].digest, &dig[i]));
	}
	dfm_action_free(a);
	CHECK_INT(dfm_store_get(s, &dig[0], &got, &size), 0);
	CHECK(got && size == outs[0].size && memcmp(got, big, size) == 0);
	free(got);
	CHECK_INT(dfm_store_record(s, &key, &text), 0);
	CHECK_STR(text, "{\"seed\":1}");
	free(text);
	CHECK_INT(dfm_store_log(s, &key, &text), 0);
	CHECK_STR(text, "step 1\nstep 2\n");
	free(text);

	other = key_of("absent");
	CHECK_INT(dfm_store_action(s, &other, &a), DFM_ERR_NOTFOUND);
	CHECK(a == NULL);
	CHECK_INT(dfm_store_record(s, &other, &text), DFM_ERR_NOTFOUND);
	CHECK(text == NULL);

	/* a second instance shares outputs (their chunks are not written again)
	 * and has no record or log */
	other = key_of("evaluate/seed=1");
	CHECK_INT(dfm_store_usage(s, &art, &file1), 0);
	CHECK_INT(dfm_store_commit(s, &other, 1, &outs[0], &dig[0], NULL, NULL), 0);
	CHECK_INT(dfm_store_usage(s, &art, &file2), 0);
	CHECK(file2 < file1 + 64 * 1024);
	CHECK_INT(dfm_store_commit(s, &other, 1, &outs[2], &dig[2], NULL, NULL), 0);
	CHECK_INT(dfm_store_each_action(s, count_action, &n), 0);
	CHECK_INT(n, 4);
	CHECK_INT(dfm_store_log(s, &other, &text), DFM_ERR_NOTFOUND);
	CHECK_INT(dfm_store_drop_action(s, &other), 0);
	CHECK_INT(dfm_store_action(s, &other, &a), DFM_ERR_NOTFOUND);
	CHECK_INT(dfm_store_stat(s, &dig[2], &size), 0);

	outs[1].name = "";
	CHECK_INT(dfm_store_commit(s, &other, 2, outs, dig, NULL, NULL), EINVAL);
	free(big);
	dfm_store_close(s);
}

TEST(store_drop_removes_actions_naming_it)
{
	struct dfm_store *s = open_cache();
	struct dfm_output_bytes shared = {"out", "shared bytes", 12};
	struct dfm_output_bytes own = {"out", "own bytes", 9};
	struct dfm_digest keys[4], d, mine;
	struct dfm_action *a;
	int n = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	for (int i = 0; i < 4; i++) {
		char name[20];

		snprintf(name, sizeof name, "inst%d", i);
		keys[i] = key_of(name);
		CHECK_INT(dfm_store_commit(s, &keys[i], 1, i == 2 ? &own : &shared,
					   i == 2 ? &mine : &d, NULL, NULL), 0);
	}
	CHECK_INT(dfm_store_drop(s, &d, NULL), 0);
	CHECK_INT(dfm_store_each_action(s, count_action, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(dfm_store_action(s, &keys[2], &a), 0);
	CHECK(a && dfm_digest_eq(&a->out[0].digest, &mine));
	dfm_action_free(a);
	dfm_store_close(s);
}

/* Finds needle in the file and flips one byte of the match; 0 on success. */
static int
flip_byte_in_file(const char *path, const void *needle, size_t len)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	uint8_t *buf = NULL, *hit = NULL;
	int rc = -1;

	if (fd < 0 || fstat(fd, &st) != 0)
		goto out;
	buf = malloc((size_t)st.st_size);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto out;
	hit = memmem(buf, (size_t)st.st_size, needle, len);
	if (!hit || memmem(hit + 1, (size_t)(buf + st.st_size - hit - 1), needle, len))
		goto out;
	hit[len / 2] ^= 0x5a;
	if (pwrite(fd, &hit[len / 2], 1, hit + len / 2 - buf) == 1)
		rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

TEST(store_detects_corruption_on_disk)
{
	struct dfm_store *s = open_cache();
	size_t n = 3 * DFM_CHUNK_SIZE, size;
	uint8_t *data = bytes(n, 41);
	struct dfm_output_bytes out = {"images", data, n};
	struct dfm_digest key = key_of("corrupt-me"), d;
	struct dfm_action *a;
	char path[500];
	void *got = NULL;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_commit(s, &key, 1, &out, &d, NULL, NULL), 0);
	dfm_store_close(s);

	snprintf(path, sizeof path, "%s/data.mdb", cache_path());
	CHECK_INT(flip_byte_in_file(path, data + DFM_CHUNK_SIZE + 4096, 64), 0);

	s = open_cache();
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_verify(s, &d), DFM_ERR_CORRUPT);
	CHECK_INT(dfm_store_stat(s, &d, &size), 0);
	CHECK_INT(dfm_store_get(s, &d, &got, &size), DFM_ERR_CORRUPT);
	CHECK(got == NULL);
	CHECK(strstr(dfm_store_errmsg(s), "was dropped") != NULL);
	CHECK_INT(dfm_store_stat(s, &d, &size), DFM_ERR_NOTFOUND);
	CHECK_INT(dfm_store_action(s, &key, &a), DFM_ERR_NOTFOUND);

	CHECK_INT(dfm_store_put(s, data, n, &d), 0);
	CHECK_INT(dfm_store_get(s, &d, &got, &size), 0);
	CHECK(got && size == n && memcmp(got, data, n) == 0);
	free(got);
	free(data);
	dfm_store_close(s);
}

TEST(store_grows_the_map)
{
	struct dfm_store *s;
	size_t n = 20u << 20, size;
	uint8_t *data = bytes(n, 51);
	struct dfm_digest d;
	uint64_t art, file;
	void *got = NULL;

	setenv("DFMAKE_MAPSIZE", "1048576", 1);
	s = open_cache();
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(dfm_store_put(s, data, n, &d), 0);
		CHECK_INT(dfm_store_usage(s, &art, &file), 0);
		CHECK(file > n);
		CHECK_INT(dfm_store_get(s, &d, &got, &size), 0);
		CHECK(got && size == n && memcmp(got, data, n) == 0);
		free(got);
		dfm_store_close(s);
	}
	unsetenv("DFMAKE_MAPSIZE");
	free(data);
}

/* The exit status of a child, or -1 when it did not exit normally. */
static int
wait_status(pid_t pid)
{
	int status = -1;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Puts data as an artifact from a child process; nonzero when that failed. */
static int
put_elsewhere(const uint8_t *data, size_t n)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		struct dfm_store *c = NULL;
		struct dfm_digest d;

		_exit(dfm_store_open(cache_path(), &c) || dfm_store_put(c, data, n, &d));
	}
	waitpid(pid, &status, 0);
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

/* Other processes grow the map; this one must then write and read past its
 * own old map (LMDB's MDB_MAP_RESIZED, in write and in read transactions). */
TEST(store_follows_map_grown_elsewhere)
{
	struct dfm_store *s;
	size_t n = 8u << 20, size;
	uint8_t *data = bytes(2 * n, 61);
	struct dfm_digest d = dfm_digest_of(data, n), d2;
	void *got = NULL;

	setenv("DFMAKE_MAPSIZE", "1048576", 1);
	s = open_cache();
	CHECK(s != NULL);
	if (!s)
		goto out;
	CHECK_INT(dfm_store_put(s, "small", 5, &d2), 0);
	CHECK_INT(put_elsewhere(data, n), 0);
	CHECK_INT(dfm_store_memo_put(s, "k", 1, "v", 1), 0);
	CHECK_INT(put_elsewhere(data + 1, 2 * n - 1), 0);
	CHECK_INT(dfm_store_get(s, &d, &got, &size), 0);
	CHECK(got && size == n && memcmp(got, data, n) == 0);
	free(got);
	fill(data, n, 62);
	CHECK_INT(dfm_store_put(s, data, n, &d2), 0);
	CHECK_INT(dfm_store_verify(s, &d2), 0);
	dfm_store_close(s);
out:
	unsetenv("DFMAKE_MAPSIZE");
	free(data);
}

TEST(store_refuses_network_filesystem)
{
	struct dfm_store *s = NULL;
	char path[500];

	setenv("DFMAKE_FAKE_FSTYPE", "nfs", 1);
	CHECK_INT(dfm_store_open(cache_path(), &s), DFM_ERR_NFS);
	CHECK(s == NULL);
	CHECK(strstr(dfm_store_errmsg(NULL), "network filesystem (nfs)") != NULL);
	CHECK(strstr(dfm_store_errmsg(NULL), cache_path()) != NULL);
	snprintf(path, sizeof path, "%s/data.mdb", cache_path());
	CHECK(access(path, F_OK) != 0);
	setenv("DFMAKE_FAKE_FSTYPE", "fuse", 1);
	CHECK_INT(dfm_store_open(cache_path(), &s), DFM_ERR_NFS);
	unsetenv("DFMAKE_FAKE_FSTYPE");
	CHECK_INT(dfm_store_open(cache_path(), &s), 0);
	dfm_store_close(s);
}

TEST(store_opens_a_cache_once_per_process)
{
	struct dfm_store *s = open_cache(), *again = NULL;
	char other[500];
	pid_t pid;
	int status = -1;

	CHECK(s != NULL);
	snprintf(other, sizeof other, "%s/.", cache_path());
	CHECK_INT(dfm_store_open(other, &again), EBUSY);
	CHECK(again == NULL);
	CHECK(strstr(dfm_store_errmsg(NULL), "already open") != NULL);
	pid = fork();
	if (pid == 0) {
		struct dfm_store *c = NULL;

		_exit(dfm_store_open(cache_path(), &c) != 0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	dfm_store_close(s);
	CHECK_INT(dfm_store_open(other, &again), 0);
	dfm_store_close(again);
}

TEST(store_rejects_bad_mapsize)
{
	struct dfm_store *s = NULL;

	setenv("DFMAKE_MAPSIZE", "12k", 1);
	CHECK_INT(dfm_store_open(cache_path(), &s), EINVAL);
	CHECK(strstr(dfm_store_errmsg(NULL), "'12k'") != NULL);
	unsetenv("DFMAKE_MAPSIZE");
}

TEST(store_files_follow_umask)
{
	mode_t old = umask(002);
	struct dfm_store *s = open_cache();
	struct stat st;
	char path[500];

	umask(old);
	CHECK(s != NULL);
	CHECK_INT(stat(cache_path(), &st), 0);
	CHECK_INT(st.st_mode & 0777, 0775);
	snprintf(path, sizeof path, "%s/data.mdb", cache_path());
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0664);
	snprintf(path, sizeof path, "%s/lock.mdb", cache_path());
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0664);
	dfm_store_close(s);
}

TEST(store_memo)
{
	struct dfm_store *s = open_cache();
	char long1[2000], long2[2000];
	void *val = NULL;
	size_t len;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_memo_put(s, "src/a.c", 7, "v1", 2), 0);
	CHECK_INT(dfm_store_memo_put(s, "src/a.c", 7, "version2", 8), 0);
	CHECK_INT(dfm_store_memo_get(s, "src/a.c", 7, &val, &len), 0);
	CHECK(val && len == 8 && memcmp(val, "version2", 8) == 0);
	free(val);
	CHECK_INT(dfm_store_memo_get(s, "src/b.c", 7, &val, &len), DFM_ERR_NOTFOUND);
	CHECK(val == NULL);
	CHECK_INT(dfm_store_memo_put(s, "", 0, "x", 1), EINVAL);

	memset(long1, 'p', sizeof long1);
	memcpy(long2, long1, sizeof long2);
	long2[sizeof long2 - 1] = 'q';
	CHECK_INT(dfm_store_memo_put(s, long1, sizeof long1, "one", 3), 0);
	CHECK_INT(dfm_store_memo_put(s, long2, sizeof long2, "two", 3), 0);
	CHECK_INT(dfm_store_memo_get(s, long1, sizeof long1, &val, &len), 0);
	CHECK(val && len == 3 && memcmp(val, "one", 3) == 0);
	free(val);
	CHECK_INT(dfm_store_memo_get(s, long2, sizeof long2, &val, &len), 0);
	CHECK(val && len == 3 && memcmp(val, "two", 3) == 0);
	free(val);
	dfm_store_close(s);
}

/* ---- several processes ---- */

enum { KILL_OUTS = 3 };

/* Random bytes made once: an output is a slice of it with its instance and
 * output number stamped at the front, so that making one costs nothing
 * next to committing it and a kill lands inside a commit most of the time. */
static uint8_t *kill_pool;

/* The outputs of instance i of the kill test: sizes up to 3.5 chunks. */
static size_t
kill_out_size(int i, int j)
{
	return (size_t)(i % 5 + j + 1) * DFM_CHUNK_SIZE / 2 + (size_t)i;
}

static void
kill_out_bytes(uint8_t *dst, int i, int j)
{
	uint64_t stamp = (uint64_t)i * 10 + (uint64_t)j;

	memcpy(dst, kill_pool + j * 4 * DFM_CHUNK_SIZE, kill_out_size(i, j));
	memcpy(dst, &stamp, sizeof stamp);
}

static int
kill_commit(struct dfm_store *s, int i, uint8_t *buf)
{
	struct dfm_output_bytes outs[KILL_OUTS];
	struct dfm_digest dig[KILL_OUTS], key;
	char name[32], record[64];
	size_t off = 0;

	snprintf(name, sizeof name, "inst-%d", i);
	key = key_of(name);
	for (int j = 0; j < KILL_OUTS; j++) {
		outs[j].name = j == 0 ? "a" : j == 1 ? "b" : "c";
		outs[j].size = kill_out_size(i, j);
		outs[j].data = buf + off;
		kill_out_bytes(buf + off, i, j);
		off += outs[j].size;
	}
	snprintf(record, sizeof record, "{\"i\":%d}", i);
	return dfm_store_commit(s, &key, KILL_OUTS, outs, dig, record, name);
}

/* Child of the kill test: announces each commit before starting it. */
static void
kill_child(int first, int fd)
{
	struct dfm_store *s = NULL;
	uint8_t *buf = malloc(12 * DFM_CHUNK_SIZE);

	if (!buf || dfm_store_open(cache_path(), &s))
		_exit(1);
	for (int i = first;; i++) {
		if (write(fd, &i, sizeof i) != sizeof i || kill_commit(s, i, buf))
			_exit(1);
	}
}

struct kill_check {
	int actions, bad;
	int seen[1000];
};

/* The instance number of a complete, correct action, or -1. */
static int
check_instance(struct dfm_store *s, const struct dfm_digest *key,
	       const struct dfm_action *a)
{
	char *record = NULL;
	int i = -1;

	if (dfm_store_record(s, key, &record) != 0 || sscanf(record, "{\"i\":%d}", &i) != 1 ||
	    i < 0 || i >= 1000 || a->nout != KILL_OUTS)
		i = -1;
	free(record);
	for (size_t j = 0; i >= 0 && j < a->nout; j++) {
		size_t n = kill_out_size(i, (int)j), size;
		uint8_t *want = malloc(n);
		void *got = NULL;

		if (want)
			kill_out_bytes(want, i, (int)j);
		if (!want || dfm_store_get(s, &a->out[j].digest, &got, &size) != 0 || size != n ||
		    memcmp(got, want, n) != 0)
			i = -1;
		free(want);
		free(got);
	}
	return i;
}

static struct dfm_store *kill_store;

static int
check_kill_action(const struct dfm_digest *key, const struct dfm_action *a, void *arg)
{
	struct kill_check *k = arg;
	int i = check_instance(kill_store, key, a);

	k->actions++;
	if (i < 0)
		k->bad++;
	else
		k->seen[i] = 1;
	return 0;
}

static int
verify_each(const struct dfm_digest *d, size_t size, void *arg)
{
	int *bad = arg;

	(void)size;
	if (dfm_store_verify(kill_store, d) != 0)
		++*bad;
	return 0;
}

TEST(store_commit_survives_sigkill)
{
	struct kill_check *k = calloc(1, sizeof *k);
	int first = 0, bad = 0, lost = 0;
	uint8_t committed[1000] = {0};
	uint8_t *buf = malloc(12 * DFM_CHUNK_SIZE);
	struct seen w = {0};

	kill_pool = bytes(12 * DFM_CHUNK_SIZE, 71);
	for (int round = 0; round < 4; round++) {
		int fds[2], i = -1, status;
		pid_t pid;

		CHECK_INT(pipe(fds), 0);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			kill_child(first, fds[1]);
		}
		close(fds[1]);
		for (int got = 0; got < 3 + round; got++)
			CHECK(read(fds[0], &i, sizeof i) == sizeof i);
		usleep(1000 + 1500 * (unsigned)round);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status));
		while (read(fds[0], &i, sizeof i) == sizeof i)
			;
		close(fds[0]);
		/* announcing i means commit i - 1 had returned */
		for (int j = first; j < i; j++)
			committed[j] = 1;
		first = i + 1;
	}

	kill_store = open_cache();
	CHECK(kill_store != NULL);
	if (!kill_store)
		goto out;
	CHECK_INT(dfm_store_each_action(kill_store, check_kill_action, k), 0);
	CHECK_INT(k->bad, 0);
	CHECK(k->actions >= 14);
	for (int i = 0; i < 1000; i++)
		lost += committed[i] && !k->seen[i];
	CHECK_INT(lost, 0);
	CHECK_INT(dfm_store_each(kill_store, verify_each, &bad), 0);
	CHECK_INT(bad, 0);
	CHECK_INT(dfm_store_each(kill_store, count_artifact, &w), 0);
	CHECK_INT(w.n, KILL_OUTS * k->actions);
	CHECK_INT(kill_commit(kill_store, 999, buf), 0);
	dfm_store_close(kill_store);
out:
	free(kill_pool);
	free(buf);
	free(k);
}

enum { WRITERS = 4, WRITES = 8 };

static int
writer(int id)
{
	struct dfm_store *s = NULL;
	uint8_t *mine = malloc(DFM_CHUNK_SIZE + 100);
	uint8_t *shared = bytes(DFM_CHUNK_SIZE / 3, 999);
	int rc = dfm_store_open(cache_path(), &s);

	for (int i = 0; rc == 0 && i < WRITES; i++) {
		struct dfm_output_bytes outs[2] = {
			{"own", mine, DFM_CHUNK_SIZE + (size_t)i},
			{"shared", shared, DFM_CHUNK_SIZE / 3},
		};
		struct dfm_digest dig[2], key;
		char name[32];

		fill(mine, DFM_CHUNK_SIZE + (size_t)i, (uint64_t)(1000 + id * 100 + i));
		snprintf(name, sizeof name, "w%d-%d", id, i);
		key = key_of(name);
		rc = dfm_store_commit(s, &key, 2, outs, dig, name, NULL);
	}
	dfm_store_close(s);
	return rc != 0;
}

TEST(store_concurrent_writers)
{
	pid_t pids[WRITERS];
	struct dfm_store *s;
	struct seen w = {0};
	int n = 0, bad = 0;

	for (int id = 0; id < WRITERS; id++) {
		pids[id] = fork();
		if (pids[id] == 0)
			_exit(writer(id));
	}
	for (int id = 0; id < WRITERS; id++) {
		int status = -1;

		waitpid(pids[id], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	s = kill_store = open_cache();
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_each_action(s, count_action, &n), 0);
	CHECK_INT(n, 2 * WRITERS * WRITES);
	CHECK_INT(dfm_store_each(s, count_artifact, &w), 0);
	CHECK_INT(w.n, WRITERS * WRITES + 1);
	CHECK_INT(dfm_store_each(s, verify_each, &bad), 0);
	CHECK_INT(bad, 0);
	for (int id = 0; id < WRITERS; id++) {
		char name[32], *rec = NULL;
		struct dfm_digest key;

		snprintf(name, sizeof name, "w%d-%d", id, WRITES - 1);
		key = key_of(name);
		CHECK_INT(dfm_store_record(s, &key, &rec), 0);
		CHECK_STR(rec, name);
		free(rec);
	}
	dfm_store_close(s);
}

enum { THREADS = 4 };

struct thread_arg {
	struct dfm_store *s;
	int id, ok;
};

static void *
thread_work(void *p)
{
	struct thread_arg *t = p;

	t->ok = 1;
	for (int i = 0; i < 3; i++)
		t->ok &= roundtrip(t->s, 2 * DFM_CHUNK_SIZE + (size_t)i, (uint64_t)(t->id * 10 + i));
	return NULL;
}

/* Threads share one store while its map grows under them; a fresh cache
 * each round, so that the map grows from 1 MiB several times a round. */
TEST(store_threads_share_a_growing_map)
{
	struct thread_arg t[THREADS];
	pthread_t tid[THREADS];
	char dir[500];

	setenv("DFMAKE_MAPSIZE", "1048576", 1);
	for (int round = 0; round < 8; round++) {
		struct dfm_store *s = NULL;
		struct seen w = {0};

		snprintf(dir, sizeof dir, "%s/round%d", cache_path(), round);
		CHECK_INT(dfm_store_open(dir, &s), 0);
		if (!s)
			break;
		for (int i = 0; i < THREADS; i++) {
			t[i] = (struct thread_arg){s, i, 0};
			CHECK_INT(pthread_create(&tid[i], NULL, thread_work, &t[i]), 0);
		}
		for (int i = 0; i < THREADS; i++) {
			pthread_join(tid[i], NULL);
			CHECK(t[i].ok);
		}
		CHECK_INT(dfm_store_each(s, count_artifact, &w), 0);
		CHECK_INT(w.n, 3 * THREADS);
		dfm_store_close(s);
	}
	unsetenv("DFMAKE_MAPSIZE");
}

/* ---- reader slots of dead processes ---- */

struct slot_count {
	pid_t pid;
	int n;
};

static int
count_slot(const char *line, void *arg)
{
	struct slot_count *c = arg;
	int pid;

	if (sscanf(line, "%d", &pid) == 1 && pid == c->pid)
		c->n++;
	return 0;
}

static MDB_env *
raw_env(void)
{
	MDB_env *env = NULL;

	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
	    mdb_env_open(env, cache_path(), MDB_NOTLS, 0666))
		_exit(9);
	return env;
}

/* Child: the number of reader slots that pid holds, as the exit status. */
static pid_t
fork_slot_counter(pid_t pid)
{
	pid_t child = fork();

	if (child == 0) {
		struct slot_count c = {pid, 0};

		mdb_reader_list(raw_env(), count_slot, &c);
		_exit(c.n);
	}
	return child;
}

TEST(store_clears_readers_of_dead_processes)
{
	struct dfm_store *s = open_cache();
	struct dfm_digest d;
	char ready;
	int fds[2];
	pid_t reader, pid;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(dfm_store_put(s, "bytes", 5, &d), 0);
	CHECK_INT(pipe(fds), 0);
	reader = fork();
	if (reader == 0) {
		MDB_txn *txn;

		if (mdb_txn_begin(raw_env(), NULL, MDB_RDONLY, &txn) || write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	CHECK(read(fds[0], &ready, 1) == 1);
	kill(reader, SIGKILL);
	waitpid(reader, NULL, 0);

	/* the dead reader's slot is there until a store opens the cache */
	CHECK_INT(wait_status(fork_slot_counter(reader)), 1);
	pid = fork();
	if (pid == 0) {
		struct dfm_store *c = NULL;

		_exit(dfm_store_open(cache_path(), &c) != 0);
	}
	CHECK_INT(wait_status(pid), 0);
	CHECK_INT(wait_status(fork_slot_counter(reader)), 0);
	close(fds[0]);
	close(fds[1]);
	dfm_store_close(s);
}
