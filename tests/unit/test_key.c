/* Golden vectors for the instance-key encoding (docs/design.md).  Changing
 * any of these means every cached result in every cache is orphaned: bump
 * DFM_KEY_ENCODING and say so in the release notes. */
#include <stdlib.h>

#include "engine/key.h"
#include "tests/unit/test.h"

static const char *const names[] = {"lr", "mode", "n", "flip"};

static void
example(struct dfm_key_input *in, struct dfm_value *v, struct dfm_key_slot *slot,
	struct dfm_digest *d)
{
	v[0] = (struct dfm_value){.type = DFM_FLOAT, .f = 0.0002};
	v[1] = (struct dfm_value){.type = DFM_STR, .s = "df"};
	v[2] = (struct dfm_value){.type = DFM_INT, .i = 5000};
	v[3] = (struct dfm_value){.type = DFM_BOOL, .i = 1};
	for (int i = 0; i < DFM_DIGEST_SIZE; i++)
		d->b[i] = (uint8_t)i;
	*slot = (struct dfm_key_slot){"data", 1, d};
	*in = (struct dfm_key_input){
		.kind = "k", .kind_version = 3, .nparams = 4, .param_names = names,
		.params = v, .nslots = 1, .slots = slot,
	};
}

TEST(key_encoding_bytes)
{
	static const unsigned char want[] = {
		'd', 'f', 'm', 'a', 'k', 'e', '-', 'k', 'e', 'y', 1, 0, 0, 0,
		1, 0, 0, 0, 'k', 3, 0, 0, 0, 4, 0, 0, 0,
		/* params sorted by name: flip, lr, mode, n */
		4, 0, 0, 0, 'f', 'l', 'i', 'p', 4, 1,
		2, 0, 0, 0, 'l', 'r', 2, 0x2d, 0x43, 0x1c, 0xeb, 0xe2, 0x36, 0x2a, 0x3f,
		4, 0, 0, 0, 'm', 'o', 'd', 'e', 3, 2, 0, 0, 0, 'd', 'f',
		1, 0, 0, 0, 'n', 1, 0x88, 0x13, 0, 0, 0, 0, 0, 0,
		/* one slot "data" with one digest 00..0f */
		1, 0, 0, 0, 4, 0, 0, 0, 'd', 'a', 't', 'a', 1, 0, 0, 0,
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		/* no sources */
		0, 0, 0, 0,
	};
	struct dfm_key_input in;
	struct dfm_value v[4];
	struct dfm_key_slot slot;
	struct dfm_digest d;
	unsigned char *buf;
	size_t len;

	example(&in, v, &slot, &d);
	CHECK_INT(dfm_key_encode(&in, &buf, &len), 0);
	CHECK_INT(len, sizeof want);
	CHECK(len == sizeof want && memcmp(buf, want, len) == 0);
	free(buf);
}

/* The digests agree with "xxhsum -H2" over the same bytes. */
TEST(key_golden_digests)
{
	struct dfm_key_input in;
	struct dfm_value v[4];
	struct dfm_key_slot slot;
	struct dfm_digest d, key;
	char hex[DFM_DIGEST_HEX];

	example(&in, v, &slot, &d);
	CHECK_INT(dfm_key(&in, &key), 0);
	CHECK_STR(dfm_digest_hex(&key, hex), "3ad942d8569ba1d8039f96e2661aa838");

	in.nslots = 0;
	in.nparams = 0;
	CHECK_INT(dfm_key(&in, &key), 0);
	CHECK_STR(dfm_digest_hex(&key, hex), "41b3c4364755e4d2e48e58d5780d47a7");
}

TEST(key_ignores_param_order_and_negative_zero)
{
	static const char *const swapped[] = {"mode", "lr"};
	struct dfm_value a[2] = {{.type = DFM_FLOAT, .f = 0.0}, {.type = DFM_STR, .s = "x"}};
	struct dfm_value b[2] = {{.type = DFM_STR, .s = "x"}, {.type = DFM_FLOAT, .f = -0.0}};
	struct dfm_key_input x = {.kind = "k", .nparams = 2, .param_names = names, .params = a};
	struct dfm_key_input y = {.kind = "k", .nparams = 2, .param_names = swapped, .params = b};
	struct dfm_digest kx, ky;

	CHECK_INT(dfm_key(&x, &kx), 0);
	CHECK_INT(dfm_key(&y, &ky), 0);
	CHECK(dfm_digest_eq(&kx, &ky));
	b[0].s = "y";
	CHECK_INT(dfm_key(&y, &ky), 0);
	CHECK(!dfm_digest_eq(&kx, &ky));
}
