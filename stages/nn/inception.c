/* Inception-v3 (FID variant), forward only, driven by tables of its blocks'
 * convolutions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/inception.h"

enum kind { KIND_A, KIND_B, KIND_C, KIND_D, KIND_E1, KIND_E2 };

enum { FROM_INPUT = -1, FROM_POOL = -2, END = -3 };

/* One convolution of a block: its name, where its input comes from (the
 * block input, the pooled input or an earlier unit), and its geometry. */
struct unit_spec {
	const char *name;
	int from, cout, kh, kw, stride, ph, pw;
};

struct block_spec {
	struct unit_spec unit[DFM_INC_UNITS];
	int concat[7];  /* unit indices or FROM_POOL, ended by END */
};

/* In KIND_C, 0 stands for the block's channels_7x7. */
static const struct block_spec specs[] = {
	[KIND_A] = {{{"branch1x1", FROM_INPUT, 64, 1, 1, 1, 0, 0},
		     {"branch5x5_1", FROM_INPUT, 48, 1, 1, 1, 0, 0},
		     {"branch5x5_2", 1, 64, 5, 5, 1, 2, 2},
		     {"branch3x3dbl_1", FROM_INPUT, 64, 1, 1, 1, 0, 0},
		     {"branch3x3dbl_2", 3, 96, 3, 3, 1, 1, 1},
		     {"branch3x3dbl_3", 4, 96, 3, 3, 1, 1, 1},
		     {"branch_pool", FROM_POOL, 0, 1, 1, 1, 0, 0}},
		    {0, 2, 5, 6, END}},
	[KIND_B] = {{{"branch3x3", FROM_INPUT, 384, 3, 3, 2, 0, 0},
		     {"branch3x3dbl_1", FROM_INPUT, 64, 1, 1, 1, 0, 0},
		     {"branch3x3dbl_2", 1, 96, 3, 3, 1, 1, 1},
		     {"branch3x3dbl_3", 2, 96, 3, 3, 2, 0, 0}},
		    {0, 3, FROM_POOL, END}},
	[KIND_C] = {{{"branch1x1", FROM_INPUT, 192, 1, 1, 1, 0, 0},
		     {"branch7x7_1", FROM_INPUT, 0, 1, 1, 1, 0, 0},
		     {"branch7x7_2", 1, 0, 1, 7, 1, 0, 3},
		     {"branch7x7_3", 2, 192, 7, 1, 1, 3, 0},
		     {"branch7x7dbl_1", FROM_INPUT, 0, 1, 1, 1, 0, 0},
		     {"branch7x7dbl_2", 4, 0, 7, 1, 1, 3, 0},
		     {"branch7x7dbl_3", 5, 0, 1, 7, 1, 0, 3},
		     {"branch7x7dbl_4", 6, 0, 7, 1, 1, 3, 0},
		     {"branch7x7dbl_5", 7, 192, 1, 7, 1, 0, 3},
		     {"branch_pool", FROM_POOL, 192, 1, 1, 1, 0, 0}},
		    {0, 3, 8, 9, END}},
	[KIND_D] = {{{"branch3x3_1", FROM_INPUT, 192, 1, 1, 1, 0, 0},
		     {"branch3x3_2", 0, 320, 3, 3, 2, 0, 0},
		     {"branch7x7x3_1", FROM_INPUT, 192, 1, 1, 1, 0, 0},
		     {"branch7x7x3_2", 2, 192, 1, 7, 1, 0, 3},
		     {"branch7x7x3_3", 3, 192, 7, 1, 1, 3, 0},
		     {"branch7x7x3_4", 4, 192, 3, 3, 2, 0, 0}},
		    {1, 5, FROM_POOL, END}},
	[KIND_E1] = {{{"branch1x1", FROM_INPUT, 320, 1, 1, 1, 0, 0},
		      {"branch3x3_1", FROM_INPUT, 384, 1, 1, 1, 0, 0},
		      {"branch3x3_2a", 1, 384, 1, 3, 1, 0, 1},
		      {"branch3x3_2b", 1, 384, 3, 1, 1, 1, 0},
		      {"branch3x3dbl_1", FROM_INPUT, 448, 1, 1, 1, 0, 0},
		      {"branch3x3dbl_2", 4, 384, 3, 3, 1, 1, 1},
		      {"branch3x3dbl_3a", 5, 384, 1, 3, 1, 0, 1},
		      {"branch3x3dbl_3b", 5, 384, 3, 1, 1, 1, 0},
		      {"branch_pool", FROM_POOL, 192, 1, 1, 1, 0, 0}},
		     {0, 2, 3, 6, 7, 8, END}},
};

