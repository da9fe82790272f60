/* Losses: hinge (SNGAN), softmax cross-entropy, binary cross-entropy. */
#include <math.h>

#include "cache/error.h"
#include "stages/nn/layer.h"

int
dfm_nn_hinge_d(const struct dfm_nn_tensor *d, int64_t nreal, double *loss,
	       struct dfm_nn_tensor *dd)
{
	int64_t n = d->dims[0], nfake = n - nreal;
	double sum_real = 0, sum_fake = 0;
	int err;

	if (d->ndim != 2 || d->dims[1] != 1 || nreal <= 0 || nfake <= 0)
		return dfm_nn_fail(DFM_ERR_USAGE, "hinge loss: want (N, 1) scores, real and fake");
	err = dfm_nn_tensor_like(dd, d);
	if (err)
		return err;
	for (int64_t i = 0; i < n; i++) {
		double m = i < nreal ? 1 - d->data[i] : 1 + d->data[i];
		bool real = i < nreal;

		if (m > 0) {
			*(real ? &sum_real : &sum_fake) += m;
			dd->data[i] = real ? (float)(-1.0 / nreal) : (float)(1.0 / nfake);
		} else {
			dd->data[i] = 0;
		}
	}
	*loss = sum_real / nreal + sum_fake / nfake;
	return 0;
}

int
dfm_nn_hinge_g(const struct dfm_nn_tensor *d, double *loss, struct dfm_nn_tensor *dd)
{
	int64_t n = d->dims[0];
	double sum = 0;
	int err;

	if (d->ndim != 2 || d->dims[1] != 1 || n <= 0)
		return dfm_nn_fail(DFM_ERR_USAGE, "hinge loss: want (N, 1) scores");
	err = dfm_nn_tensor_like(dd, d);
	if (err)
		return err;
	for (int64_t i = 0; i < n; i++) {
		sum += d->data[i];
		dd->data[i] = (float)(-1.0 / n);
	}
	*loss = -sum / n;
	return 0;
}

int
dfm_nn_softmax_ce(const struct dfm_nn_tensor *logits, const int32_t *labels,
		  double *loss, struct dfm_nn_tensor *dlogits)
{
	int64_t n = logits->dims[0], k = logits->dims[1];
	double total = 0;
	int err;

	if (logits->ndim != 2 || n < 1)
		return dfm_nn_fail(DFM_ERR_USAGE, "cross-entropy: want (N, K) logits");
	for (int64_t i = 0; i < n; i++)
		if (labels[i] < 0 || labels[i] >= k)
			return dfm_nn_fail(DFM_ERR_USAGE, "cross-entropy: label %d out of range",
					   (int)labels[i]);
	err = dfm_nn_tensor_like(dlogits, logits);
	if (err)
		return err;
	for (int64_t i = 0; i < n; i++) {
		const float *z = logits->data + i * k;
		float *g = dlogits->data + i * k;
		double m = z[0], s = 0;

		for (int64_t j = 1; j < k; j++)
			m = z[j] > m ? z[j] : m;
		for (int64_t j = 0; j < k; j++)
			s += exp(z[j] - m);
		total += m + log(s) - z[labels[i]];
		for (int64_t j = 0; j < k; j++)
			g[j] = (float)((exp(z[j] - m) / s - (j == labels[i])) / n);
	}
	*loss = total / n;
	return 0;
}

int
dfm_nn_bce_logits(const struct dfm_nn_tensor *logits, const float *targets, double *loss,
		  struct dfm_nn_tensor *dlogits)
{
	size_t n = logits->count;
	double total = 0;
	int err;

	if (n == 0)
		return dfm_nn_fail(DFM_ERR_USAGE, "binary cross-entropy: no logits");
	err = dfm_nn_tensor_like(dlogits, logits);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		double x = logits->data[i], t = targets[i];

		total += (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
		dlogits->data[i] = (float)((1 / (1 + exp(-x)) - t) / (double)n);
	}
	*loss = total / (double)n;
	return 0;
}
