/* Convolution over oneDNN.  Each primitive is created on the activation
 * layouts the library's rule gives its input and output (tensor.h: the
 * machine's channel block, or NHWC), and queried for what it takes.  Where
 * oneDNN has only a reference kernel for those layouts, other layouts are
 * tried (padded blocks, NHWC, oneDNN's own choice) and the input, output
 * and gradients are reordered at the layer's edges through the context's
 * scratch buffers.  Gradients are laid out as their activations.  The
 * weights are kept in PyTorch's OIHW and reordered, once per pass, into
 * whatever layout each primitive asks for.  Primitives are built once per
 * input shape and kept in the layer's plans.
 *
 * A plan runs either oneDNN's direct convolution or its Winograd one (3x3,
 * stride 1, AVX-512 only in oneDNN 2.6).  Under the auto policy the first
 * plan of each shape times both and keeps the faster; the verdict is
 * remembered for the life of the process, so every layer of that shape,
 * and every later run of it in the process, makes the same choice. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

enum { MAX_PLANS = 4 };

/* A reorder between two fixed layouts, built once. */
struct reorder {
	dnnl_primitive_t prim;          /* NULL when the layouts agree */
	dnnl_memory_desc_t from, to;
	bool ready;
};

struct dfm_nn_conv_plan {
	int64_t n, h, w;
	bool subsample;                 /* strided 1x1: pick pixels, then stride 1 */
	bool winograd;
	int layouts;                    /* which of the activation layouts tried */
	bool strict;                    /* refuse reference backward kernels */
	struct dfm_nn_tensor sub, dsub;
	dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md;  /* NHWC, NHWC, OIHW, x */
	dnnl_memory_desc_t psrc_md, pdst_md;  /* the activation layouts of the primitives */
	dnnl_memory_desc_t pdsrc_md;          /* the backward data pass's, for dx */
	dnnl_memory_desc_t out_md;            /* the output tensor's, by the library's rule */
	int64_t out_cb;                       /* its channel block */
	dnnl_primitive_desc_t fwd_pd;
	dnnl_primitive_t fwd, bwd_data, bwd_wei;
	struct reorder wei_fwd, wei_bwd, diff_wei;
	struct reorder src_in, dst_out, ddst_in, dsrc_out;  /* at the edges, as needed */
	float *wei_fwd_buf, *wei_bwd_buf, *diff_wei_buf;
};

/* Activation layouts a convolution is tried on, in order (plan_forward). */
enum { LAYOUT_TRIES = 5 };

/* Layouts the backward data pass may take for dx when the forward's has
 * only a reference kernel (plan_backward_data). */
enum { DSRC_TRIES = 3 };

/* Scratch buffers of the context, by role. */
enum { SCRATCH_SRC, SCRATCH_DST, SCRATCH_DIFF_SRC };

static int
reorder_init(const struct dfm_nn_ctx *ctx, struct reorder *r, const dnnl_memory_desc_t *from,
	     const dnnl_memory_desc_t *to)
{
	dnnl_primitive_desc_t pd;
	int err;

	r->from = *from;
	r->to = *to;
	if (dnnl_memory_desc_equal(from, to))
		return 0;
	err = dfm_nn_check(dnnl_reorder_primitive_desc_create(&pd, from, ctx->engine, to,
							      ctx->engine, NULL), "reorder");
	if (err)
		return err;
	err = dfm_nn_check(dnnl_primitive_create(&r->prim, pd), "reorder");
	dnnl_primitive_desc_destroy(pd);
	return err;
}

/* Makes r a reorder from one layout to another, rebuilding it only when
 * either differs from last time. */
static int
reorder_ensure(const struct dfm_nn_ctx *ctx, struct reorder *r, const dnnl_memory_desc_t *from,
	       const dnnl_memory_desc_t *to)
{
	int err;

	if (r->ready && dnnl_memory_desc_equal(&r->from, from) &&
	    dnnl_memory_desc_equal(&r->to, to))
		return 0;
	if (r->prim)
		dnnl_primitive_destroy(r->prim);
	r->prim = NULL;
	err = reorder_init(ctx, r, from, to);
	r->ready = !err;
	return err;
}

/* Runs a primitive on (arg, memory descriptor, pointer) triples. */
static int
run(const struct dfm_nn_ctx *ctx, dnnl_primitive_t prim, int nargs, const int *argk,
    const dnnl_memory_desc_t *const *mds, void *const *ptrs, const char *what)
{
	dnnl_exec_arg_t args[8];
	int err = 0, made = 0;

	for (; made < nargs && !err; made++) {
		args[made].arg = argk[made];
		err = dfm_nn_memory(ctx, mds[made], ptrs[made], &args[made].memory);
		if (err)
			break;
	}
	if (!err)
		err = dfm_nn_check(dnnl_primitive_execute(prim, ctx->stream, nargs, args), what);
	if (!err)
		err = dfm_nn_check(dnnl_stream_wait(ctx->stream), what);
	for (int i = 0; i < made; i++)
		dnnl_memory_destroy(args[i].memory);
	return err;
}

/* The offset of a logical index in a blocked memory descriptor: outer
 * blocks through the strides, then the inner blocks, innermost last. */
