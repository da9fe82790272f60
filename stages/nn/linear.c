/* Fully connected layer over oneDNN matmul.  The weight stays (out, in) in
 * PyTorch's layout; each product reads it through strides, so no reorder is
 * needed: y = x W', dx = dy W, dW = dy' x. */
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

enum { MAX_PLANS = 4 };

struct dfm_nn_linear_plan {
	int64_t n;
	dnnl_primitive_t fwd, bwd_data, bwd_wei;
	dnnl_memory_desc_t x_md, y_md, wt_md, w_md, bias_md, dyt_md;
};

int
dfm_nn_linear_init(struct dfm_nn_linear *l, int in, int out, bool bias, bool sn)
{
	int64_t wshape[2] = {out, in}, bshape[1] = {out};
	int err;

	memset(l, 0, sizeof *l);
	l->in = in;
	l->out = out;
	l->has_bias = bias;
	l->has_sn = sn;
	err = dfm_nn_param_init(&l->weight, 2, wshape);
	if (!err && bias)
		err = dfm_nn_param_init(&l->bias, 1, bshape);
	if (!err && sn)
		err = dfm_nn_sn_init(&l->sn, out, in, 0, "linear");
	if (!err) {
		l->dw = dfm_nn_alloc(l->weight.count);
		l->plans = calloc(MAX_PLANS, sizeof *l->plans);
		if (!l->dw || !l->plans)
			err = dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a linear layer");
	}
	if (err)
		dfm_nn_linear_free(l);
	return err;
}

static void
plan_free(struct dfm_nn_linear_plan *p)
{
	if (p->fwd)
		dnnl_primitive_destroy(p->fwd);
	if (p->bwd_data)
		dnnl_primitive_destroy(p->bwd_data);
	if (p->bwd_wei)
		dnnl_primitive_destroy(p->bwd_wei);
	memset(p, 0, sizeof *p);
}

void
dfm_nn_linear_free(struct dfm_nn_linear *l)
{
	for (int i = 0; i < l->nplans; i++)
		plan_free(&l->plans[i]);
	free(l->plans);
	free(l->dw);
	dfm_nn_param_free(&l->weight);
	dfm_nn_param_free(&l->bias);
	dfm_nn_sn_free(&l->sn);
	memset(l, 0, sizeof *l);
}

static int
matmul(const struct dfm_nn_ctx *ctx, const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b,
       const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *c, dnnl_primitive_t *out)
{
	dnnl_matmul_desc_t d;
	dnnl_primitive_desc_t pd;
	int err;

	err = dfm_nn_check(dnnl_matmul_desc_init(&d, a, b, bias, c), "matmul descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_desc_create(&pd, &d, NULL, ctx->engine, NULL),
				   "matmul");
	if (err)
		return err;
	err = dfm_nn_check(dnnl_primitive_create(out, pd), "matmul");
	dnnl_primitive_desc_destroy(pd);
	return err;
}

static int
strided(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t s0, int64_t s1)
{
	dnnl_dims_t dims = {rows, cols}, strides = {s0, s1};

	return dfm_nn_check(dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides),
			    "matmul descriptor");
}

static int
plan_init(const struct dfm_nn_ctx *ctx, const struct dfm_nn_linear *l,
	  struct dfm_nn_linear_plan *p)
{
	int64_t n = p->n, in = l->in, out = l->out;
	dnnl_memory_desc_t dw_md;
	int err;

	err = strided(&p->x_md, n, in, in, 1);
	if (!err)
		err = strided(&p->y_md, n, out, out, 1);
	if (!err)
		err = strided(&p->wt_md, in, out, 1, in);
	if (!err)
		err = strided(&p->w_md, out, in, in, 1);
	if (!err)
		err = strided(&p->bias_md, 1, out, out, 1);
	if (!err)
		err = strided(&p->dyt_md, out, n, 1, out);
	if (err)
		return err;
	dw_md = p->w_md;
	err = matmul(ctx, &p->x_md, &p->wt_md, l->has_bias ? &p->bias_md : NULL, &p->y_md,
		     &p->fwd);
	if (!err)
		err = matmul(ctx, &p->y_md, &p->w_md, NULL, &p->x_md, &p->bwd_data);
	if (!err)
		err = matmul(ctx, &p->dyt_md, &p->x_md, NULL, &dw_md, &p->bwd_wei);
	return err;
}

static int
plan_for(const struct dfm_nn_ctx *ctx, struct dfm_nn_linear *l, const struct dfm_nn_tensor *x,
	 struct dfm_nn_linear_plan **out)
{
	struct dfm_nn_linear_plan *p;
	int err;

