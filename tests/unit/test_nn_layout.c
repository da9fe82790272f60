/* Channel-blocked layouts: every hand-written kernel gives, on an image in
 * blocks of 16 or 8 channels, exactly what it gives on the same image NHWC,
 * and whole models agree across layouts. */
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"
#include "stages/nn/rng.h"
#include "stages/nn/sngan.h"
#include "tests/unit/test.h"

enum { N = 3, C = 32, H = 6, W = 4 };

/* Whether a and b hold the same numbers, read in NCHW order. */
static bool
same_nchw(const struct dfm_nn_tensor *a, const struct dfm_nn_tensor *b)
{
	float *x = malloc(a->count * sizeof *x), *y = malloc(b->count * sizeof *y);
	bool same = x && y && a->count == b->count &&
		    memcmp(a->dims, b->dims, sizeof a->dims) == 0;

	if (same) {
		dfm_nn_tensor_to_nchw(a, x);
		dfm_nn_tensor_to_nchw(b, y);
		same = memcmp(x, y, a->count * sizeof *x) == 0;
	}
	free(x);
	free(y);
	return same;
}

/* Three tensors of one image set, NHWC and in blocks of 16 and 8. */
struct trio {
	struct dfm_nn_tensor t[3];
};

static const int64_t blocks[3] = {C, 16, 8};

static void
trio_random(struct trio *r, uint64_t stream, int64_t h, int64_t w)
{
	memset(r, 0, sizeof *r);
	CHECK_INT(dfm_nn_tensor_shape(&r->t[0], N, C, h, w), 0);
	dfm_nn_rng_uniform(11, stream, r->t[0].data, r->t[0].count, -1, 1);
	for (int k = 1; k < 3; k++)
		CHECK_INT(dfm_nn_tensor_relayout(&r->t[0], blocks[k], &r->t[k]), 0);
}

static void
trio_free(struct trio *r)
{
	for (int k = 0; k < 3; k++)
		dfm_nn_tensor_free(&r->t[k]);
}

/* All three agree, and each kept its input's layout. */
static void
check_trio(const struct trio *r)
{
	for (int k = 0; k < 3; k++)
		CHECK_INT(r->t[k].cb, blocks[k]);
	CHECK(same_nchw(&r->t[0], &r->t[1]));
	CHECK(same_nchw(&r->t[0], &r->t[2]));
}

TEST(nn_layout_relayout_round_trip)
{
	struct trio a;
	struct dfm_nn_tensor back = {0};

	trio_random(&a, 1, H, W);
	check_trio(&a);
	CHECK_INT(dfm_nn_tensor_relayout(&a.t[1], C, &back), 0);
	CHECK(memcmp(back.data, a.t[0].data, back.count * sizeof(float)) == 0);
	CHECK(dfm_nn_tensor_relayout(&a.t[0], 12, &back) != 0);
	CHECK(dfm_nn_layout_cblock(&a.t[1].md) == 16 && dfm_nn_layout_cblock(&a.t[0].md) == C);
	dfm_nn_tensor_free(&back);
	trio_free(&a);
}

TEST(nn_layout_elementwise_and_spatial)
{
	struct trio x, g, y = {0}, dx = {0};

	trio_random(&x, 2, H, W);
	trio_random(&g, 3, H, W);
	for (int k = 0; k < 3; k++) {
		CHECK_INT(dfm_nn_relu_backward(&x.t[k], &g.t[k], &dx.t[k]), 0);
		CHECK_INT(dfm_nn_add(&x.t[k], &g.t[k], &y.t[k]), 0);
	}
	check_trio(&dx);
	check_trio(&y);
	CHECK(dfm_nn_add(&x.t[0], &g.t[1], &y.t[0]) != 0);
	CHECK(strstr(dfm_nn_errmsg(), "layouts differ") != NULL);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_avgpool2_forward(&x.t[k], &y.t[k]), 0);
	check_trio(&y);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_avgpool2_backward(&y.t[k], &dx.t[k]), 0);
	check_trio(&dx);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_upsample2_forward(&x.t[k], &y.t[k]), 0);
	check_trio(&y);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_upsample2_backward(&y.t[k], &dx.t[k]), 0);
	check_trio(&dx);
	trio_free(&x);
	trio_free(&g);
	trio_free(&y);
	trio_free(&dx);
}