static int64_t
blocked_offset(const dnnl_memory_desc_t *md, const int64_t *idx)
{
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	int64_t blk[DNNL_MAX_NDIMS], rem[DNNL_MAX_NDIMS], off = md->offset0, inner = 0, step = 1;

	for (int d = 0; d < md->ndims; d++)
		blk[d] = 1;
	for (int k = 0; k < b->inner_nblks; k++)
		blk[b->inner_idxs[k]] *= b->inner_blks[k];
	for (int d = 0; d < md->ndims; d++) {
		off += idx[d] / blk[d] * b->strides[d];
		rem[d] = idx[d] % blk[d];
	}
	for (int k = b->inner_nblks - 1; k >= 0; k--) {
		int d = (int)b->inner_idxs[k];

		inner += rem[d] % b->inner_blks[k] * step;
		rem[d] /= b->inner_blks[k];
		step *= b->inner_blks[k];
	}
	return off + inner;
}

/* Whether the spatial axes of a 4-D blocked layout are plain strided ones,
 * not split into inner blocks. */
static bool
spatial_plain(const dnnl_memory_desc_t *md)
{
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;

	for (int k = 0; k < b->inner_nblks; k++)
		if (b->inner_idxs[k] >= 2)
			return false;
	return true;
}

/* Copies 4-D weights between two blocked layouts on the calling thread.
 * Weights are small, and a oneDNN reorder opens a parallel region whose
 * cost, on a busy machine, is many times that of the copy.  The offset of
 * each (out, in) kernel is worked out once and its pixels follow by stride
 * where the layouts allow.  Padding in the destination is left as it is:
 * zero, from the allocation. */
static void
copy_blocked(const dnnl_memory_desc_t *from, const float *src, const dnnl_memory_desc_t *to,
	     float *dst)
{
	const int64_t *fs = from->format_desc.blocking.strides, *ts = to->format_desc.blocking.strides;
	bool fast = spatial_plain(from) && spatial_plain(to);
	int64_t i[4] = {0, 0, 0, 0};

	for (i[0] = 0; i[0] < from->dims[0]; i[0]++)
		for (i[1] = 0; i[1] < from->dims[1]; i[1]++) {
			int64_t f0, t0;

			i[2] = i[3] = 0;
			f0 = blocked_offset(from, i);
			t0 = blocked_offset(to, i);
			for (i[2] = 0; i[2] < from->dims[2]; i[2]++)
				for (i[3] = 0; i[3] < from->dims[3]; i[3]++)
					if (fast)
						dst[t0 + i[2] * ts[2] + i[3] * ts[3]] =
							src[f0 + i[2] * fs[2] + i[3] * fs[3]];
					else
						dst[blocked_offset(to, i)] =
							src[blocked_offset(from, i)];
		}
}

static bool
plain_copy(const dnnl_memory_desc_t *md)
{
	return md->format_kind == dnnl_blocked && md->ndims == 4 && md->data_type == dnnl_f32;
}

