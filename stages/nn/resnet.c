/* ResNet-18: basic blocks with batch norm, on the layers of layer.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/resnet.h"

static int
make_conv(struct dfm_nn_conv *c, struct dfm_nn_state *st, const char *name, int cin,
	  int cout, int k, int stride, uint64_t seed)
{
	int err = dfm_nn_conv_init(c, cin, cout, k, stride, k / 2, false, false);

	if (err)
		return err;
	dfm_nn_init_kaiming(&c->weight, (float)M_SQRT2, true, seed, name);
	return dfm_nn_state_conv(st, name, c);
}

static int
make_bn(struct dfm_nn_bn *b, struct dfm_nn_state *st, const char *name, int c, bool relu)
{
	int err = dfm_nn_bn_init(b, c, 0);

	b->relu = relu;
	return err ? err : dfm_nn_state_bn(st, name, b);
}

static int
block_init(struct dfm_resnet_block *b, struct dfm_nn_state *st, const char *prefix, int cin,
	   int cout, int stride, uint64_t seed)
{
	char name[64];
	int err;

	b->has_down = stride != 1 || cin != cout;
	snprintf(name, sizeof name, "%sconv1.", prefix);
	err = make_conv(&b->conv1, st, name, cin, cout, 3, stride, seed);
	snprintf(name, sizeof name, "%sbn1.", prefix);
	if (!err)
		err = make_bn(&b->bn1, st, name, cout, true);
	snprintf(name, sizeof name, "%sconv2.", prefix);
	if (!err)
		err = make_conv(&b->conv2, st, name, cout, cout, 3, 1, seed);
	snprintf(name, sizeof name, "%sbn2.", prefix);
	if (!err)
		err = make_bn(&b->bn2, st, name, cout, false);
	if (!err && b->has_down) {
		snprintf(name, sizeof name, "%sdownsample.0.", prefix);
		err = make_conv(&b->down, st, name, cin, cout, 1, stride, seed);
		snprintf(name, sizeof name, "%sdownsample.1.", prefix);
		if (!err)
			err = make_bn(&b->down_bn, st, name, cout, false);
	}
	return err;
}

static void
block_free(struct dfm_resnet_block *b)
{
	dfm_nn_conv_free(&b->conv1);
	dfm_nn_conv_free(&b->conv2);
	dfm_nn_conv_free(&b->down);
	dfm_nn_bn_free(&b->bn1);
	dfm_nn_bn_free(&b->bn2);
	dfm_nn_bn_free(&b->down_bn);
	dfm_nn_tensor_free(&b->h1);
	dfm_nn_tensor_free(&b->a1);
	dfm_nn_tensor_free(&b->h2);
	dfm_nn_tensor_free(&b->b2);
	dfm_nn_tensor_free(&b->hd);
	dfm_nn_tensor_free(&b->bd);
	dfm_nn_tensor_free(&b->out);
}

static int
head_init(struct dfm_resnet *r)
{
	int w = r->cfg.width, err;

	err = dfm_nn_linear_init(&r->fc, 8 * w, r->cfg.nclass, true, false);
	if (err)
		return err;
	/* torchvision keeps nn.Linear's default: uniform in +-1/sqrt(in). */
	dfm_nn_init_uniform(&r->fc.weight, (float)(1 / sqrt(8.0 * w)), r->cfg.seed, "fc.weight");
	dfm_nn_init_uniform(&r->fc.bias, (float)(1 / sqrt(8.0 * w)), r->cfg.seed, "fc.bias");
	return dfm_nn_state_linear(&r->state, "fc.", &r->fc);
}

int
dfm_resnet_init(struct dfm_resnet *r, const struct dfm_resnet_config *cfg)
{
	int w = cfg->width, cin = w, err;

	memset(r, 0, sizeof *r);
	r->cfg = *cfg;
	err = make_conv(&r->conv1, &r->state, "conv1.", 3, w, cfg->imagenet ? 7 : 3,
			cfg->imagenet ? 2 : 1, cfg->seed);
	if (!err)
		err = make_bn(&r->bn1, &r->state, "bn1.", w, true);
	r->pool = (struct dfm_nn_pool){3, 2, 1, false, NULL, 0};
	for (int i = 0; i < 8 && !err; i++) {
		int stage = i / 2, cout = w << stage;
		char prefix[32];

		snprintf(prefix, sizeof prefix, "layer%d.%d.", stage + 1, i % 2);
		err = block_init(&r->block[i], &r->state, prefix, cin, cout,
				 stage > 0 && i % 2 == 0 ? 2 : 1, cfg->seed);
		cin = cout;
	}
	if (!err)
		err = head_init(r);
	if (err)
		dfm_resnet_free(r);
	return err;
}

void
dfm_resnet_free(struct dfm_resnet *r)
{
	dfm_nn_conv_free(&r->conv1);
	dfm_nn_bn_free(&r->bn1);
	dfm_nn_pool_free(&r->pool);
	for (int i = 0; i < 8; i++)
		block_free(&r->block[i]);
	dfm_nn_linear_free(&r->fc);
	dfm_nn_state_free(&r->state);
	dfm_nn_tensor_free(&r->c1);
	dfm_nn_tensor_free(&r->a1);
	dfm_nn_tensor_free(&r->p);
	dfm_nn_tensor_free(&r->gap);
	dfm_nn_tensor_free(&r->logits);
	dfm_nn_tensor_free(&r->dlogits);
	for (int i = 0; i < 4; i++)
		dfm_nn_tensor_free(&r->d[i]);
	memset(r, 0, sizeof *r);
}

