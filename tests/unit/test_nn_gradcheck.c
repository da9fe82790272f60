/* Finite-difference checks of every layer's backward pass.  Each case
 * defines a scalar loss L = sum(y * r) with a fixed random r, so that
 * dL/dy = r; central differences of L (accumulated in double) are compared
 * with the gradients the backward pass gives for a spread of inputs and
 * parameters.  Spectral norm is checked with u and v held fixed (forward
 * with train off), the semantics of its backward pass. */
#include <stdlib.h>

#include "stages/nn/layer.h"
#include "stages/nn/rng.h"
#include "tests/unit/test.h"

typedef double (*loss_fn)(void *arg);

struct probe {
	loss_fn loss;
	void *arg;
};

/* dL/dp by central differences; the step actually taken is used as the
 * denominator, after rounding to float. */
static double
numeric(const struct probe *pr, float *p, float h)
{
	float old = *p, hi = old + h, lo = old - h;
	double lp, lm;

	*p = hi;
	lp = pr->loss(pr->arg);
	*p = lo;
	lm = pr->loss(pr->arg);
	*p = old;
	return (lp - lm) / ((double)hi - lo);
}

/* Compares 16 entries spread over p[0..n) with the analytic gradient;
 * errors are relative to the largest analytic entry. */
static void
check_grad(const struct probe *pr, float *p, const float *analytic, size_t n, float h,
	   double tol, const char *what)
{
	double scale = 1e-3, worst = 0;
	size_t worst_i = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs(analytic[i]) > scale)
			scale = fabs(analytic[i]);
	for (size_t k = 0; k < 16 && k < n; k++) {
		size_t i = n <= 16 ? k : k * (n - 1) / 15;
		double e = fabs(numeric(pr, p + i, h) - analytic[i]) / scale;

		if (e > worst) {
			worst = e;
			worst_i = i;
		}
	}
	if (!(worst <= tol))
		dfm_test_fail(__FILE__, __LINE__, "%s: entry %zu off by %g (relative)", what,
			      worst_i, worst);
}

static double
dot(const struct dfm_nn_tensor *y, const float *r)
{
	double s = 0;

	for (size_t i = 0; i < y->count; i++)
		s += (double)y->data[i] * r[i];
	return s;
}

static void
randomize(float *x, size_t n, uint64_t stream, float lo, float hi)
{
	dfm_nn_rng_uniform(7, stream, x, n, lo, hi);
}

/* Convolution. */

struct conv_case {
	struct dfm_nn_ctx ctx;
	struct dfm_nn_conv c;
	struct dfm_nn_tensor x, y, dy, dx;
};

static double
conv_loss(void *arg)
{
	struct conv_case *t = arg;

	if (dfm_nn_conv_forward(&t->ctx, &t->c, &t->x, &t->y, false))
		return NAN;
	return dot(&t->y, t->dy.data);
}

static void
conv_check(int stride, int k, bool sn)
{
	struct conv_case t = {0};
	struct probe pr = {conv_loss, &t};
	int64_t dims[4] = {2, 3, 6, 6};

	CHECK_INT(dfm_nn_ctx_init(&t.ctx, 0), 0);
	CHECK_INT(dfm_nn_conv_init(&t.c, 3, 4, k, stride, k / 2, true, sn), 0);
	randomize(t.c.weight.data, t.c.weight.count, 1, -0.5f, 0.5f);
	randomize(t.c.bias.data, 4, 2, -0.5f, 0.5f);
	CHECK_INT(dfm_nn_tensor_shape(&t.x, dims[0], dims[1], dims[2], dims[3]), 0);
	randomize(t.x.data, t.x.count, 3, -1, 1);
	CHECK_INT(dfm_nn_conv_forward(&t.ctx, &t.c, &t.x, &t.y, true), 0);
	CHECK_INT(dfm_nn_tensor_like(&t.dy, &t.y), 0);
	randomize(t.dy.data, t.dy.count, 4, -1, 1);
	CHECK(!isnan(conv_loss(&t)));
	CHECK_INT(dfm_nn_conv_backward(&t.ctx, &t.c, &t.x, &t.dy, &t.dx), 0);
	check_grad(&pr, t.x.data, t.dx.data, t.x.count, 1e-2f, 2e-3, "conv dx");
	check_grad(&pr, t.c.weight.data, t.c.weight.grad, t.c.weight.count, sn ? 1e-3f : 1e-2f,
		   sn ? 1e-2 : 2e-3, "conv dweight");
	check_grad(&pr, t.c.bias.data, t.c.bias.grad, 4, 1e-2f, 2e-3, "conv dbias");
	dfm_nn_tensor_free(&t.x);
	dfm_nn_tensor_free(&t.y);
	dfm_nn_tensor_free(&t.dy);
	dfm_nn_tensor_free(&t.dx);
	dfm_nn_conv_free(&t.c);
	dfm_nn_ctx_free(&t.ctx);
}

