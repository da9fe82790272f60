/* Inception-v3 inference as a list of oneDNN primitives.
 *
 * Building walks the graph once for an input shape: each layer creates its
 * primitive with "any" layouts, takes the layouts oneDNN chose from the
 * primitive descriptor, and appends one step (a primitive and its bound
 * memory objects) to the plan.  Running is then executing the steps in
 * order.  Activation buffers come from a small pool: a block gives back the
 * buffers of activations it no longer reads while it is being built, and
 * since steps run in build order a later step may reuse them.  That keeps a
 * 299 x 299 batch at a few times the size of its largest activation instead
 * of the sum of all of them. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/inception.h"

#define BN_EPS 1e-3f

enum { MAX_ARGS = 8, MAX_HEAD = 8 };

/* An activation: its layout, its memory object and the pool buffer under it. */
struct act {
	dnnl_memory_desc_t md;
	dnnl_memory_t mem;
	int buf;
	int64_t c, h, w;
};

struct step {
	dnnl_primitive_t prim;
	int nargs;
	dnnl_exec_arg_t args[MAX_ARGS];
};

struct buffer {
	void *p;
	size_t size;
	bool busy;
};

struct linear {
	int in, out;
	const float *w, *b;   /* borrowed from the weights file */
};

struct dfm_inception {
	const struct dfm_nn_ctx *ctx;
	enum dfm_inception_variant variant;
	const struct dfm_st *st;
	struct linear head[MAX_HEAD];
	int nhead;
	float *hbuf[2];       /* head activations, one row of the widest layer each */
	int hwidth;

	/* The plan for one input shape. */
	int64_t n, h, w;
	struct step *steps;
	int nsteps, capsteps;
	dnnl_memory_t *mems;  /* every memory object of the plan */
	int nmems, capmems;
	struct buffer *bufs;
	int nbufs, capbufs;
	dnnl_memory_t input, features;
};

/* Convolution geometry: kernel kh x kw, stride, padding ph, pw. */
struct conv_shape {
	int cout, kh, kw, stride, ph, pw;
};

static int
grow(void **v, int *cap, int need, size_t elem)
{
	int ncap = *cap ? *cap * 2 : 32;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (!(p = realloc(*v, (size_t)ncap * elem)))
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for the Inception plan");
	*v = p;
	*cap = ncap;
	return 0;
}

/* Keeps m so that the plan destroys it; destroys it at once on failure. */
static int
keep_memory(struct dfm_inception *net, dnnl_memory_t m)
{
	int err = grow((void **)&net->mems, &net->capmems, net->nmems + 1, sizeof m);

	if (err) {
		dnnl_memory_destroy(m);
		return err;
	}
	net->mems[net->nmems++] = m;
	return 0;
}

static int
new_memory(struct dfm_inception *net, const dnnl_memory_desc_t *md, void *handle,
	   dnnl_memory_t *out)
{
	int err = dfm_nn_check(dnnl_memory_create(out, md, net->ctx->engine, handle),
			       "memory");

	return err ? err : keep_memory(net, *out);
}

/* Appends a step; the primitive is destroyed with the plan even on failure. */
static int
add_step(struct dfm_inception *net, dnnl_primitive_t prim, int nargs, const int *kinds,
	 const dnnl_memory_t *mems)
{
	struct step *s;
	int err = grow((void **)&net->steps, &net->capsteps, net->nsteps + 1,
		       sizeof *net->steps);

	if (err) {
		dnnl_primitive_destroy(prim);
		return err;
	}
	s = &net->steps[net->nsteps++];
	s->prim = prim;
	s->nargs = nargs;
	for (int i = 0; i < nargs; i++) {
		s->args[i].arg = kinds[i];
		s->args[i].memory = mems[i];
	}
	return 0;
}

/* A free pool buffer of at least size bytes (the smallest such), else a new
 * one. */
static int
buf_take(struct dfm_inception *net, size_t size)
{
	int best = -1;

	for (int i = 0; i < net->nbufs; i++)
		if (!net->bufs[i].busy && net->bufs[i].size >= size &&
		    (best < 0 || net->bufs[i].size < net->bufs[best].size))
			best = i;
	if (best >= 0) {
		net->bufs[best].busy = true;
		return best;
	}
	if (grow((void **)&net->bufs, &net->capbufs, net->nbufs + 1, sizeof *net->bufs))
		return -1;
	if (!(net->bufs[net->nbufs].p = aligned_alloc(64, (size + 63) / 64 * 64))) {
		dfm_nn_fail(DFM_ERR_NOMEM, "no memory for an activation of %zu bytes", size);
		return -1;
	}
	net->bufs[net->nbufs].size = size;
	net->bufs[net->nbufs].busy = true;
	return net->nbufs++;
}

/* Gives a an activation buffer for its layout md. */
static int
act_alloc(struct dfm_inception *net, struct act *a, const dnnl_memory_desc_t *md)
{
	a->md = *md;
	a->c = md->dims[1];
	a->h = md->dims[2];
	a->w = md->dims[3];
	if ((a->buf = buf_take(net, dnnl_memory_desc_get_size(md))) < 0)
		return DFM_ERR_NOMEM;
	return new_memory(net, md, net->bufs[a->buf].p, &a->mem);
}

