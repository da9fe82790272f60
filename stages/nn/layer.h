/* Layers of dfmake's training library: parameters, spectral normalisation,
 * and forward and backward passes of every layer the SNGAN models need.
 *
 * Conventions.  Every layer is a struct the caller owns; *_init fills it and
 * *_free releases what it allocated.  Forward functions write their output
 * tensor, shaping it as needed, and remember nothing but statistics a
 * backward pass needs; the caller keeps the forward inputs alive until the
 * backward pass.  Backward functions overwrite (never accumulate) the
 * gradients of the layer's parameters and write the gradient of the input
 * into dx, which may be NULL when it is not needed; a gradient is laid out
 * as its activation.  Images are NHWC or channel-blocked (see tensor.h);
 * parameters are stored in PyTorch's layout (OIHW convolution
 * weights, (out, in) linear weights) so that they load and save under
 * PyTorch's names.  Every function returns 0 or an error from cache/error.h
 * with a message in dfm_nn_errmsg(). */
#ifndef DFM_NN_LAYER_H
#define DFM_NN_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "stages/nn/tensor.h"

/* A trainable array with its gradient and the optimiser's two moments. */
struct dfm_nn_param {
	int ndim;
	int64_t shape[4];
	size_t count;
	float *data, *grad, *m, *v;  /* owned */
};

/* Allocates a zeroed parameter of this shape.  Returns 0 or an error. */
int dfm_nn_param_init(struct dfm_nn_param *p, int ndim, const int64_t *shape);

/* Frees the parameter's four arrays. */
void dfm_nn_param_free(struct dfm_nn_param *p);

/* Fills p uniformly in +-gain * sqrt(6 / (fan_in + fan_out)) (Glorot) where
 * fans are PyTorch's: shape[1] * receptive field and shape[0] * field. */
void dfm_nn_init_glorot(struct dfm_nn_param *p, float gain, uint64_t seed, const char *name);

/* Fills p normally with std gain / sqrt(fan) (Kaiming), fan being fan_out
 * when fan_out is set (torchvision's ResNets), fan_in otherwise. */
void dfm_nn_init_kaiming(struct dfm_nn_param *p, float gain, bool fan_out, uint64_t seed,
			 const char *name);

/* Fills p uniformly in +-bound. */
void dfm_nn_init_uniform(struct dfm_nn_param *p, float bound, uint64_t seed, const char *name);

/* Sets every element of p to value. */
void dfm_nn_param_fill(struct dfm_nn_param *p, float value);

/* Spectral normalisation of a weight viewed as a rows x cols matrix (rows
 * = shape[0]), as torch.nn.utils.spectral_norm does it: one power iteration
 * per training forward on a persistent u, W / sigma with sigma = u' W v,
 * and u, v treated as constants in the backward pass. */
struct dfm_nn_sn {
	int rows, cols;
	float *u, *v;   /* persistent: weight_u, weight_v in PyTorch */
	float *w;       /* the normalised weight of the last forward */
	double *acc;    /* scratch for W' u */
	float sigma;
};

/* Allocates u and v (random unit vectors from seed and name).  Returns 0
 * or an error. */
int dfm_nn_sn_init(struct dfm_nn_sn *sn, int rows, int cols, uint64_t seed, const char *name);

/* Frees u, v and the normalised weight. */
void dfm_nn_sn_free(struct dfm_nn_sn *sn);

/* Redraws u and v as random unit vectors from seed and name. */
void dfm_nn_sn_seed(struct dfm_nn_sn *sn, uint64_t seed, const char *name);

/* Computes sn->w from w; updates u and v first when train is set. */
void dfm_nn_sn_forward(struct dfm_nn_sn *sn, const float *w, bool train);

/* Maps the gradient dw_sn of the normalised weight to the gradient of the
 * original weight w, written into grad. */
void dfm_nn_sn_backward(const struct dfm_nn_sn *sn, const float *w, const float *dw_sn,
			float *grad);

/* 2-D convolution: kh x kw kernel, the same stride on both axes, zero
 * padding ph rows and pw columns on each side (PyTorch's output size). */
struct dfm_nn_conv {
	int cin, cout, kh, kw, stride, ph, pw;
	bool has_bias, has_sn;
	bool frozen;                       /* backward skips parameter gradients */
	bool relu;                         /* forward applies a ReLU to y; the
					    * caller masks dy by it */
	struct dfm_nn_param weight, bias;  /* (cout, cin, k, k), (cout) */
	struct dfm_nn_sn sn;
	float *dw;                         /* gradient in OIHW before SN */
	struct dfm_nn_conv_plan *plans;    /* primitives per input shape */
	int nplans;
};

/* A k x k convolution with padding pad on every side; zero weights,
 * optional bias and spectral norm.  Returns 0 or an error. */
int dfm_nn_conv_init(struct dfm_nn_conv *c, int cin, int cout, int k, int stride, int pad,
		     bool bias, bool sn);