static int
reorder_run(const struct dfm_nn_ctx *ctx, const struct reorder *r, const void *from, void *to)
{
	int k[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
	const dnnl_memory_desc_t *mds[2] = {&r->from, &r->to};
	void *ptrs[2] = {(void *)from, to};

	if (!r->prim) {
		memcpy(to, from, dnnl_memory_desc_get_size(&r->from));
		return 0;
	}
	if (plain_copy(&r->from) && plain_copy(&r->to)) {
		copy_blocked(&r->from, from, &r->to, to);
		return 0;
	}
	return run(ctx, r->prim, 2, k, mds, ptrs, "weight reorder");
}

int
dfm_nn_conv_init(struct dfm_nn_conv *c, int cin, int cout, int k, int stride, int pad,
		 bool bias, bool sn)
{
	return dfm_nn_conv_init_rect(c, cin, cout, k, k, stride, pad, pad, bias, sn);
}

int
dfm_nn_conv_init_rect(struct dfm_nn_conv *c, int cin, int cout, int kh, int kw, int stride,
		      int ph, int pw, bool bias, bool sn)
{
	int64_t wshape[4] = {cout, cin, kh, kw}, bshape[1] = {cout};
	int err;

	memset(c, 0, sizeof *c);
	if (cin < 1 || cout < 1 || kh < 1 || kw < 1 || stride < 1 || ph < 0 || pw < 0)
		return dfm_nn_fail(DFM_ERR_USAGE, "convolution: bad geometry");
	c->cin = cin;
	c->cout = cout;
	c->kh = kh;
	c->kw = kw;
	c->stride = stride;
	c->ph = ph;
	c->pw = pw;
	c->has_bias = bias;
	c->has_sn = sn;
	err = dfm_nn_param_init(&c->weight, 4, wshape);
	if (!err && bias)
		err = dfm_nn_param_init(&c->bias, 1, bshape);
	if (!err && sn)
		err = dfm_nn_sn_init(&c->sn, cout, cin * kh * kw, 0, "conv");
	if (!err) {
		c->dw = dfm_nn_alloc(c->weight.count);
		c->plans = calloc(MAX_PLANS, sizeof *c->plans);
		if (!c->dw || !c->plans)
			err = dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a convolution");
	}
	if (err)
		dfm_nn_conv_free(c);
	return err;
}

static void
plan_free(struct dfm_nn_conv_plan *p)
{
	dnnl_primitive_t prims[] = {p->fwd, p->bwd_data, p->bwd_wei, p->wei_fwd.prim,
				    p->wei_bwd.prim, p->diff_wei.prim, p->src_in.prim,
				    p->dst_out.prim, p->ddst_in.prim, p->dsrc_out.prim};

	for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
		if (prims[i])
			dnnl_primitive_destroy(prims[i]);
	if (p->fwd_pd)
		dnnl_primitive_desc_destroy(p->fwd_pd);
	free(p->wei_fwd_buf);
	free(p->wei_bwd_buf);
	free(p->diff_wei_buf);
	dfm_nn_tensor_free(&p->sub);
	dfm_nn_tensor_free(&p->dsub);
	memset(p, 0, sizeof *p);
}

void
dfm_nn_conv_free(struct dfm_nn_conv *c)
{
	for (int i = 0; i < c->nplans; i++)
		plan_free(&c->plans[i]);
	free(c->plans);
	free(c->dw);
	dfm_nn_param_free(&c->weight);
	dfm_nn_param_free(&c->bias);
	dfm_nn_sn_free(&c->sn);
	memset(c, 0, sizeof *c);
}

/* Output size along the height (axis 0) or width (axis 1). */
static int64_t
out_size(const struct dfm_nn_conv *c, int64_t in, int axis)
{
	int k = axis ? c->kw : c->kh, pad = axis ? c->pw : c->ph;

	return (in + 2 * pad - k) / c->stride + 1;
}

/* Strides and padding.  oneDNN wants the right padding that makes the
 * output size exact; where the stride does not divide evenly, PyTorch drops
 * the last rows, which is a smaller (even negative) right padding.  A
 * strided 1x1 convolution runs as a stride-1 one on picked pixels: oneDNN
 * 2.6's strided 1x1 backward pass on NHWC writes outside its buffers when
 * the right padding is negative (as valgrind shows on AVX2). */
static void
geometry(const struct dfm_nn_conv *c, const struct dfm_nn_conv_plan *p, dnnl_dims_t strides,
	 dnnl_dims_t pad_l, dnnl_dims_t pad_r)
{
	if (p->subsample) {
		strides[0] = strides[1] = 1;
		pad_l[0] = pad_l[1] = pad_r[0] = pad_r[1] = 0;
		return;
	}
	strides[0] = strides[1] = c->stride;
	pad_l[0] = c->ph;
	pad_l[1] = c->pw;
	pad_r[0] = (out_size(c, p->h, 0) - 1) * c->stride + c->kh - p->h - c->ph;
	pad_r[1] = (out_size(c, p->w, 1) - 1) * c->stride + c->kw - p->w - c->pw;
}

/* Whether oneDNN fell back on its reference implementation, which is
 * hundreds of times slower than its JIT kernels. */
static bool
reference(const_dnnl_primitive_desc_t pd)
{
	const char *impl = NULL;

	return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) ==
		       dnnl_success && impl && strncmp(impl, "ref", 3) == 0;
}

/* The forward primitive descriptor, with the fused ReLU as a post-op;
 * DFM_ERR_DNNL when oneDNN has only a reference kernel for it. */
static int
create_forward(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	       const dnnl_convolution_desc_t *d, dnnl_primitive_desc_t *pd)
{
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t ops = NULL;
	int err = 0;

	if (c->relu) {
		err = dfm_nn_check(dnnl_primitive_attr_create(&attr), "attributes");
		if (!err)
			err = dfm_nn_check(dnnl_post_ops_create(&ops), "post-ops");
		if (!err)
			err = dfm_nn_check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu,
									0, 0), "post-ops");
		if (!err)
			err = dfm_nn_check(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
	}
	if (!err)
		err = dfm_nn_check(dnnl_primitive_desc_create(pd, d, attr, ctx->engine, NULL),
				   "convolution");
	if (!err && reference(*pd)) {
		dnnl_primitive_desc_destroy(*pd);
		*pd = NULL;
		err = dfm_nn_fail(DFM_ERR_DNNL, "convolution: only a reference kernel");
	}
	if (ops)
		dnnl_post_ops_destroy(ops);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return err;
}

static dnnl_alg_kind_t
algorithm(const struct dfm_nn_conv_plan *p)
{
	return p->winograd ? dnnl_convolution_winograd : dnnl_convolution_direct;
}

/* md = dims in the machine's channel blocks, padded where the channels do
 * not fill them; NHWC where there are no blocks or NHWC is forced. */
static int
padded_md(const struct dfm_nn_ctx *ctx, dnnl_memory_desc_t *md, const dnnl_dims_t dims)
{
	dnnl_format_tag_t tag = ctx->block <= 0 || ctx->nhwc ? dnnl_nhwc :
				ctx->block == 16 ? dnnl_aBcd16b : dnnl_aBcd8b;

	return dfm_nn_check(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "layout");
}

/* Builds the descriptors of a shape and the forward primitive, and settles
 * the layout of the output tensor. */
