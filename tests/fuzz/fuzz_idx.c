/* libFuzzer target: an IDX image file and an IDX label file, split at the
 * offset given by the first two bytes of the input. */
#include <stdint.h>

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfm_ingest in;
	size_t cut;

	if (size < 2 || fuzz_ingest_begin(&in, "fine"))
		return 0;
	cut = (size_t)(data[0] | data[1] << 8);
	data += 2;
	size -= 2;
	cut = cut < size ? cut : size;
	dfm_idx_parse(&in, "fuzz", data, cut, data + cut, size - cut);
	fuzz_ingest_end(&in);
	return 0;
}
