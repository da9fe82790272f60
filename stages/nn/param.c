#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"
#include "stages/nn/rng.h"

int
dfm_nn_param_init(struct dfm_nn_param *p, int ndim, const int64_t *shape)
{
	memset(p, 0, sizeof *p);
	p->ndim = ndim;
	p->count = 1;
	for (int i = 0; i < ndim; i++) {
		p->shape[i] = shape[i];
		p->count *= (size_t)shape[i];
	}
	p->data = dfm_nn_alloc(p->count);
	p->grad = dfm_nn_alloc(p->count);
	p->m = dfm_nn_alloc(p->count);
	p->v = dfm_nn_alloc(p->count);
	if (!p->data || !p->grad || !p->m || !p->v) {
		dfm_nn_param_free(p);
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a parameter of %zu floats",
				   p->count);
	}
	return 0;
}

void
dfm_nn_param_free(struct dfm_nn_param *p)
{
	free(p->data);
	free(p->grad);
	free(p->m);
	free(p->v);
	memset(p, 0, sizeof *p);
}

void
dfm_nn_param_fill(struct dfm_nn_param *p, float value)
{
	for (size_t i = 0; i < p->count; i++)
		p->data[i] = value;
}

static void
fans(const struct dfm_nn_param *p, double *fan_in, double *fan_out)
{
	double field = 1;

	for (int i = 2; i < p->ndim; i++)
		field *= (double)p->shape[i];
	*fan_in = (p->ndim > 1 ? (double)p->shape[1] : 1) * field;
	*fan_out = (double)p->shape[0] * field;
}

void
dfm_nn_init_glorot(struct dfm_nn_param *p, float gain, uint64_t seed, const char *name)
{
	double fi, fo, a;

	fans(p, &fi, &fo);
	a = gain * sqrt(6.0 / (fi + fo));
	dfm_nn_rng_uniform(seed, dfm_nn_rng_stream(name), p->data, p->count, (float)-a, (float)a);
}

void
dfm_nn_init_kaiming(struct dfm_nn_param *p, float gain, bool fan_out, uint64_t seed,
		    const char *name)
{
	double fi, fo, std;

	fans(p, &fi, &fo);
	std = gain / sqrt(fan_out ? fo : fi);
	dfm_nn_rng_normal(seed, dfm_nn_rng_stream(name), p->data, p->count);
	for (size_t i = 0; i < p->count; i++)
		p->data[i] = (float)(p->data[i] * std);
}

void
dfm_nn_init_uniform(struct dfm_nn_param *p, float bound, uint64_t seed, const char *name)
{
	dfm_nn_rng_uniform(seed, dfm_nn_rng_stream(name), p->data, p->count, -bound, bound);
}

/* PyTorch's F.normalize: x / max(|x|, 1e-12). */
static void
normalize(float *x, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	s = sqrt(s);
	if (s < 1e-12)
		s = 1e-12;
	for (int i = 0; i < n; i++)
		x[i] = (float)(x[i] / s);
}

void
dfm_nn_sn_seed(struct dfm_nn_sn *sn, uint64_t seed, const char *name)
{
	char key[256];

	snprintf(key, sizeof key, "%s.weight_u", name);
	dfm_nn_rng_normal(seed, dfm_nn_rng_stream(key), sn->u, (size_t)sn->rows);
	normalize(sn->u, sn->rows);
	snprintf(key, sizeof key, "%s.weight_v", name);
	dfm_nn_rng_normal(seed, dfm_nn_rng_stream(key), sn->v, (size_t)sn->cols);
	normalize(sn->v, sn->cols);
}

int
dfm_nn_sn_init(struct dfm_nn_sn *sn, int rows, int cols, uint64_t seed, const char *name)
{
	memset(sn, 0, sizeof *sn);
	sn->rows = rows;
	sn->cols = cols;
	sn->u = dfm_nn_alloc((size_t)rows);
	sn->v = dfm_nn_alloc((size_t)cols);
	sn->w = dfm_nn_alloc((size_t)rows * (size_t)cols);
	sn->acc = malloc((size_t)cols * sizeof *sn->acc);
	if (!sn->u || !sn->v || !sn->w || !sn->acc) {
		dfm_nn_sn_free(sn);
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for spectral norm of \"%s\"", name);
	}
	dfm_nn_sn_seed(sn, seed, name);
	return 0;
}

void
dfm_nn_sn_free(struct dfm_nn_sn *sn)
{
	free(sn->u);
	free(sn->v);
	free(sn->w);
	free(sn->acc);
	memset(sn, 0, sizeof *sn);
}

/* out = W x for the rows x cols matrix W. */
static void
matvec(const float *w, int rows, int cols, const float *x, float *out)
{
	for (int r = 0; r < rows; r++) {
		const float *row = w + (size_t)r * cols;
		double s = 0;

		for (int c = 0; c < cols; c++)
			s += (double)row[c] * x[c];
		out[r] = (float)s;
	}
}

/* out = W' x. */
static void
matvec_t(const float *w, int rows, int cols, const float *x, double *acc, float *out)
{
	memset(acc, 0, (size_t)cols * sizeof *acc);
	for (int r = 0; r < rows; r++) {
		const float *row = w + (size_t)r * cols;

		for (int c = 0; c < cols; c++)
			acc[c] += (double)row[c] * x[r];
	}
	for (int c = 0; c < cols; c++)
		out[c] = (float)acc[c];
}

void
dfm_nn_sn_forward(struct dfm_nn_sn *sn, const float *w, bool train)
{
	size_t n = (size_t)sn->rows * (size_t)sn->cols;
	double sigma = 0;

	/* The normalised weight doubles as scratch for W v. */
	if (train) {
		matvec_t(w, sn->rows, sn->cols, sn->u, sn->acc, sn->v);
		normalize(sn->v, sn->cols);
		matvec(w, sn->rows, sn->cols, sn->v, sn->u);
		normalize(sn->u, sn->rows);
	}
	matvec(w, sn->rows, sn->cols, sn->v, sn->w);
	for (int r = 0; r < sn->rows; r++)
		sigma += (double)sn->u[r] * sn->w[r];
	sn->sigma = (float)sigma;
	for (size_t i = 0; i < n; i++)
		sn->w[i] = (float)(w[i] / sigma);
}

/* With W_sn = W / sigma and sigma = u' W v:
 * dL/dW = G / sigma - <G, W> / sigma^2 * u v'. */
void
dfm_nn_sn_backward(const struct dfm_nn_sn *sn, const float *w, const float *dw_sn,
		   float *grad)
{
	size_t n = (size_t)sn->rows * (size_t)sn->cols;
	double dot = 0, sigma = sn->sigma, k;

	for (size_t i = 0; i < n; i++)
		dot += (double)dw_sn[i] * w[i];
	k = dot / (sigma * sigma);
	for (int r = 0; r < sn->rows; r++)
		for (int c = 0; c < sn->cols; c++) {
			size_t i = (size_t)r * sn->cols + c;

			grad[i] = (float)(dw_sn[i] / sigma - k * sn->u[r] * sn->v[c]);
		}
}
