/* Tensors and the oneDNN context of dfmake's training library.
 *
 * A context owns one CPU engine and one stream and fixes the number of
 * threads every primitive and hand-written kernel uses.  A tensor is a
 * logical shape in PyTorch order (N, C, H, W for images, N, F for rows) plus
 * the oneDNN memory descriptor of its bytes.  Images are stored channels
 * last (NHWC): the convolutions are created on that layout, and the
 * hand-written kernels (normalisation, pooling, upsampling) index it
 * directly.  Reorders to and from PyTorch's NCHW happen only at the edges
 * (dfm_nn_tensor_from_nchw, dfm_nn_tensor_to_nchw). */
#ifndef DFM_NN_TENSOR_H
#define DFM_NN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

struct dfm_nn_ctx {
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	int threads;
};

struct dfm_nn_tensor {
	int ndim;               /* 2 (rows) or 4 (images) */
	int64_t dims[4];        /* logical order: N, C, H, W or N, F */
	size_t count;           /* elements */
	dnnl_memory_desc_t md;  /* layout of data: nhwc or ab */
	float *data;            /* owned, 64-byte aligned */
	size_t cap;             /* elements allocated */
};

/* Makes a context running on threads threads (0: keep the current OpenMP
 * setting).  The count is set for the calling thread's OpenMP regions,
 * oneDNN's included, so it outlives the context.  Returns 0 or an error;
 * free it with dfm_nn_ctx_free(). */
int dfm_nn_ctx_init(struct dfm_nn_ctx *ctx, int threads);

/* Releases the engine and stream of a context. */
void dfm_nn_ctx_free(struct dfm_nn_ctx *ctx);

/* Describes the compute setting for run records, e.g. "oneDNN 2.6.3 avx2,
 * 2 threads", into buf of len bytes. */
void dfm_nn_describe(const struct dfm_nn_ctx *ctx, char *buf, size_t len);

/* The message of the last failure of this thread inside the library.
 * Static per thread; valid until the next failure. */
const char *dfm_nn_errmsg(void);

/* Records a failure message for dfm_nn_errmsg() and returns err. */
int dfm_nn_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Turns a oneDNN status into 0 or DFM_ERR_DNNL, naming what failed. */
int dfm_nn_check(dnnl_status_t s, const char *what);

/* Gives t the shape (n, c, h, w), or (n, c) when h is 0, reusing its buffer
 * when large enough.  Contents are unspecified.  Returns 0 or an error. */
int dfm_nn_tensor_shape(struct dfm_nn_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w);

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
