/* Element-wise and shape layers on images and rows.  Images may be NHWC or
 * in channel blocks (tensor.h); outputs and gradients keep the layout of
 * the input.  All are memory bound; each output element is written by one
 * thread, so they are deterministic at any thread count. */
#include <math.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

static int
same_shape(struct dfm_nn_tensor *y, const struct dfm_nn_tensor *x)
{
	return y == x ? 0 : dfm_nn_tensor_like(y, x);
}

/* The two operands of an element-wise kernel: same shape, same layout (a
 * gradient is laid out as its activation). */
static int
operands(const struct dfm_nn_tensor *a, const struct dfm_nn_tensor *b, const char *what)
{
	if (a->count != b->count || memcmp(a->dims, b->dims, sizeof a->dims) != 0)
		return dfm_nn_fail(DFM_ERR_USAGE, "%s: shapes differ", what);
	if (a->cb != b->cb)
		return dfm_nn_fail(DFM_ERR_USAGE, "%s: layouts differ (%lld and %lld channels "
				   "per block)", what, (long long)a->cb, (long long)b->cb);
	return 0;
}

/* The kernels below are marked simd so that the compiler vectorises them
 * without alias checks: where an output aliases its input, each element is
 * read before it is written, which keeps that valid. */

int
dfm_nn_relu_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	int err = same_shape(y, x);
	const float *xs = x->data;
	float *ys = y->data;
	size_t n = x->count;

	if (err)
		return err;
#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < n; i++)
		ys[i] = xs[i] > 0 ? xs[i] : 0;
	return 0;
}

int
dfm_nn_relu_backward(const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dy,
		     struct dfm_nn_tensor *dx)
{
	int err = operands(x, dy, "ReLU");
	const float *xs = x->data, *g = dy->data;
	float *out;
	size_t n = x->count;

	if (!err && dx != dy)
		err = dfm_nn_tensor_like(dx, x);
	if (err)
		return err;
	out = dx->data;
#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < n; i++) {
		float gi = g[i];  /* loaded unconditionally, so that it vectorises */

		out[i] = xs[i] > 0 ? gi : 0;
	}
	return 0;
}

int
dfm_nn_tanh_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	int err = same_shape(y, x);
	const float *xs = x->data;
	float *ys = y->data;
	size_t n = x->count;

	if (err)
		return err;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		ys[i] = tanhf(xs[i]);
	return 0;
}

int
dfm_nn_tanh_backward(const struct dfm_nn_tensor *y, const struct dfm_nn_tensor *dy,
		     struct dfm_nn_tensor *dx)
{
	int err = operands(y, dy, "tanh");
	const float *ys = y->data, *g = dy->data;
	float *out;
	size_t n = y->count;

	if (!err && dx != dy)
		err = dfm_nn_tensor_like(dx, y);
	if (err)
		return err;
	out = dx->data;
#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = g[i] * (1 - ys[i] * ys[i]);
	return 0;
}

int
dfm_nn_add(const struct dfm_nn_tensor *a, const struct dfm_nn_tensor *b,
	   struct dfm_nn_tensor *y)
{
	size_t n = a->count;
	int err;

	err = operands(a, b, "add");
	if (!err && y != a && y != b)
		err = dfm_nn_tensor_like(y, a);
	if (err)
		return err;
	{
		const float *as = a->data, *bs = b->data;
		float *ys = y->data;

#pragma omp parallel for simd schedule(static)
		for (size_t i = 0; i < n; i++)
			ys[i] = as[i] + bs[i];
	}
	return 0;
}

static int
check_image(const struct dfm_nn_tensor *x, const char *what, bool even)
{
	if (x->ndim != 4)
		return dfm_nn_fail(DFM_ERR_USAGE, "%s: input is not an image", what);
	if (even && (x->dims[2] % 2 || x->dims[3] % 2))
		return dfm_nn_fail(DFM_ERR_USAGE, "%s: odd size %lldx%lld", what,
				   (long long)x->dims[2], (long long)x->dims[3]);
	return 0;
}

/* y = scale times the sum of each 2x2 block of x: the average pool's
 * forward pass and the nearest upsampling's backward pass. */