TEST(nn_gradcheck_conv)
{
	conv_check(1, 3, false);
	conv_check(2, 3, false);
	conv_check(2, 1, false);
	conv_check(1, 3, true);
}

/* Linear. */

struct linear_case {
	struct dfm_nn_ctx ctx;
	struct dfm_nn_linear l;
	struct dfm_nn_tensor x, y, dy, dx;
};

static double
linear_loss(void *arg)
{
	struct linear_case *t = arg;

	if (dfm_nn_linear_forward(&t->ctx, &t->l, &t->x, &t->y, false))
		return NAN;
	return dot(&t->y, t->dy.data);
}

TEST(nn_gradcheck_linear_sn)
{
	struct linear_case t = {0};
	struct probe pr = {linear_loss, &t};

	CHECK_INT(dfm_nn_ctx_init(&t.ctx, 0), 0);
	CHECK_INT(dfm_nn_linear_init(&t.l, 5, 4, true, true), 0);
	randomize(t.l.weight.data, t.l.weight.count, 1, -0.5f, 0.5f);
	CHECK_INT(dfm_nn_tensor_shape(&t.x, 3, 5, 0, 1), 0);
	randomize(t.x.data, t.x.count, 3, -1, 1);
	CHECK_INT(dfm_nn_linear_forward(&t.ctx, &t.l, &t.x, &t.y, true), 0);
	CHECK_INT(dfm_nn_tensor_like(&t.dy, &t.y), 0);
	randomize(t.dy.data, t.dy.count, 4, -1, 1);
	CHECK(!isnan(linear_loss(&t)));
	CHECK_INT(dfm_nn_linear_backward(&t.ctx, &t.l, &t.x, &t.dy, &t.dx), 0);
	check_grad(&pr, t.x.data, t.dx.data, t.x.count, 1e-2f, 2e-3, "linear dx");
	check_grad(&pr, t.l.weight.data, t.l.weight.grad, t.l.weight.count, 1e-3f, 1e-2,
		   "linear dweight");
	check_grad(&pr, t.l.bias.data, t.l.bias.grad, 4, 1e-2f, 2e-3, "linear dbias");
	dfm_nn_tensor_free(&t.x);
	dfm_nn_tensor_free(&t.y);
	dfm_nn_tensor_free(&t.dy);
	dfm_nn_tensor_free(&t.dx);
	dfm_nn_linear_free(&t.l);
	dfm_nn_ctx_free(&t.ctx);
}

/* Batch norm, plain and conditional, with and without the fused ReLU. */

struct bn_case {
	struct dfm_nn_bn b;
	struct dfm_nn_tensor x, y, dy, dx;
	int32_t labels[4];
};

static double
bn_loss(void *arg)
{
	struct bn_case *t = arg;

	if (dfm_nn_bn_forward(&t->b, &t->x, t->labels, &t->y, true))
		return NAN;
	return dot(&t->y, t->dy.data);
}

static void
bn_check(int nclass, bool relu)
{
	struct bn_case t = {.labels = {1, 0, 1, 2}};
	struct probe pr = {bn_loss, &t};

	CHECK_INT(dfm_nn_bn_init(&t.b, 3, nclass), 0);
	t.b.relu = relu;
	randomize(t.b.gamma.data, t.b.gamma.count, 1, 0.5f, 1.5f);
	randomize(t.b.beta.data, t.b.beta.count, 2, -0.5f, 0.5f);
	CHECK_INT(dfm_nn_tensor_shape(&t.x, 4, 3, 3, 3), 0);
	randomize(t.x.data, t.x.count, 3, -2, 2);
	CHECK_INT(dfm_nn_tensor_like(&t.dy, &t.x), 0);
	randomize(t.dy.data, t.dy.count, 4, -1, 1);
	CHECK(!isnan(bn_loss(&t)));
	CHECK_INT(dfm_nn_bn_backward(&t.b, &t.x, t.labels, &t.dy, &t.dx), 0);
	check_grad(&pr, t.x.data, t.dx.data, t.x.count, 1e-3f, 2e-2, "batch norm dx");
	check_grad(&pr, t.b.gamma.data, t.b.gamma.grad, t.b.gamma.count, 1e-3f, 1e-2,
		   "batch norm dgamma");
	check_grad(&pr, t.b.beta.data, t.b.beta.grad, t.b.beta.count, 1e-3f, 1e-2,
		   "batch norm dbeta");
	dfm_nn_tensor_free(&t.x);
	dfm_nn_tensor_free(&t.y);
	dfm_nn_tensor_free(&t.dy);
	dfm_nn_tensor_free(&t.dx);
	dfm_nn_bn_free(&t.b);
}