static int
block_forward(const struct dfm_nn_ctx *ctx, struct dfm_resnet_block *b,
	      const struct dfm_nn_tensor *x, bool train)
{
	const struct dfm_nn_tensor *sc = x;
	int err;

	err = dfm_nn_conv_forward(ctx, &b->conv1, x, &b->h1, train);
	if (!err)
		err = dfm_nn_bn_forward(&b->bn1, &b->h1, NULL, &b->a1, train);
	if (!err)
		err = dfm_nn_conv_forward(ctx, &b->conv2, &b->a1, &b->h2, train);
	if (!err)
		err = dfm_nn_bn_forward(&b->bn2, &b->h2, NULL, &b->b2, train);
	if (!err && b->has_down) {
		err = dfm_nn_conv_forward(ctx, &b->down, x, &b->hd, train);
		if (!err)
			err = dfm_nn_bn_forward(&b->down_bn, &b->hd, NULL, &b->bd, train);
		sc = &b->bd;
	}
	if (!err)
		err = dfm_nn_add(&b->b2, sc, &b->out);
	if (!err)
		err = dfm_nn_relu_forward(&b->out, &b->out);
	return err;
}

/* dout to dx through one block; dout is clobbered, g is scratch. */
static int
block_backward(const struct dfm_nn_ctx *ctx, struct dfm_resnet_block *b,
	       const struct dfm_nn_tensor *x, struct dfm_nn_tensor *dout,
	       struct dfm_nn_tensor *dx, struct dfm_nn_tensor *g)
{
	int err;

	err = dfm_nn_relu_backward(&b->out, dout, dout);
	if (!err && b->has_down) {
		err = dfm_nn_bn_backward(&b->down_bn, &b->hd, NULL, dout, g);
		if (!err)
			err = dfm_nn_conv_backward(ctx, &b->down, x, g, dx);
	} else if (!err) {
		err = dfm_nn_tensor_like(dx, dout);
		if (!err)
			memcpy(dx->data, dout->data, dout->count * sizeof(float));
	}
	if (!err)
		err = dfm_nn_bn_backward(&b->bn2, &b->h2, NULL, dout, dout);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->conv2, &b->a1, dout, g);
	if (!err)
		err = dfm_nn_bn_backward(&b->bn1, &b->h1, NULL, g, g);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &b->conv1, x, g, dout);
	if (!err)
		err = dfm_nn_add(dx, dout, dx);
	return err;
}

int
dfm_resnet_forward(const struct dfm_nn_ctx *ctx, struct dfm_resnet *r,
		   const struct dfm_nn_tensor *x, bool train)
{
	const struct dfm_nn_tensor *h;
	int err;

	r->input = x;
	err = dfm_nn_conv_forward(ctx, &r->conv1, x, &r->c1, train);
	if (!err)
		err = dfm_nn_bn_forward(&r->bn1, &r->c1, NULL, &r->a1, train);
	if (!err && r->cfg.imagenet)
		err = dfm_nn_maxpool_forward(&r->pool, &r->a1, &r->p);
	h = r->cfg.imagenet ? &r->p : &r->a1;
	for (int i = 0; i < 8 && !err; i++) {
		err = block_forward(ctx, &r->block[i], h, train);
		h = &r->block[i].out;
	}
	if (!err)
		err = dfm_nn_global_avg_forward(h, &r->gap);
	if (!err)
		err = dfm_nn_linear_forward(ctx, &r->fc, &r->gap, &r->logits, train);
	return err;
}

int
dfm_resnet_backward(const struct dfm_nn_ctx *ctx, struct dfm_resnet *r,
		    const struct dfm_nn_tensor *dlogits)
{
	struct dfm_nn_tensor *cur = &r->d[0], *next = &r->d[1], *t;
	const struct dfm_nn_tensor *last = &r->block[7].out;
	int err;

	err = dfm_nn_linear_backward(ctx, &r->fc, &r->gap, dlogits, &r->d[2]);
	if (!err)
		err = dfm_nn_global_avg_backward(&r->d[2], last, cur);
	for (int i = 7; i >= 0 && !err; i--) {
		const struct dfm_nn_tensor *in = i ? &r->block[i - 1].out
						   : r->cfg.imagenet ? &r->p : &r->a1;

		err = block_backward(ctx, &r->block[i], in, cur, next, &r->d[2]);
		t = cur;
		cur = next;
		next = t;
	}
	if (!err && r->cfg.imagenet) {
		err = dfm_nn_maxpool_backward(&r->pool, &r->a1, cur, next);
		t = cur;
		cur = next;
		next = t;
	}
	if (!err)
		err = dfm_nn_bn_backward(&r->bn1, &r->c1, NULL, cur, cur);
	if (!err)
		err = dfm_nn_conv_backward(ctx, &r->conv1, r->input, cur, NULL);
	return err;
}

int
dfm_resnet_train_step(const struct dfm_nn_ctx *ctx, struct dfm_resnet *r,
		      struct dfm_nn_adam *opt, const struct dfm_nn_tensor *x,
		      const int32_t *labels, double *loss)
{
	int err = dfm_resnet_forward(ctx, r, x, true);

	if (!err)
		err = dfm_nn_softmax_ce(&r->logits, labels, loss, &r->dlogits);
	if (!err)
		err = dfm_resnet_backward(ctx, r, &r->dlogits);
	if (!err)
		dfm_nn_adam_step(opt, r->state.params, r->state.nparams);
	return err;
}
