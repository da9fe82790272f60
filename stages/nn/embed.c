/* Class embeddings, optionally spectrally normalised (the projection
 * discriminator's l_y). */
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

int
dfm_nn_embed_init(struct dfm_nn_embed *e, int nclass, int dim, bool sn)
{
	int64_t shape[2] = {nclass, dim};
	int err;

	memset(e, 0, sizeof *e);
	e->nclass = nclass;
	e->dim = dim;
	e->has_sn = sn;
	err = dfm_nn_param_init(&e->weight, 2, shape);
	if (!err && sn)
		err = dfm_nn_sn_init(&e->sn, nclass, dim, 0, "embed");
	if (!err) {
		e->dw = dfm_nn_alloc(e->weight.count);
		if (!e->dw)
			err = dfm_nn_fail(DFM_ERR_NOMEM, "no memory for an embedding");
	}
	if (err)
		dfm_nn_embed_free(e);
	return err;
}

void
dfm_nn_embed_free(struct dfm_nn_embed *e)
{
	dfm_nn_param_free(&e->weight);
	dfm_nn_sn_free(&e->sn);
	free(e->dw);
	memset(e, 0, sizeof *e);
}

int
dfm_nn_embed_forward(struct dfm_nn_embed *e, const int32_t *labels, int n,
		     struct dfm_nn_tensor *y, bool train)
{
	const float *w;
	int err;

	for (int i = 0; i < n; i++)
		if (labels[i] < 0 || labels[i] >= e->nclass)
			return dfm_nn_fail(DFM_ERR_USAGE, "embedding: label %d out of range",
					   (int)labels[i]);
	err = dfm_nn_tensor_shape(y, n, e->dim, 0, 1);
	if (err)
		return err;
	if (e->has_sn)
		dfm_nn_sn_forward(&e->sn, e->weight.data, train);
	w = e->has_sn ? e->sn.w : e->weight.data;
	for (int i = 0; i < n; i++)
		memcpy(y->data + (size_t)i * e->dim, w + (size_t)labels[i] * e->dim,
		       (size_t)e->dim * sizeof *w);
	return 0;
}

void
dfm_nn_embed_backward(struct dfm_nn_embed *e, const int32_t *labels,
		      const struct dfm_nn_tensor *dy)
{
	float *dw = e->has_sn ? e->dw : e->weight.grad;

	memset(dw, 0, e->weight.count * sizeof *dw);
	for (int64_t i = 0; i < dy->dims[0]; i++)
		for (int j = 0; j < e->dim; j++)
			dw[(size_t)labels[i] * e->dim + j] += dy->data[i * e->dim + j];
	if (e->has_sn)
		dfm_nn_sn_backward(&e->sn, e->weight.data, e->dw, e->weight.grad);
}