TEST(nn_gradcheck_batchnorm)
{
	bn_check(0, false);
	bn_check(3, false);
	bn_check(3, true);
}

/* Parameter-free layers, one loss each. */

enum op { OP_RELU, OP_TANH, OP_POOL, OP_UP, OP_GSUM, OP_GAVG, OP_MAX, OP_AVG };

struct op_case {
	enum op op;
	struct dfm_nn_pool pool;
	struct dfm_nn_tensor x, y, dy, dx;
};

static int
op_forward(struct op_case *t)
{
	switch (t->op) {
	case OP_RELU:
		return dfm_nn_relu_forward(&t->x, &t->y);
	case OP_TANH:
		return dfm_nn_tanh_forward(&t->x, &t->y);
	case OP_POOL:
		return dfm_nn_avgpool2_forward(&t->x, &t->y);
	case OP_UP:
		return dfm_nn_upsample2_forward(&t->x, &t->y);
	case OP_GSUM:
		return dfm_nn_global_sum_forward(&t->x, &t->y);
	case OP_GAVG:
		return dfm_nn_global_avg_forward(&t->x, &t->y);
	case OP_MAX:
		return dfm_nn_maxpool_forward(&t->pool, &t->x, &t->y);
	default:
		return dfm_nn_avgpool_forward(&t->pool, &t->x, &t->y);
	}
}

static int
op_backward(struct op_case *t)
{
	switch (t->op) {
	case OP_RELU:
		return dfm_nn_relu_backward(&t->x, &t->dy, &t->dx);
	case OP_TANH:
		return dfm_nn_tanh_backward(&t->y, &t->dy, &t->dx);
	case OP_POOL:
		return dfm_nn_avgpool2_backward(&t->dy, &t->dx);
	case OP_UP:
		return dfm_nn_upsample2_backward(&t->dy, &t->dx);
	case OP_GSUM:
		return dfm_nn_global_sum_backward(&t->dy, &t->x, &t->dx);
	case OP_GAVG:
		return dfm_nn_global_avg_backward(&t->dy, &t->x, &t->dx);
	case OP_MAX:
		return dfm_nn_maxpool_backward(&t->pool, &t->x, &t->dy, &t->dx);
	default:
		return dfm_nn_avgpool_backward(&t->pool, &t->x, &t->dy, &t->dx);
	}
}

static double
op_loss(void *arg)
{
	struct op_case *t = arg;

	return op_forward(t) ? NAN : dot(&t->y, t->dy.data);
}

TEST(nn_gradcheck_ops)
{
	const char *names[] = {"relu", "tanh", "avgpool2", "upsample", "global sum",
			       "global average", "max pool", "average pool"};

	for (int op = OP_RELU; op <= OP_AVG; op++) {
		/* Overlapping 3x3 windows, stride 2, padding excluded from averages. */
		struct op_case t = {.op = op, .pool = {3, 2, 1, true, NULL, 0}};
		struct probe pr = {op_loss, &t};

		CHECK_INT(dfm_nn_tensor_shape(&t.x, 2, 3, 4, 4), 0);
		randomize(t.x.data, t.x.count, 3, -1, 1);
		/* Keep ReLU's inputs away from its kink. */
		for (size_t i = 0; i < t.x.count; i++)
			t.x.data[i] += t.x.data[i] > 0 ? 0.1f : -0.1f;
		CHECK_INT(op_forward(&t), 0);
		CHECK_INT(dfm_nn_tensor_like(&t.dy, &t.y), 0);
		randomize(t.dy.data, t.dy.count, 4, -1, 1);
		CHECK_INT(op_backward(&t), 0);
		check_grad(&pr, t.x.data, t.dx.data, t.x.count, 1e-2f, 5e-3, names[op]);
		dfm_nn_pool_free(&t.pool);
		dfm_nn_tensor_free(&t.x);
		dfm_nn_tensor_free(&t.y);
		dfm_nn_tensor_free(&t.dy);
		dfm_nn_tensor_free(&t.dx);
	}
}

