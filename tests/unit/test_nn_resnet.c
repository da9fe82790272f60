/* ResNet-18 against PyTorch (both stems, width 2): logits, loss, every
 * parameter gradient and the running statistics after one forward. */
#include <stdlib.h>

#include "stages/nn/resnet.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

static double
grads_err(const struct dfm_nn_state *st, const struct nn_fixture *f)
{
	double worst = 0;
	char key[160];

	for (int i = 0; i < st->n; i++) {
		const struct dfm_nn_named *e = &st->v[i];
		size_t n = (size_t)dfm_shape_count(e->ndim, e->shape);
		double err;

		if (e->param) {
			snprintf(key, sizeof key, "grad.%s", e->name);
			err = nn_array_err(e->param->grad, n, f, key);
		} else {
			snprintf(key, sizeof key, "after.%s", e->name);
			err = nn_array_err(e->data, n, f, key);
		}
		if (err > 1e-4)
			fprintf(stderr, "  %s: relative error %g\n", key, err);
		worst = err > worst ? err : worst;
	}
	return worst;
}

static void
resnet_case(const char *name, bool imagenet)
{
	struct dfm_resnet_config cfg = {3, 2, imagenet, 1};
	struct dfm_nn_ctx ctx;
	struct nn_fixture f;
	struct dfm_resnet r;
	struct dfm_nn_tensor x = {0}, dlogits = {0};
	const struct dfm_tensor *lab;
	double loss;
	float l;

	if (nn_fixture_open(&f, name))
		return;
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_resnet_init(&r, &cfg), 0);
	CHECK_INT(dfm_nn_state_load(&r.state, f.st, "", false), 0);
	CHECK_INT(nn_fx_tensor(&f, "x", &x), 0);
	lab = nn_fx(&f, "labels");
	CHECK_INT(dfm_resnet_forward(&ctx, &r, &x, true), 0);
	CHECK_PARITY(nn_tensor_err(&r.logits, &f, "logits"));
	CHECK_INT(dfm_nn_softmax_ce(&r.logits, lab->data, &loss, &dlogits), 0);
	l = (float)loss;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "loss"));
	CHECK_INT(dfm_resnet_backward(&ctx, &r, &dlogits), 0);
	CHECK_PARITY(grads_err(&r.state, &f));
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&dlogits);
	dfm_resnet_free(&r);
	dfm_nn_ctx_free(&ctx);
	nn_fixture_close(&f);
}

TEST(nn_resnet_cifar_parity)
{
	resnet_case("resnet_cifar", false);
}

TEST(nn_resnet_imagenet_parity)
{
	resnet_case("resnet_imagenet", true);
}

TEST(nn_resnet_trains)
{
	struct dfm_resnet_config cfg = {4, 4, false, 3};
	struct dfm_nn_adam opt = dfm_nn_adam_make(2e-3f, 0, 0.9f);
	struct dfm_nn_ctx ctx;
	struct dfm_resnet r;
	struct dfm_nn_tensor x = {0};
	int32_t labels[8] = {0, 1, 2, 3, 0, 1, 2, 3};
	double first = 0, loss = 0;

	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_resnet_init(&r, &cfg), 0);
	CHECK_INT(dfm_nn_tensor_shape(&x, 8, 3, 16, 16), 0);
	/* Each class a constant colour: learnable in a few steps. */
	for (int64_t i = 0; i < 8; i++)
		for (int64_t p = 0; p < 256; p++)
			for (int c = 0; c < 3; c++)
				x.data[(i * 256 + p) * 3 + c] = (float)((labels[i] + c) % 4) - 1.5f;
	for (int step = 0; step < 30; step++) {
		CHECK_INT(dfm_resnet_train_step(&ctx, &r, &opt, &x, labels, &loss), 0);
		if (step == 0)
			first = loss;
	}
	CHECK(loss < 0.5 * first);
	dfm_nn_tensor_free(&x);
	dfm_resnet_free(&r);
	dfm_nn_ctx_free(&ctx);
}
