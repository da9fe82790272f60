/* Parity of each layer of the training library with PyTorch, on the
 * fixtures written by tests/parity/nn_fixtures.py. */
#include <stdlib.h>

#include "cache/error.h"
#include "stages/nn/layer.h"
#include "stages/nn/optim.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

static void
load_sn(struct dfm_nn_sn *sn, const struct nn_fixture *f)
{
	nn_fx_copy(f, "weight_u", sn->u, (size_t)sn->rows);
	nn_fx_copy(f, "weight_v", sn->v, (size_t)sn->cols);
}

static void
check_sn_after(const struct dfm_nn_sn *sn, const struct nn_fixture *f)
{
	CHECK_PARITY(nn_array_err(sn->u, (size_t)sn->rows, f, "weight_u_after"));
	CHECK_PARITY(nn_array_err(sn->v, (size_t)sn->cols, f, "weight_v_after"));
}

/* oneDNN 2.6 has Winograd convolutions on AVX-512 machines only. */
static bool
machine_has_winograd(void)
{
	return dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core;
}

static void
conv_algo_case(const char *name, int cin, int cout, int k, int stride, int pad, bool sn,
	       enum dfm_nn_conv_algo algo)
{
	struct dfm_nn_ctx ctx;
	struct nn_fixture f;
	struct dfm_nn_conv c;
	struct dfm_nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};

	if (nn_fixture_open(&f, name))
		return;
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	ctx.conv_algo = algo;
	CHECK_INT(dfm_nn_conv_init(&c, cin, cout, k, stride, pad, true, sn), 0);
	nn_fx_copy(&f, sn ? "weight_orig" : "weight", c.weight.data, c.weight.count);
	nn_fx_copy(&f, "bias", c.bias.data, c.bias.count);
	if (sn)
		load_sn(&c.sn, &f);
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	CHECK_INT(nn_fx_tensor(&f, "dy", &dy), 0);
	CHECK_INT(dfm_nn_conv_forward(&ctx, &c, &x, &y, true), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "y"));
	CHECK_INT(dfm_nn_conv_backward(&ctx, &c, &x, &dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "dx"));
	CHECK_PARITY(nn_array_err(c.weight.grad, c.weight.count, &f, "dweight"));
	CHECK_PARITY(nn_array_err(c.bias.grad, c.bias.count, &f, "dbias"));
	if (sn)
		check_sn_after(&c.sn, &f);
	/* Winograd where asked for and possible (3x3, stride 1), else direct. */
	CHECK(dfm_nn_conv_winograd(&c, &x) == (algo == DFM_NN_CONV_WINOGRAD && k == 3 &&
					       stride == 1 && machine_has_winograd()));
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
	dfm_nn_conv_free(&c);
	dfm_nn_ctx_free(&ctx);
	nn_fixture_close(&f);
}

/* The same parity under both algorithms. */
static void
conv_case(const char *name, int cin, int cout, int k, int stride, int pad, bool sn)
{
	conv_algo_case(name, cin, cout, k, stride, pad, sn, DFM_NN_CONV_DIRECT);
	conv_algo_case(name, cin, cout, k, stride, pad, sn, DFM_NN_CONV_WINOGRAD);
}

TEST(nn_conv3x3_parity)
{
	conv_case("conv3x3", 5, 7, 3, 1, 1, false);
}

TEST(nn_conv3x3_sn_parity)
{
	conv_case("conv3x3_sn", 5, 7, 3, 1, 1, true);
}

TEST(nn_conv3x3_wide_sn_parity)
{
	conv_case("conv3x3_wide", 16, 32, 3, 1, 1, true);
}

/* Three channels in, blocks out: the forward pass reads NCHW, and dx comes
 * from a backward data pass on padded blocks. */
TEST(nn_conv3x3_rgb_sn_parity)
{
	conv_case("conv3x3_rgb", 3, 32, 3, 1, 1, true);
}

/* Under auto, every convolution of one shape makes the same choice, so that
 * two runs in one process train alike. */