/* The activation is read by no later step: its buffer may be reused. */
static void
act_release(struct dfm_inception *net, const struct act *a)
{
	if (a->buf >= 0)
		net->bufs[a->buf].busy = false;
}

/* The F32 weight tensor name with this shape, or NULL with *err set (left
 * 0 for a missing optional tensor). */
static const float *
tensor_f32(const struct dfm_inception *net, const char *name, int ndim, const int64_t *shape,
	   bool optional, int *err)
{
	const struct dfm_tensor *t = dfm_st_get(net->st, name);

	*err = 0;
	if (!t) {
		if (!optional)
			*err = dfm_nn_fail(DFM_ERR_FORMAT, "weights: no tensor '%s'", name);
		return NULL;
	}
	if (t->dtype != DFM_F32 || t->ndim != ndim ||
	    (shape && memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) != 0)) {
		*err = dfm_nn_fail(DFM_ERR_FORMAT, "weights: tensor '%s' has the wrong dtype "
				   "or shape", name);
		return NULL;
	}
	return t->data;
}

/* Runs a reorder now (at build time, for constants). */
static int
reorder_now(struct dfm_inception *net, dnnl_memory_t from, dnnl_memory_t to)
{
	const dnnl_memory_desc_t *fmd, *tmd;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
	int err;

	if ((err = dfm_nn_check(dnnl_memory_get_memory_desc(from, &fmd), "reorder")) ||
	    (err = dfm_nn_check(dnnl_memory_get_memory_desc(to, &tmd), "reorder")))
		return err;
	err = dfm_nn_check(dnnl_reorder_primitive_desc_create(&pd, fmd, net->ctx->engine,
							      tmd, net->ctx->engine, NULL),
			   "weight reorder");
	if (err)
		return err;
	err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "weight reorder");
	dnnl_primitive_desc_destroy(pd);
	if (err)
		return err;
	err = dfm_nn_check(dnnl_primitive_execute(prim, net->ctx->stream, 2, args),
			   "weight reorder");
	if (!err)
		err = dfm_nn_check(dnnl_stream_wait(net->ctx->stream), "weight reorder");
	dnnl_primitive_destroy(prim);
	return err;
}

/* Appends a reorder of a into the layout md, giving the result in out. */
static int
reorder_step(struct dfm_inception *net, const struct act *a, const dnnl_memory_desc_t *md,
	     struct act *out)
{
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
	int kinds[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
	dnnl_memory_t mems[2];
	int err;

	if ((err = act_alloc(net, out, md)))
		return err;
	err = dfm_nn_check(dnnl_reorder_primitive_desc_create(&pd, &a->md, net->ctx->engine,
							      md, net->ctx->engine, NULL),
			   "reorder");
	if (err)
		return err;
	err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "reorder");
	dnnl_primitive_desc_destroy(pd);
	if (err)
		return err;
	mems[0] = a->mem;
	mems[1] = out->mem;
	return add_step(net, prim, 2, kinds, mems);
}

/* Folds batch norm into the weights w (cout x per) and writes the bias:
 * y = gamma (x - mean) / sqrt(var + eps) + beta, gamma = 1 without a scale. */
static int
fold_bn(const struct dfm_inception *net, const char *name, int cout, int64_t per, float *w,
	float *bias)
{
	int64_t shape[1] = {cout};
	const float *gamma, *beta = NULL, *mean = NULL, *var = NULL;
	char key[128];
	int err;

	snprintf(key, sizeof key, "%s.bn.weight", name);
	gamma = tensor_f32(net, key, 1, shape, net->variant == DFM_INCEPTION_KERAS, &err);
	snprintf(key, sizeof key, "%s.bn.bias", name);
	if (!err)
		beta = tensor_f32(net, key, 1, shape, false, &err);
	snprintf(key, sizeof key, "%s.bn.running_mean", name);
	if (!err)
		mean = tensor_f32(net, key, 1, shape, false, &err);
	snprintf(key, sizeof key, "%s.bn.running_var", name);
	if (!err)
		var = tensor_f32(net, key, 1, shape, false, &err);
	if (err)
		return err;
	for (int o = 0; o < cout; o++) {
		float s = (gamma ? gamma[o] : 1.0f) / sqrtf(var[o] + BN_EPS);

		for (int64_t i = 0; i < per; i++)
			w[o * per + i] *= s;
		bias[o] = beta[o] - mean[o] * s;
	}
	return 0;
}

