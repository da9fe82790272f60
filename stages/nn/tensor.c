#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cache/error.h"
#include "stages/nn/tensor.h"

static _Thread_local char errmsg[256];

const char *
dfm_nn_errmsg(void)
{
	return errmsg;
}

int
dfm_nn_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	return err;
}

int
dfm_nn_check(dnnl_status_t s, const char *what)
{
	if (s == dnnl_success)
		return 0;
	if (s == dnnl_out_of_memory)
		return dfm_nn_fail(DFM_ERR_NOMEM, "oneDNN: out of memory in %s", what);
	return dfm_nn_fail(DFM_ERR_DNNL, "oneDNN: status %d in %s", (int)s, what);
}

static int64_t probe_block(dnnl_engine_t engine);

int
dfm_nn_conv_algo_from_env(enum dfm_nn_conv_algo *out)
{
	const char *v = getenv("DFMAKE_CONV");

	if (!v || !*v || strcmp(v, "auto") == 0)
		*out = DFM_NN_CONV_AUTO;
	else if (strcmp(v, "direct") == 0)
		*out = DFM_NN_CONV_DIRECT;
	else if (strcmp(v, "winograd") == 0)
		*out = DFM_NN_CONV_WINOGRAD;
	else
		return dfm_nn_fail(DFM_ERR_USAGE,
				   "DFMAKE_CONV is '%s'; want auto, direct or winograd", v);
	return 0;
}

int
dfm_nn_ctx_init(struct dfm_nn_ctx *ctx, int threads)
{
	int err;

	memset(ctx, 0, sizeof *ctx);
	err = dfm_nn_conv_algo_from_env(&ctx->conv_algo);
	if (err)
		return err;
	ctx->scratch = calloc(DFM_NN_SCRATCH, sizeof *ctx->scratch);
	if (!ctx->scratch)
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a context");
	if (threads > 0)
		omp_set_num_threads(threads);
	ctx->threads = omp_get_max_threads();
	err = dfm_nn_check(dnnl_engine_create(&ctx->engine, dnnl_cpu, 0), "engine");
	if (!err)
		err = dfm_nn_check(dnnl_stream_create(&ctx->stream, ctx->engine,
						      dnnl_stream_default_flags), "stream");
	if (err)
		dfm_nn_ctx_free(ctx);
	else
		ctx->block = probe_block(ctx->engine);
	return err;
}

/* The channel block of the output oneDNN picks for a typical 3x3
 * convolution left free to choose, or 0 when it picks NHWC. */
static int64_t
probe_block(dnnl_engine_t engine)
{
	dnnl_dims_t src = {8, 64, 8, 8}, wei = {64, 64, 3, 3}, one = {1, 1};
	dnnl_memory_desc_t s, w;
	dnnl_convolution_desc_t d;
	dnnl_primitive_desc_t pd;
	int64_t cb = 0;

	if (dnnl_memory_desc_init_by_tag(&s, 4, src, dnnl_f32, dnnl_format_tag_any) ||
	    dnnl_memory_desc_init_by_tag(&w, 4, wei, dnnl_f32, dnnl_format_tag_any) ||
	    dnnl_convolution_forward_desc_init(&d, dnnl_forward_training,
					       dnnl_convolution_direct, &s, &w, NULL, &s, one,
					       one, one) ||
	    dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL))
		return 0;
	cb = dfm_nn_layout_cblock(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
	dnnl_primitive_desc_destroy(pd);
	return cb == 64 ? 0 : cb;
}

int64_t
dfm_nn_act_cblock(const struct dfm_nn_ctx *ctx, int64_t c)
{
	return ctx->nhwc || ctx->block < 1 || c % ctx->block ? c : ctx->block;
}

float *
dfm_nn_scratch(const struct dfm_nn_ctx *ctx, int i, size_t bytes)
{
	struct dfm_nn_buf *b = &ctx->scratch[i];
	size_t n = bytes / sizeof(float) + 1;

	if (n > b->cap) {
		float *p = dfm_nn_alloc(n);

		if (!p)
			return NULL;
		free(b->p);
		b->p = p;
		b->cap = n;
	}
	return b->p;
}

void
dfm_nn_ctx_free(struct dfm_nn_ctx *ctx)
{
	if (ctx->stream)
		dnnl_stream_destroy(ctx->stream);
	if (ctx->engine)
		dnnl_engine_destroy(ctx->engine);
	for (int i = 0; ctx->scratch && i < DFM_NN_SCRATCH; i++)
		free(ctx->scratch[i].p);
	free(ctx->scratch);
	memset(ctx, 0, sizeof *ctx);
}