TEST(nn_conv_auto_choice_is_remembered)
{
	struct dfm_nn_ctx ctx;
	struct dfm_nn_conv a, b;
	struct dfm_nn_tensor x = {0}, y = {0};

	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	ctx.conv_algo = DFM_NN_CONV_AUTO;
	CHECK_INT(dfm_nn_conv_init(&a, 16, 16, 3, 1, 1, false, false), 0);
	CHECK_INT(dfm_nn_conv_init(&b, 16, 16, 3, 1, 1, false, false), 0);
	CHECK_INT(dfm_nn_tensor_shape(&x, 4, 16, 8, 8), 0);
	dfm_nn_tensor_zero(&x);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(dfm_nn_conv_forward(&ctx, &a, &x, &y, true), 0);
		CHECK_INT(dfm_nn_conv_forward(&ctx, &b, &x, &y, true), 0);
		CHECK(dfm_nn_conv_winograd(&a, &x) == dfm_nn_conv_winograd(&b, &x));
		dfm_nn_conv_free(&a);
		dfm_nn_conv_free(&b);
		CHECK_INT(dfm_nn_conv_init(&a, 16, 16, 3, 1, 1, false, false), 0);
		CHECK_INT(dfm_nn_conv_init(&b, 16, 16, 3, 1, 1, false, false), 0);
	}
	dfm_nn_conv_free(&a);
	dfm_nn_conv_free(&b);
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_ctx_free(&ctx);
}

TEST(nn_conv_policy_from_environment)
{
	enum dfm_nn_conv_algo algo;
	struct dfm_nn_ctx ctx;

	setenv("DFMAKE_CONV", "winograd", 1);
	CHECK_INT(dfm_nn_conv_algo_from_env(&algo), 0);
	CHECK_INT(algo, DFM_NN_CONV_WINOGRAD);
	setenv("DFMAKE_CONV", "fast", 1);
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), DFM_ERR_USAGE);
	CHECK(strstr(dfm_nn_errmsg(), "DFMAKE_CONV is 'fast'") != NULL);
	unsetenv("DFMAKE_CONV");
	CHECK_INT(dfm_nn_conv_algo_from_env(&algo), 0);
	CHECK_INT(algo, DFM_NN_CONV_AUTO);
}

TEST(nn_conv1x1_stride2_parity)
{
	conv_case("conv1x1_s2", 6, 4, 1, 2, 0, false);
}

TEST(nn_conv3x3_stride2_sn_parity)
{
	conv_case("conv3x3_s2", 3, 4, 3, 2, 1, true);
}

static void
linear_case(const char *name, bool sn)
{
	struct dfm_nn_ctx ctx;
	struct nn_fixture f;
	struct dfm_nn_linear l;
	struct dfm_nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};

	if (nn_fixture_open(&f, name))
		return;
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_nn_linear_init(&l, 6, 5, true, sn), 0);
	nn_fx_copy(&f, sn ? "weight_orig" : "weight", l.weight.data, l.weight.count);
	nn_fx_copy(&f, "bias", l.bias.data, l.bias.count);
	if (sn)
		load_sn(&l.sn, &f);
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	CHECK_INT(nn_fx_tensor(&f, "dy", &dy), 0);
	CHECK_INT(dfm_nn_linear_forward(&ctx, &l, &x, &y, true), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "y"));
	CHECK_INT(dfm_nn_linear_backward(&ctx, &l, &x, &dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "dx"));
	CHECK_PARITY(nn_array_err(l.weight.grad, l.weight.count, &f, "dweight"));
	CHECK_PARITY(nn_array_err(l.bias.grad, l.bias.count, &f, "dbias"));
	if (sn)
		check_sn_after(&l.sn, &f);
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
	dfm_nn_linear_free(&l);
	dfm_nn_ctx_free(&ctx);
	nn_fixture_close(&f);
}

TEST(nn_linear_parity)
{
	linear_case("linear", false);
}

TEST(nn_linear_sn_parity)
{
	linear_case("linear_sn", true);
}