/* Folded weights and bias of a convolution, in the layouts pd asks for. */
static int
conv_constants(struct dfm_inception *net, const char *name, const struct conv_shape *cs,
	       int64_t cin, dnnl_primitive_desc_t pd, dnnl_memory_t *wmem, dnnl_memory_t *bmem)
{
	dnnl_dims_t shape = {cs->cout, cin, cs->kh, cs->kw};
	int64_t per = cin * cs->kh * cs->kw;
	dnnl_memory_desc_t user_md;
	dnnl_memory_t user = NULL;
	const float *src;
	float *w = NULL, *b = NULL;
	void *bias;
	char key[128];
	int err;

	snprintf(key, sizeof key, "%s.conv.weight", name);
	if (!(src = tensor_f32(net, key, 4, shape, false, &err)))
		return err;
	err = DFM_ERR_NOMEM;
	if (!(w = malloc((size_t)(cs->cout * per) * sizeof *w)) ||
	    !(b = malloc((size_t)cs->cout * sizeof *b)))
		goto out;
	memcpy(w, src, (size_t)(cs->cout * per) * sizeof *w);
	if ((err = fold_bn(net, name, cs->cout, per, w, b)))
		goto out;
	err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&user_md, 4, shape, dnnl_f32,
							dnnl_oihw), "weights");
	if (!err)
		err = dfm_nn_check(dnnl_memory_create(&user, &user_md, net->ctx->engine, w),
				   "weights");
	if (!err)
		err = new_memory(net, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
				 DNNL_MEMORY_ALLOCATE, wmem);
	if (!err)
		err = reorder_now(net, user, *wmem);
	if (!err)
		err = new_memory(net, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
				 DNNL_MEMORY_ALLOCATE, bmem);
	if (!err)
		err = dfm_nn_check(dnnl_memory_get_data_handle(*bmem, &bias), "bias");
	if (!err)
		memcpy(bias, b, (size_t)cs->cout * sizeof *b);
out:
	if (err == DFM_ERR_NOMEM)
		dfm_nn_fail(err, "no memory for the weights of '%s'", name);
	if (user)
		dnnl_memory_destroy(user);
	free(w);
	free(b);
	return err;
}

static int
conv_desc(const struct act *in, const struct conv_shape *cs, dnnl_convolution_desc_t *d)
{
	int64_t oh = (in->h + 2 * cs->ph - cs->kh) / cs->stride + 1;
	int64_t ow = (in->w + 2 * cs->pw - cs->kw) / cs->stride + 1;
	dnnl_dims_t src = {in->md.dims[0], in->c, in->h, in->w};
	dnnl_dims_t wei = {cs->cout, in->c, cs->kh, cs->kw}, bias = {cs->cout};
	dnnl_dims_t dst = {in->md.dims[0], cs->cout, oh, ow};
	dnnl_dims_t strides = {cs->stride, cs->stride}, pad_l = {cs->ph, cs->pw};
	dnnl_dims_t pad_r = {(oh - 1) * cs->stride + cs->kh - in->h - cs->ph,
			     (ow - 1) * cs->stride + cs->kw - in->w - cs->pw};
	dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
	int err;

	if (oh < 1 || ow < 1)
		return dfm_nn_fail(DFM_ERR_FORMAT, "Inception: a %lld x %lld input is too "
				   "small", (long long)in->h, (long long)in->w);
	if ((err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&src_md, 4, src, dnnl_f32,
							     dnnl_format_tag_any), "conv")) ||
	    (err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&wei_md, 4, wei, dnnl_f32,
							     dnnl_format_tag_any), "conv")) ||
	    (err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&bias_md, 1, bias, dnnl_f32,
							     dnnl_a), "conv")) ||
	    (err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32,
							     dnnl_format_tag_any), "conv")))
		return err;
	return dfm_nn_check(dnnl_convolution_forward_desc_init(d, dnnl_forward_inference,
							       dnnl_convolution_direct, &src_md,
							       &wei_md, &bias_md, &dst_md,
							       strides, pad_l, pad_r),
			    "convolution");
}

/* A convolution primitive descriptor with a fused ReLU. */
static int
conv_pd(struct dfm_inception *net, const dnnl_convolution_desc_t *d, dnnl_primitive_desc_t *pd)
{
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t ops = NULL;
	int err;

	err = dfm_nn_check(dnnl_primitive_attr_create(&attr), "attributes");
	if (!err)
		err = dfm_nn_check(dnnl_post_ops_create(&ops), "post-ops");
	if (!err)
		err = dfm_nn_check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0),
				   "post-ops");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_desc_create(pd, d, attr, net->ctx->engine,
							      NULL), "convolution");
	if (ops)
		dnnl_post_ops_destroy(ops);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return err;
}

/* Conv + folded batch norm + ReLU of layer name on in, into out.  When the
 * primitive wants in in another layout, a reorder step goes first. */
