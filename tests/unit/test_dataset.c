/* The dataset format, the builder, and the subsample and export kinds. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "stages/image.h"
#include "tests/unit/data_util.h"
#include "tests/unit/test.h"

TEST(dataset_builder_unifies_channels_and_shrinks)
{
	struct dfm_dsbuild *b = dfm_dsbuild_new(4);
	uint8_t grey[2 * 8], rgb[3 * 3 * 3];
	struct dfm_dataset ds;
	void *out;
	size_t size;
	char err[200];
	int h, w, c;
	const uint8_t *px;

	memset(grey, 90, sizeof grey);
	memset(rgb, 200, sizeof rgb);
	CHECK(b != NULL);
	CHECK_INT(dfm_dsbuild_class(b, "g"), 0);
	CHECK_INT(dfm_dsbuild_class(b, "c"), 1);
	CHECK_INT(dfm_dsbuild_class(b, "g"), 0);
	CHECK_INT(dfm_dsbuild_add(b, grey, 2, 8, 1, 0), 0);
	CHECK_INT(dfm_dsbuild_add(b, rgb, 3, 3, 3, 1), 0);
	CHECK(dfm_dsbuild_add(b, rgb, 3, 3, 3, 2) != 0);
	CHECK_INT(dfm_dsbuild_meta(b, "source", "unit"), 0);
	CHECK_INT(dfm_dsbuild_finish(b, &out, &size, err, sizeof err), 0);
	CHECK_INT(dfm_dataset_open(out, size, &ds, err, sizeof err), 0);
	CHECK(ds.images == NULL && ds.pixels != NULL && ds.c == 3);
	px = dfm_dataset_image(&ds, 0, &h, &w, &c);
	CHECK(h == 1 && w == 4 && c == 3);          /* 2 x 8 shrunk to fit 4 */
	CHECK(px[0] == 90 && px[11] == 90);
	px = dfm_dataset_image(&ds, 1, &h, &w, &c);
	CHECK(h == 3 && w == 3 && px[26] == 200);
	CHECK(ds.orig_sizes && ds.orig_sizes[0] == 2 && ds.orig_sizes[1] == 8);
	CHECK_STR(ds.source, "unit");
	dfm_dataset_close(&ds);
	free(out);
}

/* One channel count per dataset whatever the order: grey images before the
 * first colour one are made RGB then, grey ones after it as they come. */
TEST(dataset_builder_promotes_grey_in_either_order)
{
	uint8_t grey[2 * 2] = {10, 20, 30, 40}, rgb[2 * 2 * 3];

	memset(rgb, 200, sizeof rgb);
	for (int order = 0; order < 2; order++) {
		struct dfm_dsbuild *b = dfm_dsbuild_new(0);
		struct dfm_dataset ds;
		void *out;
		size_t size;
		char err[200];
		const uint8_t *g;

		CHECK_INT(dfm_dsbuild_class(b, "k"), 0);
		for (int i = 0; i < 3; i++) {
			int colour = order ? i == 0 : i == 2;

			CHECK_INT(dfm_dsbuild_add(b, colour ? rgb : grey, 2, 2, colour ? 3 : 1, 0),
				  0);
		}
		CHECK_INT(dfm_dsbuild_finish(b, &out, &size, err, sizeof err), 0);
		CHECK_INT(dfm_dataset_open(out, size, &ds, err, sizeof err), 0);
		CHECK(ds.images && ds.c == 3 && ds.n == 3);
		g = ds.images + (order ? 12 : 0);
		CHECK(g[0] == 10 && g[2] == 10 && g[3] == 20 && g[11] == 40);
		g = ds.images + (order ? 24 : 12);
		CHECK(g[0] == 10 && g[11] == 40);
		CHECK(ds.images[order ? 0 : 24] == 200 && ds.images[order ? 11 : 35] == 200);
		dfm_dataset_close(&ds);
		free(out);
	}
}

TEST(dataset_builder_rejects_empty_class)
{
	struct dfm_dsbuild *b = dfm_dsbuild_new(0);
	uint8_t px[4] = {0};
	void *out = NULL;
	size_t size;
	char err[200] = "";

	dfm_dsbuild_class(b, "full");
	dfm_dsbuild_class(b, "empty");
	CHECK_INT(dfm_dsbuild_add(b, px, 2, 2, 1, 0), 0);
	CHECK(dfm_dsbuild_finish(b, &out, &size, err, sizeof err) != 0);
	CHECK(strstr(err, "'empty' has no images") != NULL);
	CHECK(out == NULL);
}