TEST(nn_batchnorm_parity)
{
	struct nn_fixture f;
	struct dfm_nn_bn b;
	struct dfm_nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};

	if (nn_fixture_open(&f, "batchnorm"))
		return;
	CHECK_INT(dfm_nn_bn_init(&b, 5, 0), 0);
	nn_fx_copy(&f, "weight", b.gamma.data, 5);
	nn_fx_copy(&f, "bias", b.beta.data, 5);
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	CHECK_INT(nn_fx_tensor(&f, "dy", &dy), 0);
	CHECK_INT(dfm_nn_bn_forward(&b, &x, NULL, &y, true), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "y"));
	CHECK_INT(dfm_nn_bn_backward(&b, &x, NULL, &dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "dx"));
	CHECK_PARITY(nn_array_err(b.gamma.grad, 5, &f, "dweight"));
	CHECK_PARITY(nn_array_err(b.beta.grad, 5, &f, "dbias"));
	CHECK_PARITY(nn_array_err(b.running_mean, 5, &f, "running_mean"));
	CHECK_PARITY(nn_array_err(b.running_var, 5, &f, "running_var"));
	CHECK_INT(nn_fx_tensor(&f, "x_eval", &x), 0);
	CHECK_INT(dfm_nn_bn_forward(&b, &x, NULL, &y, false), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "y_eval"));
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
	dfm_nn_bn_free(&b);
	nn_fixture_close(&f);
}

TEST(nn_cond_batchnorm_parity)
{
	struct nn_fixture f;
	struct dfm_nn_bn b;
	struct dfm_nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
	const struct dfm_tensor *lab;
	int32_t bad[4] = {0, 3, 0, 0};

	if (nn_fixture_open(&f, "cond_batchnorm"))
		return;
	lab = nn_fx(&f, "labels");
	CHECK_INT(dfm_nn_bn_init(&b, 4, 3), 0);
	nn_fx_copy(&f, "weight", b.gamma.data, 12);
	nn_fx_copy(&f, "bias", b.beta.data, 12);
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	CHECK_INT(nn_fx_tensor(&f, "dy", &dy), 0);
	CHECK(dfm_nn_bn_forward(&b, &x, bad, &y, true) != 0);
	CHECK_INT(dfm_nn_bn_forward(&b, &x, lab->data, &y, true), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "y"));
	CHECK_INT(dfm_nn_bn_backward(&b, &x, lab->data, &dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "dx"));
	CHECK_PARITY(nn_array_err(b.gamma.grad, 12, &f, "dweight"));
	CHECK_PARITY(nn_array_err(b.beta.grad, 12, &f, "dbias"));
	CHECK_PARITY(nn_array_err(b.running_mean, 4, &f, "running_mean"));
	CHECK_PARITY(nn_array_err(b.running_var, 4, &f, "running_var"));
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
	dfm_nn_bn_free(&b);
	nn_fixture_close(&f);
}

TEST(nn_ops_parity)
{
	struct nn_fixture f;
	struct dfm_nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};

	if (nn_fixture_open(&f, "ops"))
		return;
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);

	CHECK_INT(dfm_nn_relu_forward(&x, &y), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "relu.y"));
	CHECK_INT(nn_fx_tensor(&f, "relu.dy", &dy), 0);
	CHECK_INT(dfm_nn_relu_backward(&x, &dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "relu.dx"));

	CHECK_INT(dfm_nn_tanh_forward(&x, &y), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "tanh.y"));
	CHECK_INT(nn_fx_tensor(&f, "tanh.dy", &dy), 0);
	CHECK_INT(dfm_nn_tanh_backward(&y, &dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "tanh.dx"));

	CHECK_INT(dfm_nn_avgpool2_forward(&x, &y), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "avgpool.y"));
	CHECK_INT(nn_fx_tensor(&f, "avgpool.dy", &dy), 0);
	CHECK_INT(dfm_nn_avgpool2_backward(&dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "avgpool.dx"));

	CHECK_INT(dfm_nn_upsample2_forward(&x, &y), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "upsample.y"));
	CHECK_INT(nn_fx_tensor(&f, "upsample.dy", &dy), 0);
	CHECK_INT(dfm_nn_upsample2_backward(&dy, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "upsample.dx"));

	CHECK_INT(dfm_nn_global_sum_forward(&x, &y), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "gsum.y"));
	CHECK_INT(nn_fx_tensor(&f, "gsum.dy", &dy), 0);
	CHECK_INT(dfm_nn_global_sum_backward(&dy, &x, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "gsum.dx"));

	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
	nn_fixture_close(&f);
}