static int
conv(struct dfm_inception *net, const char *name, const struct act *in,
     struct conv_shape cs, struct act *out)
{
	int kinds[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
	dnnl_convolution_desc_t d;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim;
	dnnl_memory_t mems[4];
	const dnnl_memory_desc_t *src_md;
	struct act moved = {.buf = -1};
	int err;

	if ((err = conv_desc(in, &cs, &d)) || (err = conv_pd(net, &d, &pd)))
		goto out;
	err = conv_constants(net, name, &cs, in->c, pd, &mems[1], &mems[2]);
	src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	if (!err && !dnnl_memory_desc_equal(src_md, &in->md))
		err = reorder_step(net, in, src_md, &moved);
	if (!err)
		err = act_alloc(net, out, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "convolution");
	if (err)
		goto out;
	mems[0] = moved.mem ? moved.mem : in->mem;
	mems[3] = out->mem;
	err = add_step(net, prim, 4, kinds, mems);
out:
	if (err) {
		char why[200];

		snprintf(why, sizeof why, "%s", dfm_nn_errmsg());
		dfm_nn_fail(err, "Inception layer '%s': %s", name, why);
	}
	act_release(net, &moved);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return err;
}

/* Pooling with a k x k window (or the whole image when k is 0). */
static int
pool(struct dfm_inception *net, dnnl_alg_kind_t alg, const struct act *in, int k,
     int stride, int pad, struct act *out)
{
	int64_t kh = k ? k : in->h, kw = k ? k : in->w, sh = k ? stride : in->h;
	int64_t sw = k ? stride : in->w;
	int64_t oh = (in->h + 2 * pad - kh) / sh + 1, ow = (in->w + 2 * pad - kw) / sw + 1;
	dnnl_dims_t dst = {in->md.dims[0], in->c, oh, ow}, kernel = {kh, kw};
	dnnl_dims_t strides = {sh, sw}, pad_l = {pad, pad};
	dnnl_dims_t pad_r = {(oh - 1) * sh + kh - in->h - pad, (ow - 1) * sw + kw - in->w - pad};
	int kinds[2] = {DNNL_ARG_SRC, DNNL_ARG_DST};
	dnnl_memory_desc_t dst_md;
	dnnl_pooling_desc_t d;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim;
	dnnl_memory_t mems[2];
	int err;

	if (oh < 1 || ow < 1)
		return dfm_nn_fail(DFM_ERR_FORMAT, "Inception: a pooling input of %lld x %lld "
				   "is too small", (long long)in->h, (long long)in->w);
	err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32,
							dnnl_format_tag_any), "pooling");
	if (!err)
		err = dfm_nn_check(dnnl_pooling_forward_desc_init(&d, dnnl_forward_inference, alg,
								  &in->md, &dst_md, strides,
								  kernel, pad_l, pad_r),
				   "pooling");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_desc_create(&pd, &d, NULL, net->ctx->engine,
							      NULL), "pooling");
	if (!err)
		err = act_alloc(net, out, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "pooling");
	if (!err) {
		mems[0] = in->mem;
		mems[1] = out->mem;
		err = add_step(net, prim, 2, kinds, mems);
	}
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return err;
}

/* Concatenates n activations along channels into out and releases them. */
static int
concat(struct dfm_inception *net, struct act *parts, int n, struct act *out)
{
	dnnl_memory_desc_t mds[MAX_ARGS];
	dnnl_memory_t mems[MAX_ARGS];
	int kinds[MAX_ARGS];
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim;
	int err;

	for (int i = 0; i < n; i++) {
		mds[i] = parts[i].md;
		mems[i] = parts[i].mem;
		kinds[i] = DNNL_ARG_MULTIPLE_SRC + i;
	}
	err = dfm_nn_check(dnnl_concat_primitive_desc_create(&pd, NULL, n, 1, mds, NULL,
							     net->ctx->engine), "concat");
	if (!err)
		err = act_alloc(net, out, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "concat");
	if (!err) {
		mems[n] = out->mem;
		kinds[n] = DNNL_ARG_DST;
		err = add_step(net, prim, n + 1, kinds, mems);
	}
	for (int i = 0; i < n; i++)
		act_release(net, &parts[i]);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return err;
}

/* A chain of convolutions: in -> layer 0 -> ... -> layer n-1 into out. */
static int
chain(struct dfm_inception *net, const char *block, const char *const *names,
      const struct conv_shape *cs, int n, const struct act *in, struct act *out)
{
	struct act cur = *in, next;
	char name[96];
	int err = 0;

	for (int i = 0; i < n && !err; i++) {
		snprintf(name, sizeof name, "%s%s%s", block, *block ? "." : "", names[i]);
		err = conv(net, name, &cur, cs[i], &next);
		if (i > 0)
			act_release(net, &cur);
		cur = next;
	}
	*out = cur;
	return err;
}

/* The pool branch: a 3x3 stride-1 pool and a 1x1 convolution. */
static int
pool_branch(struct dfm_inception *net, const char *block, dnnl_alg_kind_t alg,
	    const struct act *in, int cout, struct act *out)
{
	static const char *const names[] = {"branch_pool"};
	struct conv_shape cs = {cout, 1, 1, 1, 0, 0};
	struct act pooled;
	int err;

	if ((err = pool(net, alg, in, 3, 1, 1, &pooled)))
		return err;
	err = chain(net, block, names, &cs, 1, &pooled, out);
	act_release(net, &pooled);
	return err;
}

#define AVG dnnl_pooling_avg_exclude_padding