TEST(dataset_open_rejects_bad_labels_and_offsets)
{
	uint8_t pix[8] = {0};
	int32_t lab[2] = {0, 2};
	int64_t shapes[6] = {2, 2, 1, 2, 2, 1}, offsets[2] = {0, 6};
	char *names[2] = {"a", "b"};
	struct dfm_dataset ds = {.n = 2, .h = 2, .w = 2, .c = 1, .images = pix, .labels = lab,
				 .nclasses = 2, .classes = names}, got;
	void *out;
	size_t size;
	char err[200];

	CHECK_INT(dfm_dataset_write(&ds, &out, &size), 0);
	CHECK_INT(dfm_dataset_open(out, size, &got, err, sizeof err), DFM_ERR_FORMAT);
	CHECK(strstr(err, "label out of range") != NULL);
	free(out);
	lab[1] = 1;
	ds = (struct dfm_dataset){.n = 2, .pixels = pix, .npixels = 8, .shapes = shapes,
				  .offsets = offsets, .labels = lab, .nclasses = 2,
				  .classes = names};
	CHECK_INT(dfm_dataset_write(&ds, &out, &size), 0);
	CHECK_INT(dfm_dataset_open(out, size, &got, err, sizeof err), DFM_ERR_FORMAT);
	CHECK(strstr(err, "outside") != NULL);
	free(out);
	offsets[1] = 4;
	CHECK_INT(dfm_dataset_write(&ds, &out, &size), 0);
	CHECK_INT(dfm_dataset_open(out, size, &got, err, sizeof err), 0);
	dfm_dataset_close(&got);
	free(out);
}

TEST(dataset_describe_counts)
{
	void *data;
	size_t size;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK_INT(dfm_test_dataset(7, 4, 5, 3, 3, &data, &size), 0);
	CHECK_INT(dfm_dataset_describe(data, size, f), 0);
	fclose(f);
	CHECK(strstr(text, "images: 7, 4 x 5, 3 channels") != NULL);
	CHECK(strstr(text, "c0") && strstr(text, " 3\n"));
	CHECK(strstr(text, "source: test") != NULL);
	free(text);
	free(data);
}

struct parts {
	struct dfm_run *run;
	struct dfm_dataset all, train, val;
};

static int
subsample(struct parts *p, const void *data, size_t size, const char *n, const char *val,
	  const char *seed)
{
	const char *names[3] = {"data", "train", "val"};
	struct dfm_dataset *ds[3] = {&p->all, &p->train, &p->val};
	char err[200];

	p->run = dfm_run_new(dfm_kind_find("subsample"), "sub");
	if (dfm_run_param(p->run, "n", n, err, sizeof err) ||
	    dfm_run_param(p->run, "val", val, err, sizeof err) ||
	    dfm_run_param(p->run, "seed", seed, err, sizeof err) ||
	    dfm_run_input(p->run, "data", data, size, "t.data") || dfm_run_exec(p->run))
		return -1;
	for (int i = 0; i < 3; i++) {
		size_t len;
		const void *out = dfm_run_output(p->run, names[i], &len);

		if (!out || dfm_dataset_open(out, len, ds[i], err, sizeof err))
			return -1;
	}
	return 0;
}

static void
parts_free(struct parts *p)
{
	dfm_dataset_close(&p->all);
	dfm_dataset_close(&p->train);
	dfm_dataset_close(&p->val);
	dfm_run_free(p->run);
}

/* Images of the test dataset carry i % 251 in every pixel: an identity. */
TEST(subsample_balanced_split_and_seeded)
{
	void *data;
	size_t size;
	struct parts a, b, c;
	int64_t *count;
	int same = 1;

	CHECK_INT(dfm_test_dataset(1000, 2, 2, 1, 10, &data, &size), 0);
	CHECK_INT(subsample(&a, data, size, "50", "10", "1"), 0);
	CHECK_INT(a.all.n, 50);
	CHECK_INT(a.train.n, 40);
	CHECK_INT(a.val.n, 10);
	CHECK_STR(a.val.split, "val");
	count = dfm_dataset_counts(&a.all);
	for (int k = 0; k < 10; k++)
		CHECK_INT(count[k], 5);
	free(count);
	count = dfm_dataset_counts(&a.val);
	for (int k = 0; k < 10; k++)
		CHECK_INT(count[k], 1);
	free(count);
	for (int64_t i = 0; i < a.val.n; i++)
		for (int64_t j = 0; j < a.train.n; j++)
			CHECK(a.val.images[4 * i] != a.train.images[4 * j] ||
			      a.val.labels[i] != a.train.labels[j]);
	CHECK_INT(subsample(&b, data, size, "50", "10", "1"), 0);
	CHECK(memcmp(a.all.images, b.all.images, 200) == 0);
	CHECK_INT(subsample(&c, data, size, "50", "10", "2"), 0);
	for (int i = 0; i < 200; i++)
		same &= a.all.images[i] == c.all.images[i];
	CHECK(!same);
	parts_free(&a);
	parts_free(&b);
	parts_free(&c);
	free(data);
}

