/* Batch normalisation, plain and conditional, on images NHWC or in channel
 * blocks (tensor.h).
 *
 * Sums over the batch are formed per sample first (in parallel) and then
 * added sample by sample in order, so results do not depend on the number
 * of threads.  Variance is computed from deviations, in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

int
dfm_nn_bn_init(struct dfm_nn_bn *b, int c, int nclass)
{
	int64_t shape[2] = {nclass > 0 ? nclass : c, c};
	int ndim = nclass > 0 ? 2 : 1;
	int err;

	memset(b, 0, sizeof *b);
	b->c = c;
	b->nclass = nclass;
	b->eps = 1e-5f;
	b->momentum = 0.1f;
	err = dfm_nn_param_init(&b->gamma, ndim, nclass > 0 ? shape : shape + 1);
	if (!err)
		err = dfm_nn_param_init(&b->beta, ndim, nclass > 0 ? shape : shape + 1);
	if (err) {
		dfm_nn_bn_free(b);
		return err;
	}
	dfm_nn_param_fill(&b->gamma, 1);
	b->running_mean = dfm_nn_alloc((size_t)c);
	b->running_var = dfm_nn_alloc((size_t)c);
	b->mean = dfm_nn_alloc((size_t)c);
	b->rstd = dfm_nn_alloc((size_t)c);
	if (!b->running_mean || !b->running_var || !b->mean || !b->rstd) {
		dfm_nn_bn_free(b);
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for batch norm");
	}
	for (int i = 0; i < c; i++)
		b->running_var[i] = 1;
	return 0;
}

void
dfm_nn_bn_free(struct dfm_nn_bn *b)
{
	dfm_nn_param_free(&b->gamma);
	dfm_nn_param_free(&b->beta);
	free(b->running_mean);
	free(b->running_var);
	free(b->mean);
	free(b->rstd);
	free(b->part);
	memset(b, 0, sizeof *b);
}

static int
check_input(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x, const int32_t *labels)
{
	size_t need = 2 * (size_t)x->dims[0] * (size_t)b->c;

	if (x->ndim != 4 || x->dims[1] != b->c)
		return dfm_nn_fail(DFM_ERR_USAGE, "batch norm: input has %lld channels, want %d",
				   (long long)x->dims[1], b->c);
	if (b->nclass > 0) {
		if (!labels)
			return dfm_nn_fail(DFM_ERR_USAGE, "conditional batch norm: no labels");
		for (int64_t i = 0; i < x->dims[0]; i++)
			if (labels[i] < 0 || labels[i] >= b->nclass)
				return dfm_nn_fail(DFM_ERR_USAGE,
						   "conditional batch norm: label %d out of range",
						   (int)labels[i]);
	}
	if (need > b->part_cap) {
		double *p = malloc(need * sizeof *p);

		if (!p)
			return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for batch norm sums");
		free(b->part);
		b->part = p;
		b->part_cap = need;
	}
	return 0;
}

/* Per-sample means and sums of squared deviations, part[n][0..c) and
 * part[n][c..2c), in one parallel region: each channel block's two passes
 * run while its pixels are still in cache. */
static void
sample_moments(const struct dfm_nn_tensor *x, double *part)
{
	int64_t n = x->dims[0], c = x->dims[1], cb = x->cb, nb = c / cb;
	int64_t hw = x->dims[2] * x->dims[3];

#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++) {
		double *mean = part + 2 * i * c, *m2 = mean + c;

		memset(mean, 0, 2 * (size_t)c * sizeof *mean);
		for (int64_t b = 0; b < nb; b++) {
			const float *xb = x->data + (i * nb + b) * hw * cb;
			double *mb = mean + b * cb, *vb = m2 + b * cb;

			for (int64_t p = 0; p < hw; p++) {
				const float *xr = xb + p * cb;

#pragma omp simd
				for (int64_t ch = 0; ch < cb; ch++)
					mb[ch] += xr[ch];
			}
			for (int64_t ch = 0; ch < cb; ch++)
				mb[ch] /= (double)hw;
			for (int64_t p = 0; p < hw; p++) {
				const float *xr = xb + p * cb;

#pragma omp simd
				for (int64_t ch = 0; ch < cb; ch++) {
					double d = (double)xr[ch] - mb[ch];

					vb[ch] += d * d;
				}
			}
		}
	}
}