/* Mixed_5b-d: 1x1, 5x5, double 3x3 and pool branches. */
static int
block_a(struct dfm_inception *net, const char *b, struct act *x, int pool_features)
{
	static const char *const n5[] = {"branch5x5_1", "branch5x5_2"};
	static const char *const n3[] = {"branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"};
	static const char *const n1[] = {"branch1x1"};
	static const struct conv_shape c1[] = {{64, 1, 1, 1, 0, 0}};
	static const struct conv_shape c5[] = {{48, 1, 1, 1, 0, 0}, {64, 5, 5, 1, 2, 2}};
	static const struct conv_shape c3[] = {{64, 1, 1, 1, 0, 0}, {96, 3, 3, 1, 1, 1},
					       {96, 3, 3, 1, 1, 1}};
	struct act p[4], in = *x;
	int err;

	if ((err = chain(net, b, n1, c1, 1, &in, &p[0])) ||
	    (err = chain(net, b, n5, c5, 2, &in, &p[1])) ||
	    (err = chain(net, b, n3, c3, 3, &in, &p[2])) ||
	    (err = pool_branch(net, b, AVG, &in, pool_features, &p[3])))
		return err;
	act_release(net, &in);
	return concat(net, p, 4, x);
}

/* Mixed_6a: strided 3x3, strided double 3x3 and max pool. */
static int
block_b(struct dfm_inception *net, const char *b, struct act *x)
{
	static const char *const n3[] = {"branch3x3"};
	static const char *const nd[] = {"branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"};
	static const struct conv_shape c3[] = {{384, 3, 3, 2, 0, 0}};
	static const struct conv_shape cd[] = {{64, 1, 1, 1, 0, 0}, {96, 3, 3, 1, 1, 1},
					       {96, 3, 3, 2, 0, 0}};
	struct act p[3], in = *x;
	int err;

	if ((err = chain(net, b, n3, c3, 1, &in, &p[0])) ||
	    (err = chain(net, b, nd, cd, 3, &in, &p[1])) ||
	    (err = pool(net, dnnl_pooling_max, &in, 3, 2, 0, &p[2])))
		return err;
	act_release(net, &in);
	return concat(net, p, 3, x);
}

/* Mixed_6b-e: factorised 7x7 branches of width c7. */
static int
block_c(struct dfm_inception *net, const char *b, struct act *x, int c7)
{
	static const char *const n1[] = {"branch1x1"};
	static const char *const n7[] = {"branch7x7_1", "branch7x7_2", "branch7x7_3"};
	static const char *const nd[] = {"branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3",
					 "branch7x7dbl_4", "branch7x7dbl_5"};
	const struct conv_shape c1[] = {{192, 1, 1, 1, 0, 0}};
	const struct conv_shape c7s[] = {{c7, 1, 1, 1, 0, 0}, {c7, 1, 7, 1, 0, 3},
					 {192, 7, 1, 1, 3, 0}};
	const struct conv_shape cd[] = {{c7, 1, 1, 1, 0, 0}, {c7, 7, 1, 1, 3, 0},
					{c7, 1, 7, 1, 0, 3}, {c7, 7, 1, 1, 3, 0},
					{192, 1, 7, 1, 0, 3}};
	struct act p[4], in = *x;
	int err;

	if ((err = chain(net, b, n1, c1, 1, &in, &p[0])) ||
	    (err = chain(net, b, n7, c7s, 3, &in, &p[1])) ||
	    (err = chain(net, b, nd, cd, 5, &in, &p[2])) ||
	    (err = pool_branch(net, b, AVG, &in, 192, &p[3])))
		return err;
	act_release(net, &in);
	return concat(net, p, 4, x);
}

/* Mixed_7a: strided 3x3, strided 7x7-then-3x3 and max pool. */
static int
block_d(struct dfm_inception *net, const char *b, struct act *x)
{
	static const char *const n3[] = {"branch3x3_1", "branch3x3_2"};
	static const char *const n7[] = {"branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3",
					 "branch7x7x3_4"};
	static const struct conv_shape c3[] = {{192, 1, 1, 1, 0, 0}, {320, 3, 3, 2, 0, 0}};
	static const struct conv_shape c7[] = {{192, 1, 1, 1, 0, 0}, {192, 1, 7, 1, 0, 3},
					       {192, 7, 1, 1, 3, 0}, {192, 3, 3, 2, 0, 0}};
	struct act p[3], in = *x;
	int err;

	if ((err = chain(net, b, n3, c3, 2, &in, &p[0])) ||
	    (err = chain(net, b, n7, c7, 4, &in, &p[1])) ||
	    (err = pool(net, dnnl_pooling_max, &in, 3, 2, 0, &p[2])))
		return err;
	act_release(net, &in);
	return concat(net, p, 3, x);
}

/* Two parallel convolutions (1x3 and 3x1) on the end of a branch. */
static int
split_pair(struct dfm_inception *net, const char *b, const char *na, const char *nb,
	   struct act *in, struct act *out)
{
	const struct conv_shape ca = {384, 1, 3, 1, 0, 1}, cb = {384, 3, 1, 1, 1, 0};
	int err;

