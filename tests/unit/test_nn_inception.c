/* The FID Inception-v3 forward against PyTorch, at a sixteenth of the
 * channels on two 75x75 images.  Weights follow a formula both sides
 * compute (see formula_fill in tests/parity/nn_fixtures.py), so that the
 * fixture holds only the images and the features. */
#include <stdlib.h>

#include "stages/nn/inception.h"
#include "stages/nn/rng.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void
formula_fill(const struct dfm_nn_named *e)
{
	size_t n = (size_t)dfm_shape_count(e->ndim, e->shape);
	double phase = (double)(dfm_nn_rng_stream(e->name) % 1000) / 100.0;
	double fan = (double)n / (double)e->shape[0];

	for (size_t i = 0; i < n; i++) {
		double s = sin((double)i * 1.7 + phase), v;

		if (ends_with(e->name, "conv.weight"))
			v = s * 2.0 / sqrt(fan);
		else if (ends_with(e->name, "running_var"))
			v = 1.0 + 0.5 * fabs(s);
		else if (ends_with(e->name, "bn.weight"))
			v = 1.0 + 0.2 * s;
		else
			v = 0.1 * s;
		e->data[i] = (float)v;
	}
}

TEST(nn_inception_fid_parity)
{
	struct dfm_nn_ctx ctx;
	struct nn_fixture f;
	struct dfm_inception net;
	struct dfm_nn_tensor x = {0}, small = {0};

	if (nn_fixture_open(&f, "inception"))
		return;
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_inception_init(&net, 16), 0);
	CHECK(dfm_nn_state_get(&net.state, "Mixed_7c.branch3x3dbl_3b.bn.running_var") != NULL);
	for (int i = 0; i < net.state.n; i++)
		formula_fill(&net.state.v[i]);
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	CHECK_INT(dfm_inception_forward(&ctx, &net, &x), 0);
	CHECK_INT(net.features.dims[1], 128);
	CHECK_PARITY(nn_tensor_err(&net.features, &f, "features"));
	CHECK_INT(dfm_nn_tensor_shape(&small, 1, 3, 64, 64), 0);
	CHECK(dfm_inception_forward(&ctx, &net, &small) != 0);
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&small);
	dfm_inception_free(&net);
	dfm_nn_ctx_free(&ctx);
	nn_fixture_close(&f);
}

TEST(nn_inception_full_size_names)
{
	struct dfm_inception net;
	const struct dfm_nn_named *e;

	CHECK_INT(dfm_inception_init(&net, 1), 0);
	e = dfm_nn_state_get(&net.state, "Mixed_6b.branch7x7_2.conv.weight");
	CHECK(e && e->shape[0] == 128 && e->shape[2] == 1 && e->shape[3] == 7);
	e = dfm_nn_state_get(&net.state, "Mixed_7c.branch_pool.conv.weight");
	CHECK(e && e->shape[0] == 192 && e->shape[1] == 2048);
	/* 94 convolutions, each with a batch norm: weight, gamma, beta. */
	CHECK_INT(net.state.nparams, 3 * 94);
	dfm_inception_free(&net);
	CHECK(dfm_inception_init(&net, 3) != 0);
}
