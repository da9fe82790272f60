/* Windowed pooling (max and average) and global average pooling on images
 * NHWC or in channel blocks, planes of cb channels at a time (tensor.h).  Backward passes add into overlapping windows sample by sample
 * in a fixed order, so they are deterministic at any thread count. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

static int64_t
pooled(const struct dfm_nn_pool *p, int64_t in)
{
	return (in + 2 * p->pad - p->k) / p->stride + 1;
}

static int
shape_out(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	if (x->ndim != 4 || p->k < 1 || p->stride < 1 || p->pad < 0 || 2 * p->pad > p->k ||
	    pooled(p, x->dims[2]) < 1 || pooled(p, x->dims[3]) < 1)
		return dfm_nn_fail(DFM_ERR_USAGE, "pooling: window %d stride %d pad %d does not "
				   "fit the input", p->k, p->stride, p->pad);
	return dfm_nn_tensor_shape_blocked(y, x->dims[0], x->dims[1], pooled(p, x->dims[2]),
					   pooled(p, x->dims[3]), x->cb);
}

int
dfm_nn_maxpool_forward(struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
		       struct dfm_nn_tensor *y)
{
	int64_t n = dfm_nn_planes(x), c = x->cb, h = x->dims[2], w = x->dims[3], oh, ow;
	int err = shape_out(p, x, y);

	if (err)
		return err;
	if (y->count > p->argmax_cap) {
		int32_t *a = realloc(p->argmax, y->count * sizeof *a);

		if (!a)
			return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for max pooling");
		p->argmax = a;
		p->argmax_cap = y->count;
	}
	oh = y->dims[2];
	ow = y->dims[3];
#pragma omp parallel for schedule(static)
	for (int64_t r = 0; r < n * oh; r++) {
		int64_t i = r / oh, oy = r % oh;

		for (int64_t ox = 0; ox < ow; ox++) {
			float *out = y->data + ((i * oh + oy) * ow + ox) * c;
			int32_t *arg = p->argmax + ((i * oh + oy) * ow + ox) * c;

			for (int64_t ch = 0; ch < c; ch++) {
				out[ch] = -FLT_MAX;
				arg[ch] = -1;
			}
			for (int64_t ky = 0; ky < p->k; ky++) {
				int64_t iy = oy * p->stride - p->pad + ky;

				for (int64_t kx = 0; kx < p->k && iy >= 0 && iy < h; kx++) {
					int64_t ix = ox * p->stride - p->pad + kx;
					int64_t base = ((i * h + iy) * w + ix) * c;

					if (ix < 0 || ix >= w)
						continue;
					for (int64_t ch = 0; ch < c; ch++)
						if (x->data[base + ch] > out[ch]) {
							out[ch] = x->data[base + ch];
							arg[ch] = (int32_t)(base + ch);
						}
				}
			}
		}
	}
	return 0;
}

int
dfm_nn_maxpool_backward(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
			const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx)
{
	int64_t n = dy->dims[0], per = (int64_t)dy->count / (n > 0 ? n : 1);
	int err = dy->cb == x->cb ? dfm_nn_tensor_like(dx, x)
				  : dfm_nn_fail(DFM_ERR_USAGE, "max pool: layouts differ");

	if (err)
		return err;
	dfm_nn_tensor_zero(dx);
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = i * per; j < (i + 1) * per; j++)
			if (p->argmax[j] >= 0)
				dx->data[p->argmax[j]] += dy->data[j];
	return 0;
}

/* The number of window positions inside the image. */
static float
window_count(const struct dfm_nn_pool *p, int64_t oy, int64_t ox, int64_t h, int64_t w)
{
	int64_t y0 = oy * p->stride - p->pad, x0 = ox * p->stride - p->pad;
	int64_t y1 = y0 + p->k, x1 = x0 + p->k;

	if (!p->exclude_pad)
		return (float)(p->k * p->k);
	y0 = y0 < 0 ? 0 : y0;
	x0 = x0 < 0 ? 0 : x0;
	y1 = y1 > h ? h : y1;
	x1 = x1 > w ? w : x1;
	return (float)((y1 - y0) * (x1 - x0));
}

