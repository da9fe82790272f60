/* Benchmark driver: SNGAN training iterations (n_dis discriminator steps
 * and one generator step) on random data.
 *
 *   bench-sngan G_CH D_CH BATCH N_DIS ITERS THREADS
 *   bench-sngan peak THREADS
 *
 * Prints one line: "dfmake median S s/iter, G GFLOP/s, peak RSS M MiB", or
 * for "peak" the best GFLOP/s of a 1536-cube oneDNN matrix product, the
 * practical fp32 peak the other figures are set against.
 * FLOPs count the convolutions and linear layers only, a backward pass as
 * twice its forward and a data-only backward as once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cache/error.h"
#include "stages/nn/rng.h"
#include "stages/nn/sngan.h"
#include "tests/bench/bench.h"

/* Forward FLOPs of a k x k convolution producing (n, cout, r, r). */
static double
conv_flops(double n, double cin, double cout, double k, double r)
{
	return 2 * n * r * r * cout * cin * k * k;
}

static double
g_flops(double n, double c, double zdim)
{
	double f = 2 * n * zdim * 16 * c;

	for (double r = 8; r <= 32; r *= 2)
		f += 2 * conv_flops(n, c, c, 3, r) + conv_flops(n, c, c, 1, r);
	return f + conv_flops(n, c, 3, 3, 32);
}

static double
d_flops(double n, double c)
{
	double f = conv_flops(n, 3, c, 3, 32) + conv_flops(n, c, c, 3, 32) +
		   conv_flops(n, 3, c, 1, 16);

	f += 2 * conv_flops(n, c, c, 3, 16) + conv_flops(n, c, c, 1, 16);
	f += 4 * conv_flops(n, c, c, 3, 8);
	return f + 2 * n * c;
}

static double
iteration_flops(const struct dfm_sngan_config *cfg, double b, double n_dis)
{
	double gf = g_flops(b, cfg->g_ch, cfg->zdim);
	double d_step = gf + 3 * d_flops(2 * b, cfg->d_ch);
	double g_step = 3 * gf + 2 * d_flops(b, cfg->d_ch);

	return n_dis * d_step + g_step;
}

struct batch {
	struct dfm_nn_tensor x, z;
	int32_t *y, *yf;
};

static int
fill_batch(struct batch *bt, const struct dfm_sngan_config *cfg, int b, uint64_t step)
{
	int err = dfm_nn_tensor_shape(&bt->x, b, 3, 32, 32);

	if (!err)
		err = dfm_nn_tensor_shape(&bt->z, b, cfg->zdim, 0, 1);
	if (err)
		return err;
	dfm_nn_rng_uniform(step, 1, bt->x.data, bt->x.count, -1, 1);
	dfm_nn_rng_normal(step, 2, bt->z.data, bt->z.count);
	dfm_nn_rng_labels(step, 3, bt->y, (size_t)b, cfg->nclass);
	dfm_nn_rng_labels(step, 4, bt->yf, (size_t)b, cfg->nclass);
	return 0;
}

static int
iteration(const struct dfm_nn_ctx *ctx, struct dfm_sngan *s, struct batch *bt, int b,
	  int n_dis, uint64_t *step)
{
	double loss;
	int err = 0;

	for (int k = 0; k < n_dis && !err; k++) {
		err = fill_batch(bt, &s->cfg, b, (*step)++);
		if (!err)
			err = dfm_sngan_d_step(ctx, s, &bt->x, bt->y, &bt->z, bt->yf, &loss);
	}
	if (!err)
		err = fill_batch(bt, &s->cfg, b, (*step)++);
	if (!err)
		err = dfm_sngan_g_step(ctx, s, &bt->z, bt->yf, &loss);
	return err;
}

static int
peak(int threads)
{
	enum { M = 1536 };
	struct dfm_nn_ctx ctx;
	struct dfm_nn_linear l;
	struct dfm_nn_tensor x = {0}, y = {0};
	double best = 1e30;
	int err;

	err = dfm_nn_ctx_init(&ctx, threads);
	if (!err)
		err = dfm_nn_linear_init(&l, M, M, false, false);
	if (!err)
		err = dfm_nn_tensor_shape(&x, M, M, 0, 1);
	for (int i = 0; i < 8 && !err; i++) {
		double t0 = bench_now();

		err = dfm_nn_linear_forward(&ctx, &l, &x, &y, false);
		if (bench_now() - t0 < best)
			best = bench_now() - t0;
	}
	if (err) {
		fprintf(stderr, "bench-sngan: %s: %s\n", dfm_strerror(err), dfm_nn_errmsg());
		return 1;
	}
	printf("peak %.1f GFLOP/s\n", 2.0 * M * M * M / best * 1e-9);
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_linear_free(&l);
	dfm_nn_ctx_free(&ctx);
	return 0;
}

int
main(int argc, char **argv)
{
	struct dfm_sngan_config cfg = dfm_sngan_defaults(10);
	struct dfm_nn_ctx ctx;
	struct dfm_sngan s;
	struct batch bt = {0};
	struct rusage ru;
	int b, n_dis, iters, err;
	uint64_t step = 0;
	double *t;

	if (argc == 3 && strcmp(argv[1], "peak") == 0)
		return peak(atoi(argv[2]));
	if (argc != 7) {
		fprintf(stderr, "usage: bench-sngan G_CH D_CH BATCH N_DIS ITERS THREADS\n");
		return 2;
	}
	cfg.g_ch = atoi(argv[1]);
	cfg.d_ch = atoi(argv[2]);
	b = atoi(argv[3]);
	n_dis = atoi(argv[4]);
	iters = atoi(argv[5]);
	t = calloc((size_t)iters + 1, sizeof *t);
	bt.y = calloc((size_t)b, sizeof *bt.y);
	bt.yf = calloc((size_t)b, sizeof *bt.yf);
	if (!t || !bt.y || !bt.yf || iters < 1 || b < 1)
		return 2;
	err = dfm_nn_ctx_init(&ctx, atoi(argv[6]));
	if (!err)
		err = dfm_sngan_init(&s, &cfg);
	/* The first iteration builds the primitives: not timed. */
	if (!err)
		err = iteration(&ctx, &s, &bt, b, n_dis, &step);
	for (int i = 0; i < iters && !err; i++) {
		double t0 = bench_now();

		err = iteration(&ctx, &s, &bt, b, n_dis, &step);
		t[i] = bench_now() - t0;
	}
	if (err) {
		fprintf(stderr, "bench-sngan: %s: %s\n", dfm_strerror(err), dfm_nn_errmsg());
		return 1;
	}
	qsort(t, (size_t)iters, sizeof *t, bench_cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("dfmake median %.3f s/iter, %.1f GFLOP/s, peak RSS %.0f MiB\n", t[iters / 2],
	       iteration_flops(&cfg, b, n_dis) / t[iters / 2] * 1e-9, ru.ru_maxrss / 1024.0);
	dfm_sngan_free(&s);
	dfm_nn_ctx_free(&ctx);
	dfm_nn_tensor_free(&bt.x);
	dfm_nn_tensor_free(&bt.z);
	free(bt.y);
	free(bt.yf);
	free(t);
	return 0;
}