static int
sum2x2(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y, float scale,
       const char *what)
{
	int64_t n = dfm_nn_planes(x), c = x->cb, h = x->dims[2] / 2, w = x->dims[3] / 2;
	int err = check_image(x, what, true);

	if (!err)
		err = dfm_nn_tensor_shape_blocked(y, x->dims[0], x->dims[1], h, w, x->cb);
	if (err)
		return err;
#pragma omp parallel for schedule(static)
	for (int64_t r = 0; r < n * h; r++) {
		int64_t i = r / h, oy = r % h;

		for (int64_t ox = 0; ox < w; ox++) {
			const float *a = x->data + ((i * 2 * h + 2 * oy) * 2 * w + 2 * ox) * c;
			const float *b = a + 2 * w * c;
			float *o = y->data + ((i * h + oy) * w + ox) * c;

#pragma omp simd
			for (int64_t ch = 0; ch < c; ch++)
				o[ch] = scale * ((a[ch] + a[c + ch]) + (b[ch] + b[c + ch]));
		}
	}
	return 0;
}

int
dfm_nn_avgpool2_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	return sum2x2(x, y, 0.25f, "average pool");
}

int
dfm_nn_avgpool2_backward(const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx)
{
	int64_t n = dfm_nn_planes(dy), c = dy->cb, h = dy->dims[2], w = dy->dims[3];
	int err = check_image(dy, "average pool", false);

	if (!err)
		err = dfm_nn_tensor_shape_blocked(dx, dy->dims[0], dy->dims[1], 2 * h, 2 * w, c);
	if (err)
		return err;
#pragma omp parallel for schedule(static)
	for (int64_t r = 0; r < n * h; r++) {
		int64_t i = r / h, oy = r % h;

		for (int64_t ox = 0; ox < w; ox++) {
			float *a = dx->data + ((i * 2 * h + 2 * oy) * 2 * w + 2 * ox) * c;
			float *b = a + 2 * w * c;
			const float *g = dy->data + ((i * h + oy) * w + ox) * c;

#pragma omp simd
			for (int64_t ch = 0; ch < c; ch++)
				a[ch] = a[c + ch] = b[ch] = b[c + ch] = 0.25f * g[ch];
		}
	}
	return 0;
}

int
dfm_nn_upsample2_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	int64_t n = dfm_nn_planes(x), c = x->cb, h = x->dims[2], w = x->dims[3];
	int err = check_image(x, "upsample", false);

	if (!err)
		err = dfm_nn_tensor_shape_blocked(y, x->dims[0], x->dims[1], 2 * h, 2 * w, c);
	if (err)
		return err;
#pragma omp parallel for schedule(static)
	for (int64_t r = 0; r < n * h; r++) {
		int64_t i = r / h, iy = r % h;

		for (int64_t ix = 0; ix < w; ix++) {
			const float *g = x->data + ((i * h + iy) * w + ix) * c;
			float *a = y->data + ((i * 2 * h + 2 * iy) * 2 * w + 2 * ix) * c;
			float *b = a + 2 * w * c;

#pragma omp simd
			for (int64_t ch = 0; ch < c; ch++)  /* short rows: no memcpy calls */
				a[ch] = a[c + ch] = b[ch] = b[c + ch] = g[ch];
		}
	}
	return 0;
}

int
dfm_nn_upsample2_backward(const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx)
{
	return sum2x2(dy, dx, 1.0f, "upsample");
}

int
dfm_nn_global_sum_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	int64_t planes = dfm_nn_planes(x), cb = x->cb, nb = x->dims[1] / cb;
	int64_t hw = x->dims[2] * x->dims[3];
	int err = check_image(x, "global sum", false);

	if (!err)
		err = dfm_nn_tensor_shape(y, x->dims[0], x->dims[1], 0, 1);
	if (err)
		return err;
#pragma omp parallel for schedule(static)
	for (int64_t q = 0; q < planes; q++) {
		float *o = y->data + q * cb;  /* sample q / nb, channels (q % nb) * cb on */
		const float *in = x->data + q * hw * cb;

		(void)nb;
		memset(o, 0, (size_t)cb * sizeof *o);
		for (int64_t p = 0; p < hw; p++)
#pragma omp simd
			for (int64_t ch = 0; ch < cb; ch++)
				o[ch] += in[p * cb + ch];
	}
	return 0;
}

int
dfm_nn_global_sum_backward(const struct dfm_nn_tensor *dy, const struct dfm_nn_tensor *x,
			   struct dfm_nn_tensor *dx)
{
	int64_t planes, cb = x->cb, hw = x->dims[2] * x->dims[3];
	int err = check_image(x, "global sum", false);

