/* Optimisers: Adam (the SNGAN setting: beta1 0, beta2 0.9) and SGD with
 * momentum, both with L2 weight decay added to the gradient and an optional
 * linear decay of the learning rate to 0.  Updates follow torch.optim's
 * formulas term by term, so one step matches PyTorch's to rounding. */
#ifndef DFM_NN_OPTIM_H
#define DFM_NN_OPTIM_H

#include "stages/nn/layer.h"

struct dfm_nn_adam {
	float lr, beta1, beta2, eps, weight_decay;
	long step;         /* updates done so far */
	long decay_steps;  /* lr falls linearly to 0 over this many; 0: constant */
};

/* Adam with PyTorch's defaults except the given lr, beta1, beta2. */
struct dfm_nn_adam dfm_nn_adam_make(float lr, float beta1, float beta2);

/* The learning rate the next step will use. */
float dfm_nn_adam_lr(const struct dfm_nn_adam *a);

/* One update of the n parameters from their gradients; advances a->step. */
void dfm_nn_adam_step(struct dfm_nn_adam *a, struct dfm_nn_param *const *params, int n);

struct dfm_nn_sgd {
	float lr, momentum, weight_decay;
	long step;
	long decay_steps;
};

/* One SGD update (momentum buffer in each parameter's m, no dampening,
 * PyTorch's first step copies the gradient into it). */
void dfm_nn_sgd_step(struct dfm_nn_sgd *s, struct dfm_nn_param *const *params, int n);

#endif
