/* Tensors and the oneDNN context of dfmake's training library.
 *
 * A context owns one CPU engine and one stream and fixes the number of
 * threads every primitive and hand-written kernel uses.  A tensor is a
 * logical shape in PyTorch order (N, C, H, W for images, N, F for rows) plus
 * the oneDNN memory descriptor of its bytes.  Images enter channels last
 * (NHWC); a convolution's output takes the layout its primitive asks for
 * when queried (channel blocks of 16 on AVX-512, 8 on AVX2), and every
 * hand-written kernel (normalisation, pooling, upsampling, element-wise)
 * works on either and keeps its input's layout, so activations and their
 * gradients stay blocked from one convolution to the next.  A primitive
 * that wants a layout the kernels do not take (padded channel blocks, for
 * three-channel images) gets a reorder at its edge through the context's
 * scratch buffers.  Reorders to and from PyTorch's NCHW happen only at the
 * edges of the library (dfm_nn_tensor_from_nchw, dfm_nn_tensor_to_nchw). */
#ifndef DFM_NN_TENSOR_H
#define DFM_NN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

/* How convolutions that allow it (3x3, stride 1) pick their algorithm:
 * by measuring direct and Winograd on first use of each shape (auto), or
 * always one of them.  Winograd falls back to direct where oneDNN has no
 * Winograd kernel for the machine. */
enum dfm_nn_conv_algo { DFM_NN_CONV_AUTO, DFM_NN_CONV_DIRECT, DFM_NN_CONV_WINOGRAD };

/* A growable buffer of floats, 64-byte aligned. */
struct dfm_nn_buf {
	float *p;
	size_t cap;
};

enum { DFM_NN_SCRATCH = 3 };

struct dfm_nn_ctx {
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	int threads;
	enum dfm_nn_conv_algo conv_algo;  /* from DFMAKE_CONV, auto by default */
	bool nhwc;                        /* keep every activation NHWC, reordering at
					   * each convolution (to compare layouts) */
	int64_t block;                    /* channel block the machine's convolutions
					   * take best: 16 on AVX-512, 8 on AVX2; 0
					   * when they prefer NHWC */
	struct dfm_nn_buf *scratch;       /* DFM_NN_SCRATCH buffers for activations in
					   * a primitive's own layout */
};

/* An image tensor is laid out in blocks of cb channels: element (i, c, p),
 * p = y * W + x, is at ((i * (C / cb) + c / cb) * H * W + p) * cb + c % cb.
 * cb = C is NHWC; cb = 16 or 8 are oneDNN's nChw16c and nChw8c, which its
 * fastest convolutions take on AVX-512 and AVX2.  A kernel therefore sees
 * N * C / cb planes of H x W pixels, each pixel a vector of cb channels. */
struct dfm_nn_tensor {
	int ndim;               /* 2 (rows) or 4 (images) */
	int64_t dims[4];        /* logical order: N, C, H, W or N, F */
	int64_t cb;             /* channels per block; dims[1] for NHWC and rows */
	size_t count;           /* elements */
	dnnl_memory_desc_t md;  /* layout of data */
	float *data;            /* owned, 64-byte aligned */
	size_t cap;             /* elements allocated */
};

/* Makes a context running on threads threads (0: keep the current OpenMP
 * setting).  The count is set for the calling thread's OpenMP regions,
 * oneDNN's included, so it outlives the context.  Returns 0 or an error;
 * free it with dfm_nn_ctx_free(). */
int dfm_nn_ctx_init(struct dfm_nn_ctx *ctx, int threads);

/* The algorithm policy DFMAKE_CONV names ("auto", "direct", "winograd";
 * auto when unset).  Returns 0, or DFM_ERR_USAGE for another value. */
int dfm_nn_conv_algo_from_env(enum dfm_nn_conv_algo *out);

/* Buffer i of the context's scratch, holding at least bytes, or NULL when
 * memory runs out.  Contents are unspecified. */
float *dfm_nn_scratch(const struct dfm_nn_ctx *ctx, int i, size_t bytes);