TEST(subsample_small_class_and_short_dataset)
{
	struct dfm_dsbuild *bd = dfm_dsbuild_new(0);
	uint8_t px[1] = {0};
	void *data;
	size_t size;
	char err[200];
	struct parts p;
	int64_t *count;

	dfm_dsbuild_class(bd, "small");
	dfm_dsbuild_class(bd, "big");
	dfm_dsbuild_class(bd, "mid");
	dfm_dsbuild_add(bd, px, 1, 1, 1, 0);
	for (int i = 0; i < 30; i++)
		dfm_dsbuild_add(bd, px, 1, 1, 1, 1);
	for (int i = 0; i < 12; i++)
		dfm_dsbuild_add(bd, px, 1, 1, 1, 2);
	CHECK_INT(dfm_dsbuild_finish(bd, &data, &size, err, sizeof err), 0);
	CHECK_INT(subsample(&p, data, size, "21", "0", "0"), 0);
	count = dfm_dataset_counts(&p.all);
	CHECK(count[0] == 1 && count[1] == 10 && count[2] == 10);
	CHECK_INT(p.val.n, 0);
	free(count);
	parts_free(&p);
	CHECK_INT(subsample(&p, data, size, "5000", "3", "0"), 0);
	CHECK_INT(p.all.n, 43);
	CHECK_INT(p.val.n, 3);
	parts_free(&p);
	free(data);
}

/* What a kind's describe callback prints, in a malloc'd string. */
static char *
describe(const char *kind, const char *output, const void *data, size_t size)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (dfm_kind_find(kind)->describe(output, data, size, f))
		fprintf(f, "describe failed\n");
	fclose(f);
	return text;
}

TEST(export_grid_png)
{
	void *data;
	size_t size, len;
	struct dfm_run *r = dfm_run_new(dfm_kind_find("export"), "grid");
	const void *png;
	struct dfm_image im;
	char err[200], *text;
	int dark = 0;

	CHECK_INT(dfm_test_dataset(12, 8, 8, 1, 3, &data, &size), 0);
	CHECK_INT(dfm_run_param(r, "per_class", "4", err, sizeof err), 0);
	CHECK_INT(dfm_run_input(r, "data", data, size, "t.data"), 0);
	CHECK_INT(dfm_run_exec(r), 0);
	png = dfm_run_output(r, "grid", &len);
	CHECK(png != NULL);
	CHECK_INT(dfm_png_decode(png, len, &im, err, sizeof err), 0);
	CHECK_INT(im.h, 3 * (32 + 2) + 2);
	CHECK_INT(im.c, 3);
	/* The label column holds text (dark pixels) on white. */
	for (int y = 0; y < im.h; y++)
		for (int x = 0; x < 100; x++)
			dark += im.pix[(y * im.w + x) * 3] < 100;
	CHECK(dark > 10);
	dfm_image_free(&im);
	text = describe("export", "grid", png, len);
	CHECK(text && strstr(text, "PNG grid, ") != NULL);
	free(text);
	dfm_run_free(r);
	free(data);
}

TEST(export_dir_roundtrips_through_folder_ingest)
{
	void *data;
	size_t size, len;
	char dir[600], err[300];
	struct dfm_run *r = dfm_run_new(dfm_kind_find("ingest"), "ingest");
	const void *out;
	struct dfm_dataset ds;
	void *csv;

	snprintf(dir, sizeof dir, "%s/out", dfm_test_dir());
	CHECK_INT(dfm_test_dataset(6, 3, 4, 3, 2, &data, &size), 0);
	CHECK_INT(dfm_dataset_export_dir(data, size, dir, err, sizeof err), 0);
	CHECK(dfm_dataset_export_dir(data, size, dir, err, sizeof err) != 0);
	CHECK(strstr(err, "labels.csv") != NULL);
	snprintf(dir, sizeof dir, "%s/out/labels.csv", dfm_test_dir());
	csv = dfm_test_read_file(dir, &len);
	CHECK(csv && strstr(csv, "c1/000005.png,1,\"c1\"") != NULL);
	free(csv);
	snprintf(dir, sizeof dir, "%s/out", dfm_test_dir());
	CHECK_INT(dfm_run_param(r, "source", "folder", err, sizeof err), 0);
	CHECK_INT(dfm_run_param(r, "path", dir, err, sizeof err), 0);
	CHECK_INT(dfm_run_exec(r), 0);
	out = dfm_run_output(r, "data", &len);
	CHECK(out && dfm_dataset_open(out, len, &ds, err, sizeof err) == 0);
	if (out) {
		CHECK(ds.n == 6 && ds.h == 3 && ds.w == 4 && ds.c == 3);
		CHECK(ds.labels[1] == 0 && ds.images[3 * 4 * 3] == 2);  /* c0: 0, 2, 4 */
		dfm_dataset_close(&ds);
	}
	dfm_run_free(r);
	free(data);
}
