/* The conditional SNGAN models and their training steps.  Every forward
 * keeps the activations its backward needs in the block structs; gradient
 * scratch tensors are reused across blocks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/sngan.h"

struct dfm_sngan_config
dfm_sngan_defaults(int nclass)
{
	struct dfm_sngan_config c = {256, 128, nclass, 128, 1e-4f, 4e-4f, 0, 0.9f, 0, 1};

	return c;
}

/* A convolution Glorot-initialised with gain and a zero bias, registered in
 * state under prefix.  Its random stream is named after the model too (only
 * the discriminator's convolutions are normalised), so that the generator's
 * and the discriminator's "block2.c1." draw different numbers. */
static int
make_conv(struct dfm_nn_conv *c, struct dfm_nn_state *st, const char *prefix, int cin,
	  int cout, int k, float gain, bool sn, uint64_t seed)
{
	int err = dfm_nn_conv_init(c, cin, cout, k, 1, k / 2, true, sn);
	char stream[96];

	if (err)
		return err;
	snprintf(stream, sizeof stream, "%s%s", sn ? "D." : "G.", prefix);
	dfm_nn_init_glorot(&c->weight, gain, seed, stream);
	if (sn)
		dfm_nn_sn_seed(&c->sn, seed, stream);
	return dfm_nn_state_conv(st, prefix, c);
}

static void
join(char *out, size_t n, const char *a, const char *b)
{
	snprintf(out, n, "%s%s", a, b);
}

static void
free_tensors(struct dfm_nn_tensor *t, int n)
{
	for (int i = 0; i < n; i++)
		dfm_nn_tensor_free(&t[i]);
}

/* Generator. */

static int
gblock_init(struct dfm_sngan_gblock *b, struct dfm_nn_state *st, const char *prefix, int ch,
	    int nclass, uint64_t seed)
{
	char name[64];
	int err;

	join(name, sizeof name, prefix, "b1.");
	err = dfm_nn_bn_init(&b->b1, ch, nclass);
	b->b1.relu = true;
	if (!err)
		err = dfm_nn_state_bn(st, name, &b->b1);
	join(name, sizeof name, prefix, "c1.");
	if (!err)
		err = make_conv(&b->c1, st, name, ch, ch, 3, (float)M_SQRT2, false, seed);
	join(name, sizeof name, prefix, "b2.");
	if (!err)
		err = dfm_nn_bn_init(&b->b2, ch, nclass);
	b->b2.relu = true;
	if (!err)
		err = dfm_nn_state_bn(st, name, &b->b2);
	join(name, sizeof name, prefix, "c2.");
	if (!err)
		err = make_conv(&b->c2, st, name, ch, ch, 3, (float)M_SQRT2, false, seed);
	join(name, sizeof name, prefix, "c_sc.");
	if (!err)
		err = make_conv(&b->c_sc, st, name, ch, ch, 1, 1, false, seed);
	return err;
}

static void
gblock_free(struct dfm_sngan_gblock *b)
{
	dfm_nn_bn_free(&b->b1);
	dfm_nn_bn_free(&b->b2);
	dfm_nn_conv_free(&b->c1);
	dfm_nn_conv_free(&b->c2);
	dfm_nn_conv_free(&b->c_sc);
	dfm_nn_tensor_free(&b->a);
	dfm_nn_tensor_free(&b->u);
	dfm_nn_tensor_free(&b->h);
	dfm_nn_tensor_free(&b->b);
	dfm_nn_tensor_free(&b->xs);
}