	if ((err = chain(net, b, &na, &ca, 1, in, &out[0])) ||
	    (err = chain(net, b, &nb, &cb, 1, in, &out[1])))
		return err;
	act_release(net, in);
	return 0;
}

/* Mixed_7b-c: expanded filter banks.  pool_alg is where the variants part. */
static int
block_e(struct dfm_inception *net, const char *b, struct act *x, dnnl_alg_kind_t pool_alg)
{
	static const char *const n1[] = {"branch1x1"};
	static const char *const n3[] = {"branch3x3_1"};
	static const char *const nd[] = {"branch3x3dbl_1", "branch3x3dbl_2"};
	static const struct conv_shape c1[] = {{320, 1, 1, 1, 0, 0}};
	static const struct conv_shape c3[] = {{384, 1, 1, 1, 0, 0}};
	static const struct conv_shape cd[] = {{448, 1, 1, 1, 0, 0}, {384, 3, 3, 1, 1, 1}};
	struct act p[6], in = *x, mid;
	int err;

	if ((err = chain(net, b, n1, c1, 1, &in, &p[0])) ||
	    (err = chain(net, b, n3, c3, 1, &in, &mid)) ||
	    (err = split_pair(net, b, "branch3x3_2a", "branch3x3_2b", &mid, &p[1])) ||
	    (err = chain(net, b, nd, cd, 2, &in, &mid)) ||
	    (err = split_pair(net, b, "branch3x3dbl_3a", "branch3x3dbl_3b", &mid, &p[3])) ||
	    (err = pool_branch(net, b, pool_alg, &in, 192, &p[5])))
		return err;
	act_release(net, &in);
	return concat(net, p, 6, x);
}

/* Conv2d_1a_3x3 up to the second max pool. */
static int
stem(struct dfm_inception *net, const struct act *in, struct act *x)
{
	static const char *const n1[] = {"Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"};
	static const char *const n2[] = {"Conv2d_3b_1x1", "Conv2d_4a_3x3"};
	static const struct conv_shape c1[] = {{32, 3, 3, 2, 0, 0}, {32, 3, 3, 1, 0, 0},
					       {64, 3, 3, 1, 1, 1}};
	static const struct conv_shape c2[] = {{80, 1, 1, 1, 0, 0}, {192, 3, 3, 1, 0, 0}};
	struct act a, b;
	int err;

	if ((err = chain(net, "", n1, c1, 3, in, &a)) ||
	    (err = pool(net, dnnl_pooling_max, &a, 3, 2, 0, &b)))
		return err;
	act_release(net, &a);
	if ((err = chain(net, "", n2, c2, 2, &b, &a)))
		return err;
	act_release(net, &b);
	err = pool(net, dnnl_pooling_max, &a, 3, 2, 0, x);
	act_release(net, &a);
	return err;
}

static const struct {
	const char *name;
	char kind;
	int width;
} blocks[] = {
	{"Mixed_5b", 'A', 32}, {"Mixed_5c", 'A', 64}, {"Mixed_5d", 'A', 64},
	{"Mixed_6a", 'B', 0}, {"Mixed_6b", 'C', 128}, {"Mixed_6c", 'C', 160},
	{"Mixed_6d", 'C', 160}, {"Mixed_6e", 'C', 192}, {"Mixed_7a", 'D', 0},
	{"Mixed_7b", 'E', 0}, {"Mixed_7c", 'E', 1},
};

static int
block(struct dfm_inception *net, int i, struct act *x)
{
	dnnl_alg_kind_t last_pool = net->variant == DFM_INCEPTION_FID ? dnnl_pooling_max : AVG;

	switch (blocks[i].kind) {
	case 'A':
		return block_a(net, blocks[i].name, x, blocks[i].width);
	case 'B':
		return block_b(net, blocks[i].name, x);
	case 'C':
		return block_c(net, blocks[i].name, x, blocks[i].width);
	case 'D':
		return block_d(net, blocks[i].name, x);
	default:
		return block_e(net, blocks[i].name, x, blocks[i].width ? last_pool : AVG);
	}
}

static void
plan_free(struct dfm_inception *net)
{
	for (int i = 0; i < net->nsteps; i++)
		dnnl_primitive_destroy(net->steps[i].prim);
	for (int i = 0; i < net->nmems; i++)
		dnnl_memory_destroy(net->mems[i]);
	for (int i = 0; i < net->nbufs; i++)
		free(net->bufs[i].p);
	free(net->steps);
	free(net->mems);
	free(net->bufs);
	net->steps = NULL;
	net->mems = NULL;
	net->bufs = NULL;
	net->nsteps = net->capsteps = net->nmems = net->capmems = 0;
	net->nbufs = net->capbufs = 0;
	net->input = net->features = NULL;
	net->n = net->h = net->w = 0;
}