/* The eleven mixed blocks: name, kind, and the A blocks' pool features or
 * the C blocks' channels_7x7. */
static const struct {
	const char *name;
	enum kind kind;
	int extra;
} mixed[11] = {
	{"Mixed_5b", KIND_A, 32}, {"Mixed_5c", KIND_A, 64}, {"Mixed_5d", KIND_A, 64},
	{"Mixed_6a", KIND_B, 0}, {"Mixed_6b", KIND_C, 128}, {"Mixed_6c", KIND_C, 160},
	{"Mixed_6d", KIND_C, 160}, {"Mixed_6e", KIND_C, 192}, {"Mixed_7a", KIND_D, 0},
	{"Mixed_7b", KIND_E1, 0}, {"Mixed_7c", KIND_E2, 0},
};

static const struct block_spec *
spec_of(enum kind k)
{
	return &specs[k == KIND_E2 ? KIND_E1 : k];
}

static int
unit_init(struct dfm_inc_unit *u, struct dfm_nn_state *st, const char *prefix, int cin,
	  int cout, const struct unit_spec *s)
{
	char name[96];
	int err;

	err = dfm_nn_conv_init_rect(&u->conv, cin, cout, s->kh, s->kw, s->stride, s->ph, s->pw,
				    false, false);
	snprintf(name, sizeof name, "%s.conv.", prefix);
	if (!err)
		err = dfm_nn_state_conv(st, name, &u->conv);
	if (!err)
		err = dfm_nn_bn_init(&u->bn, cout, 0);
	if (err)
		return err;
	u->bn.eps = 1e-3f;
	u->bn.relu = true;
	snprintf(name, sizeof name, "%s.bn.", prefix);
	return dfm_nn_state_bn(st, name, &u->bn);
}

static void
unit_free(struct dfm_inc_unit *u)
{
	dfm_nn_conv_free(&u->conv);
	dfm_nn_bn_free(&u->bn);
	dfm_nn_tensor_free(&u->h);
	dfm_nn_tensor_free(&u->out);
}

/* Output channels of a unit after division; 0 in a table stands for the
 * block's extra parameter. */
static int
unit_cout(const struct unit_spec *s, int extra, int div)
{
	return (s->cout ? s->cout : extra) / div;
}

static int
block_init(struct dfm_inc_block *b, struct dfm_nn_state *st, int i, int cin, int div,
	   int *cout)
{
	const struct block_spec *spec = spec_of(mixed[i].kind);
	int outs[DFM_INC_UNITS], err = 0;
	char prefix[64];

	b->kind = mixed[i].kind;
	b->cin = cin;
	for (int u = 0; u < DFM_INC_UNITS && spec->unit[u].name && !err; u++) {
		const struct unit_spec *s = &spec->unit[u];
		int in = s->from >= 0 ? outs[s->from] : cin;

		outs[u] = unit_cout(s, mixed[i].extra, div);
		snprintf(prefix, sizeof prefix, "%s.%s", mixed[i].name, s->name);
		err = unit_init(&b->unit[u], st, prefix, in, outs[u], s);
		b->nunits = u + 1;
	}
	*cout = 0;
	for (int k = 0; spec->concat[k] != END; k++)
		*cout += spec->concat[k] == FROM_POOL ? cin : outs[spec->concat[k]];
	if (b->kind == KIND_B || b->kind == KIND_D)
		b->pool = (struct dfm_nn_pool){3, 2, 0, false, NULL, 0};
	else if (b->kind == KIND_E2)
		b->pool = (struct dfm_nn_pool){3, 1, 1, false, NULL, 0};
	else
		b->pool = (struct dfm_nn_pool){3, 1, 1, true, NULL, 0};
	return err;
}