int
dfm_sngan_g_init(struct dfm_sngan_g *g, const struct dfm_sngan_config *cfg)
{
	int ch = cfg->g_ch, err;

	memset(g, 0, sizeof *g);
	g->ch = ch;
	g->nclass = cfg->nclass;
	g->zdim = cfg->zdim;
	err = dfm_nn_linear_init(&g->l1, cfg->zdim, 16 * ch, true, false);
	if (!err) {
		dfm_nn_init_glorot(&g->l1.weight, 1, cfg->seed, "G.l1.");
		err = dfm_nn_state_linear(&g->state, "l1.", &g->l1);
	}
	for (int i = 0; i < 3 && !err; i++) {
		char prefix[32];

		snprintf(prefix, sizeof prefix, "block%d.", i + 2);
		err = gblock_init(&g->block[i], &g->state, prefix, ch, cfg->nclass, cfg->seed);
	}
	if (!err)
		err = dfm_nn_bn_init(&g->b5, ch, 0);
	g->b5.relu = true;
	if (!err)
		err = dfm_nn_state_bn(&g->state, "b5.", &g->b5);
	if (!err)
		err = make_conv(&g->c5, &g->state, "c5.", ch, 3, 3, 1, false, cfg->seed);
	if (err)
		dfm_sngan_g_free(g);
	return err;
}

void
dfm_sngan_g_free(struct dfm_sngan_g *g)
{
	dfm_nn_linear_free(&g->l1);
	for (int i = 0; i < 3; i++)
		gblock_free(&g->block[i]);
	dfm_nn_bn_free(&g->b5);
	dfm_nn_conv_free(&g->c5);
	dfm_nn_state_free(&g->state);
	dfm_nn_tensor_free(&g->rows);
	free_tensors(g->x, 4);
	dfm_nn_tensor_free(&g->r5);
	dfm_nn_tensor_free(&g->img);
	free_tensors(g->d, 4);
	memset(g, 0, sizeof *g);
}

static int
gblock_forward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_gblock *b,
	       const struct dfm_nn_tensor *x, const int32_t *y, struct dfm_nn_tensor *out,
	       struct dfm_nn_tensor *tmp, bool train)
{
	int err;

	err = dfm_nn_bn_forward(&b->b1, x, y, &b->a, train);
	if (!err)
		err = dfm_nn_upsample2_forward(&b->a, &b->u);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &b->c1, &b->u, &b->h, train);
	if (!err)
		err = dfm_nn_bn_forward(&b->b2, &b->h, y, &b->b, train);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &b->c2, &b->b, out, train);
	if (!err)
		err = dfm_nn_upsample2_forward(x, &b->xs);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &b->c_sc, &b->xs, tmp, train);
	if (!err)
		err = dfm_nn_add(out, tmp, out);
	return err;
}

/* dout to dx through one block; g1 and g2 are scratch. */
static int
gblock_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_gblock *b,
		const struct dfm_nn_tensor *x, const int32_t *y,
		const struct dfm_nn_tensor *dout, struct dfm_nn_tensor *dx,
		struct dfm_nn_tensor *g1, struct dfm_nn_tensor *g2)
{
	int err;

	err = dfm_nn_conv_backward(ctx, &b->c_sc, &b->xs, dout, g1);
	if (!err)
		err = dfm_nn_upsample2_backward(g1, dx);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->c2, &b->b, dout, g1);
	if (!err)
		err = dfm_nn_bn_backward(&b->b2, &b->h, y, g1, g1);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->c1, &b->u, g1, g2);
	if (!err)
		err = dfm_nn_upsample2_backward(g2, g1);
	if (!err)
		err = dfm_nn_bn_backward(&b->b1, x, y, g1, g1);
	if (!err)
		err = dfm_nn_add(dx, g1, dx);
	return err;
}

int
dfm_sngan_g_forward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_g *g,
		    const struct dfm_nn_tensor *z, const int32_t *labels, bool train)
{
	int err;

	g->labels = labels;
	g->z = z;
	err = dfm_nn_linear_forward(ctx, &g->l1, z, &g->rows, train);
	if (!err)
		err = dfm_nn_unflatten(&g->rows, g->ch, 4, 4, dfm_nn_act_cblock(ctx, g->ch),
				       &g->x[0]);
	for (int i = 0; i < 3 && !err; i++)
		err = gblock_forward(ctx, &g->block[i], &g->x[i], labels, &g->x[i + 1], &g->d[0],
				     train);
	if (!err)
		err = dfm_nn_bn_forward(&g->b5, &g->x[3], NULL, &g->r5, train);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &g->c5, &g->r5, &g->img, train);
	if (!err)
		err = dfm_nn_tanh_forward(&g->img, &g->img);
	return err;
}

