/* libFuzzer target: dataset artifacts (safetensors plus the dataset
 * checks), read image by image as a stage would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stages/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfm_dataset ds;
	char err[256];
	unsigned sum = 0;
	/* Artifacts reach stages 64-byte aligned; so do the bytes here. */
	uint8_t *copy = aligned_alloc(64, (size / 64 + 1) * 64);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (dfm_dataset_open(copy, size, &ds, err, sizeof err) == 0) {
		for (int64_t i = 0; i < ds.n; i++) {
			int h, w, c;
			const uint8_t *px = dfm_dataset_image(&ds, i, &h, &w, &c);

			sum += px[(size_t)h * w * c - 1] + (unsigned)ds.labels[i];
		}
		dfm_dataset_close(&ds);
	}
	free(copy);
	return (int)(sum & 0);
}