/* The same with a kh x kw kernel and separate paddings. */
int dfm_nn_conv_init_rect(struct dfm_nn_conv *c, int cin, int cout, int kh, int kw, int stride,
			  int ph, int pw, bool bias, bool sn);
/* Releases the parameters and the cached primitives. */
void dfm_nn_conv_free(struct dfm_nn_conv *c);
/* y = conv(x); train runs spectral norm's power iteration. */
int dfm_nn_conv_forward(const struct dfm_nn_ctx *ctx, struct dfm_nn_conv *c,
			const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y, bool train);
/* Weight and bias gradients (unless frozen) and dx (unless NULL). */
int dfm_nn_conv_backward(const struct dfm_nn_ctx *ctx, struct dfm_nn_conv *c,
			 const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dy,
			 struct dfm_nn_tensor *dx);
/* Whether the plan for x's shape runs Winograd (false when there is none). */
bool dfm_nn_conv_winograd(const struct dfm_nn_conv *c, const struct dfm_nn_tensor *x);

/* Fully connected layer on rows: y = x W' + b. */
struct dfm_nn_linear {
	int in, out;
	bool has_bias, has_sn;
	struct dfm_nn_param weight, bias;  /* (out, in), (out) */
	struct dfm_nn_sn sn;
	float *dw;
	struct dfm_nn_linear_plan *plans;
	int nplans;
};

/* Zero weights, optional bias and spectral norm.  Returns 0 or an error. */
int dfm_nn_linear_init(struct dfm_nn_linear *l, int in, int out, bool bias, bool sn);
void dfm_nn_linear_free(struct dfm_nn_linear *l);
/* y = x W' + b on rows (N, in). */
int dfm_nn_linear_forward(const struct dfm_nn_ctx *ctx, struct dfm_nn_linear *l,
			  const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y, bool train);
/* Weight and bias gradients, and dx unless NULL. */
int dfm_nn_linear_backward(const struct dfm_nn_ctx *ctx, struct dfm_nn_linear *l,
			   const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dy,
			   struct dfm_nn_tensor *dx);

/* Batch normalisation over N, H, W per channel.  With nclass > 0 it is
 * conditional: gamma and beta are per-class embeddings (nclass, c) picked
 * by each sample's label (initialised to 1 and 0); otherwise they are per
 * channel.  Running statistics follow PyTorch (momentum 0.1, unbiased
 * running variance, eps 1e-5). */
struct dfm_nn_bn {
	int c, nclass;
	bool relu;           /* fused ReLU: forward applies it, backward masks by it */
	float eps, momentum;
	struct dfm_nn_param gamma, beta;
	float *running_mean, *running_var;
	float *mean, *rstd;  /* statistics the last forward normalised with */
	bool trained;        /* whether they were the batch's own */
	double *part;        /* per-sample partial sums */
	size_t part_cap;
};

/* Plain (nclass 0) or conditional batch norm.  Returns 0 or an error. */
int dfm_nn_bn_init(struct dfm_nn_bn *b, int c, int nclass);
void dfm_nn_bn_free(struct dfm_nn_bn *b);
/* labels (one per sample) only for conditional batch norm.  With b->relu
 * set, y is the ReLU of the normalised x and dy the gradient of that. */
int dfm_nn_bn_forward(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x,
		      const int32_t *labels, struct dfm_nn_tensor *y, bool train);
/* Gradients of gamma and beta, and dx (which may be dy) unless NULL. */
int dfm_nn_bn_backward(struct dfm_nn_bn *b, const struct dfm_nn_tensor *x,
		       const int32_t *labels, const struct dfm_nn_tensor *dy,
		       struct dfm_nn_tensor *dx);

/* A class embedding table (nclass, dim), optionally spectrally normalised:
 * y[n] = W[labels[n]]. */
struct dfm_nn_embed {
	int nclass, dim;
	bool has_sn;
	struct dfm_nn_param weight;
	struct dfm_nn_sn sn;
	float *dw;
};

/* Zero table, optionally spectrally normalised.  Returns 0 or an error. */
int dfm_nn_embed_init(struct dfm_nn_embed *e, int nclass, int dim, bool sn);
void dfm_nn_embed_free(struct dfm_nn_embed *e);
/* Rows (n, dim) of the table picked by labels. */
int dfm_nn_embed_forward(struct dfm_nn_embed *e, const int32_t *labels, int n,
			 struct dfm_nn_tensor *y, bool train);
/* The table's gradient from dy (n, dim). */
void dfm_nn_embed_backward(struct dfm_nn_embed *e, const int32_t *labels,
			   const struct dfm_nn_tensor *dy);

/* Element-wise and shape layers; y or dx may alias x or dy where noted. */

/* y = max(x, 0); y may be x. */
int dfm_nn_relu_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);
/* dx = dy where x > 0, else 0; x is the forward input; dx may be dy. */
int dfm_nn_relu_backward(const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dy,
			 struct dfm_nn_tensor *dx);