int
dfm_sngan_g_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_g *g,
		     const struct dfm_nn_tensor *dimg)
{
	struct dfm_nn_tensor *cur = &g->d[0], *next = &g->d[1], *t;
	int err;

	err = dfm_nn_tanh_backward(&g->img, dimg, &g->d[2]);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &g->c5, &g->r5, &g->d[2], cur);
	if (!err)
		err = dfm_nn_bn_backward(&g->b5, &g->x[3], NULL, cur, cur);
	for (int i = 2; i >= 0 && !err; i--) {
		err = gblock_backward(ctx, &g->block[i], &g->x[i], g->labels, cur, next,
				      &g->d[2], &g->d[3]);
		t = cur;
		cur = next;
		next = t;
	}
	if (!err)
		err = dfm_nn_flatten(cur, next);
	if (!err)
		err = dfm_nn_linear_backward(ctx, &g->l1, g->z, next, NULL);
	return err;
}

/* Discriminator. */

static int
dblock_init(struct dfm_sngan_dblock *b, struct dfm_nn_state *st, const char *prefix, int cin,
	    int cout, bool opt, bool down, uint64_t seed)
{
	char name[64];
	int hidden = opt ? cout : cin, err;

	b->opt = opt;
	b->down = down;
	b->learn_sc = opt || cin != cout || down;
	join(name, sizeof name, prefix, "c1.");
	err = make_conv(&b->c1, st, name, cin, hidden, 3, (float)M_SQRT2, true, seed);
	b->c1.relu = true;
	join(name, sizeof name, prefix, "c2.");
	if (!err)
		err = make_conv(&b->c2, st, name, hidden, cout, 3, (float)M_SQRT2, true, seed);
	join(name, sizeof name, prefix, "c_sc.");
	if (!err && b->learn_sc)
		err = make_conv(&b->c_sc, st, name, cin, cout, 1, 1, true, seed);
	return err;
}

static void
dblock_free(struct dfm_sngan_dblock *b)
{
	dfm_nn_conv_free(&b->c1);
	dfm_nn_conv_free(&b->c2);
	dfm_nn_conv_free(&b->c_sc);
	dfm_nn_tensor_free(&b->r0);
	dfm_nn_tensor_free(&b->h1);
	dfm_nn_tensor_free(&b->h2);
	dfm_nn_tensor_free(&b->p);
	dfm_nn_tensor_free(&b->xs);
	dfm_nn_tensor_free(&b->s);
}

int
dfm_sngan_d_init(struct dfm_sngan_d *d, const struct dfm_sngan_config *cfg)
{
	int ch = cfg->d_ch, err;

	memset(d, 0, sizeof *d);
	d->ch = ch;
	d->nclass = cfg->nclass;
	err = dblock_init(&d->block[0], &d->state, "block1.", 3, ch, true, true, cfg->seed);
	if (!err)
		err = dblock_init(&d->block[1], &d->state, "block2.", ch, ch, false, true,
				  cfg->seed);
	if (!err)
		err = dblock_init(&d->block[2], &d->state, "block3.", ch, ch, false, false,
				  cfg->seed);
	if (!err)
		err = dblock_init(&d->block[3], &d->state, "block4.", ch, ch, false, false,
				  cfg->seed);
	if (!err)
		err = dfm_nn_linear_init(&d->l5, ch, 1, true, true);
	if (!err) {
		dfm_nn_init_glorot(&d->l5.weight, 1, cfg->seed, "D.l5.");
		dfm_nn_sn_seed(&d->l5.sn, cfg->seed, "D.l5.");
		err = dfm_nn_state_linear(&d->state, "l5.", &d->l5);
	}
	if (!err)
		err = dfm_nn_embed_init(&d->l_y, cfg->nclass, ch, true);
	if (!err) {
		dfm_nn_init_glorot(&d->l_y.weight, 1, cfg->seed, "D.l_y.");
		dfm_nn_sn_seed(&d->l_y.sn, cfg->seed, "D.l_y.");
		err = dfm_nn_state_embed(&d->state, "l_y.", &d->l_y);
	}
	if (err)
		dfm_sngan_d_free(d);
	return err;
}

