#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/model.h"

static int
grow(struct dfm_nn_state *s)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 32;
		struct dfm_nn_named *v = realloc(s->v, (size_t)cap * sizeof *v);
		struct dfm_nn_param **p;

		if (!v)
			return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for model state");
		s->v = v;
		p = realloc(s->params, (size_t)cap * sizeof *p);
		if (!p)
			return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for model state");
		s->params = p;
		s->cap = cap;
	}
	return 0;
}

int
dfm_nn_state_add(struct dfm_nn_state *s, const char *prefix, const char *name,
		 float *data, int ndim, const int64_t *shape, struct dfm_nn_param *param)
{
	struct dfm_nn_named *e;
	int err = grow(s);

	if (err)
		return err;
	e = &s->v[s->n];
	memset(e, 0, sizeof *e);
	if ((size_t)snprintf(e->name, sizeof e->name, "%s%s", prefix, name) >= sizeof e->name)
		return dfm_nn_fail(DFM_ERR_USAGE, "parameter name \"%s%s\" too long", prefix, name);
	e->data = data;
	e->ndim = ndim;
	memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
	e->param = param;
	s->n++;
	if (param)
		s->params[s->nparams++] = param;
	return 0;
}

static int
add_param(struct dfm_nn_state *s, const char *prefix, const char *name,
	  struct dfm_nn_param *p)
{
	return dfm_nn_state_add(s, prefix, name, p->data, p->ndim, p->shape, p);
}

static int
add_weight(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_param *w, bool has_sn,
	   struct dfm_nn_sn *sn)
{
	int64_t rows = sn->rows, cols = sn->cols;
	int err;

	if (!has_sn)
		return add_param(s, prefix, "weight", w);
	err = add_param(s, prefix, "weight_orig", w);
	if (!err)
		err = dfm_nn_state_add(s, prefix, "weight_u", sn->u, 1, &rows, NULL);
	if (!err)
		err = dfm_nn_state_add(s, prefix, "weight_v", sn->v, 1, &cols, NULL);
	return err;
}

int
dfm_nn_state_conv(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_conv *c)
{
	int err = add_weight(s, prefix, &c->weight, c->has_sn, &c->sn);

	if (!err && c->has_bias)
		err = add_param(s, prefix, "bias", &c->bias);
	return err;
}

int
dfm_nn_state_linear(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_linear *l)
{
	int err = add_weight(s, prefix, &l->weight, l->has_sn, &l->sn);

	if (!err && l->has_bias)
		err = add_param(s, prefix, "bias", &l->bias);
	return err;
}

int
dfm_nn_state_embed(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_embed *e)
{
	return add_weight(s, prefix, &e->weight, e->has_sn, &e->sn);
}

int
dfm_nn_state_bn(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_bn *b)
{
	int64_t c = b->c;
	bool cond = b->nclass > 0;
	int err;

	err = add_param(s, prefix, cond ? "weight.weight" : "weight", &b->gamma);
	if (!err)
		err = add_param(s, prefix, cond ? "bias.weight" : "bias", &b->beta);
	if (!err)
		err = dfm_nn_state_add(s, prefix, cond ? "bn.running_mean" : "running_mean",
				       b->running_mean, 1, &c, NULL);
	if (!err)
		err = dfm_nn_state_add(s, prefix, cond ? "bn.running_var" : "running_var",
				       b->running_var, 1, &c, NULL);
	return err;
}

void
dfm_nn_state_free(struct dfm_nn_state *s)
{
	free(s->v);
	free(s->params);
	memset(s, 0, sizeof *s);
}

struct dfm_nn_named *
dfm_nn_state_get(const struct dfm_nn_state *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

int
dfm_nn_state_save(const struct dfm_nn_state *s, void **out, size_t *size)
{
	struct dfm_st_writer *w = dfm_st_writer_new();

	if (!w)
		return dfm_nn_fail(DFM_ERR_NOMEM, "no memory for a safetensors writer");
	for (int i = 0; i < s->n; i++) {
		int err = dfm_st_add(w, s->v[i].name, DFM_F32, s->v[i].ndim, s->v[i].shape,
				     s->v[i].data);

		if (err) {
			dfm_st_writer_free(w);
			return dfm_nn_fail(err, "cannot add \"%s\" to safetensors", s->v[i].name);
		}
	}
	return dfm_st_writer_finish(w, out, size);
}

static int
load_one(struct dfm_nn_named *e, const struct dfm_tensor *t, const char *key)
{
	if (t->dtype != DFM_F32 || t->ndim != e->ndim)
		return dfm_nn_fail(DFM_ERR_FORMAT, "tensor \"%s\": wrong dtype or rank", key);
	for (int d = 0; d < e->ndim; d++)
		if (t->shape[d] != e->shape[d])
			return dfm_nn_fail(DFM_ERR_FORMAT, "tensor \"%s\": dimension %d is %lld, "
					   "want %lld", key, d, (long long)t->shape[d],
					   (long long)e->shape[d]);
	memcpy(e->data, t->data, t->size);
	return 0;
}

int
dfm_nn_state_load(struct dfm_nn_state *s, const struct dfm_st *st, const char *prefix,
		  bool optional)
{
	char key[160];

	for (int i = 0; i < s->n; i++) {
		const struct dfm_tensor *t;
		int err;

		snprintf(key, sizeof key, "%s%s", prefix, s->v[i].name);
		t = dfm_st_get(st, key);
		if (!t) {
			if (optional)
				continue;
			return dfm_nn_fail(DFM_ERR_FORMAT, "no tensor \"%s\"", key);
		}
		err = load_one(&s->v[i], t, key);
		if (err)
			return err;
	}
	return 0;
}

void
dfm_nn_state_zero_grad(struct dfm_nn_state *s)
{
	for (int i = 0; i < s->nparams; i++)
		memset(s->params[i]->grad, 0, s->params[i]->count * sizeof(float));
}
