/* Hinge losses of the SNGAN discriminator and generator. */
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
