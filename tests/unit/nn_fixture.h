/* Reading the PyTorch parity fixtures under tests/fixtures/nn/ from the
 * unit tests of the training library. */
#ifndef DFM_NN_FIXTURE_H
#define DFM_NN_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "stages/nn/safetensors.h"
#include "stages/nn/tensor.h"

struct nn_fixture {
	void *buf;
	struct dfm_st *st;
};

/* Opens tests/fixtures/nn/NAME.safetensors (below $TOP when set); fails
 * the running test and returns nonzero when it cannot. */
int nn_fixture_open(struct nn_fixture *f, const char *name);
void nn_fixture_close(struct nn_fixture *f);

/* A tensor of the fixture, or NULL after failing the test. */
const struct dfm_tensor *nn_fx(const struct nn_fixture *f, const char *name);

/* Its float data (NULL after failing the test). */
const float *nn_fx_f32(const struct nn_fixture *f, const char *name);

/* Copies the fixture's float tensor into dst of n floats. */
void nn_fx_copy(const struct nn_fixture *f, const char *name, float *dst, size_t n);

/* Loads an NCHW (or N, F) fixture tensor into t in the library's layout. */
int nn_fx_tensor(const struct nn_fixture *f, const char *name, struct dfm_nn_tensor *t);

/* max |a - b| / max |b|: the parity metric (1e-4 passes). */
double nn_relerr(const float *a, const float *b, size_t n);

/* Relative error of a library tensor against an NCHW fixture tensor;
 * 1 when the shapes differ. */
double nn_tensor_err(const struct dfm_nn_tensor *t, const struct nn_fixture *f,
		     const char *name);

/* Relative error of n floats against a fixture tensor of n elements. */
double nn_array_err(const float *a, size_t n, const struct nn_fixture *f, const char *name);

/* Fails the running test when a relative error exceeds 1e-4. */
#define CHECK_PARITY(e)                                                     \
	do {                                                                \
		double e_ = (e);                                            \
		if (!(e_ <= 1e-4))                                          \
			dfm_test_fail(__FILE__, __LINE__, "%s: relative error %g", #e, e_); \
	} while (0)

#endif