TEST(nn_embedding_sn_parity)
{
	struct nn_fixture f;
	struct dfm_nn_embed e;
	struct dfm_nn_tensor y = {0}, dy = {0};
	const struct dfm_tensor *lab;

	if (nn_fixture_open(&f, "embedding"))
		return;
	lab = nn_fx(&f, "labels");
	CHECK_INT(dfm_nn_embed_init(&e, 4, 6, true), 0);
	nn_fx_copy(&f, "weight_orig", e.weight.data, 24);
	load_sn(&e.sn, &f);
	CHECK_INT(dfm_nn_embed_forward(&e, lab->data, 3, &y, true), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "y"));
	CHECK_INT(nn_fx_tensor(&f, "dy", &dy), 0);
	dfm_nn_embed_backward(&e, lab->data, &dy);
	CHECK_PARITY(nn_array_err(e.weight.grad, 24, &f, "dweight"));
	check_sn_after(&e.sn, &f);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_embed_free(&e);
	nn_fixture_close(&f);
}

TEST(nn_hinge_parity)
{
	struct nn_fixture f;
	struct dfm_nn_tensor d = {0}, dd = {0};
	double loss;
	float l;

	if (nn_fixture_open(&f, "hinge"))
		return;
	CHECK_INT(nn_fx_tensor(&f, "d", &d), 0);
	CHECK_INT(dfm_nn_hinge_d(&d, 3, &loss, &dd), 0);
	l = (float)loss;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "loss_d"));
	CHECK_PARITY(nn_tensor_err(&dd, &f, "dd"));
	CHECK_INT(dfm_nn_hinge_g(&d, &loss, &dd), 0);
	l = (float)loss;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "loss_g"));
	CHECK_PARITY(nn_tensor_err(&dd, &f, "dg"));
	CHECK(dfm_nn_hinge_d(&d, 6, &loss, &dd) != 0);
	dfm_nn_tensor_free(&d);
	dfm_nn_tensor_free(&dd);
	nn_fixture_close(&f);
}

TEST(nn_adam_sgd_parity)
{
	struct nn_fixture f;
	struct dfm_nn_param p;
	struct dfm_nn_param *list[1] = {&p};
	struct dfm_nn_adam a = dfm_nn_adam_make(2e-4f, 0, 0.9f);
	struct dfm_nn_sgd s = {0.1f, 0.9f, 1e-3f, 0, 0};
	const float *grads;
	int64_t shape[1] = {7};

	if (nn_fixture_open(&f, "adam"))
		return;
	grads = nn_fx_f32(&f, "grads");
	CHECK_INT(dfm_nn_param_init(&p, 1, shape), 0);
	nn_fx_copy(&f, "p0", p.data, 7);
	a.decay_steps = 10;
	for (int i = 0; i < 3 && grads; i++) {
		memcpy(p.grad, grads + 7 * i, 7 * sizeof(float));
		dfm_nn_adam_step(&a, list, 1);
	}
	CHECK_PARITY(nn_array_err(p.data, 7, &f, "p3"));
	CHECK_NEAR(dfm_nn_adam_lr(&a), 2e-4 * 0.7, 1e-9);
	dfm_nn_param_free(&p);

	CHECK_INT(dfm_nn_param_init(&p, 1, shape), 0);
	nn_fx_copy(&f, "p0", p.data, 7);
	for (int i = 0; i < 3 && grads; i++) {
		memcpy(p.grad, grads + 7 * i, 7 * sizeof(float));
		dfm_nn_sgd_step(&s, list, 1);
	}
	CHECK_PARITY(nn_array_err(p.data, 7, &f, "sgd_p3"));
	dfm_nn_param_free(&p);
	nn_fixture_close(&f);
}