	if (x->ndim != 2 || x->dims[1] != l->in)
		return dfm_nn_fail(DFM_ERR_USAGE, "linear: input has %lld features, want %d",
				   (long long)x->dims[1], l->in);
	for (int i = 0; i < l->nplans; i++)
		if (l->plans[i].n == x->dims[0]) {
			*out = &l->plans[i];
			return 0;
		}
	if (l->nplans == MAX_PLANS) {
		plan_free(&l->plans[0]);
		memmove(l->plans, l->plans + 1, (MAX_PLANS - 1) * sizeof *l->plans);
		l->nplans--;
	}
	p = &l->plans[l->nplans++];
	memset(p, 0, sizeof *p);
	p->n = x->dims[0];
	err = plan_init(ctx, l, p);
	if (err) {
		plan_free(p);
		l->nplans--;
		return err;
	}
	*out = p;
	return 0;
}

static int
run3(const struct dfm_nn_ctx *ctx, dnnl_primitive_t prim, const dnnl_memory_desc_t *a,
     const void *pa, const dnnl_memory_desc_t *b, const void *pb,
     const dnnl_memory_desc_t *c, void *pc, const dnnl_memory_desc_t *bias, const void *pbias)
{
	dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, NULL}, {DNNL_ARG_WEIGHTS, NULL},
				   {DNNL_ARG_DST, NULL}, {DNNL_ARG_BIAS, NULL}};
	int nargs = bias ? 4 : 3, err;

	err = dfm_nn_memory(ctx, a, (void *)pa, &args[0].memory);
	if (!err)
		err = dfm_nn_memory(ctx, b, (void *)pb, &args[1].memory);
	if (!err)
		err = dfm_nn_memory(ctx, c, pc, &args[2].memory);
	if (!err && bias)
		err = dfm_nn_memory(ctx, bias, (void *)pbias, &args[3].memory);
	if (!err)
		err = dfm_nn_check(dnnl_primitive_execute(prim, ctx->stream, nargs, args),
				   "matmul");
	if (!err)
		err = dfm_nn_check(dnnl_stream_wait(ctx->stream), "matmul");
	for (int i = 0; i < 4; i++)
		if (args[i].memory)
			dnnl_memory_destroy(args[i].memory);
	return err;
}

static const float *
effective_weight(const struct dfm_nn_linear *l)
{
	return l->has_sn ? l->sn.w : l->weight.data;
}

int
dfm_nn_linear_forward(const struct dfm_nn_ctx *ctx, struct dfm_nn_linear *l,
		      const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y, bool train)
{
	struct dfm_nn_linear_plan *p;
	int err;

	err = plan_for(ctx, l, x, &p);
	if (!err)
		err = dfm_nn_tensor_shape(y, p->n, l->out, 0, 1);
	if (err)
		return err;
	if (l->has_sn)
		dfm_nn_sn_forward(&l->sn, l->weight.data, train);
	return run3(ctx, p->fwd, &p->x_md, x->data, &p->wt_md, effective_weight(l), &p->y_md,
		    y->data, l->has_bias ? &p->bias_md : NULL, l->bias.data);
}

int
dfm_nn_linear_backward(const struct dfm_nn_ctx *ctx, struct dfm_nn_linear *l,
		       const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dy,
		       struct dfm_nn_tensor *dx)
{
	struct dfm_nn_linear_plan *p;
	int err;

	err = plan_for(ctx, l, x, &p);
	if (!err && dx)
		err = dfm_nn_tensor_shape(dx, p->n, l->in, 0, 1);
	if (!err && dx)
		err = run3(ctx, p->bwd_data, &p->y_md, dy->data, &p->w_md, effective_weight(l),
			   &p->x_md, dx->data, NULL, NULL);
	if (!err)
		err = run3(ctx, p->bwd_wei, &p->dyt_md, dy->data, &p->x_md, x->data, &p->w_md,
			   l->has_sn ? l->dw : l->weight.grad, NULL, NULL);
	if (err)
		return err;
	if (l->has_sn)
		dfm_nn_sn_backward(&l->sn, l->weight.data, l->dw, l->weight.grad);
	if (l->has_bias) {
		for (int o = 0; o < l->out; o++) {
			double s = 0;

			for (int64_t i = 0; i < p->n; i++)
				s += dy->data[i * l->out + o];
			l->bias.grad[o] = (float)s;
		}
	}
	return 0;
}
