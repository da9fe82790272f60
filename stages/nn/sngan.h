/* The 32x32 conditional SNGAN of Miyato and Koyama (2018): a ResNet
 * generator with conditional batch norm and a projection discriminator
 * with spectral normalisation, trained with the hinge loss and Adam.
 *
 * Generator: z -> linear to (ch, 4, 4) -> three up-blocks (CBN, ReLU,
 * upsample, conv3x3, CBN, ReLU, conv3x3; shortcut upsample, conv1x1) ->
 * BN, ReLU, conv3x3 to RGB, tanh.  Discriminator: optimised block (conv,
 * ReLU, conv, pool; shortcut pool, conv1x1), a down-block, two plain blocks,
 * ReLU, sum over space, linear + the projection <embed(y), h>.  Parameter
 * names are those of tests/parity/sngan_torch.py. */
#ifndef DFM_NN_SNGAN_H
#define DFM_NN_SNGAN_H

#include "stages/nn/model.h"
#include "stages/nn/optim.h"

struct dfm_sngan_config {
	int g_ch, d_ch;      /* channels of generator and discriminator blocks */
	int nclass, zdim;
	float lr_g, lr_d;    /* the paper: 1e-4 and 4e-4 */
	float beta1, beta2;  /* the paper: 0 and 0.9 */
	long decay_steps;    /* learning rates fall linearly to 0; 0: constant */
	uint64_t seed;       /* initialisation */
};

/* The paper's settings with g_ch 256, d_ch 128 and the given classes. */
struct dfm_sngan_config dfm_sngan_defaults(int nclass);

struct dfm_sngan_gblock {
	struct dfm_nn_bn b1, b2;
	struct dfm_nn_conv c1, c2, c_sc;
	struct dfm_nn_tensor a, u, h, b, xs;  /* saved activations */
};

struct dfm_sngan_g {
	int ch, nclass, zdim;
	struct dfm_nn_linear l1;
	struct dfm_sngan_gblock block[3];
	struct dfm_nn_bn b5;
	struct dfm_nn_conv c5;
	struct dfm_nn_state state;
	struct dfm_nn_tensor rows, x[4], r5, img;  /* activations of the last forward */
	struct dfm_nn_tensor d[4];                 /* gradient scratch */
	const struct dfm_nn_tensor *z;             /* inputs of the last forward */
	const int32_t *labels;
};

struct dfm_sngan_dblock {
	bool opt, down, learn_sc;
	struct dfm_nn_conv c1, c2, c_sc;
	struct dfm_nn_tensor r0, h1, h2, p, xs, s;
};

struct dfm_sngan_d {
	int ch, nclass;
	struct dfm_sngan_dblock block[4];
	struct dfm_nn_linear l5;
	struct dfm_nn_embed l_y;
	struct dfm_nn_state state;
	struct dfm_nn_tensor x[5], hr, hs, out, e, dhs, de;  /* x[0] unused */
	struct dfm_nn_tensor d[4];
	const struct dfm_nn_tensor *input;  /* inputs of the last forward */
	const int32_t *labels;
};

/* Builds and initialises (Glorot, as the reference) a generator or a
 * discriminator.  Returns 0 or an error; free with the matching _free. */
int dfm_sngan_g_init(struct dfm_sngan_g *g, const struct dfm_sngan_config *cfg);
void dfm_sngan_g_free(struct dfm_sngan_g *g);
int dfm_sngan_d_init(struct dfm_sngan_d *d, const struct dfm_sngan_config *cfg);
void dfm_sngan_d_free(struct dfm_sngan_d *d);

/* Generates images (N, 3, 32, 32) in g->img from z (N, zdim) and labels,
 * which must stay valid until the backward pass. */
int dfm_sngan_g_forward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_g *g,
			const struct dfm_nn_tensor *z, const int32_t *labels, bool train);
/* Parameter gradients from the gradient of g->img. */
int dfm_sngan_g_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_g *g,
			 const struct dfm_nn_tensor *dimg);

/* Scores images x with labels into d->out (N, 1); x and labels must stay
 * valid until the backward pass. */
int dfm_sngan_d_forward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_d *d,
			const struct dfm_nn_tensor *x, const int32_t *labels, bool train);
/* Parameter gradients (unless frozen) and, when dx is not NULL, the
 * gradient of the images. */
int dfm_sngan_d_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_d *d,
			 const struct dfm_nn_tensor *dout, struct dfm_nn_tensor *dx, bool frozen);

/* A generator, a discriminator and their optimisers. */
struct dfm_sngan {
	struct dfm_sngan_config cfg;
	struct dfm_sngan_g g;
	struct dfm_sngan_d d;
	struct dfm_nn_adam opt_g, opt_d;
	struct dfm_nn_tensor xcat, dscore, dimg;
	int32_t *ycat;
	size_t ycat_cap;
};

/* Builds both models and their optimisers (Adam with the config's rates
 * and decay).  Returns 0 or an error; free with dfm_sngan_free(). */
int dfm_sngan_init(struct dfm_sngan *s, const struct dfm_sngan_config *cfg);
void dfm_sngan_free(struct dfm_sngan *s);

/* One discriminator update: real images with their labels and fakes
 * generated from z and y_fake are scored in one batch; hinge loss; Adam.
 * The loss goes to *loss.  Returns 0 or an error. */
int dfm_sngan_d_step(const struct dfm_nn_ctx *ctx, struct dfm_sngan *s,
		     const struct dfm_nn_tensor *x_real, const int32_t *y_real,
		     const struct dfm_nn_tensor *z, const int32_t *y_fake, double *loss);

/* One generator update on fakes from z and y; hinge loss; Adam. */
int dfm_sngan_g_step(const struct dfm_nn_ctx *ctx, struct dfm_sngan *s,
		     const struct dfm_nn_tensor *z, const int32_t *y, double *loss);

#endif