/* Combines the per-sample moments in sample order (Chan et al.'s pairwise
 * formula with equal counts): the batch variance is the mean of the
 * samples' variances plus the variance of their means. */
static void
batch_stats(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x)
{
	int64_t n = x->dims[0], c = b->c, hw = x->dims[2] * x->dims[3];
	double count = (double)n * (double)hw;

	sample_moments(x, b->part);
	for (int64_t ch = 0; ch < c; ch++) {
		double mean = 0, m2 = 0, var;

		for (int64_t i = 0; i < n; i++)
			mean += b->part[2 * i * c + ch];
		mean /= (double)n;
		for (int64_t i = 0; i < n; i++) {
			double d = b->part[2 * i * c + ch] - mean;

			m2 += b->part[2 * i * c + c + ch] + (double)hw * d * d;
		}
		var = m2 / count;
		b->mean[ch] = (float)mean;
		b->rstd[ch] = (float)(1.0 / sqrt(var + b->eps));
		b->running_mean[ch] = (1 - b->momentum) * b->running_mean[ch] +
				      b->momentum * b->mean[ch];
		b->running_var[ch] = (float)((1 - b->momentum) * b->running_var[ch] +
				     b->momentum * var * count / (count > 1 ? count - 1 : 1));
	}
}

static const float *
row_of(const struct dfm_nn_param *p, const int32_t *labels, int64_t i, int64_t c)
{
	return labels ? p->data + (int64_t)labels[i] * c : p->data;
}

int
dfm_nn_bn_forward(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x, const int32_t *labels,
		  struct dfm_nn_tensor *y, bool train)
{
	int64_t planes, c = b->c, cb, hw;
	int err;

	err = check_input(b, x, labels);
	if (!err && y != x)
		err = dfm_nn_tensor_like(y, x);
	if (err)
		return err;
	if (b->nclass == 0)
		labels = NULL;
	if (train) {
		batch_stats(b, x);
	} else {
		for (int64_t ch = 0; ch < c; ch++) {
			b->mean[ch] = b->running_mean[ch];
			b->rstd[ch] = (float)(1.0 / sqrt((double)b->running_var[ch] + b->eps));
		}
	}
	b->trained = train;
	planes = dfm_nn_planes(x);
	cb = x->cb;
	hw = x->dims[2] * x->dims[3];
#pragma omp parallel for schedule(static)
	for (int64_t q = 0; q < planes; q++) {
		int64_t i = q / (c / cb), c0 = q % (c / cb) * cb;
		const float *g = row_of(&b->gamma, labels, i, c) + c0;
		const float *be = row_of(&b->beta, labels, i, c) + c0;
		const float *mean = b->mean + c0, *rstd = b->rstd + c0;
		float lo = b->relu ? 0 : -INFINITY;

		for (int64_t p = 0; p < hw; p++) {
			const float *xr = x->data + (q * hw + p) * cb;
			float *yr = y->data + (q * hw + p) * cb;

#pragma omp simd
			for (int64_t ch = 0; ch < cb; ch++) {
				float v = (xr[ch] - mean[ch]) * rstd[ch] * g[ch] + be[ch];

				yr[ch] = v > lo ? v : lo;
			}
		}
	}
	return 0;
}

/* The gradient reaching the affine output: dy, or zero where the fused
 * ReLU was inactive. */
static inline float
masked(bool relu, float dy, float xhat, float g, float be)
{
	return !relu || xhat * g + be > 0 ? dy : 0;
}

/* Per-sample sums of dy and dy * xhat: part[n][0..c) and part[n][c..2c). */
static void
grad_sums(const struct dfm_nn_bn *b, const struct dfm_nn_tensor *x, const int32_t *labels,
	  const struct dfm_nn_tensor *dy, double *part)
{
	int64_t n = x->dims[0], c = b->c, cb = x->cb, nb = c / cb;
	int64_t hw = x->dims[2] * x->dims[3];

#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++) {
		bool relu = b->relu;

		memset(part + 2 * i * c, 0, 2 * (size_t)c * sizeof *part);
		for (int64_t k = 0; k < nb; k++) {
			int64_t c0 = k * cb, q = i * nb + k;
			const float *g = row_of(&b->gamma, labels, i, c) + c0;
			const float *be = row_of(&b->beta, labels, i, c) + c0;
			const float *mean = b->mean + c0, *rstd = b->rstd + c0;
			double *sd = part + 2 * i * c + c0, *sx = sd + c;

			for (int64_t p = 0; p < hw; p++) {
				const float *xr = x->data + (q * hw + p) * cb;
				const float *dr = dy->data + (q * hw + p) * cb;

#pragma omp simd
				for (int64_t ch = 0; ch < cb; ch++) {
					float xhat = (xr[ch] - mean[ch]) * rstd[ch];
					float d = masked(relu, dr[ch], xhat, g[ch], be[ch]);

					sd[ch] += d;
					sx[ch] += d * xhat;
				}
			}
		}
	}
}