int
dfm_nn_avgpool_forward(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
		       struct dfm_nn_tensor *y)
{
	int64_t n = dfm_nn_planes(x), c = x->cb, h = x->dims[2], w = x->dims[3], oh, ow;
	int err = shape_out(p, x, y);

	if (err)
		return err;
	oh = y->dims[2];
	ow = y->dims[3];
#pragma omp parallel for schedule(static)
	for (int64_t r = 0; r < n * oh; r++) {
		int64_t i = r / oh, oy = r % oh;

		for (int64_t ox = 0; ox < ow; ox++) {
			float *out = y->data + ((i * oh + oy) * ow + ox) * c;
			float inv = 1 / window_count(p, oy, ox, h, w);

			memset(out, 0, (size_t)c * sizeof *out);
			for (int64_t ky = 0; ky < p->k; ky++) {
				int64_t iy = oy * p->stride - p->pad + ky;

				for (int64_t kx = 0; kx < p->k && iy >= 0 && iy < h; kx++) {
					int64_t ix = ox * p->stride - p->pad + kx;
					const float *in = x->data + ((i * h + iy) * w + ix) * c;

					if (ix < 0 || ix >= w)
						continue;
					for (int64_t ch = 0; ch < c; ch++)
						out[ch] += in[ch];
				}
			}
			for (int64_t ch = 0; ch < c; ch++)
				out[ch] *= inv;
		}
	}
	return 0;
}

int
dfm_nn_avgpool_backward(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
			const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx)
{
	int64_t n = dfm_nn_planes(x), c = x->cb, h = x->dims[2], w = x->dims[3];
	int64_t oh = dy->dims[2], ow = dy->dims[3];
	int err = dy->cb == x->cb ? dfm_nn_tensor_like(dx, x)
				  : dfm_nn_fail(DFM_ERR_USAGE, "average pool: layouts differ");

	if (err)
		return err;
	dfm_nn_tensor_zero(dx);
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++)
		for (int64_t oy = 0; oy < oh; oy++)
			for (int64_t ox = 0; ox < ow; ox++) {
				const float *g = dy->data + ((i * oh + oy) * ow + ox) * c;
				float inv = 1 / window_count(p, oy, ox, h, w);

				for (int64_t ky = 0; ky < p->k; ky++) {
					int64_t iy = oy * p->stride - p->pad + ky;

					for (int64_t kx = 0; kx < p->k && iy >= 0 && iy < h; kx++) {
						int64_t ix = ox * p->stride - p->pad + kx;
						float *d = dx->data + ((i * h + iy) * w + ix) * c;

						if (ix < 0 || ix >= w)
							continue;
						for (int64_t ch = 0; ch < c; ch++)
							d[ch] += g[ch] * inv;
					}
				}
			}
	return 0;
}

void
dfm_nn_pool_free(struct dfm_nn_pool *p)
{
	free(p->argmax);
	p->argmax = NULL;
	p->argmax_cap = 0;
}

int
dfm_nn_global_avg_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	int err = dfm_nn_global_sum_forward(x, y);
	float inv = 1.0f / (float)(x->dims[2] * x->dims[3]);

	if (err)
		return err;
	for (size_t i = 0; i < y->count; i++)
		y->data[i] *= inv;
	return 0;
}

int
dfm_nn_global_avg_backward(const struct dfm_nn_tensor *dy, const struct dfm_nn_tensor *x,
			   struct dfm_nn_tensor *dx)
{
	int err = dfm_nn_global_sum_backward(dy, x, dx);
	float inv = 1.0f / (float)(x->dims[2] * x->dims[3]);

	if (err)
		return err;
	for (size_t i = 0; i < dx->count; i++)
		dx->data[i] *= inv;
	return 0;
}