/* y = tanh(x); y may be x. */
int dfm_nn_tanh_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);
/* dx = dy (1 - y^2) from the forward output y; dx may be dy. */
int dfm_nn_tanh_backward(const struct dfm_nn_tensor *y, const struct dfm_nn_tensor *dy,
			 struct dfm_nn_tensor *dx);
/* y = a + b; y may be a or b. */
int dfm_nn_add(const struct dfm_nn_tensor *a, const struct dfm_nn_tensor *b,
	       struct dfm_nn_tensor *y);
/* 2x2 average pooling, stride 2 (H and W even). */
int dfm_nn_avgpool2_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);
/* dx (2H, 2W) gets a quarter of dy in each position of the window. */
int dfm_nn_avgpool2_backward(const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx);
/* 2x nearest-neighbour upsampling. */
int dfm_nn_upsample2_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);
/* dx (H/2, W/2) sums dy over each 2x2 block. */
int dfm_nn_upsample2_backward(const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx);
/* Sum over H and W: images (N, C, H, W) to rows (N, C). */
int dfm_nn_global_sum_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);
/* dx, shaped and laid out like the forward input x, gets dy at every
 * position. */
int dfm_nn_global_sum_backward(const struct dfm_nn_tensor *dy, const struct dfm_nn_tensor *x,
			       struct dfm_nn_tensor *dx);
/* Rows (N, C*H*W) read as PyTorch's view (N, C, H, W) into an image laid
 * out in blocks of cb channels (dfm_nn_act_cblock() for the library's). */
int dfm_nn_unflatten(const struct dfm_nn_tensor *x, int64_t c, int64_t h, int64_t w,
		     int64_t cb, struct dfm_nn_tensor *y);
/* The inverse: an image to rows in PyTorch's C, H, W order. */
int dfm_nn_flatten(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);

/* General pooling with a k x k window, stride and zero padding on both
 * axes; output size floor((in + 2 pad - k) / stride) + 1 as PyTorch.  Max
 * pooling remembers the winners of the last forward for its backward;
 * average pooling divides by the whole window or, with exclude_pad, by the
 * part of it inside the image (PyTorch's count_include_pad=False). */
struct dfm_nn_pool {
	int k, stride, pad;
	bool exclude_pad;
	int32_t *argmax;   /* max pooling: flat input index per output element */
	size_t argmax_cap;
};

/* Max pooling; remembers the winners in p. */
int dfm_nn_maxpool_forward(struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
			   struct dfm_nn_tensor *y);
/* dx is shaped like the forward input x. */
int dfm_nn_maxpool_backward(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
			    const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx);
/* Average pooling and its backward pass (dx shaped like x). */
int dfm_nn_avgpool_forward(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
			   struct dfm_nn_tensor *y);
int dfm_nn_avgpool_backward(const struct dfm_nn_pool *p, const struct dfm_nn_tensor *x,
			    const struct dfm_nn_tensor *dy, struct dfm_nn_tensor *dx);
/* Frees max pooling's winners. */
void dfm_nn_pool_free(struct dfm_nn_pool *p);

/* Mean over H and W: images (N, C, H, W) to rows (N, C). */
int dfm_nn_global_avg_forward(const struct dfm_nn_tensor *x, struct dfm_nn_tensor *y);
/* dx shaped and laid out like the forward input x: dy / (h w) everywhere. */
int dfm_nn_global_avg_backward(const struct dfm_nn_tensor *dy, const struct dfm_nn_tensor *x,
			       struct dfm_nn_tensor *dx);

/* Concatenation of n images along channels (same N, H, W) into y. */
int dfm_nn_concat(const struct dfm_nn_tensor *const *xs, int n, struct dfm_nn_tensor *y);
/* Its backward: the channel slice [c0, c0 + c) of dy into dx. */
int dfm_nn_concat_slice(const struct dfm_nn_tensor *dy, int64_t c0, int64_t c,
			struct dfm_nn_tensor *dx);

/* Losses.  Each returns the loss in *loss and writes d loss / d input. */

/* Softmax cross-entropy of logits (N, K) against labels, averaged over N. */
int dfm_nn_softmax_ce(const struct dfm_nn_tensor *logits, const int32_t *labels,
		      double *loss, struct dfm_nn_tensor *dlogits);
/* Binary cross-entropy with logits against float targets of the same
 * shape, averaged over all elements (stable form). */
int dfm_nn_bce_logits(const struct dfm_nn_tensor *logits, const float *targets,
		      double *loss, struct dfm_nn_tensor *dlogits);

/* Discriminator hinge loss on one score per row: mean(relu(1 - d)) over
 * the first nreal rows plus mean(relu(1 + d)) over the rest. */
int dfm_nn_hinge_d(const struct dfm_nn_tensor *d, int64_t nreal, double *loss,
		   struct dfm_nn_tensor *dd);
/* Generator hinge loss: -mean(d). */
int dfm_nn_hinge_g(const struct dfm_nn_tensor *d, double *loss, struct dfm_nn_tensor *dd);

#endif