void
dfm_sngan_d_free(struct dfm_sngan_d *d)
{
	for (int i = 0; i < 4; i++)
		dblock_free(&d->block[i]);
	dfm_nn_linear_free(&d->l5);
	dfm_nn_embed_free(&d->l_y);
	dfm_nn_state_free(&d->state);
	free_tensors(d->x, 5);
	dfm_nn_tensor_free(&d->hr);
	dfm_nn_tensor_free(&d->hs);
	dfm_nn_tensor_free(&d->out);
	dfm_nn_tensor_free(&d->e);
	dfm_nn_tensor_free(&d->dhs);
	dfm_nn_tensor_free(&d->de);
	free_tensors(d->d, 4);
	memset(d, 0, sizeof *d);
}

static int
dblock_residual(const struct dfm_nn_ctx *ctx, struct dfm_sngan_dblock *b,
		const struct dfm_nn_tensor *x, struct dfm_nn_tensor *out, bool train)
{
	int err = 0;

	if (!b->opt)
		err = dfm_nn_relu_forward(x, &b->r0);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &b->c1, b->opt ? x : &b->r0, &b->h1, train);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &b->c2, &b->h1, b->down ? &b->h2 : out, train);
	if (!err && b->down)
		err = dfm_nn_avgpool2_forward(&b->h2, out);
	return err;
}

static int
dblock_forward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_dblock *b,
	       const struct dfm_nn_tensor *x, struct dfm_nn_tensor *out, bool train)
{
	int err = dblock_residual(ctx, b, x, out, train);

	if (err)
		return err;
	if (!b->learn_sc)
		return dfm_nn_add(out, x, out);
	if (b->opt) {
		err = dfm_nn_avgpool2_forward(x, &b->xs);
		if (!err)
			err = dfm_nn_conv_forward(ctx, &b->c_sc, &b->xs, &b->s, train);
	} else {
		err = dfm_nn_conv_forward(ctx, &b->c_sc, x, b->down ? &b->p : &b->s, train);
		if (!err && b->down)
			err = dfm_nn_avgpool2_forward(&b->p, &b->s);
	}
	if (!err)
		err = dfm_nn_add(out, &b->s, out);
	return err;
}

static int
copy_tensor(const struct dfm_nn_tensor *src, struct dfm_nn_tensor *dst)
{
	int err = dfm_nn_tensor_like(dst, src);

	if (!err)
		memcpy(dst->data, src->data, src->count * sizeof(float));
	return err;
}

/* The shortcut's share of dx, written into dx (NULL when not wanted);
 * leaves the pooled gradient in g2 for the residual path of down-blocks. */
static int
dblock_back_shortcut(const struct dfm_nn_ctx *ctx, struct dfm_sngan_dblock *b,
		     const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dout,
		     struct dfm_nn_tensor *dx, struct dfm_nn_tensor *g1, struct dfm_nn_tensor *g2)
{
	int err = 0;

	if (!b->learn_sc)
		return dx ? copy_tensor(dout, dx) : 0;
	if (b->opt) {
		err = dfm_nn_conv_backward(ctx, &b->c_sc, &b->xs, dout, dx ? g1 : NULL);
		if (!err && dx)
			err = dfm_nn_avgpool2_backward(g1, dx);
		return err;
	}
	if (b->down)
		err = dfm_nn_avgpool2_backward(dout, g2);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->c_sc, x, b->down ? g2 : dout, dx);
	return err;
}

static int
dblock_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_dblock *b,
		const struct dfm_nn_tensor *x, const struct dfm_nn_tensor *dout,
		struct dfm_nn_tensor *dx, struct dfm_nn_tensor *g1, struct dfm_nn_tensor *g2)
{
	const struct dfm_nn_tensor *dres = dout;
	int err;

