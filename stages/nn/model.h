/* Named state of a model: every parameter and buffer under its PyTorch
 * state_dict name, for saving and loading safetensors and for handing the
 * parameters to an optimiser. */
#ifndef DFM_NN_MODEL_H
#define DFM_NN_MODEL_H

#include <stddef.h>

#include "stages/nn/layer.h"
#include "stages/nn/safetensors.h"

struct dfm_nn_named {
	char name[96];
	float *data;                 /* borrowed from the layer */
	int ndim;
	int64_t shape[4];
	struct dfm_nn_param *param;  /* NULL for buffers (running stats, u, v) */
};

struct dfm_nn_state {
	struct dfm_nn_named *v;
	int n, cap;
	struct dfm_nn_param **params;  /* the trainable ones, in order */
	int nparams;
};

/* Adds an array under prefix + name; param is NULL for a buffer.
 * Returns 0 or an error. */
int dfm_nn_state_add(struct dfm_nn_state *s, const char *prefix, const char *name,
		     float *data, int ndim, const int64_t *shape, struct dfm_nn_param *param);

/* Adds a layer's arrays under PyTorch's names (weight, bias; weight_orig,
 * weight_u, weight_v when spectrally normalised; running statistics and,
 * for conditional batch norm, weight.weight and bias.weight). */
int dfm_nn_state_conv(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_conv *c);
int dfm_nn_state_linear(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_linear *l);
int dfm_nn_state_embed(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_embed *e);
int dfm_nn_state_bn(struct dfm_nn_state *s, const char *prefix, struct dfm_nn_bn *b);

void dfm_nn_state_free(struct dfm_nn_state *s);

/* The entry named name, or NULL. */
struct dfm_nn_named *dfm_nn_state_get(const struct dfm_nn_state *s, const char *name);

/* Serialises every entry as safetensors into a malloc'd buffer the caller
 * owns.  Returns 0 or an error. */
int dfm_nn_state_save(const struct dfm_nn_state *s, void **out, size_t *size);

/* Copies every entry from st, with prefix prepended to the names looked
 * up; shapes must match.  Entries st lacks are an error unless optional
 * is set.  Returns 0, or DFM_ERR_FORMAT naming the first mismatch. */
int dfm_nn_state_load(struct dfm_nn_state *s, const struct dfm_st *st, const char *prefix,
		      bool optional);

/* Sets every parameter gradient to zero. */
void dfm_nn_state_zero_grad(struct dfm_nn_state *s);

#endif
