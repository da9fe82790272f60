/* The SNGAN models: one discriminator and one generator step against
 * PyTorch, saving and loading, and bitwise determinism of training. */
#include <stdlib.h>

#include "stages/nn/rng.h"
#include "stages/nn/sngan.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

static struct dfm_sngan_config
small_config(void)
{
	struct dfm_sngan_config cfg = dfm_sngan_defaults(3);

	cfg.g_ch = 8;
	cfg.d_ch = 8;
	cfg.zdim = 16;
	return cfg;
}

/* A convolution bias that a batch norm follows has an analytic gradient of
 * zero: what both sides compute is rounding noise, which Adam scales to a
 * step of up to the learning rate either way.  Such biases can only be
 * compared to within two learning rates, absolutely. */
static double
noise_bias_err(const float *a, size_t n, const struct nn_fixture *f, const char *key,
	       double lr)
{
	const float *b = nn_fx_f32(f, key);
	double worst = 0;

	for (size_t i = 0; b && i < n; i++)
		if (fabs((double)a[i] - b[i]) > worst)
			worst = fabs((double)a[i] - b[i]);
	return b ? worst / (2 * lr) * 1e-4 : 1;
}

static bool
before_batch_norm(const char *name)
{
	return strncmp(name, "block", 5) == 0 && strstr(name, ".bias") &&
	       !strstr(name, ".b1.") && !strstr(name, ".b2.");
}

/* Compares every entry of a model's state with the fixture's "prefix"
 * tensors; returns the largest relative error. */
static double
state_err(const struct dfm_nn_state *st, const struct nn_fixture *f, const char *prefix,
	  double lr)
{
	double worst = 0;
	char key[160];

	for (int i = 0; i < st->n; i++) {
		const struct dfm_nn_named *e = &st->v[i];
		size_t n = (size_t)dfm_shape_count(e->ndim, e->shape);
		double err;

		snprintf(key, sizeof key, "%s%s", prefix, e->name);
		if (lr > 0 && before_batch_norm(e->name))
			err = noise_bias_err(e->data, n, f, key, lr);
		else
			err = nn_array_err(e->data, n, f, key);
		if (err > 1e-4)
			fprintf(stderr, "  %s: relative error %g\n", key, err);
		if (err > worst)
			worst = err;
	}
	return worst;
}

TEST(nn_sngan_step_parity)
{
	struct dfm_sngan_config cfg = small_config();
	struct dfm_nn_ctx ctx;
	struct nn_fixture f;
	struct dfm_sngan s;
	struct dfm_nn_tensor x = {0}, z = {0}, z2 = {0};
	const struct dfm_tensor *yr, *yf, *y2;
	double loss_d = 0, loss_g = 0;
	float l;

	if (nn_fixture_open(&f, "sngan_step"))
		return;
	CHECK_INT(dfm_nn_ctx_init(&ctx, 0), 0);
	CHECK_INT(dfm_sngan_init(&s, &cfg), 0);
	CHECK_INT(dfm_nn_state_load(&s.g.state, f.st, "G.", false), 0);
	CHECK_INT(dfm_nn_state_load(&s.d.state, f.st, "D.", false), 0);
	CHECK_INT(nn_fx_tensor(&f, "x_real", &x), 0);
	CHECK_INT(nn_fx_tensor(&f, "z", &z), 0);
	CHECK_INT(nn_fx_tensor(&f, "z2", &z2), 0);
	yr = nn_fx(&f, "y_real");
	yf = nn_fx(&f, "y_fake");
	y2 = nn_fx(&f, "y2");
	if (!yr || !yf || !y2)
		goto out;
	CHECK_INT(dfm_sngan_d_step(&ctx, &s, &x, yr->data, &z, yf->data, &loss_d), 0);
	CHECK_INT(dfm_sngan_g_step(&ctx, &s, &z2, y2->data, &loss_g), 0);
	l = (float)loss_d;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "loss_d"));
	l = (float)loss_g;
	CHECK_PARITY(nn_array_err(&l, 1, &f, "loss_g"));
	CHECK_PARITY(state_err(&s.g.state, &f, "after.G.", cfg.lr_g));
	CHECK_PARITY(state_err(&s.d.state, &f, "after.D.", 0));
out:
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&z);
	dfm_nn_tensor_free(&z2);
	dfm_sngan_free(&s);
	dfm_nn_ctx_free(&ctx);
	nn_fixture_close(&f);
}
