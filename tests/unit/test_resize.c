/* Resampling against Pillow, and the resize kind. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "stages/image.h"
#include "stages/nn/safetensors.h"
#include "tests/unit/test.h"
#include "tests/unit/data_util.h"

static const char fixtures[] = "tests/fixtures/resize/pillow.safetensors";
static const char *const cases[] = {
	"down_grey", "up_grey", "down_rgb", "odd_rgb", "big_rgb", "up_rgb",
	"wide_grey", "tall_grey", NULL,
};

/* Largest difference from Pillow over one case, or -1 when it is missing. */
static int
case_diff(const struct dfm_st *st, const char *name)
{
	char key[64];
	const struct dfm_tensor *in, *want;
	uint8_t *got;
	int diff = 0;
	int64_t n;

	snprintf(key, sizeof key, "%s.in", name);
	in = dfm_st_get(st, key);
	snprintf(key, sizeof key, "%s.out", name);
	want = dfm_st_get(st, key);
	if (!in || !want || in->ndim != 3 || want->ndim != 3)
		return -1;
	n = dfm_shape_count(3, want->shape);
	if (!(got = malloc(n)))
		return -1;
	if (dfm_resample(in->data, (int)in->shape[0], (int)in->shape[1], (int)in->shape[2],
			 got, (int)want->shape[0], (int)want->shape[1], 1))
		diff = -1;
	for (int64_t i = 0; i < n && diff >= 0; i++) {
		int d = abs(got[i] - ((const uint8_t *)want->data)[i]);

		diff = d > diff ? d : diff;
	}
	free(got);
	return diff;
}

TEST(resize_matches_pillow)
{
	size_t size;
	void *data = dfm_test_read_file(fixtures, &size);
	struct dfm_st *st;

	CHECK(data != NULL);
	if (!data)
		return;
	CHECK_INT(dfm_st_open(data, size, &st, NULL, 0), 0);
	for (int i = 0; cases[i]; i++) {
		int d = case_diff(st, cases[i]);

		if (d != 0)
			fprintf(stderr, "  case %s: largest difference %d\n", cases[i], d);
		CHECK(d >= 0 && d <= 1);
	}
	dfm_st_close(st);
	free(data);
}

TEST(resize_luma_matches_pillow)
{
	size_t size;
	void *data = dfm_test_read_file(fixtures, &size);
	struct dfm_st *st;
	const struct dfm_tensor *in, *want;
	uint8_t got[17 * 13];

	CHECK(data != NULL);
	if (!data)
		return;
	CHECK_INT(dfm_st_open(data, size, &st, NULL, 0), 0);
	in = dfm_st_get(st, "luma.in");
	want = dfm_st_get(st, "luma.out");
	CHECK(in && want && dfm_shape_count(3, want->shape) == (int64_t)sizeof got);
	if (in && want) {
		dfm_convert_channels(in->data, 3, got, 1, sizeof got);
		CHECK(memcmp(got, want->data, sizeof got) == 0);
	}
	dfm_st_close(st);
	free(data);
}

/* A flat image stays flat at any scale, and edges replicate. */
TEST(resize_flat_and_edges)
{
	uint8_t flat[5 * 7], out[13 * 3], ramp[2] = {0, 200}, up[4];

	memset(flat, 77, sizeof flat);
	CHECK_INT(dfm_resample(flat, 5, 7, 1, out, 13, 3, 1), 0);
	for (size_t i = 0; i < sizeof out; i++)
		CHECK_INT(out[i], 77);
	/* Centres of 4 outputs over 2 inputs: -0.25, 0.25, 0.75, 1.25. */
	CHECK_INT(dfm_resample(ramp, 1, 2, 1, up, 1, 4, 0), 0);
	CHECK_INT(up[0], 0);
	CHECK_INT(up[1], 50);
	CHECK_INT(up[2], 150);
	CHECK_INT(up[3], 200);
}

/* Without antialiasing a 1-pixel checkerboard shrunk by 5 samples single
 * pixels (black or white); with it, it averages to grey. */
TEST(resize_antialias_averages)
{
	uint8_t board[80 * 80], aa[16 * 16], plain[16 * 16];
	int spread_aa = 0, spread_plain = 0;

	for (int y = 0; y < 80; y++)
		for (int x = 0; x < 80; x++)
			board[y * 80 + x] = (x + y) % 2 ? 255 : 0;
	CHECK_INT(dfm_resample(board, 80, 80, 1, aa, 16, 16, 1), 0);
	CHECK_INT(dfm_resample(board, 80, 80, 1, plain, 16, 16, 0), 0);
	for (int i = 0; i < 256; i++) {
		spread_aa = abs(aa[i] - 128) > spread_aa ? abs(aa[i] - 128) : spread_aa;
		spread_plain = abs(plain[i] - 128) > spread_plain ? abs(plain[i] - 128) :
								      spread_plain;
	}
	CHECK(spread_aa <= 16);
	CHECK(spread_plain >= 120);
}

TEST(resize_kind_grey_to_rgb_and_sizes)
{
	uint8_t a[3 * 5], b[4 * 2];
	void *in;
	size_t insize, outsize;
	struct dfm_run *r = dfm_run_new(dfm_kind_find("resize"), "resize");
	const void *out;
	struct dfm_dataset ds;
	char err[200];
	int h, w, c;
	const uint8_t *px;

	memset(a, 10, sizeof a);
	memset(b, 240, sizeof b);
	CHECK_INT(dfm_test_two_images(a, 3, 5, b, 4, 2, 1, &in, &insize), 0);
	CHECK_INT(dfm_run_param(r, "size", "6", err, sizeof err), 0);
	CHECK_INT(dfm_run_input(r, "data", in, insize, "t.data"), 0);
	CHECK_INT(dfm_run_exec(r), 0);
	out = dfm_run_output(r, "data", &outsize);
	CHECK(out != NULL);
	CHECK_INT(dfm_dataset_open(out, outsize, &ds, err, sizeof err), 0);
	CHECK_INT(ds.n, 2);
	CHECK_INT(ds.h, 6);
	CHECK_INT(ds.c, 3);
	CHECK(ds.orig_sizes != NULL);
	if (ds.orig_sizes) {
		CHECK_INT(ds.orig_sizes[0], 3);
		CHECK_INT(ds.orig_sizes[3], 2);
	}
	px = dfm_dataset_image(&ds, 1, &h, &w, &c);
	CHECK_INT(px[0], 240);
	CHECK_INT(px[6 * 6 * 3 - 1], 240);
	dfm_dataset_close(&ds);
	dfm_run_free(r);
	free(in);
}

TEST(resize_kind_rejects_two_channels)
{
	uint8_t a[4] = {0};
	void *in;
	size_t insize;
	struct dfm_run *r = dfm_run_new(dfm_kind_find("resize"), "resize");
	char err[200];

	CHECK_INT(dfm_test_two_images(a, 2, 2, a, 2, 2, 1, &in, &insize), 0);
	CHECK_INT(dfm_run_param(r, "channels", "2", err, sizeof err), 0);
	CHECK_INT(dfm_run_input(r, "data", in, insize, "t.data"), 0);
	CHECK(dfm_run_exec(r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), "channels"));
	dfm_run_free(r);
	free(in);
}