	err = dblock_back_shortcut(ctx, b, x, dout, dx, g1, g2);
	if (!err && b->down) {
		if (b->opt)
			err = dfm_nn_avgpool2_backward(dout, g2);
		dres = g2;
	}
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->c2, &b->h1, dres, g1);
	if (!err)
		err = dfm_nn_relu_backward(&b->h1, g1, g1);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->c1, b->opt ? x : &b->r0, g1, dx ? g2 : NULL);
	if (!err && dx && !b->opt)
		err = dfm_nn_relu_backward(x, g2, g2);
	if (!err && dx)
		err = dfm_nn_add(dx, g2, dx);
	return err;
}

static void
set_frozen(struct dfm_sngan_d *d, bool frozen)
{
	for (int i = 0; i < 4; i++) {
		d->block[i].c1.frozen = frozen;
		d->block[i].c2.frozen = frozen;
		d->block[i].c_sc.frozen = frozen;
	}
}

int
dfm_sngan_d_forward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_d *d,
		    const struct dfm_nn_tensor *x, const int32_t *labels, bool train)
{
	int64_t n = x->dims[0], ch = d->ch;
	int err = 0;

	d->labels = labels;
	d->input = x;
	for (int i = 0; i < 4 && !err; i++)
		err = dblock_forward(ctx, &d->block[i], i ? &d->x[i] : x, &d->x[i + 1], train);
	if (!err)
		err = dfm_nn_relu_forward(&d->x[4], &d->hr);
	if (!err)
		err = dfm_nn_global_sum_forward(&d->hr, &d->hs);
	if (!err)
		err = dfm_nn_linear_forward(ctx, &d->l5, &d->hs, &d->out, train);
	if (!err)
		err = dfm_nn_embed_forward(&d->l_y, labels, (int)n, &d->e, train);
	if (err)
		return err;
	for (int64_t i = 0; i < n; i++) {
		double s = 0;

		for (int64_t c = 0; c < ch; c++)
			s += (double)d->e.data[i * ch + c] * d->hs.data[i * ch + c];
		d->out.data[i] += (float)s;
	}
	return 0;
}

/* Gradients of the head: the linear layer and the projection. */
static int
head_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_d *d,
	      const struct dfm_nn_tensor *dout)
{
	int64_t n = dout->dims[0], ch = d->ch;
	int err;

	err = dfm_nn_linear_backward(ctx, &d->l5, &d->hs, dout, &d->dhs);
	if (!err)
		err = dfm_nn_tensor_like(&d->de, &d->e);
	if (err)
		return err;
	for (int64_t i = 0; i < n; i++)
		for (int64_t c = 0; c < ch; c++) {
			float g = dout->data[i];

			d->dhs.data[i * ch + c] += g * d->e.data[i * ch + c];
			d->de.data[i * ch + c] = g * d->hs.data[i * ch + c];
		}
	dfm_nn_embed_backward(&d->l_y, d->labels, &d->de);
	return 0;
}

int
dfm_sngan_d_backward(const struct dfm_nn_ctx *ctx, struct dfm_sngan_d *d,
		     const struct dfm_nn_tensor *dout, struct dfm_nn_tensor *dx, bool frozen)
{
	struct dfm_nn_tensor *cur = &d->d[0], *next = &d->d[1], *t;
	int err;

	set_frozen(d, frozen);
	err = head_backward(ctx, d, dout);
	if (!err)
		err = dfm_nn_global_sum_backward(&d->dhs, &d->hr, cur);
	if (!err)
		err = dfm_nn_relu_backward(&d->x[4], cur, cur);
	for (int i = 3; i >= 0 && !err; i--) {
		struct dfm_nn_tensor *out = i ? next : dx;

		err = dblock_backward(ctx, &d->block[i], i ? &d->x[i] : d->input, cur, out,
				      &d->d[2], &d->d[3]);
		t = cur;
		cur = next;
		next = t;
	}
	set_frozen(d, false);
	return err;
}

/* Training. */