static int
plan_forward(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	     struct dfm_nn_conv_plan *p)
{
	int64_t oh = out_size(c, p->h, 0), ow = out_size(c, p->w, 1);
	dnnl_dims_t src = {p->n, c->cin, p->subsample ? oh : p->h, p->subsample ? ow : p->w};
	dnnl_dims_t wei = {c->cout, c->cin, c->kh, c->kw}, dst = {p->n, c->cout, oh, ow};
	dnnl_dims_t bias = {c->cout}, strides, pad, pad_r;
	dnnl_memory_desc_t wei_any, src_want, dst_want, src_any, dst_any, src_pad, dst_pad;
	dnnl_memory_desc_t src_nchw;
	dnnl_convolution_desc_t d;
	const dnnl_memory_desc_t *q;
	int err;

	geometry(c, p, strides, pad, pad_r);
	if (oh < 1 || ow < 1)
		return dfm_nn_fail(DFM_ERR_USAGE, "convolution: input %lldx%lld too small",
				   (long long)p->h, (long long)p->w);
	err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&p->src_md, 4, src, dnnl_f32, dnnl_nhwc),
			   "source descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&p->dst_md, 4, dst, dnnl_f32,
								dnnl_nhwc), "destination");
	/* Activations as the library lays them out (tensor.h); left to oneDNN,
	 * a three-channel input would go NCHW, whose backward pass has only a
	 * reference kernel, a thousand times slower. */
	if (!err)
		err = dfm_nn_layout_md(&src_want, src, dfm_nn_act_cblock(ctx, c->cin));
	if (!err)
		err = dfm_nn_layout_md(&dst_want, dst, dfm_nn_act_cblock(ctx, c->cout));
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&src_any, 4, src, dnnl_f32,
								dnnl_format_tag_any), "source");
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst, dnnl_f32,
								dnnl_format_tag_any), "destination");
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&p->wei_md, 4, wei, dnnl_f32,
								dnnl_oihw), "weights descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&p->bias_md, 1, bias, dnnl_f32,
								dnnl_x), "bias descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&wei_any, 4, wei, dnnl_f32,
								dnnl_format_tag_any),
				   "weights descriptor");
	/* The library's layouts; else both in the machine's blocks, padded where
	 * the channels do not fill them (oneDNN 2.6 mixes NHWC and blocks only
	 * in reference kernels; padding a three-channel side costs little);
	 * else an NCHW source into the library's output (the one mix oneDNN
	 * 2.6 has kernels for, forward and backward weights, which suits a
	 * network's three-channel input); else NHWC; else oneDNN's choice.
	 * Edges are reordered as needed. */
	if (!err)
		err = padded_md(ctx, &src_pad, src);
	if (!err)
		err = padded_md(ctx, &dst_pad, dst);
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&src_nchw, 4, src, dnnl_f32,
								dnnl_nchw), "source");
	for (int i = p->layouts; i < LAYOUT_TRIES && !err; i++) {
		const dnnl_memory_desc_t *sm[LAYOUT_TRIES] = {&src_want, &src_pad, &src_nchw,
							      &p->src_md, &src_any};
		const dnnl_memory_desc_t *dm[LAYOUT_TRIES] = {&dst_want, &dst_pad, &dst_want,
							      &p->dst_md, &dst_any};

		p->layouts = i;
		err = dfm_nn_check(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training,
			   algorithm(p), sm[i], &wei_any, c->has_bias ? &p->bias_md : NULL, dm[i],
			   strides, pad, pad_r), "convolution descriptor");
		if (!err)
			err = create_forward(ctx, c, &d, &p->fwd_pd);
		if (err == DFM_ERR_DNNL && i < LAYOUT_TRIES - 1) {
			err = 0;
			continue;
		}
		break;
	}
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&p->fwd, p->fwd_pd), "convolution");
	if (err)
		return err;
	p->psrc_md = *dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_src_md, 0);
	p->pdst_md = *dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_dst_md, 0);
	p->pdsrc_md = p->psrc_md;
	p->out_cb = dfm_nn_act_cblock(ctx, c->cout);
	p->out_md = dst_want;
	err = reorder_ensure(ctx, &p->dst_out, &p->pdst_md, &p->out_md);
	q = dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_weights_md, 0);
	if (!err)
		err = reorder_init(ctx, &p->wei_fwd, &p->wei_md, q);
	if (err)
		return err;
	p->wei_fwd_buf = dfm_nn_alloc(dnnl_memory_desc_get_size(q) / sizeof(float) + 1);
	if (!p->wei_fwd_buf)
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for convolution weights");
	return 0;
}

/* The backward passes are created on the forward's activation layouts, so
 * that gradients travel in the same layout as the activations.  The one
 * exception is dx: where the backward data pass has only a reference
 * kernel on the forward's source layout, it writes dx in the machine's
 * padded blocks or in NHWC instead, reordered at the edge.  In a strict
 * plan, no JIT kernel on any of them fails the plan. */
static int
plan_backward_data(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
		   struct dfm_nn_conv_plan *p)
{
	dnnl_dims_t wei = {c->cout, c->cin, c->kh, c->kw}, strides, pad, pad_r;
	dnnl_memory_desc_t wei_any, tries[DSRC_TRIES];
	dnnl_convolution_desc_t d;
	dnnl_primitive_desc_t pd = NULL, first = NULL;
	const dnnl_memory_desc_t *q;
	int err;

