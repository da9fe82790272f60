/* Helpers of the Inception tests: the fixtures written by
 * tests/parity/inception_fixtures.py and the weights they were made with,
 * regenerated from their names (the fixtures list names and shapes only). */
#ifndef DFM_INCEPTION_FIXTURE_H
#define DFM_INCEPTION_FIXTURE_H

#include <stddef.h>

#include "stages/nn/safetensors.h"

struct incep_fixture {
	void *buf;
	size_t size;
	struct dfm_st *st;
};

/* Opens tests/fixtures/inception/VARIANT.safetensors (below $TOP when set);
 * fails the running test and returns nonzero when it cannot. */
int incep_fixture_open(struct incep_fixture *f, const char *variant);
void incep_fixture_close(struct incep_fixture *f);

/* A weights file (safetensors bytes in a malloc'd buffer the caller frees)
 * holding every tensor the fixture lists, filled as the script fills them,
 * with metadata variant and network.  NULL after failing the test. */
void *incep_weights(const struct incep_fixture *f, size_t *size);

#endif
