/* Inception-v3 against PyTorch, both variants, on random weights that the
 * parity script and tests/unit/inception_fixture.c generate alike: the
 * network input from 32 x 32 images (upsampling and normalisation), then
 * pool features and logits at 75 x 75. */
#include <stdlib.h>

#include "stages/nn/inception.h"
#include "tests/unit/inception_fixture.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

enum { N = 2, SIZE = 75 };

static double
input_err(const struct incep_fixture *f, enum dfm_inception_variant v, float *x)
{
	const struct dfm_tensor *img = dfm_st_get(f->st, "images");
	const struct dfm_tensor *ref = dfm_st_get(f->st, "x");
	size_t per = 3 * SIZE * SIZE;

	if (!img || !ref || img->shape[0] != N)
		return 1;
	for (int i = 0; i < N; i++)
		dfm_inception_input(v, (const uint8_t *)img->data + i * 32 * 32 * 3, 32, 32, 3,
				    SIZE, x + i * per);
	return nn_relerr(x, ref->data, N * per);
}

static double
output_err(const struct incep_fixture *f, const char *name, const float *a, size_t n)
{
	const struct dfm_tensor *t = dfm_st_get(f->st, name);

	if (!t || t->dtype != DFM_F32 || (size_t)dfm_shape_count(t->ndim, t->shape) != n)
		return 1;
	return nn_relerr(a, t->data, n);
}

static void
parity_case(const char *name, enum dfm_inception_variant v, int nlogits)
{
	struct incep_fixture f;
	struct dfm_nn_ctx ctx;
	struct dfm_inception *net = NULL;
	struct dfm_st *wst = NULL;
	float *x = malloc(N * 3 * SIZE * SIZE * sizeof *x);
	float feats[N * DFM_INCEPTION_FEATURES], *logits = malloc(N * 1008 * sizeof *logits);
	void *wbuf;
	size_t wsize;
	char err[200];

	if (incep_fixture_open(&f, name))
		return;
	CHECK(x && logits);
	CHECK((wbuf = incep_weights(&f, &wsize)) != NULL);
	CHECK_INT(dfm_st_open(wbuf, wsize, &wst, err, sizeof err), 0);
	CHECK_INT(dfm_inception_variant_of(wst), v);
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_inception_new(&ctx, v, wst, &net), 0);
	if (net) {
		CHECK_INT(dfm_inception_nlogits(net), nlogits);
		CHECK_PARITY(input_err(&f, v, x));
		CHECK_INT(dfm_inception_forward(net, x, N, SIZE, SIZE, feats, logits), 0);
		CHECK_PARITY(output_err(&f, "features", feats, N * DFM_INCEPTION_FEATURES));
		CHECK_PARITY(output_err(&f, "logits", logits, (size_t)N * nlogits));
	}
	dfm_inception_free(net);
	dfm_nn_ctx_free(&ctx);
	dfm_st_close(wst);
	free(wbuf);
	free(x);
	free(logits);
	incep_fixture_close(&f);
}

TEST(features_inception_fid_parity)
{
	parity_case("fid", DFM_INCEPTION_FID, 1008);
}

TEST(features_inception_keras_parity)
{
	parity_case("keras", DFM_INCEPTION_KERAS, 5);
}

/* Opens bytes as weights and tries to build a network; returns its error. */
static int
try_weights(void *buf, size_t size)
{
	struct dfm_nn_ctx ctx;
	struct dfm_inception *net = NULL;
	struct dfm_st *st = NULL;
	char err[200];
	int rc = -1;

	if (dfm_st_open(buf, size, &st, err, sizeof err) == 0 && dfm_nn_ctx_init(&ctx, 1) == 0) {
		rc = dfm_inception_new(&ctx, DFM_INCEPTION_FID, st, &net);
		dfm_inception_free(net);
		dfm_nn_ctx_free(&ctx);
	}
	dfm_st_close(st);
	return rc;
}

TEST(features_inception_incomplete_weights)
{
	static float w[10 * 2048], b[10];
	int64_t wshape[2] = {10, 2048}, bshape[1] = {10}, bad[2] = {10, 100};
	struct dfm_st_writer *wr;
	void *buf;
	size_t size;

	CHECK((wr = dfm_st_writer_new()) != NULL);
	CHECK_INT(dfm_st_writer_finish(wr, &buf, &size), 0);
	CHECK(try_weights(buf, size) != 0);
	CHECK(strstr(dfm_nn_errmsg(), "no classifier") != NULL);
	free(buf);

	CHECK((wr = dfm_st_writer_new()) != NULL);
	CHECK_INT(dfm_st_add(wr, "fc.weight", DFM_F32, 2, bad, w), 0);
	CHECK_INT(dfm_st_add(wr, "fc.bias", DFM_F32, 1, bshape, b), 0);
	CHECK_INT(dfm_st_writer_finish(wr, &buf, &size), 0);
	CHECK(try_weights(buf, size) != 0);
	CHECK(strstr(dfm_nn_errmsg(), "'fc.weight' is not a classifier layer of 2048 inputs"));
	free(buf);

	CHECK((wr = dfm_st_writer_new()) != NULL);
	CHECK_INT(dfm_st_add(wr, "fc.weight", DFM_F32, 2, wshape, w), 0);
	CHECK_INT(dfm_st_add(wr, "fc.bias", DFM_F32, 1, bshape, b), 0);
	CHECK_INT(dfm_st_writer_finish(wr, &buf, &size), 0);
	CHECK(try_weights(buf, size) != 0);
	CHECK(strstr(dfm_nn_errmsg(), "no tensor 'Conv2d_1a_3x3.conv.weight'") != NULL);
	free(buf);
}