TEST(nn_layout_global_and_window_pools)
{
	struct trio x, g, dx = {0}, y = {0};
	struct dfm_nn_tensor rows[3] = {{0}};
	struct dfm_nn_pool mp[3] = {{3, 2, 1, false, NULL, 0}, {3, 2, 1, false, NULL, 0},
				    {3, 2, 1, false, NULL, 0}};
	struct dfm_nn_pool ap = {3, 1, 1, true, NULL, 0};

	trio_random(&x, 4, H, W);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_global_sum_forward(&x.t[k], &rows[k]), 0);
	CHECK(memcmp(rows[0].data, rows[1].data, rows[0].count * sizeof(float)) == 0);
	CHECK(memcmp(rows[0].data, rows[2].data, rows[0].count * sizeof(float)) == 0);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_global_avg_backward(&rows[0], &x.t[k], &dx.t[k]), 0);
	check_trio(&dx);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_maxpool_forward(&mp[k], &x.t[k], &y.t[k]), 0);
	check_trio(&y);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_maxpool_backward(&mp[k], &x.t[k], &y.t[k], &dx.t[k]), 0);
	check_trio(&dx);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_avgpool_forward(&ap, &x.t[k], &y.t[k]), 0);
	check_trio(&y);
	trio_random(&g, 5, H, W);
	for (int k = 0; k < 3; k++)
		CHECK_INT(dfm_nn_avgpool_backward(&ap, &x.t[k], &g.t[k], &dx.t[k]), 0);
	check_trio(&dx);
	for (int k = 0; k < 3; k++) {
		dfm_nn_pool_free(&mp[k]);
		dfm_nn_tensor_free(&rows[k]);
	}
	trio_free(&x);
	trio_free(&g);
	trio_free(&y);
	trio_free(&dx);
}

/* Plain and conditional batch norm with its fused ReLU, trained, both
 * passes: the sums run in the same order in every layout. */
TEST(nn_layout_batch_norm)
{
	for (int nclass = 0; nclass <= 2; nclass += 2) {
		struct trio x, g, y = {0}, dx = {0};
		struct dfm_nn_bn bn[3];
		int32_t labels[N] = {1, 0, 1};
		float *gamma_grad[3];

		trio_random(&x, 6, H, W);
		trio_random(&g, 7, H, W);
		for (int k = 0; k < 3; k++) {
			CHECK_INT(dfm_nn_bn_init(&bn[k], C, nclass), 0);
			bn[k].relu = true;
			dfm_nn_rng_uniform(12, 1, bn[k].gamma.data, bn[k].gamma.count, 0.5f, 1.5f);
			dfm_nn_rng_uniform(12, 2, bn[k].beta.data, bn[k].beta.count, -0.5f, 0.5f);
			CHECK_INT(dfm_nn_bn_forward(&bn[k], &x.t[k], labels, &y.t[k], true), 0);
			CHECK_INT(dfm_nn_bn_backward(&bn[k], &x.t[k], labels, &g.t[k], &dx.t[k]), 0);
			gamma_grad[k] = bn[k].gamma.grad;
		}
		check_trio(&y);
		check_trio(&dx);
		for (int k = 1; k < 3; k++) {
			CHECK(memcmp(gamma_grad[0], gamma_grad[k],
				     bn[0].gamma.count * sizeof(float)) == 0);
			CHECK(memcmp(bn[0].running_var, bn[k].running_var, C * sizeof(float)) == 0);
		}
		CHECK(dfm_nn_bn_backward(&bn[0], &x.t[0], labels, &g.t[1], &dx.t[0]) != 0);
		for (int k = 0; k < 3; k++)
			dfm_nn_bn_free(&bn[k]);
		trio_free(&x);
		trio_free(&g);
		trio_free(&y);
		trio_free(&dx);
	}
}

/* max |a - b| / max |a| over two arrays. */
static double
rel_err(const float *a, const float *b, size_t n)
{
	double diff = 0, ref = 0;

	for (size_t i = 0; i < n; i++) {
		diff = fabs((double)a[i] - b[i]) > diff ? fabs((double)a[i] - b[i]) : diff;
		ref = fabs((double)a[i]) > ref ? fabs((double)a[i]) : ref;
	}
	return ref > 0 ? diff / ref : diff;
}