int
dfm_sngan_init(struct dfm_sngan *s, const struct dfm_sngan_config *cfg)
{
	int err;

	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	err = dfm_sngan_g_init(&s->g, cfg);
	if (err)
		return err;
	err = dfm_sngan_d_init(&s->d, cfg);
	if (err) {
		dfm_sngan_g_free(&s->g);
		return err;
	}
	s->opt_g = dfm_nn_adam_make(cfg->lr_g, cfg->beta1, cfg->beta2);
	s->opt_d = dfm_nn_adam_make(cfg->lr_d, cfg->beta1, cfg->beta2);
	s->opt_g.decay_steps = s->opt_d.decay_steps = cfg->decay_steps;
	return 0;
}

void
dfm_sngan_free(struct dfm_sngan *s)
{
	dfm_sngan_g_free(&s->g);
	dfm_sngan_d_free(&s->d);
	dfm_nn_tensor_free(&s->xcat);
	dfm_nn_tensor_free(&s->dscore);
	dfm_nn_tensor_free(&s->dimg);
	free(s->ycat);
	memset(s, 0, sizeof *s);
}

/* Real and fake images (and labels) stacked along the batch. */
static int
concat(struct dfm_sngan *s, const struct dfm_nn_tensor *real, const int32_t *y_real,
       const struct dfm_nn_tensor *fake, const int32_t *y_fake)
{
	int64_t nr = real->dims[0], nf = fake->dims[0];
	int err;

	if (real->ndim != 4 || memcmp(real->dims + 1, fake->dims + 1, 3 * sizeof(int64_t)))
		return dfm_nn_fail(DFM_ERR_USAGE, "sngan: real images are not (N, 3, 32, 32)");
	err = dfm_nn_tensor_shape(&s->xcat, nr + nf, 3, real->dims[2], real->dims[3]);
	if (err)
		return err;
	if ((size_t)(nr + nf) > s->ycat_cap) {
		int32_t *y = realloc(s->ycat, (size_t)(nr + nf) * sizeof *y);

		if (!y)
			return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for labels");
		s->ycat = y;
		s->ycat_cap = (size_t)(nr + nf);
	}
	memcpy(s->xcat.data, real->data, real->count * sizeof(float));
	memcpy(s->xcat.data + real->count, fake->data, fake->count * sizeof(float));
	memcpy(s->ycat, y_real, (size_t)nr * sizeof *y_real);
	memcpy(s->ycat + nr, y_fake, (size_t)nf * sizeof *y_fake);
	return 0;
}

int
dfm_sngan_d_step(const struct dfm_nn_ctx *ctx, struct dfm_sngan *s,
		 const struct dfm_nn_tensor *x_real, const int32_t *y_real,
		 const struct dfm_nn_tensor *z, const int32_t *y_fake, double *loss)
{
	int err;

	err = dfm_sngan_g_forward(ctx, &s->g, z, y_fake, true);
	if (!err)
		err = concat(s, x_real, y_real, &s->g.img, y_fake);
	if (!err)
		err = dfm_sngan_d_forward(ctx, &s->d, &s->xcat, s->ycat, true);
	if (!err)
		err = dfm_nn_hinge_d(&s->d.out, x_real->dims[0], loss, &s->dscore);
	if (!err)
		err = dfm_sngan_d_backward(ctx, &s->d, &s->dscore, NULL, false);
	if (!err)
		dfm_nn_adam_step(&s->opt_d, s->d.state.params, s->d.state.nparams);
	return err;
}

int
dfm_sngan_g_step(const struct dfm_nn_ctx *ctx, struct dfm_sngan *s,
		 const struct dfm_nn_tensor *z, const int32_t *y, double *loss)
{
	int err;

	err = dfm_sngan_g_forward(ctx, &s->g, z, y, true);
	if (!err)
		err = dfm_sngan_d_forward(ctx, &s->d, &s->g.img, y, true);
	if (!err)
		err = dfm_nn_hinge_g(&s->d.out, loss, &s->dscore);
	if (!err)
		err = dfm_sngan_d_backward(ctx, &s->d, &s->dscore, &s->dimg, true);
	if (!err)
		err = dfm_sngan_g_backward(ctx, &s->g, &s->dimg);
	if (!err)
		dfm_nn_adam_step(&s->opt_g, s->g.state.params, s->g.state.nparams);
	return err;
}