	geometry(c, p, strides, pad, pad_r);
	tries[0] = p->psrc_md;
	tries[2] = p->src_md;
	err = padded_md(ctx, &tries[1], p->psrc_md.dims);
	if (!err)
		err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&wei_any, 4, wei, dnnl_f32,
								dnnl_format_tag_any),
				   "weights descriptor");
	for (int i = 0; i < DSRC_TRIES && !err && !pd; i++) {
		err = dfm_nn_check(dnnl_convolution_backward_data_desc_init(&d, algorithm(p),
			   &tries[i], &wei_any, &p->pdst_md, strides, pad, pad_r),
			   "convolution backward data descriptor");
		if (!err && dnnl_primitive_desc_create(&pd, &d, NULL, ctx->engine,
						       p->fwd_pd) != dnnl_success)
			pd = NULL;
		if (pd && reference(pd)) {
			if (first)
				dnnl_primitive_desc_destroy(pd);
			else
				first = pd;
			pd = NULL;
		}
	}
	if (!err && !pd && first && !p->strict) {
		pd = first;
		first = NULL;
	}
	if (!err && !pd)
		err = dfm_nn_fail(DFM_ERR_DNNL, "convolution backward data: %s",
				  first ? "only a reference kernel" : "no kernel");
	if (first)
		dnnl_primitive_desc_destroy(first);
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&p->bwd_data, pd),
				   "convolution backward data");
	if (!err)
		p->pdsrc_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
	if (!err) {
		q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		err = reorder_init(ctx, &p->wei_bwd, &p->wei_md, q);
	}
	if (!err) {
		p->wei_bwd_buf = dfm_nn_alloc(dnnl_memory_desc_get_size(q) / sizeof(float) + 1);
		if (!p->wei_bwd_buf)
			err = dfm_nn_fail(DFM_ERR_NOMEM, "no memory for convolution weights");
	}
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return err;
}

static int
plan_backward_weights(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
		      struct dfm_nn_conv_plan *p)
{
	dnnl_dims_t wei = {c->cout, c->cin, c->kh, c->kw}, strides, pad, pad_r;
	dnnl_memory_desc_t wei_any;
	dnnl_convolution_desc_t d;
	dnnl_primitive_desc_t pd = NULL;
	const dnnl_memory_desc_t *q;
	int err;

	geometry(c, p, strides, pad, pad_r);
	err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&wei_any, 4, wei, dnnl_f32,
							dnnl_format_tag_any), "weights descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_convolution_backward_weights_desc_init(&d, algorithm(p),
			   &p->psrc_md, &wei_any, c->has_bias ? &p->bias_md : NULL, &p->pdst_md,
			   strides, pad, pad_r), "convolution backward weights descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_desc_create(&pd, &d, NULL, ctx->engine,
							      p->fwd_pd),
				   "convolution backward weights");
	if (!err && p->strict && reference(pd))
		err = dfm_nn_fail(DFM_ERR_DNNL,
				  "convolution backward weights: only a reference kernel");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&p->bwd_wei, pd),
				   "convolution backward weights");
	if (!err) {
		q = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
		err = reorder_init(ctx, &p->diff_wei, q, &p->wei_md);
	}
	if (!err) {
		p->diff_wei_buf = dfm_nn_alloc(dnnl_memory_desc_get_size(q) / sizeof(float) + 1);
		if (!p->diff_wei_buf)
			err = dfm_nn_fail(DFM_ERR_NOMEM, "no memory for convolution gradients");
	}
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return err;
}

/* Data laid out as md into the layout a primitive takes, want: data itself
 * when the layouts agree, else a copy in scratch buffer slot. */