	if (!err && (dy->ndim != 2 || dy->dims[0] != x->dims[0] || dy->dims[1] != x->dims[1]))
		err = dfm_nn_fail(DFM_ERR_USAGE, "global sum: gradient does not match the input");
	if (!err)
		err = dfm_nn_tensor_like(dx, x);
	if (err)
		return err;
	planes = dfm_nn_planes(dx);
#pragma omp parallel for schedule(static)
	for (int64_t q = 0; q < planes; q++)
		for (int64_t p = 0; p < hw; p++) {
			float *o = dx->data + (q * hw + p) * cb;
			const float *g = dy->data + q * cb;

#pragma omp simd
			for (int64_t ch = 0; ch < cb; ch++)
				o[ch] = g[ch];
		}
	return 0;
}

int
dfm_nn_unflatten(const struct dfm_nn_tensor *x, int64_t c, int64_t h, int64_t w,
		 int64_t cb, struct dfm_nn_tensor *y)
{
	int64_t n = x->dims[0], hw = h * w;
	int err;

	if (x->ndim != 2 || x->dims[1] != c * hw)
		return dfm_nn_fail(DFM_ERR_USAGE, "unflatten: %lld features, want %lld",
				   (long long)x->dims[1], (long long)(c * hw));
	err = dfm_nn_tensor_shape_blocked(y, n, c, h, w, cb);
	if (err)
		return err;
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t p = 0; p < hw; p++)
				y->data[((i * (c / cb) + ch / cb) * hw + p) * cb + ch % cb] =
					x->data[(i * c + ch) * hw + p];
	return 0;
}

int
dfm_nn_flatten(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y)
{
	int64_t n = x->dims[0], c = x->dims[1], hw = x->dims[2] * x->dims[3];
	int err = check_image(x, "flatten", false);

	if (!err)
		err = dfm_nn_tensor_shape(y, n, c * hw, 0, 1);
	if (err)
		return err;
	dfm_nn_tensor_to_nchw(x, y->data);  /* PyTorch's order of features */
	(void)n, (void)c, (void)hw;
	return 0;
}

int
dfm_nn_concat(const struct dfm_nn_tensor *const *xs, int n, struct dfm_nn_tensor *y)
{
	int64_t c = 0, c0 = 0, rows;
	int err;

	for (int k = 0; k < n; k++) {
		if (xs[k]->ndim == 4 && xs[k]->cb != xs[k]->dims[1])
			return dfm_nn_fail(DFM_ERR_USAGE, "concat: input %d is not NHWC", k);
		if (xs[k]->ndim != 4 || xs[k]->dims[0] != xs[0]->dims[0] ||
		    xs[k]->dims[2] != xs[0]->dims[2] || xs[k]->dims[3] != xs[0]->dims[3])
			return dfm_nn_fail(DFM_ERR_USAGE, "concat: input %d does not match", k);
		c += xs[k]->dims[1];
	}
	if (n < 1)
		return dfm_nn_fail(DFM_ERR_USAGE, "concat: no inputs");
	err = dfm_nn_tensor_shape(y, xs[0]->dims[0], c, xs[0]->dims[2], xs[0]->dims[3]);
	if (err)
		return err;
	rows = xs[0]->dims[0] * xs[0]->dims[2] * xs[0]->dims[3];
	for (int k = 0; k < n; k++) {
		int64_t ck = xs[k]->dims[1];

#pragma omp parallel for schedule(static)
		for (int64_t r = 0; r < rows; r++)
			memcpy(y->data + r * c + c0, xs[k]->data + r * ck,
			       (size_t)ck * sizeof(float));
		c0 += ck;
	}
	return 0;
}

int
dfm_nn_concat_slice(const struct dfm_nn_tensor *dy, int64_t c0, int64_t c,
		    struct dfm_nn_tensor *dx)
{
	int64_t rows = dy->dims[0] * dy->dims[2] * dy->dims[3], ct = dy->dims[1];
	int err;

	if (dy->ndim != 4 || c0 < 0 || c < 1 || c0 + c > ct)
		return dfm_nn_fail(DFM_ERR_USAGE, "concat: slice out of range");
	if (dy->cb != ct)
		return dfm_nn_fail(DFM_ERR_USAGE, "concat: gradient is not NHWC");
	err = dfm_nn_tensor_shape(dx, dy->dims[0], c, dy->dims[2], dy->dims[3]);
	if (err)
		return err;
#pragma omp parallel for schedule(static)
	for (int64_t r = 0; r < rows; r++)
		memcpy(dx->data + r * c, dy->data + r * ct + c0, (size_t)c * sizeof(float));
	return 0;
}
