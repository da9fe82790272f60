/* Benchmark driver of the Inception-v3 forward pass: a weights file, one
 * batch of random images at one size, a warm-up pass, then RUNS timed
 * passes.
 *
 *   bench-inception WEIGHTS BATCH SIZE THREADS RUNS
 *
 * Output: one line "images/s MEDIAN". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "stages/nn/inception.h"
#include "tests/bench/bench.h"

/* Median images/s of runs timed passes, or a negative value on failure. */
static double
timed(struct dfm_inception *net, int batch, int size, int runs)
{
	size_t per = (size_t)3 * size * size;
	float *x = malloc(batch * per * sizeof *x);
	float *feat = malloc((size_t)batch * DFM_INCEPTION_FEATURES * sizeof *feat);
	float *logits = malloc((size_t)batch * dfm_inception_nlogits(net) * sizeof *logits);
	double rates[64], median = -1;

	if (!x || !feat || !logits || runs > 64)
		goto out;
	for (size_t i = 0; i < batch * per; i++)
		x[i] = (float)rand() / RAND_MAX;
	if (dfm_inception_forward(net, x, batch, size, size, feat, logits))
		goto out;
	for (int r = 0; r < runs; r++) {
		double t = bench_now();

		if (dfm_inception_forward(net, x, batch, size, size, feat, logits))
			goto out;
		rates[r] = batch / (bench_now() - t);
	}
	qsort(rates, (size_t)runs, sizeof *rates, bench_cmp_double);
	median = rates[runs / 2];
out:
	free(x);
	free(feat);
	free(logits);
	return median;
}

int
main(int argc, char **argv)
{
	struct dfm_nn_ctx ctx;
	struct dfm_inception *net = NULL;
	struct dfm_st *st = NULL;
	size_t size = 0;
	void *buf;
	char err[200];
	double rate = -1;

	if (argc != 6) {
		fprintf(stderr, "usage: bench-inception WEIGHTS BATCH SIZE THREADS RUNS\n");
		return 2;
	}
	if (!(buf = bench_slurp(argv[1], &size)) || dfm_st_open(buf, size, &st, err, sizeof err)) {
		fprintf(stderr, "bench-inception: cannot read weights '%s'\n", argv[1]);
		return 1;
	}
	if (dfm_nn_ctx_init(&ctx, atoi(argv[4])) == 0) {
		if (dfm_inception_new(&ctx, dfm_inception_variant_of(st), st, &net) == 0)
			rate = timed(net, atoi(argv[2]), atoi(argv[3]), atoi(argv[5]));
		dfm_inception_free(net);
		dfm_nn_ctx_free(&ctx);
	}
	if (rate < 0)
		fprintf(stderr, "bench-inception: %s\n", dfm_nn_errmsg());
	else
		printf("images/s %.3f\n", rate);
	dfm_st_close(st);
	free(buf);
	return rate < 0;
}