static int
edge_in(const struct dfm_nn_ctx *ctx, struct reorder *r, const dnnl_memory_desc_t *md,
	const dnnl_memory_desc_t *want, const float *data, int slot, const float **out)
{
	int k[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
	const dnnl_memory_desc_t *mds[2] = {&r->from, &r->to};
	void *ptrs[2] = {(void *)data, NULL};
	float *buf;
	int err = reorder_ensure(ctx, r, md, want);

	*out = data;
	if (err || !r->prim)
		return err;
	buf = dfm_nn_scratch(ctx, slot, dnnl_memory_desc_get_size(&r->to));
	if (!buf)
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a convolution's activations");
	ptrs[1] = buf;
	*out = buf;
	return run(ctx, r->prim, 2, k, mds, ptrs, "activation reorder");
}

/* Where a primitive writes what ends in data, laid out as r->to: data
 * itself when the layouts agree, else scratch buffer slot, which edge_out
 * then copies. */
static float *
edge_target(const struct dfm_nn_ctx *ctx, const struct reorder *r, float *data, int slot)
{
	return r->prim ? dfm_nn_scratch(ctx, slot, dnnl_memory_desc_get_size(&r->from)) : data;
}

static int
edge_out(const struct dfm_nn_ctx *ctx, const struct reorder *r, const float *from, float *data)
{
	int k[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
	const dnnl_memory_desc_t *mds[2] = {&r->from, &r->to};
	void *ptrs[2] = {(void *)from, data};

	return r->prim ? run(ctx, r->prim, 2, k, mds, ptrs, "activation reorder") : 0;
}

/* y = conv(x) with OIHW weights w; x laid out as xmd, y as p->out_md. */
static int
forward_raw(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	    struct dfm_nn_conv_plan *p, const dnnl_memory_desc_t *xmd, const float *x,
	    const float *w, float *y)
{
	int k[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
	const dnnl_memory_desc_t *mds[4] = {&p->psrc_md, &p->wei_fwd.to, &p->pdst_md,
					    &p->bias_md};
	const float *src;
	float *dst = edge_target(ctx, &p->dst_out, y, SCRATCH_DST);
	int err;

	if (!dst)
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a convolution's activations");
	err = reorder_run(ctx, &p->wei_fwd, w, p->wei_fwd_buf);
	if (!err)
		err = edge_in(ctx, &p->src_in, xmd, &p->psrc_md, x, SCRATCH_SRC, &src);
	if (!err) {
		void *ptrs[4] = {(void *)src, p->wei_fwd_buf, dst, c->bias.data};

		err = run(ctx, p->fwd, c->has_bias ? 4 : 3, k, mds, ptrs, "convolution");
	}
	if (!err)
		err = edge_out(ctx, &p->dst_out, dst, y);
	return err;
}

/* The gradients of x into dx and of the OIHW weights into dw (each unless
 * NULL; db with dw when the layer has a bias), from dy; x and dx are laid
 * out as xmd, dy as dymd. */
static int
backward_raw(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	     struct dfm_nn_conv_plan *p, const dnnl_memory_desc_t *xmd, const float *x,
	     const float *w, const dnnl_memory_desc_t *dymd, const float *dy, float *dx,
	     float *dw, float *db)
{
	const float *pdy = NULL, *px;
	int err = 0;

	if (dx && !p->bwd_data)
		err = plan_backward_data(ctx, c, p);
	if (!err && dw && !p->bwd_wei)
		err = plan_backward_weights(ctx, c, p);
	if (!err)
		err = edge_in(ctx, &p->ddst_in, dymd, &p->pdst_md, dy, SCRATCH_DST, &pdy);
	if (!err && dx)
		err = reorder_ensure(ctx, &p->dsrc_out, &p->pdsrc_md, xmd);
	if (!err && dx) {
		int k[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
		const dnnl_memory_desc_t *mds[3] = {&p->pdst_md, &p->wei_bwd.to, &p->pdsrc_md};
		float *pdx = edge_target(ctx, &p->dsrc_out, dx, SCRATCH_DIFF_SRC);
		void *ptrs[3] = {(void *)pdy, p->wei_bwd_buf, pdx};

		err = pdx ? reorder_run(ctx, &p->wei_bwd, w, p->wei_bwd_buf)
			  : dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a convolution's gradients");
		if (!err)
			err = run(ctx, p->bwd_data, 3, k, mds, ptrs, "convolution backward data");
		if (!err)
			err = edge_out(ctx, &p->dsrc_out, pdx, dx);
	}
	if (!err && dw) {
		int k[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
			    DNNL_ARG_DIFF_BIAS};
		const dnnl_memory_desc_t *mds[4] = {&p->psrc_md, &p->pdst_md, &p->diff_wei.from,
						    &p->bias_md};

		err = edge_in(ctx, &p->src_in, xmd, &p->psrc_md, x, SCRATCH_SRC, &px);
		if (!err) {
			void *ptrs[4] = {(void *)px, (void *)pdy, p->diff_wei_buf, db};

			err = run(ctx, p->bwd_wei, c->has_bias ? 4 : 3, k, mds, ptrs,
				  "convolution backward weights");
		}
		if (!err)
			err = reorder_run(ctx, &p->diff_wei, p->diff_wei_buf, dw);
	}
	return err;
}

/* What decides a convolution's speed, as the key of a remembered choice. */
struct shape_key {
	int64_t n, h, w;
	int cin, cout, kh, kw, stride, ph, pw, threads;
	bool bias, relu, train;
};

enum { MAX_CHOICES = 256 };

static struct {
	pthread_mutex_t lock;
	struct shape_key key[MAX_CHOICES];
	bool winograd[MAX_CHOICES];
	int n;
} choices = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct shape_key
shape_key(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	  const struct dfm_nn_conv_plan *p, bool train)
{
	struct shape_key k;

	memset(&k, 0, sizeof k);  /* padding too: keys are compared bytewise */
	k.n = p->n, k.h = p->h, k.w = p->w;
	k.cin = c->cin, k.cout = c->cout, k.kh = c->kh, k.kw = c->kw;
	k.stride = c->stride, k.ph = c->ph, k.pw = c->pw, k.threads = ctx->threads;
	k.bias = c->has_bias, k.relu = c->relu, k.train = train;
	return k;
}

/* 1 (Winograd) or 0 (direct) when this shape was measured, else -1. */
static int
recall(const struct shape_key *k)
{
	int found = -1;

	pthread_mutex_lock(&choices.lock);
	for (int i = 0; i < choices.n && found < 0; i++)
		if (memcmp(&choices.key[i], k, sizeof *k) == 0)
			found = choices.winograd[i];
	pthread_mutex_unlock(&choices.lock);
	return found;
}

static void
remember(const struct shape_key *k, bool winograd)
{
	pthread_mutex_lock(&choices.lock);
	if (choices.n < MAX_CHOICES) {
		choices.key[choices.n] = *k;
		choices.winograd[choices.n++] = winograd;
	}
	pthread_mutex_unlock(&choices.lock);
}

static double
seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { TIMING_RUNS = 3 };

/* The best of a few runs of the plan's forward pass, and of its backward
 * passes when it is for training, on zero data in the layouts the plan
 * takes and gives. */
static int
time_plan(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	  struct dfm_nn_conv_plan *p, bool train, double *best)
{
	size_t nx = dnnl_memory_desc_get_size(&p->psrc_md) / sizeof(float);
	size_t ny = dnnl_memory_desc_get_size(&p->out_md) / sizeof(float);
	float *x = dfm_nn_alloc(nx), *y = dfm_nn_alloc(ny), *dx = dfm_nn_alloc(nx);
	float *w = dfm_nn_alloc(c->weight.count), *dw = dfm_nn_alloc(c->weight.count);
	float *db = dfm_nn_alloc((size_t)c->cout);
	int err = 0;

	if (!x || !y || !dx || !w || !dw || !db)
		err = dfm_nn_fail(DFM_ERR_NOMEM, "no memory to time a convolution");
	*best = 1e30;
	for (int r = 0; r <= TIMING_RUNS && !err; r++) {
		double t0 = seconds(), t;

		err = forward_raw(ctx, c, p, &p->psrc_md, x, w, y);
		if (!err && train)
			err = backward_raw(ctx, c, p, &p->psrc_md, x, w, &p->out_md, y, dx, dw,
					   db);
		t = seconds() - t0;
		if (r > 0 && t < *best)  /* the first run warms caches and JIT code */
			*best = t;
	}
	free(x), free(y), free(dx), free(w), free(dw), free(db);
	return err;
}

/* A complete plan for one algorithm: forward, and backward when training,
 * on the first activation layouts where none of the passes is left to a
 * reference kernel (a backward pass planned later takes what it gets). */
static int
plan_build(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	   struct dfm_nn_conv_plan *p, bool winograd, bool train)
{
	struct dfm_nn_conv_plan blank = *p;
	int err;

	for (;;) {
		p->winograd = winograd;
		p->strict = train && p->layouts < LAYOUT_TRIES - 1;
		err = plan_forward(ctx, c, p);
		if (!err && train)
			err = plan_backward_data(ctx, c, p);
		if (!err && train)
			err = plan_backward_weights(ctx, c, p);
		if (!err || !train || p->layouts >= LAYOUT_TRIES - 1 || !p->fwd)
			return err;
		blank.layouts = p->layouts + 1;
		plan_free(p);
		*p = blank;
	}
}

/* Fills in the primitives of a plan whose shape is set, choosing the
 * algorithm as the context's policy says. */
static int
plan_choose(const struct dfm_nn_ctx *ctx, const struct dfm_nn_conv *c,
	    struct dfm_nn_conv_plan *p, bool train)
{
	struct dfm_nn_conv_plan wino = *p, direct = *p;
	struct shape_key key = shape_key(ctx, c, p, train);
	double t_wino, t_direct;
	int known, err;

	if (ctx->conv_algo == DFM_NN_CONV_DIRECT || c->kh != 3 || c->kw != 3 ||
	    p->subsample || (ctx->conv_algo == DFM_NN_CONV_AUTO && recall(&key) == 0))
		return plan_build(ctx, c, p, false, false);
	if (plan_build(ctx, c, &wino, true, train)) {
		/* No Winograd kernel for this shape or machine: direct it is. */
		plan_free(&wino);
		return plan_build(ctx, c, p, false, false);
	}
	known = recall(&key);
	if (ctx->conv_algo == DFM_NN_CONV_WINOGRAD || known == 1) {
		*p = wino;
		return 0;
	}
	err = plan_build(ctx, c, &direct, false, train);
	if (!err)
		err = time_plan(ctx, c, &direct, train, &t_direct);
	if (!err)
		err = time_plan(ctx, c, &wino, train, &t_wino);
	if (err) {
		plan_free(&wino);
		plan_free(&direct);
		return err;
	}
	remember(&key, t_wino < t_direct);
	*p = t_wino < t_direct ? wino : direct;
	plan_free(t_wino < t_direct ? &direct : &wino);
	return 0;
}

/* The plan for x's shape, made on first use; the oldest is replaced when
 * all slots are taken. */
static int
plan_for(const struct dfm_nn_ctx *ctx, struct dfm_nn_conv *c, const struct dfm_nn_tensor *x,
	 bool train, struct dfm_nn_conv_plan **out)
{
	struct dfm_nn_conv_plan *p;
	int err;

	if (x->ndim != 4 || x->dims[1] != c->cin)
		return dfm_nn_fail(DFM_ERR_USAGE, "convolution: input has %lld channels, want %d",
				   (long long)x->dims[1], c->cin);
	for (int i = 0; i < c->nplans; i++) {
		p = &c->plans[i];
		if (p->n == x->dims[0] && p->h == x->dims[2] && p->w == x->dims[3]) {
			*out = p;
			return 0;
		}
	}
	if (c->nplans == MAX_PLANS) {
		plan_free(&c->plans[0]);
		memmove(c->plans, c->plans + 1, (MAX_PLANS - 1) * sizeof *c->plans);
		c->nplans--;
	}
	p = &c->plans[c->nplans++];
	memset(p, 0, sizeof *p);
	p->n = x->dims[0];
	p->h = x->dims[2];
	p->w = x->dims[3];
	p->subsample = c->kh == 1 && c->kw == 1 && c->stride > 1 && c->ph == 0 && c->pw == 0;
	err = plan_choose(ctx, c, p, train);
	if (err) {
		plan_free(p);
		c->nplans--;
		return err;
	}
	*out = p;
	return 0;
}

bool
dfm_nn_conv_winograd(const struct dfm_nn_conv *c, const struct dfm_nn_tensor *x)
{
	for (int i = 0; i < c->nplans; i++)
		if (c->plans[i].n == x->dims[0] && c->plans[i].h == x->dims[2] &&
		    c->plans[i].w == x->dims[3])
			return c->plans[i].winograd;
	return false;
}

/* sub = the pixels a strided 1x1 convolution reads, in x's layout. */
static int
pick_pixels(const struct dfm_nn_conv *c, const struct dfm_nn_tensor *x,
	    struct dfm_nn_tensor *sub)
{
	int64_t planes = dfm_nn_planes(x), cb = x->cb, h = x->dims[2], w = x->dims[3];
	int64_t oh = out_size(c, h, 0), ow = out_size(c, w, 1), s = c->stride;
	int err = dfm_nn_tensor_shape_blocked(sub, x->dims[0], x->dims[1], oh, ow, cb);

	if (err)
		return err;
	for (int64_t q = 0; q < planes; q++)
		for (int64_t y = 0; y < oh; y++)
			for (int64_t xx = 0; xx < ow; xx++)
				memcpy(sub->data + ((q * oh + y) * ow + xx) * cb,
				       x->data + ((q * h + y * s) * w + xx * s) * cb,
				       (size_t)cb * sizeof(float));
	return 0;
}

/* The inverse for gradients: dx is zero but at the picked pixels. */
static void
place_pixels(const struct dfm_nn_conv *c, const struct dfm_nn_tensor *dsub,
	     struct dfm_nn_tensor *dx)
{
	int64_t planes = dfm_nn_planes(dx), cb = dx->cb, h = dx->dims[2], w = dx->dims[3];
	int64_t oh = dsub->dims[2], ow = dsub->dims[3], s = c->stride;

	dfm_nn_tensor_zero(dx);
	for (int64_t q = 0; q < planes; q++)
		for (int64_t y = 0; y < oh; y++)
			for (int64_t xx = 0; xx < ow; xx++)
				memcpy(dx->data + ((q * h + y * s) * w + xx * s) * cb,
				       dsub->data + ((q * oh + y) * ow + xx) * cb,
				       (size_t)cb * sizeof(float));
}

static const float *
effective_weight(const struct dfm_nn_conv *c)
{
	return c->has_sn ? c->sn.w : c->weight.data;
}

int
dfm_nn_conv_forward(const struct dfm_nn_ctx *ctx, struct dfm_nn_conv *c,
		    const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y, bool train)
{
	struct dfm_nn_conv_plan *p;
	int err;

	err = plan_for(ctx, c, x, train, &p);
	if (err)
		return err;
	err = dfm_nn_tensor_shape_blocked(y, p->n, c->cout, out_size(c, p->h, 0),
					  out_size(c, p->w, 1), p->out_cb);
	if (err)
		return err;
	if (c->has_sn)
		dfm_nn_sn_forward(&c->sn, c->weight.data, train);
	if (p->subsample)
		err = pick_pixels(c, x, &p->sub);
	if (err)
		return err;
	if (p->subsample)
		x = &p->sub;
	return forward_raw(ctx, c, p, &x->md, x->data, effective_weight(c), y->data);
}

int
dfm_nn_conv_backward(const struct dfm_nn_ctx *ctx, struct dfm_nn_conv *c,
		     const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dy,
		     struct dfm_nn_tensor *dx)
{
	struct dfm_nn_conv_plan *p;
	float *dw = NULL;
	int err;

	err = plan_for(ctx, c, x, true, &p);
	if (!err && dx)
		err = dfm_nn_tensor_like(dx, x);
	if (!err && dx && p->subsample)
		err = dfm_nn_tensor_like(&p->dsub, &p->sub);
	if (err)
		return err;
	if (!c->frozen)
		dw = c->has_sn ? c->dw : c->weight.grad;
	err = backward_raw(ctx, c, p, p->subsample ? &p->sub.md : &x->md,
			   p->subsample ? p->sub.data : x->data, effective_weight(c), &dy->md,
			   dy->data, dx ? (p->subsample ? p->dsub.data : dx->data) : NULL, dw,
			   c->bias.grad);
	if (!err && dx && p->subsample)
		place_pixels(c, &p->dsub, dx);
	if (!err && dw && c->has_sn)
		dfm_nn_sn_backward(&c->sn, c->weight.data, c->dw, c->weight.grad);
	return err;
}
