/* libFuzzer target: CIFAR binary batches; the first byte picks CIFAR-10,
 * CIFAR-100 fine or CIFAR-100 coarse. */
#include <stdint.h>

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfm_ingest in;
	int mode, k;

	if (size < 1 || fuzz_ingest_begin(&in, data[0] % 3 == 2 ? "coarse" : "fine"))
		return 0;
	mode = data[0] % 3;
	for (int c = 0; c < (mode == 0 ? 10 : 100); c++) {
		char name[8] = {(char)('0' + c / 10), (char)('0' + c % 10), 0};

		dfm_ingest_class(&in, name, &k);
	}
	dfm_cifar_parse(&in, "fuzz", data + 1, size - 1, mode != 0);
	fuzz_ingest_end(&in);
	return 0;
}