static void
pool_case(const struct nn_fixture *f, const char *name, struct dfm_nn_pool *p, bool max,
	  const struct dfm_nn_tensor *x)
{
	struct dfm_nn_tensor y = {0}, dy = {0}, dx = {0};
	char key[64];

	if (max)
		CHECK_INT(dfm_nn_maxpool_forward(p, x, &y), 0);
	else
		CHECK_INT(dfm_nn_avgpool_forward(p, x, &y), 0);
	snprintf(key, sizeof key, "%s.y", name);
	CHECK_PARITY(nn_tensor_err(&y, f, key));
	snprintf(key, sizeof key, "%s.dy", name);
	CHECK_INT(nn_fx_tensor(f, key, &dy), 0);
	if (max)
		CHECK_INT(dfm_nn_maxpool_backward(p, x, &dy, &dx), 0);
	else
		CHECK_INT(dfm_nn_avgpool_backward(p, x, &dy, &dx), 0);
	snprintf(key, sizeof key, "%s.dx", name);
	CHECK_PARITY(nn_tensor_err(&dx, f, key));
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
}

TEST(nn_pools_parity)
{
	struct nn_fixture f;
	struct dfm_nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
	struct dfm_nn_pool max3s2p1 = {3, 2, 1, false, NULL, 0};
	struct dfm_nn_pool max3s1p1 = {3, 1, 1, false, NULL, 0};
	struct dfm_nn_pool avg3s1p1x = {3, 1, 1, true, NULL, 0};
	struct dfm_nn_pool avg3s2p0 = {3, 2, 0, false, NULL, 0};
	struct dfm_nn_pool bad = {3, 1, 2, false, NULL, 0};

	if (nn_fixture_open(&f, "pools_losses"))
		return;
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	pool_case(&f, "max3s2p1", &max3s2p1, true, &x);
	pool_case(&f, "max3s1p1", &max3s1p1, true, &x);
	pool_case(&f, "avg3s1p1x", &avg3s1p1x, false, &x);
	pool_case(&f, "avg3s2p0", &avg3s2p0, false, &x);
	CHECK(dfm_nn_avgpool_forward(&bad, &x, &y) != 0);
	CHECK_INT(dfm_nn_global_avg_forward(&x, &y), 0);
	CHECK_PARITY(nn_tensor_err(&y, &f, "gavg.y"));
	CHECK_INT(nn_fx_tensor(&f, "gavg.dy", &dy), 0);
	CHECK_INT(dfm_nn_global_avg_backward(&dy, &x, &dx), 0);
	CHECK_PARITY(nn_tensor_err(&dx, &f, "gavg.dx"));
	dfm_nn_pool_free(&max3s2p1);
	dfm_nn_pool_free(&max3s1p1);
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&dy);
	dfm_nn_tensor_free(&dx);
	nn_fixture_close(&f);
}

TEST(nn_classification_losses_parity)
{
	struct nn_fixture f;
	struct dfm_nn_tensor z = {0}, dz = {0};
	const struct dfm_tensor *lab;
	int32_t bad[4] = {0, 5, 0, 0};
	double loss;
	float l;

	if (nn_fixture_open(&f, "pools_losses"))
		return;
	lab = nn_fx(&f, "ce.labels");
	CHECK_INT(nn_fx_tensor(&f, "ce.logits", &z), 0);
	CHECK_INT(dfm_nn_softmax_ce(&z, lab->data, &loss, &dz), 0);
	l = (float)loss;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "ce.loss"));
	CHECK_PARITY(nn_tensor_err(&dz, &f, "ce.dlogits"));
	CHECK(dfm_nn_softmax_ce(&z, bad, &loss, &dz) != 0);
	CHECK_INT(nn_fx_tensor(&f, "bce.logits", &z), 0);
	CHECK_INT(dfm_nn_bce_logits(&z, nn_fx_f32(&f, "bce.targets"), &loss, &dz), 0);
	l = (float)loss;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "bce.loss"));
	CHECK_PARITY(nn_tensor_err(&dz, &f, "bce.dlogits"));
	dfm_nn_tensor_free(&z);
	dfm_nn_tensor_free(&dz);
	nn_fixture_close(&f);
}

