/* libFuzzer target: .npy arrays. */
#include <stdint.h>

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfm_ingest in = {0};
	double *v = NULL;
	int64_t shape[4];
	int ndim;

	if (dfm_npy_parse(&in, "fuzz", data, size, &v, shape, &ndim) == 0)
		free(v);
	return 0;
}
