/* Benchmark driver of the metric stages: runs a kind through the stage API
 * on artifacts read from files, several times, and prints the median wall
 * time and the result.
 *
 *   bench-metrics msssim DATA THREADS RUNS [CONVENTION]
 *   bench-metrics fid A B THREADS RUNS
 *
 * Output: one line "seconds MEDIAN value VALUE cpu CPU", CPU being the
 * process's CPU seconds per run, which load on a shared machine disturbs
 * less than wall time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "engine/run.h"
#include "tests/bench/bench.h"

static double
clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One timed run; returns seconds, or a negative number on failure, and the
 * value of field `field` of the result in *value. */
static double
timed_run(struct dfm_run *r, const char *field, double *value)
{
	double t0 = clock_seconds(CLOCK_MONOTONIC), t;
	const char *out;
	size_t size;
	json_object *res;
	char *text;

	if (dfm_run_exec(r) != 0) {
		fprintf(stderr, "bench-metrics: %s\n", dfm_run_failure(r));
		return -1;
	}
	t = clock_seconds(CLOCK_MONOTONIC) - t0;
	out = dfm_run_output(r, "result", &size);
	if (!(text = strndup(out, size)) || !(res = json_tokener_parse(text))) {
		free(text);
		return -1;
	}
	*value = json_object_get_double(json_object_object_get(res, field));
	json_object_put(res);
	free(text);
	return t;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench-metrics msssim DATA THREADS RUNS [CONVENTION]\n"
		"       bench-metrics fid A B THREADS RUNS\n");
	return 2;
}

int
main(int argc, char **argv)
{
	int fid = argc >= 6 && strcmp(argv[1], "fid") == 0;
	int nfiles = fid ? 2 : 1, threads, runs;
	void *file[2] = {NULL, NULL};
	size_t size[2] = {0, 0};
	double times[32], value = 0, cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	char err[200];

	if (!fid && !(argc >= 5 && strcmp(argv[1], "msssim") == 0))
		return usage();
	threads = atoi(argv[2 + nfiles]);
	runs = atoi(argv[3 + nfiles]);
	if (runs < 1 || runs > 32)
		return usage();
	for (int k = 0; k < nfiles; k++)
		if (!(file[k] = bench_slurp(argv[2 + k], &size[k]))) {
			fprintf(stderr, "bench-metrics: cannot read '%s'\n", argv[2 + k]);
			return 1;
		}
	for (int i = 0; i < runs; i++) {
		struct dfm_run *r = dfm_run_new(dfm_kind_find(fid ? "fid" : "ms-ssim"), "bench");

		dfm_run_set_threads(r, threads);
		if (fid) {
			dfm_run_input(r, "a", file[0], size[0], "a.features");
			dfm_run_input(r, "b", file[1], size[1], "b.features");
		} else {
			dfm_run_input(r, "data", file[0], size[0], "data.data");
			if (argc > 5)
				dfm_run_param(r, "convention", argv[5], err, sizeof err);
		}
		times[i] = timed_run(r, fid ? "fid" : "mean", &value);
		dfm_run_free(r);
		if (times[i] < 0)
			return 1;
	}
	qsort(times, (size_t)runs, sizeof times[0], bench_cmp_double);
	printf("seconds %.3f value %.10g cpu %.3f\n", times[runs / 2], value,
	       (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / runs);
	free(file[0]);
	free(file[1]);
	return 0;
}