TEST(nn_concat_roundtrip)
{
	struct dfm_nn_tensor a = {0}, b = {0}, y = {0}, s = {0};
	const struct dfm_nn_tensor *xs[2] = {&a, &b};

	CHECK_INT(dfm_nn_tensor_shape(&a, 2, 3, 2, 2), 0);
	CHECK_INT(dfm_nn_tensor_shape(&b, 2, 5, 2, 2), 0);
	for (size_t i = 0; i < a.count; i++)
		a.data[i] = (float)i;
	for (size_t i = 0; i < b.count; i++)
		b.data[i] = -(float)i;
	CHECK_INT(dfm_nn_concat(xs, 2, &y), 0);
	CHECK_INT(y.dims[1], 8);
	/* Pixel 1 of sample 0: a's channels 0..2 then b's 0..4. */
	CHECK(y.data[8] == a.data[3] && y.data[11] == b.data[5]);
	CHECK_INT(dfm_nn_concat_slice(&y, 3, 5, &s), 0);
	CHECK(memcmp(s.data, b.data, b.count * sizeof(float)) == 0);
	CHECK(dfm_nn_concat_slice(&y, 6, 5, &s) != 0);
	CHECK_INT(dfm_nn_tensor_shape(&b, 2, 5, 1, 2), 0);
	CHECK(dfm_nn_concat(xs, 2, &y) != 0);
	dfm_nn_tensor_free(&a);
	dfm_nn_tensor_free(&b);
	dfm_nn_tensor_free(&y);
	dfm_nn_tensor_free(&s);
}

TEST(nn_bad_shapes_are_refused)
{
	struct dfm_nn_ctx ctx;
	struct dfm_nn_conv c;
	struct dfm_nn_linear l;
	struct dfm_nn_tensor x = {0}, y = {0};

	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_nn_conv_init(&c, 4, 8, 3, 1, 1, true, false), 0);
	CHECK_INT(dfm_nn_tensor_shape(&x, 2, 3, 8, 8), 0);
	CHECK_INT(dfm_nn_conv_forward(&ctx, &c, &x, &y, true), DFM_ERR_USAGE);
	CHECK(strstr(dfm_nn_errmsg(), "3 channels") != NULL);
	CHECK_INT(dfm_nn_tensor_shape(&x, 2, 4, 2, 2), 0);
	dfm_nn_conv_free(&c);
	CHECK_INT(dfm_nn_conv_init(&c, 4, 8, 5, 1, 0, true, false), 0);
	CHECK_INT(dfm_nn_conv_forward(&ctx, &c, &x, &y, true), DFM_ERR_USAGE);
	dfm_nn_conv_free(&c);
	CHECK(dfm_nn_conv_init(&c, 4, 8, 0, 1, 0, true, false) != 0);
	CHECK_INT(dfm_nn_linear_init(&l, 5, 2, true, false), 0);
	CHECK_INT(dfm_nn_linear_forward(&ctx, &l, &x, &y, true), DFM_ERR_USAGE);
	CHECK_INT(dfm_nn_avgpool2_forward(&y, &x), DFM_ERR_USAGE);
	dfm_nn_linear_free(&l);
	dfm_nn_conv_free(&c);
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&y);
	dfm_nn_ctx_free(&ctx);
}

TEST(nn_describe_names_version_and_threads)
{
	struct dfm_nn_ctx ctx;
	char buf[128];

	CHECK_INT(dfm_nn_ctx_init(&ctx, 1), 0);
	dfm_nn_describe(&ctx, buf, sizeof buf);
	CHECK(strncmp(buf, "oneDNN 2.", 9) == 0);
	CHECK(strstr(buf, ", 1 threads") != NULL);
	CHECK(strstr(buf, "convolutions") != NULL);
	dfm_nn_ctx_free(&ctx);
}
