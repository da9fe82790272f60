/* Benchmark driver for "bench ingest-resize": times the ingest and resize
 * kinds, run through the stage API as the engine runs them, on 10,000
 * Fashion-MNIST test images and on the emoji set.  Prints one line per
 * workload: "WORKLOAD MEDIAN_MS IMAGES" over REPS runs (argument 1, default
 * 5), on THREADS threads (argument 2, default 1), as "dfmake -j1 --threads
 * THREADS" would run them; argument 3 picks one workload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "tests/bench/bench.h"

static int threads = 1;

static struct dfm_run *
run_kind(const char *kind, const char *const *kv, const void *in, size_t insize)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find(kind), kind);
	char err[200];

	if (r)
		dfm_run_set_threads(r, threads);
	for (int i = 0; r && kv[i]; i += 2)
		if (dfm_run_param(r, kv[i], kv[i + 1], err, sizeof err))
			fprintf(stderr, "bench-ingest: %s\n", err);
	if (r && in)
		dfm_run_input(r, "data", in, insize, "bench.data");
	if (!r || dfm_run_exec(r)) {
		fprintf(stderr, "bench-ingest: %s failed: %s\n", kind,
			r && dfm_run_failure(r) ? dfm_run_failure(r) : "out of memory");
		dfm_run_free(r);
		return NULL;
	}
	return r;
}

/* One ingest and resize; returns the image count, or -1. */
static long
once(const char *const *ingest)
{
	static const char *const resize[] = {"size", "32", NULL};
	struct dfm_run *a = run_kind("ingest", ingest, NULL, 0), *b = NULL;
	const void *data;
	size_t size;
	struct dfm_dataset ds;
	char err[200];
	long n = -1;

	if (!a)
		return -1;
	data = dfm_run_output(a, "data", &size);
	if ((b = run_kind("resize", resize, data, size))) {
		data = dfm_run_output(b, "data", &size);
		if (dfm_dataset_open(data, size, &ds, err, sizeof err) == 0) {
			n = (long)ds.n;
			dfm_dataset_close(&ds);
		}
	}
	dfm_run_free(a);
	dfm_run_free(b);
	return n;
}

static int
workload(const char *name, const char *const *ingest, int reps)
{
	double t[64];
	long n = 0;

	for (int i = 0; i < reps; i++) {
		double start = 1e3 * bench_now();

		if ((n = once(ingest)) < 0)
			return 1;
		t[i] = 1e3 * bench_now() - start;
	}
	qsort(t, reps, sizeof t[0], bench_cmp_double);
	printf("%s %.1f %ld\n", name, t[reps / 2], n);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *const fmnist[] = {"source", "fmnist", "split", "test", NULL};
	static const char *const emoji[] = {"source", "emoji", NULL};
	int reps = argc > 1 ? atoi(argv[1]) : 5;

	threads = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;

	reps = reps < 1 ? 1 : reps > 64 ? 64 : reps;
	/* Argument 3, when given, runs only the workload it names. */
	if ((argc < 4 || strcmp(argv[3], "fmnist") == 0) && workload("fmnist", fmnist, reps))
		return 1;
	if ((argc < 4 || strcmp(argv[3], "emoji") == 0) && workload("emoji", emoji, reps))
		return 1;
	return 0;
}