int
dfm_inception_init(struct dfm_inception *net, int div)
{
	static const struct unit_spec stem[5] = {
		{"Conv2d_1a_3x3", 0, 32, 3, 3, 2, 0, 0}, {"Conv2d_2a_3x3", 0, 32, 3, 3, 1, 0, 0},
		{"Conv2d_2b_3x3", 0, 64, 3, 3, 1, 1, 1}, {"Conv2d_3b_1x1", 0, 80, 1, 1, 1, 0, 0},
		{"Conv2d_4a_3x3", 0, 192, 3, 3, 1, 0, 0},
	};
	int cin = 3, err = 0;

	memset(net, 0, sizeof *net);
	if (div < 1 || 16 % div != 0)
		return dfm_nn_fail(DFM_ERR_USAGE, "inception: divisor %d does not divide 16", div);
	net->div = div;
	for (int i = 0; i < 5 && !err; i++) {
		err = unit_init(&net->stem[i], &net->state, stem[i].name, cin, stem[i].cout / div,
				&stem[i]);
		cin = stem[i].cout / div;
	}
	net->maxpool = (struct dfm_nn_pool){3, 2, 0, false, NULL, 0};
	for (int i = 0; i < 11 && !err; i++)
		err = block_init(&net->mixed[i], &net->state, i, cin, div, &cin);
	if (err)
		dfm_inception_free(net);
	return err;
}

void
dfm_inception_free(struct dfm_inception *net)
{
	for (int i = 0; i < 5; i++)
		unit_free(&net->stem[i]);
	for (int i = 0; i < 11; i++) {
		struct dfm_inc_block *b = &net->mixed[i];

		for (int u = 0; u < b->nunits; u++)
			unit_free(&b->unit[u]);
		dfm_nn_pool_free(&b->pool);
		dfm_nn_tensor_free(&b->pooled);
		dfm_nn_tensor_free(&b->out);
	}
	dfm_nn_pool_free(&net->maxpool);
	dfm_nn_tensor_free(&net->p1);
	dfm_nn_tensor_free(&net->p2);
	dfm_nn_tensor_free(&net->features);
	dfm_nn_state_free(&net->state);
	memset(net, 0, sizeof *net);
}

static int
unit_forward(const struct dfm_nn_ctx *ctx, struct dfm_inc_unit *u,
	     const struct dfm_nn_tensor *x)
{
	int err = dfm_nn_conv_forward(ctx, &u->conv, x, &u->h, false);

	return err ? err : dfm_nn_bn_forward(&u->bn, &u->h, NULL, &u->out, false);
}

static int
block_forward(const struct dfm_nn_ctx *ctx, struct dfm_inc_block *b,
	      const struct dfm_nn_tensor *x)
{
	const struct block_spec *spec = spec_of(b->kind);
	const struct dfm_nn_tensor *parts[7];
	int n = 0, err;

	if (b->pool.stride == 1 && b->kind != KIND_E2)
		err = dfm_nn_avgpool_forward(&b->pool, x, &b->pooled);
	else
		err = dfm_nn_maxpool_forward(&b->pool, x, &b->pooled);
	for (int u = 0; u < b->nunits && !err; u++) {
		int from = spec->unit[u].from;
		const struct dfm_nn_tensor *in = from == FROM_INPUT ? x
					       : from == FROM_POOL ? &b->pooled
								   : &b->unit[from].out;

		err = unit_forward(ctx, &b->unit[u], in);
	}
	for (int k = 0; spec->concat[k] != END; k++)
		parts[n++] = spec->concat[k] == FROM_POOL ? &b->pooled
							  : &b->unit[spec->concat[k]].out;
	return err ? err : dfm_nn_concat(parts, n, &b->out);
}

int
dfm_inception_forward(const struct dfm_nn_ctx *ctx, struct dfm_inception *net,
		      const struct dfm_nn_tensor *x)
{
	const struct dfm_nn_tensor *h = x;
	int err = 0;

	if (x->ndim != 4 || x->dims[1] != 3 || x->dims[2] < 75 || x->dims[3] < 75)
		return dfm_nn_fail(DFM_ERR_USAGE, "inception: want (N, 3, H, W) images of at "
				   "least 75x75");
	for (int i = 0; i < 5 && !err; i++) {
		err = unit_forward(ctx, &net->stem[i], h);
		h = &net->stem[i].out;
		if (!err && (i == 2 || i == 4)) {
			struct dfm_nn_tensor *p = i == 2 ? &net->p1 : &net->p2;

			err = dfm_nn_maxpool_forward(&net->maxpool, h, p);
			h = p;
		}
	}
	for (int i = 0; i < 11 && !err; i++) {
		err = block_forward(ctx, &net->mixed[i], h);
		h = &net->mixed[i].out;
	}
	return err ? err : dfm_nn_global_avg_forward(h, &net->features);
}