/* A 32-channel SNGAN discriminator and generator with activations blocked
 * as the convolutions ask (on AVX-512 and AVX2) and with every activation
 * kept NHWC: scores, image gradients, generated images and the generator's
 * first weight gradient agree to rounding. */
TEST(nn_layout_sngan_matches_nhwc)
{
	struct dfm_sngan_config cfg = dfm_sngan_defaults(3);
	float *score[2], *dimg[2], *img[2], *dlin[2];
	struct dfm_nn_tensor x = {0}, z = {0}, dout = {0}, dx[2] = {{0}}, dg = {0};
	int32_t y[4] = {0, 2, 1, 2};

	cfg.g_ch = cfg.d_ch = 32;
	cfg.zdim = 16;
	CHECK_INT(dfm_nn_tensor_shape(&x, 4, 3, 32, 32), 0);
	CHECK_INT(dfm_nn_tensor_shape(&z, 4, cfg.zdim, 0, 1), 0);
	CHECK_INT(dfm_nn_tensor_shape(&dout, 4, 1, 0, 1), 0);
	CHECK_INT(dfm_nn_tensor_shape(&dg, 4, 3, 32, 32), 0);
	dfm_nn_rng_uniform(13, 1, x.data, x.count, -1, 1);
	dfm_nn_rng_normal(13, 2, z.data, z.count);
	dfm_nn_rng_uniform(13, 3, dout.data, dout.count, -1, 1);
	dfm_nn_rng_uniform(13, 4, dg.data, dg.count, -1, 1);
	for (int k = 0; k < 2; k++) {
		struct dfm_nn_ctx ctx;
		struct dfm_sngan_d d;
		struct dfm_sngan_g g;

		CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
		ctx.conv_algo = DFM_NN_CONV_DIRECT;
		ctx.nhwc = k == 1;
		CHECK_INT(dfm_sngan_d_init(&d, &cfg), 0);
		CHECK_INT(dfm_sngan_g_init(&g, &cfg), 0);
		CHECK_INT(dfm_sngan_d_forward(&ctx, &d, &x, y, true), 0);
		CHECK_INT(dfm_sngan_d_backward(&ctx, &d, &dout, &dx[k], false), 0);
		CHECK_INT(dfm_sngan_g_forward(&ctx, &g, &z, y, true), 0);
		CHECK_INT(dfm_sngan_g_backward(&ctx, &g, &dg), 0);
		score[k] = malloc(4 * sizeof(float));
		dimg[k] = malloc(dx[k].count * sizeof(float));
		img[k] = malloc(g.img.count * sizeof(float));
		dlin[k] = malloc(g.l1.weight.count * sizeof(float));
		memcpy(score[k], d.out.data, 4 * sizeof(float));
		dfm_nn_tensor_to_nchw(&dx[k], dimg[k]);
		dfm_nn_tensor_to_nchw(&g.img, img[k]);
		memcpy(dlin[k], g.l1.weight.grad, g.l1.weight.count * sizeof(float));
		if (k == 0)  /* the blocked run did block its activations */
			CHECK(!ctx.nhwc && d.x[2].cb < d.x[2].dims[1]);
		else
			CHECK(d.x[2].cb == d.x[2].dims[1]);
		dfm_sngan_d_free(&d);
		dfm_sngan_g_free(&g);
		dfm_nn_ctx_free(&ctx);
	}
	CHECK(rel_err(score[1], score[0], 4) < 1e-5);
	CHECK(rel_err(dimg[1], dimg[0], dx[0].count) < 1e-5);
	CHECK(rel_err(img[1], img[0], dg.count) < 1e-5);
	CHECK(rel_err(dlin[1], dlin[0], (size_t)cfg.zdim * 16 * 32) < 1e-4);
	for (int k = 0; k < 2; k++) {
		free(score[k]);
		free(dimg[k]);
		free(img[k]);
		free(dlin[k]);
		dfm_nn_tensor_free(&dx[k]);
	}
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&z);
	dfm_nn_tensor_free(&dout);
	dfm_nn_tensor_free(&dg);
}