/* Releases the engine and stream of a context. */
void dfm_nn_ctx_free(struct dfm_nn_ctx *ctx);

/* Describes the compute setting for run records, e.g. "oneDNN 2.6.3
 * avx512_core, 2 threads, auto convolutions", into buf of len bytes. */
void dfm_nn_describe(const struct dfm_nn_ctx *ctx, char *buf, size_t len);

/* The message of the last failure of this thread inside the library.
 * Static per thread; valid until the next failure. */
const char *dfm_nn_errmsg(void);

/* Records a failure message for dfm_nn_errmsg() and returns err. */
int dfm_nn_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Turns a oneDNN status into 0 or DFM_ERR_DNNL, naming what failed. */
int dfm_nn_check(dnnl_status_t s, const char *what);

/* Gives t the shape (n, c, h, w), or (n, c) when h is 0, reusing its buffer
 * when large enough; images are NHWC.  Contents are unspecified.  Returns 0
 * or an error. */
int dfm_nn_tensor_shape(struct dfm_nn_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w);

/* The same for an image in blocks of cb channels (cb divides c). */
int dfm_nn_tensor_shape_blocked(struct dfm_nn_tensor *t, int64_t n, int64_t c, int64_t h,
				int64_t w, int64_t cb);

/* The channel block of md when it is a layout the library's kernels take:
 * an f32 image, NHWC or nChw{16,8,4}c without padding.  0 otherwise. */
int64_t dfm_nn_layout_cblock(const dnnl_memory_desc_t *md);

/* Planes of an image tensor: N * C / cb (0 for a tensor never shaped). */
static inline int64_t
dfm_nn_planes(const struct dfm_nn_tensor *t)
{
	return t->cb > 0 ? t->dims[0] * (t->dims[1] / t->cb) : 0;
}

/* The channel block of an activation of c channels under ctx: ctx->block
 * when it divides c (and ctx->nhwc is off), else c, which is NHWC. */
int64_t dfm_nn_act_cblock(const struct dfm_nn_ctx *ctx, int64_t c);

/* md = the f32 image layout of dims in blocks of cb channels.  Returns 0
 * or an error. */
int dfm_nn_layout_md(dnnl_memory_desc_t *md, const int64_t *dims, int64_t cb);

/* y = x laid out in blocks of cb channels (y != x).  Returns 0 or an error. */
int dfm_nn_tensor_relayout(const struct dfm_nn_tensor *x, int64_t cb, struct dfm_nn_tensor *y);

/* Gives t the shape and layout of like.  Returns 0 or an error. */
int dfm_nn_tensor_like(struct dfm_nn_tensor *t, const struct dfm_nn_tensor *like);

/* Sets every element of t to zero. */
void dfm_nn_tensor_zero(struct dfm_nn_tensor *t);

/* Frees t's buffer and empties it; t itself is the caller's. */
void dfm_nn_tensor_free(struct dfm_nn_tensor *t);

/* Copies src laid out NCHW (or N, F) into t, shaped by dims.
 * Returns 0 or an error. */
int dfm_nn_tensor_from_nchw(struct dfm_nn_tensor *t, int ndim, const int64_t *dims,
			    const float *src);

/* Copies t into dst laid out NCHW (or N, F); dst holds t->count floats. */
void dfm_nn_tensor_to_nchw(const struct dfm_nn_tensor *t, float *dst);

/* Wraps data (not owned) in a oneDNN memory object described by md.
 * Returns 0 and *out, which the caller destroys, or an error. */
int dfm_nn_memory(const struct dfm_nn_ctx *ctx, const dnnl_memory_desc_t *md, void *data,
		  dnnl_memory_t *out);

/* Copies src in layout src_md into dst in layout dst_md with a oneDNN
 * reorder.  Returns 0 or an error. */
int dfm_nn_reorder(const struct dfm_nn_ctx *ctx, const dnnl_memory_desc_t *src_md,
		   const void *src, const dnnl_memory_desc_t *dst_md, void *dst);

/* Aligned zeroed allocation of n floats, or NULL; free with free(). */
float *dfm_nn_alloc(size_t n);

#endif