/* The global average pool and the reorder of its result to rows. */
static int
pool_features(struct dfm_inception *net, struct act *x)
{
	dnnl_dims_t dims = {x->md.dims[0], x->c, 1, 1};
	dnnl_memory_desc_t rows;
	struct act pooled;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
	int kinds[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
	dnnl_memory_t mems[2];
	int err;

	if ((err = pool(net, dnnl_pooling_avg_exclude_padding, x, 0, 0, 0, &pooled)))
		return err;
	act_release(net, x);
	if ((err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&rows, 4, dims, dnnl_f32,
							     dnnl_nchw), "features")) ||
	    (err = new_memory(net, &rows, NULL, &net->features)))
		return err;
	err = dfm_nn_check(dnnl_reorder_primitive_desc_create(&pd, &pooled.md, net->ctx->engine,
							      &rows, net->ctx->engine, NULL),
			   "features");
	if (err)
		return err;
	err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "features");
	dnnl_primitive_desc_destroy(pd);
	if (err)
		return err;
	mems[0] = pooled.mem;
	mems[1] = net->features;
	return add_step(net, prim, 2, kinds, mems);
}

/* Builds the steps for n images of h x w; the input and feature memories
 * get their buffers at each run. */
static int
plan_build(struct dfm_inception *net, int64_t n, int64_t h, int64_t w)
{
	dnnl_dims_t dims = {n, 3, h, w};
	struct act x = {.buf = -1, .c = 3, .h = h, .w = w};
	struct act in;
	int err;

	plan_free(net);
	if ((err = dfm_nn_check(dnnl_memory_desc_init_by_tag(&x.md, 4, dims, dnnl_f32,
							     dnnl_nchw), "input")) ||
	    (err = new_memory(net, &x.md, NULL, &net->input)))
		goto out;
	x.mem = net->input;
	in = x;
	if ((err = stem(net, &in, &x)))
		goto out;
	for (int i = 0; i < (int)(sizeof blocks / sizeof blocks[0]) && !err; i++)
		err = block(net, i, &x);
	if (!err && x.c != DFM_INCEPTION_FEATURES)
		err = dfm_nn_fail(DFM_ERR_FORMAT, "Inception: %lld pool features, not %d",
				  (long long)x.c, DFM_INCEPTION_FEATURES);
	if (!err)
		err = pool_features(net, &x);
	if (!err) {
		net->n = n;
		net->h = h;
		net->w = w;
	}
out:
	if (err)
		plan_free(net);
	return err;
}

/* One linear layer of the head, prefix.weight [out, in] and prefix.bias. */
static int
head_layer(struct dfm_inception *net, const char *prefix, int in)
{
	const struct dfm_tensor *t;
	struct linear *l = &net->head[net->nhead];
	int64_t bshape[1];
	char key[32];
	int err;

	snprintf(key, sizeof key, "%s.weight", prefix);
	t = dfm_st_get(net->st, key);
	if (!t || t->ndim != 2 || t->shape[1] != in || t->shape[0] < 1)
		return dfm_nn_fail(DFM_ERR_FORMAT, "weights: '%s' is not a classifier layer "
				   "of %d inputs", key, in);
	l->in = in;
	l->out = (int)t->shape[0];
	if (!(l->w = tensor_f32(net, key, 2, t->shape, false, &err)))
		return err;
	bshape[0] = l->out;
	snprintf(key, sizeof key, "%s.bias", prefix);
	if (!(l->b = tensor_f32(net, key, 1, bshape, false, &err)))
		return err;
	if (l->out > net->hwidth)
		net->hwidth = l->out;
	net->nhead++;
	return 0;
}

/* The head: "fc" alone, or "fc1", "fc2", ... for as long as they go on. */
static int
head_load(struct dfm_inception *net)
{
	char prefix[16], key[32];
	int err;

	if (dfm_st_get(net->st, "fc.weight"))
		return head_layer(net, "fc", DFM_INCEPTION_FEATURES);
	for (int i = 0; i < MAX_HEAD; i++) {
		snprintf(prefix, sizeof prefix, "fc%d", i + 1);
		snprintf(key, sizeof key, "%s.weight", prefix);
		if (!dfm_st_get(net->st, key))
			break;
		err = head_layer(net, prefix, i ? net->head[i - 1].out : DFM_INCEPTION_FEATURES);
		if (err)
			return err;
	}
	if (!net->nhead)
		return dfm_nn_fail(DFM_ERR_FORMAT, "weights: no classifier ('fc.weight' or "
				   "'fc1.weight')");
	return 0;
}

/* The classifier head on one row of features. */
static void
head_row(const struct dfm_inception *net, const float *features, float *logits)
{
	const float *x = features;

	for (int i = 0; i < net->nhead; i++) {
		const struct linear *l = &net->head[i];
		bool last = i == net->nhead - 1;
		float *y = last ? logits : net->hbuf[i % 2];

		for (int o = 0; o < l->out; o++) {
			const float *wr = l->w + (size_t)o * l->in;
			float acc = l->b[o];

			for (int k = 0; k < l->in; k++)
				acc += wr[k] * x[k];
			y[o] = last || acc > 0 ? acc : 0;
		}
		x = y;
	}
}