/* Gradients of gamma and beta, and the two means the input gradient needs:
 * k1 = mean(dy g), k2 = mean(dy g xhat), per channel. */
static void
param_grads(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x, const int32_t *labels,
	    double *k1, double *k2)
{
	int64_t n = x->dims[0], c = b->c;
	double count = (double)n * (double)(x->dims[2] * x->dims[3]);

	memset(b->gamma.grad, 0, b->gamma.count * sizeof(float));
	memset(b->beta.grad, 0, b->beta.count * sizeof(float));
	memset(k1, 0, (size_t)c * sizeof *k1);
	memset(k2, 0, (size_t)c * sizeof *k2);
	for (int64_t i = 0; i < n; i++) {
		const double *sd = b->part + 2 * i * c, *sx = sd + c;
		int64_t off = labels ? (int64_t)labels[i] * c : 0;
		const float *g = b->gamma.data + off;

		for (int64_t ch = 0; ch < c; ch++) {
			b->beta.grad[off + ch] += (float)sd[ch];
			b->gamma.grad[off + ch] += (float)sx[ch];
			k1[ch] += sd[ch] * g[ch];
			k2[ch] += sx[ch] * g[ch];
		}
	}
	for (int64_t ch = 0; ch < c; ch++) {
		k1[ch] /= count;
		k2[ch] /= count;
	}
}

int
dfm_nn_bn_backward(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x, const int32_t *labels,
		   const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx)
{
	int64_t planes, c = b->c, cb, hw;
	double *k = NULL;
	int err;

	err = check_input(b, x, labels);
	if (!err && (dy->cb != x->cb || dy->count != x->count))
		err = dfm_nn_fail(DFM_ERR_USAGE, "batch norm: gradient does not match the input");
	if (err)
		return err;
	if (b->nclass == 0)
		labels = NULL;
	k = calloc(2 * (size_t)c, sizeof *k);
	if (!k)
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for batch norm gradients");
	grad_sums(b, x, labels, dy, b->part);
	param_grads(b, x, labels, k, k + c);
	if (!b->trained)
		memset(k, 0, 2 * (size_t)c * sizeof *k);
	if (dx && dx != dy)
		err = dfm_nn_tensor_like(dx, x);
	if (err || !dx)
		goto out;
	planes = dfm_nn_planes(x);
	cb = x->cb;
	hw = x->dims[2] * x->dims[3];
#pragma omp parallel for schedule(static)
	for (int64_t q = 0; q < planes; q++) {
		int64_t i = q / (c / cb), c0 = q % (c / cb) * cb;
		const float *g = row_of(&b->gamma, labels, i, c) + c0;
		const float *be = row_of(&b->beta, labels, i, c) + c0;
		const float *mean = b->mean + c0, *rstd = b->rstd + c0;
		const double *k1 = k + c0, *k2 = k + c + c0;
		bool relu = b->relu;

		for (int64_t p = 0; p < hw; p++) {
			const float *xr = x->data + (q * hw + p) * cb;
			const float *dr = dy->data + (q * hw + p) * cb;
			float *out = dx->data + (q * hw + p) * cb;

#pragma omp simd
			for (int64_t ch = 0; ch < cb; ch++) {
				float xhat = (xr[ch] - mean[ch]) * rstd[ch];
				float d = masked(relu, dr[ch], xhat, g[ch], be[ch]);

				out[ch] = rstd[ch] * (d * g[ch] - (float)k1[ch] -
						      xhat * (float)k2[ch]);
			}
		}
	}
out:
	free(k);
	return err;
}