static const char *
isa_name(dnnl_cpu_isa_t isa)
{
	switch (isa) {
	case dnnl_cpu_isa_sse41:
		return "sse41";
	case dnnl_cpu_isa_avx:
		return "avx";
	case dnnl_cpu_isa_avx2:
		return "avx2";
	case dnnl_cpu_isa_avx2_vnni:
		return "avx2_vnni";
	case dnnl_cpu_isa_avx512_core:
		return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni:
		return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16:
		return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx:
		return "avx512_core_amx";
	default:
		return "other";
	}
}

void
dfm_nn_describe(const struct dfm_nn_ctx *ctx, char *buf, size_t len)
{
	const dnnl_version_t *v = dnnl_version();

	static const char *algo[] = {"auto", "direct", "Winograd"};

	snprintf(buf, len, "oneDNN %d.%d.%d %s, %d threads, %s convolutions", v->major,
		 v->minor, v->patch, isa_name(dnnl_get_effective_cpu_isa()), ctx->threads,
		 algo[ctx->conv_algo]);
}

float *
dfm_nn_alloc(size_t n)
{
	size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
	float *p;

	if (bytes == 0)
		bytes = 64;
	p = aligned_alloc(64, bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

static dnnl_format_tag_t
block_tag(int64_t cb, int64_t c)
{
	if (cb == c)
		return dnnl_nhwc;
	switch (cb) {
	case 16:
		return dnnl_aBcd16b;
	case 8:
		return dnnl_aBcd8b;
	case 4:
		return dnnl_aBcd4b;
	default:
		return dnnl_format_tag_undef;
	}
}

int
dfm_nn_layout_md(dnnl_memory_desc_t *md, const int64_t *dims, int64_t cb)
{
	dnnl_format_tag_t tag = block_tag(cb, dims[1]);

	if (tag == dnnl_format_tag_undef || dims[1] % cb)
		return dfm_nn_fail(DFM_ERR_USAGE, "no layout with %lld of %lld channels per block",
				   (long long)cb, (long long)dims[1]);
	return dfm_nn_check(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "layout");
}

int
dfm_nn_tensor_shape_blocked(struct dfm_nn_tensor *t, int64_t n, int64_t c, int64_t h,
			    int64_t w, int64_t cb)
{
	dnnl_dims_t dims = {n, c, h, w};
	int ndim = h > 0 ? 4 : 2;
	size_t count = (size_t)n * (size_t)c * (ndim == 4 ? (size_t)(h * w) : 1);
	dnnl_format_tag_t tag = ndim == 4 ? block_tag(cb, c) : dnnl_ab;
	dnnl_status_t s;

	if (tag == dnnl_format_tag_undef || (ndim == 4 && (cb < 1 || c % cb)))
		return dfm_nn_fail(DFM_ERR_USAGE, "tensor: no layout with %lld of %lld channels "
				   "per block", (long long)cb, (long long)c);
	if (count > t->cap) {
		float *p = dfm_nn_alloc(count);

		if (!p)
			return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a tensor of %zu floats",
					   count);
		free(t->data);
		t->data = p;
		t->cap = count;
	}
	t->ndim = ndim;
	memcpy(t->dims, dims, sizeof t->dims);
	if (ndim == 2)
		t->dims[2] = t->dims[3] = 1;
	t->cb = ndim == 4 ? cb : c;
	t->count = count;
	s = dnnl_memory_desc_init_by_tag(&t->md, ndim, dims, dnnl_f32, tag);
	return dfm_nn_check(s, "tensor descriptor");
}

int
dfm_nn_tensor_shape(struct dfm_nn_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w)
{
	return dfm_nn_tensor_shape_blocked(t, n, c, h, w, c);
}

int64_t
dfm_nn_layout_cblock(const dnnl_memory_desc_t *md)
{
	static const int64_t blocks[] = {0, 16, 8, 4};  /* 0: NHWC */
	dnnl_memory_desc_t want;

	if (md->ndims != 4 || md->data_type != dnnl_f32)
		return 0;
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		int64_t cb = blocks[i] ? blocks[i] : md->dims[1];

		if (md->dims[1] % cb ||
		    dnnl_memory_desc_init_by_tag(&want, 4, md->dims, dnnl_f32,
						 block_tag(cb, md->dims[1])) != dnnl_success)
			continue;
		if (dnnl_memory_desc_equal(&want, md))
			return cb;
	}
	return 0;
}