enum dfm_inception_variant
dfm_inception_variant_of(const struct dfm_st *weights)
{
	const char *v = dfm_st_meta_get(weights, "variant");

	if (v && !strcmp(v, "fid"))
		return DFM_INCEPTION_FID;
	if (v && !strcmp(v, "keras"))
		return DFM_INCEPTION_KERAS;
	return 0;
}

int
dfm_inception_new(const struct dfm_nn_ctx *ctx, enum dfm_inception_variant variant,
		  const struct dfm_st *weights, struct dfm_inception **out)
{
	struct dfm_inception *net;
	int err;

	*out = NULL;
	if (variant != DFM_INCEPTION_FID && variant != DFM_INCEPTION_KERAS)
		return dfm_nn_fail(DFM_ERR_FORMAT, "Inception: unknown variant %d", variant);
	if (!(net = calloc(1, sizeof *net)))
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for an Inception network");
	net->ctx = ctx;
	net->variant = variant;
	net->st = weights;
	if ((err = head_load(net)))
		goto fail;
	err = DFM_ERR_NOMEM;
	if (!(net->hbuf[0] = malloc((size_t)net->hwidth * sizeof(float))) ||
	    !(net->hbuf[1] = malloc((size_t)net->hwidth * sizeof(float)))) {
		dfm_nn_fail(err, "no memory for an Inception network");
		goto fail;
	}
	/* Building once at the smallest size checks every weight tensor now. */
	if ((err = plan_build(net, 1, DFM_INCEPTION_MIN_SIZE, DFM_INCEPTION_MIN_SIZE)))
		goto fail;
	*out = net;
	return 0;
fail:
	dfm_inception_free(net);
	return err;
}

void
dfm_inception_free(struct dfm_inception *net)
{
	if (!net)
		return;
	plan_free(net);
	free(net->hbuf[0]);
	free(net->hbuf[1]);
	free(net);
}

int
dfm_inception_nlogits(const struct dfm_inception *net)
{
	return net->head[net->nhead - 1].out;
}

int
dfm_inception_forward(struct dfm_inception *net, const float *x, int64_t n, int64_t h,
		      int64_t w, float *features, float *logits)
{
	int err = 0;

	if (h < DFM_INCEPTION_MIN_SIZE || w < DFM_INCEPTION_MIN_SIZE || n < 1)
		return dfm_nn_fail(DFM_ERR_FORMAT, "Inception: needs images of at least "
				   "%d x %d, not %lld x %lld", DFM_INCEPTION_MIN_SIZE,
				   DFM_INCEPTION_MIN_SIZE, (long long)h, (long long)w);
	if ((n != net->n || h != net->h || w != net->w) && (err = plan_build(net, n, h, w)))
		return err;
	if ((err = dfm_nn_check(dnnl_memory_set_data_handle(net->input, (void *)x), "input")) ||
	    (err = dfm_nn_check(dnnl_memory_set_data_handle(net->features, features),
				"features")))
		return err;
	for (int i = 0; i < net->nsteps && !err; i++) {
		const struct step *s = &net->steps[i];

		err = dfm_nn_check(dnnl_primitive_execute(s->prim, net->ctx->stream, s->nargs,
							  s->args), "Inception forward");
	}
	if (!err)
		err = dfm_nn_check(dnnl_stream_wait(net->ctx->stream), "Inception forward");
	if (err || !logits)
		return err;
	for (int64_t i = 0; i < n; i++)
		head_row(net, features + i * DFM_INCEPTION_FEATURES,
			 logits + i * dfm_inception_nlogits(net));
	return 0;
}

/* Source coordinate of output index o, PyTorch's half-pixel rule. */
static void
source_index(int o, int in, int out, int *i0, int *i1, float *frac)
{
	float s = ((float)o + 0.5f) * ((float)in / (float)out) - 0.5f;

	if (s < 0)
		s = 0;
	*i0 = (int)s;
	*i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
	*frac = s - (float)*i0;
}

void
dfm_inception_input(enum dfm_inception_variant variant, const uint8_t *img, int h, int w,
		    int c, int size, float *dst)
{
	for (int y = 0; y < size; y++) {
		int y0, y1, x0, x1;
		float fy, fx;

		source_index(y, h, size, &y0, &y1, &fy);
		for (int xo = 0; xo < size; xo++) {
			source_index(xo, w, size, &x0, &x1, &fx);
			for (int ch = 0; ch < 3; ch++) {
				int k = c == 1 ? 0 : ch;
				float a = img[(y0 * w + x0) * c + k] / 255.0f;
				float b = img[(y0 * w + x1) * c + k] / 255.0f;
				float d = img[(y1 * w + x0) * c + k] / 255.0f;
				float e = img[(y1 * w + x1) * c + k] / 255.0f;
				float v = (1 - fy) * ((1 - fx) * a + fx * b) +
					  fy * ((1 - fx) * d + fx * e);

				if (variant == DFM_INCEPTION_FID)
					v = 2 * v - 1;
				dst[((size_t)ch * size + y) * size + xo] = v;
			}
		}
	}
}
