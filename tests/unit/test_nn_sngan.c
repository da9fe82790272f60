/* The SNGAN models: one discriminator and one generator step against
 * PyTorch, saving and loading, and bitwise determinism of training. */
#include <errno.h>
#include <stdlib.h>

#include "cache/error.h"
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

/* Trains a small SNGAN for steps iterations (one D and one G step each) on
 * generated data with the given thread count; returns its saved state. */
static int
train_small(int threads, int steps, void **out, size_t *size)
{
	struct dfm_sngan_config cfg = small_config();
	struct dfm_nn_ctx ctx;
	struct dfm_sngan s;
	struct dfm_nn_tensor x = {0}, z = {0};
	int32_t y[4], yf[4];
	double loss;
	int err;

	cfg.decay_steps = steps;
	err = dfm_nn_ctx_init(&ctx, threads);
	if (err)
		return err;
	err = dfm_sngan_init(&s, &cfg);
	if (!err)
		err = dfm_nn_tensor_shape(&x, 4, 3, 32, 32);
	if (!err)
		err = dfm_nn_tensor_shape(&z, 4, cfg.zdim, 0, 1);
	for (int i = 0; !err && i < steps; i++) {
		dfm_nn_rng_uniform(5, (uint64_t)i, x.data, x.count, -1, 1);
		dfm_nn_rng_normal(6, (uint64_t)i, z.data, z.count);
		dfm_nn_rng_labels(7, (uint64_t)i, y, 4, 3);
		dfm_nn_rng_labels(8, (uint64_t)i, yf, 4, 3);
		err = dfm_sngan_d_step(&ctx, &s, &x, y, &z, yf, &loss);
		if (!err)
			err = dfm_sngan_g_step(&ctx, &s, &z, yf, &loss);
	}
	if (!err)
		err = dfm_nn_state_save(&s.g.state, out, size);
	if (!err) {
		void *d;
		size_t dsize;

		err = dfm_nn_state_save(&s.d.state, &d, &dsize);
		if (!err) {
			void *both = realloc(*out, *size + dsize);

			if (both) {
				memcpy((char *)both + *size, d, dsize);
				*out = both;
				*size += dsize;
			} else {
				err = ENOMEM;
			}
			free(d);
		}
	}
	dfm_nn_tensor_free(&x);
	dfm_nn_tensor_free(&z);
	dfm_sngan_free(&s);
	dfm_nn_ctx_free(&ctx);
	return err;
}

TEST(nn_sngan_deterministic_20_steps)
{
	void *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;

	CHECK_INT(train_small(2, 20, &a, &na), 0);
	CHECK_INT(train_small(2, 20, &b, &nb), 0);
	CHECK(na > 0 && na == nb && memcmp(a, b, na) == 0);
	free(a);
	free(b);
}

TEST(nn_sngan_init_is_seeded)
{
	struct dfm_sngan_config cfg = small_config();
	struct dfm_sngan_g g1, g2, g3;
	const struct dfm_nn_named *w1, *w2, *w3;
	double sum = 0, bound = M_SQRT2 * sqrt(6.0 / (8 * 9 + 8 * 9));

	CHECK_INT(dfm_sngan_g_init(&g1, &cfg), 0);
	CHECK_INT(dfm_sngan_g_init(&g2, &cfg), 0);
	cfg.seed = 2;
	CHECK_INT(dfm_sngan_g_init(&g3, &cfg), 0);
	w1 = dfm_nn_state_get(&g1.state, "block2.c1.weight");
	w2 = dfm_nn_state_get(&g2.state, "block2.c1.weight");
	w3 = dfm_nn_state_get(&g3.state, "block2.c1.weight");
	CHECK(w1 && w2 && w3);
	if (w1 && w2 && w3) {
		size_t n = 8 * 8 * 9;
		float lo = 0, hi = 0;

		CHECK(memcmp(w1->data, w2->data, n * sizeof(float)) == 0);
		CHECK(memcmp(w1->data, w3->data, n * sizeof(float)) != 0);
		for (size_t i = 0; i < n; i++) {
			sum += w1->data[i];
			lo = w1->data[i] < lo ? w1->data[i] : lo;
			hi = w1->data[i] > hi ? w1->data[i] : hi;
		}
		/* Glorot with gain sqrt 2: uniform in +-bound, mean near 0. */
		CHECK(hi <= bound && lo >= -bound && hi > 0.9 * bound && lo < -0.9 * bound);
		CHECK(fabs(sum / n) < 0.05 * bound);
	}
	CHECK(dfm_nn_state_get(&g1.state, "block2.b1.weight.weight") != NULL);
	CHECK(dfm_nn_state_get(&g1.state, "b5.running_var") != NULL);
	dfm_sngan_g_free(&g1);
	dfm_sngan_g_free(&g2);
	dfm_sngan_g_free(&g3);
}

TEST(nn_sngan_state_roundtrip)
{
	struct dfm_sngan_config cfg = small_config();
	struct dfm_sngan_d d1, d2;
	struct dfm_st *st;
	void *buf = NULL;
	size_t size = 0;
	char err[200];

	CHECK_INT(dfm_sngan_d_init(&d1, &cfg), 0);
	cfg.seed = 9;
	CHECK_INT(dfm_sngan_d_init(&d2, &cfg), 0);
	CHECK_INT(dfm_nn_state_save(&d1.state, &buf, &size), 0);
	CHECK_INT(dfm_st_open(buf, size, &st, err, sizeof err), 0);
	CHECK(dfm_st_get(st, "block1.c1.weight_orig") != NULL);
	CHECK(dfm_st_get(st, "l_y.weight_u") != NULL);
	CHECK_INT(dfm_nn_state_load(&d2.state, st, "", false), 0);
	for (int i = 0; i < d1.state.n; i++) {
		size_t n = (size_t)dfm_shape_count(d1.state.v[i].ndim, d1.state.v[i].shape);

		CHECK(memcmp(d1.state.v[i].data, d2.state.v[i].data, n * sizeof(float)) == 0);
	}
	/* A tensor with the wrong shape is refused, naming it. */
	CHECK(dfm_nn_state_load(&d2.state, st, "D.", false) != 0);
	CHECK(strstr(dfm_nn_errmsg(), "D.block1") != NULL);
	dfm_st_close(st);
	free(buf);
	cfg.d_ch = 16;
	dfm_sngan_d_free(&d2);
	CHECK_INT(dfm_sngan_d_init(&d2, &cfg), 0);
	CHECK_INT(dfm_nn_state_save(&d1.state, &buf, &size), 0);
	CHECK_INT(dfm_st_open(buf, size, &st, err, sizeof err), 0);
	CHECK_INT(dfm_nn_state_load(&d2.state, st, "", false), DFM_ERR_FORMAT);
	CHECK(strstr(dfm_nn_errmsg(), "dimension") != NULL);
	dfm_st_close(st);
	free(buf);
	dfm_sngan_d_free(&d1);
	dfm_sngan_d_free(&d2);
}
