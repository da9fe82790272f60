/* libFuzzer target: JPEG decoding from memory. */
#include <stdint.h>
#include <stdlib.h>

#include "stages/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfm_image im;
	char err[256];

	if (dfm_jpeg_decode(data, size, &im, err, sizeof err) == 0)
		dfm_image_free(&im);
	return 0;
}
