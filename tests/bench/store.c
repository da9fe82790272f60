/* Benchmark driver: puts and gets a 256 MB artifact in a fresh cache, and
 * writes (with fdatasync, as a commit does) and reads the same bytes as a
 * plain file.  Prints the medians of five runs of each as
 *   bench store-256mb: dfmake X GB/s, file Y GB/s, ratio R
 * where a throughput is the size over the time of write plus read, and
 * the put and get times on stderr. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/error.h"
#include "cache/store.h"
#include "tests/bench/bench.h"

#define SIZE ((size_t)256 << 20)
#define RUNS 5

static void
fill(uint64_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		p[i] = z ^ (z >> 31);
	}
}

static void
remove_tree(const char *dir)
{
	char path[700];
	const char *names[] = {"data.mdb", "lock.mdb", "bytes"};

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* One put and get in a fresh cache; times in put and get. */
static int
run_store(const char *dir, const void *data, double *put, double *get)
{
	struct dfm_store *s;
	struct dfm_digest d;
	void *back = NULL;
	size_t size;
	double t0, t1, t2;
	int rc;

	rc = dfm_store_open(dir, &s);
	if (rc) {
		fprintf(stderr, "bench-store: %s\n", dfm_store_errmsg(NULL));
		return rc;
	}
	t0 = bench_now();
	rc = dfm_store_put(s, data, SIZE, &d);
	t1 = bench_now();
	if (rc == 0)
		rc = dfm_store_get(s, &d, &back, &size);
	t2 = bench_now();
	if (rc == 0 && (size != SIZE || memcmp(back, data, SIZE) != 0))
		rc = DFM_ERR_CORRUPT;
	if (rc)
		fprintf(stderr, "bench-store: %s\n", dfm_strerror(rc));
	free(back);
	dfm_store_close(s);
	*put = t1 - t0;
	*get = t2 - t1;
	return rc;
}

static int
write_file(const char *path, const uint8_t *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < SIZE) {
		ssize_t n = write(fd, data + done, SIZE - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (fdatasync(fd) != 0)
		done = 0;
	return close(fd) == 0 && done == SIZE ? 0 : -1;
}

static int
read_file(const char *path, void **out)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	size_t done = 0;
	uint8_t *buf;

	*out = NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	buf = aligned_alloc(64, ((size_t)st.st_size + 63) / 64 * 64);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	*out = buf;
	return buf && done == (size_t)st.st_size ? 0 : -1;
}

/* One write and read of a plain file; times in put and get. */
static int
run_file(const char *dir, const void *data, double *put, double *get)
{
	char path[700];
	void *back = NULL;
	double t0, t1, t2;
	int rc;

	if (mkdir(dir, 0777) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/bytes", dir);
	t0 = bench_now();
	rc = write_file(path, data);
	t1 = bench_now();
	if (rc == 0)
		rc = read_file(path, &back);
	t2 = bench_now();
	if (rc == 0 && memcmp(back, data, SIZE) != 0)
		rc = -1;
	free(back);
	*put = t1 - t0;
	*get = t2 - t1;
	return rc;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	double sp[RUNS], sg[RUNS], st[RUNS], fp[RUNS], fg[RUNS], ft[RUNS];
	char top[500], dir[600];
	uint64_t *data = malloc(SIZE);
	int rc = 0;

	snprintf(top, sizeof top, "%s/dfm-bench-store.XXXXXX", tmp);
	if (!data || !mkdtemp(top)) {
		fprintf(stderr, "bench-store: cannot set up in '%s'\n", tmp);
		return 1;
	}
	fill(data, SIZE / 8, 1);
	for (int r = 0; r < RUNS && rc == 0; r++) {
		snprintf(dir, sizeof dir, "%s/store-%d", top, r);
		rc = run_store(dir, data, &sp[r], &sg[r]);
		remove_tree(dir);
		snprintf(dir, sizeof dir, "%s/file-%d", top, r);
		if (rc == 0)
			rc = run_file(dir, data, &fp[r], &fg[r]);
		remove_tree(dir);
		st[r] = sp[r] + sg[r];
		ft[r] = fp[r] + fg[r];
	}
	rmdir(top);
	free(data);
	if (rc) {
		fprintf(stderr, "bench-store: a run failed\n");
		return 1;
	}
	double ours = bench_median(st, RUNS), file = bench_median(ft, RUNS);

	fprintf(stderr, "  dfmake put %.3f s, get %.3f s; file write %.3f s, read %.3f s\n",
		bench_median(sp, RUNS), bench_median(sg, RUNS), bench_median(fp, RUNS),
		bench_median(fg, RUNS));
	fflush(stderr);
	printf("bench store-256mb: dfmake %.2f GB/s, file %.2f GB/s, ratio %.2f\n",
	       SIZE / ours / 1e9, SIZE / file / 1e9, file / ours);
	return 0;
}
