#include <math.h>

#include "stages/nn/optim.h"

struct dfm_nn_adam
dfm_nn_adam_make(float lr, float beta1, float beta2)
{
	struct dfm_nn_adam a = {lr, beta1, beta2, 1e-8f, 0, 0, 0};

	return a;
}

static float
decayed(float lr, long step, long decay_steps)
{
	if (decay_steps <= 0)
		return lr;
	if (step >= decay_steps)
		return 0;
	return (float)(lr * (1.0 - (double)step / (double)decay_steps));
}

float
dfm_nn_adam_lr(const struct dfm_nn_adam *a)
{
	return decayed(a->lr, a->step, a->decay_steps);
}

static void
adam_param(const struct dfm_nn_adam *a, struct dfm_nn_param *p, float lr, double bc1,
	   double bc2)
{
	float b1 = a->beta1, b2 = a->beta2, wd = a->weight_decay, eps = a->eps;
	float step_size = (float)(lr / bc1), sqrt_bc2 = (float)sqrt(bc2);
	size_t n = p->count;

	/* A parallel region costs more than it saves on small tensors. */
#pragma omp parallel for schedule(static) if (n > 65536)
	for (size_t i = 0; i < n; i++) {
		float g = p->grad[i] + wd * p->data[i];
		float denom;

		p->m[i] = p->m[i] * b1 + (1 - b1) * g;
		p->v[i] = p->v[i] * b2 + (1 - b2) * g * g;
		denom = sqrtf(p->v[i]) / sqrt_bc2 + eps;
		p->data[i] -= step_size * (p->m[i] / denom);
	}
}

void
dfm_nn_adam_step(struct dfm_nn_adam *a, struct dfm_nn_param *const *params, int n)
{
	float lr = dfm_nn_adam_lr(a);
	double t = (double)(a->step + 1);
	double bc1 = 1 - pow(a->beta1, t), bc2 = 1 - pow(a->beta2, t);

	for (int i = 0; i < n; i++)
		adam_param(a, params[i], lr, bc1, bc2);
	a->step++;
}

void
dfm_nn_sgd_step(struct dfm_nn_sgd *s, struct dfm_nn_param *const *params, int n)
{
	float lr = decayed(s->lr, s->step, s->decay_steps);

	for (int k = 0; k < n; k++) {
		struct dfm_nn_param *p = params[k];

		for (size_t i = 0; i < p->count; i++) {
			float g = p->grad[i] + s->weight_decay * p->data[i];

			if (s->momentum != 0) {
				p->m[i] = s->step == 0 ? g : p->m[i] * s->momentum + g;
				g = p->m[i];
			}
			p->data[i] -= lr * g;
		}
	}
	s->step++;
}