int
dfm_nn_tensor_like(struct dfm_nn_tensor *t, const struct dfm_nn_tensor *like)
{
	return dfm_nn_tensor_shape_blocked(t, like->dims[0], like->dims[1],
					   like->ndim == 4 ? like->dims[2] : 0, like->dims[3],
					   like->cb);
}

/* The offset of element (i, c, p) of an image tensor. */
static inline size_t
offset(const struct dfm_nn_tensor *t, int64_t i, int64_t c, int64_t p)
{
	int64_t hw = t->dims[2] * t->dims[3], cb = t->cb;

	return (size_t)(((i * (t->dims[1] / cb) + c / cb) * hw + p) * cb + c % cb);
}

int
dfm_nn_tensor_relayout(const struct dfm_nn_tensor *x, int64_t cb, struct dfm_nn_tensor *y)
{
	int64_t n = x->dims[0], c = x->dims[1], hw = x->dims[2] * x->dims[3];
	int err = dfm_nn_tensor_shape_blocked(y, n, c, x->ndim == 4 ? x->dims[2] : 0, x->dims[3],
					      cb);

	if (err || x->ndim != 4 || x->cb == y->cb) {
		if (!err)
			memcpy(y->data, x->data, x->count * sizeof(float));
		return err;
	}
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t p = 0; p < hw; p++)
				y->data[offset(y, i, ch, p)] = x->data[offset(x, i, ch, p)];
	return 0;
}

void
dfm_nn_tensor_zero(struct dfm_nn_tensor *t)
{
	if (t->data)
		memset(t->data, 0, t->count * sizeof(float));
}

void
dfm_nn_tensor_free(struct dfm_nn_tensor *t)
{
	free(t->data);
	memset(t, 0, sizeof *t);
}

int
dfm_nn_tensor_from_nchw(struct dfm_nn_tensor *t, int ndim, const int64_t *dims,
			const float *src)
{
	int64_t n = dims[0], c = dims[1], hw;
	int err;

	err = dfm_nn_tensor_shape(t, n, c, ndim == 4 ? dims[2] : 0, ndim == 4 ? dims[3] : 1);
	if (err)
		return err;
	hw = ndim == 4 ? dims[2] * dims[3] : 1;
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t p = 0; p < hw; p++)
				t->data[(i * hw + p) * c + ch] = src[(i * c + ch) * hw + p];
	return 0;
}

void
dfm_nn_tensor_to_nchw(const struct dfm_nn_tensor *t, float *dst)
{
	int64_t n = t->dims[0], c = t->dims[1], hw = t->dims[2] * t->dims[3];

	if (t->ndim != 4) {
		memcpy(dst, t->data, t->count * sizeof(float));
		return;
	}
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t p = 0; p < hw; p++)
				dst[(i * c + ch) * hw + p] = t->data[offset(t, i, ch, p)];
}

int
dfm_nn_memory(const struct dfm_nn_ctx *ctx, const dnnl_memory_desc_t *md, void *data,
	      dnnl_memory_t *out)
{
	return dfm_nn_check(dnnl_memory_create(out, md, ctx->engine, data), "memory");
}

int
dfm_nn_reorder(const struct dfm_nn_ctx *ctx, const dnnl_memory_desc_t *src_md,
	       const void *src, const dnnl_memory_desc_t *dst_md, void *dst)
{
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim = NULL;
	dnnl_memory_t ms = NULL, md = NULL;
	int err;

	if (dnnl_memory_desc_equal(src_md, dst_md)) {
		if (src != dst)
			memmove(dst, src, dnnl_memory_desc_get_size(src_md));
		return 0;
	}
	err = dfm_nn_check(dnnl_reorder_primitive_desc_create(&pd, src_md, ctx->engine,
							      dst_md, ctx->engine, NULL),
			   "reorder descriptor");
	if (!err)
		err = dfm_nn_check(dnnl_primitive_create(&prim, pd), "reorder");
	if (!err)
		err = dfm_nn_memory(ctx, src_md, (void *)src, &ms);
	if (!err)
		err = dfm_nn_memory(ctx, dst_md, dst, &md);
	if (!err) {
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};

		err = dfm_nn_check(dnnl_primitive_execute(prim, ctx->stream, 2, args),
				   "reorder");
	}
	if (!err)
		err = dfm_nn_check(dnnl_stream_wait(ctx->stream), "reorder wait");
	if (md)
		dnnl_memory_destroy(md);
	if (ms)
		dnnl_memory_destroy(ms);
	if (prim)
		dnnl_primitive_destroy(prim);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	return err;
}