/* Embedding with spectral norm. */

struct embed_case {
	struct dfm_nn_embed e;
	struct dfm_nn_tensor y, dy;
	int32_t labels[3];
};

static double
embed_loss(void *arg)
{
	struct embed_case *t = arg;

	if (dfm_nn_embed_forward(&t->e, t->labels, 3, &t->y, false))
		return NAN;
	return dot(&t->y, t->dy.data);
}

TEST(nn_gradcheck_embedding_sn)
{
	struct embed_case t = {.labels = {2, 0, 2}};
	struct probe pr = {embed_loss, &t};

	CHECK_INT(dfm_nn_embed_init(&t.e, 3, 4, true), 0);
	randomize(t.e.weight.data, t.e.weight.count, 1, -1, 1);
	CHECK_INT(dfm_nn_embed_forward(&t.e, t.labels, 3, &t.y, true), 0);
	CHECK_INT(dfm_nn_tensor_like(&t.dy, &t.y), 0);
	randomize(t.dy.data, t.dy.count, 4, -1, 1);
	CHECK(!isnan(embed_loss(&t)));
	dfm_nn_embed_backward(&t.e, t.labels, &t.dy);
	check_grad(&pr, t.e.weight.data, t.e.weight.grad, t.e.weight.count, 1e-3f, 1e-2,
		   "embedding dweight");
	dfm_nn_tensor_free(&t.y);
	dfm_nn_tensor_free(&t.dy);
	dfm_nn_embed_free(&t.e);
}

/* Hinge losses: their own scalar, no r. */

struct hinge_case {
	struct dfm_nn_tensor d, dd;
	bool gen;
};

static double
hinge_loss(void *arg)
{
	struct hinge_case *t = arg;
	double loss;
	int err = t->gen ? dfm_nn_hinge_g(&t->d, &loss, &t->dd)
			 : dfm_nn_hinge_d(&t->d, 3, &loss, &t->dd);

	return err ? NAN : loss;
}

TEST(nn_gradcheck_hinge)
{
	const float scores[6] = {0.5f, 1.5f, -2.0f, -0.3f, 0.7f, -1.2f};

	for (int gen = 0; gen < 2; gen++) {
		struct hinge_case t = {.gen = gen};
		struct probe pr = {hinge_loss, &t};
		float grad[6];

		CHECK_INT(dfm_nn_tensor_shape(&t.d, 6, 1, 0, 1), 0);
		memcpy(t.d.data, scores, sizeof scores);
		CHECK(!isnan(hinge_loss(&t)));
		memcpy(grad, t.dd.data, sizeof grad);
		check_grad(&pr, t.d.data, grad, 6, 1e-2f, 1e-3, gen ? "hinge G" : "hinge D");
		dfm_nn_tensor_free(&t.d);
		dfm_nn_tensor_free(&t.dd);
	}
}

/* Softmax cross-entropy and binary cross-entropy with logits. */

struct class_case {
	struct dfm_nn_tensor z, dz;
	int32_t labels[3];
	float targets[12];
	bool binary;
};

static double
class_loss(void *arg)
{
	struct class_case *t = arg;
	double loss;
	int err = t->binary ? dfm_nn_bce_logits(&t->z, t->targets, &loss, &t->dz)
			    : dfm_nn_softmax_ce(&t->z, t->labels, &loss, &t->dz);

	return err ? NAN : loss;
}

TEST(nn_gradcheck_classification_losses)
{
	for (int binary = 0; binary < 2; binary++) {
		struct class_case t = {.labels = {3, 0, 1}, .binary = binary};
		struct probe pr = {class_loss, &t};
		float grad[12];

		CHECK_INT(dfm_nn_tensor_shape(&t.z, 3, 4, 0, 1), 0);
		randomize(t.z.data, 12, 5, -2, 2);
		randomize(t.targets, 12, 6, 0, 1);
		CHECK(!isnan(class_loss(&t)));
		memcpy(grad, t.dz.data, sizeof grad);
		check_grad(&pr, t.z.data, grad, 12, 1e-2f, 2e-3,
			   binary ? "binary cross-entropy" : "softmax cross-entropy");
		dfm_nn_tensor_free(&t.z);
		dfm_nn_tensor_free(&t.dz);
	}
}
