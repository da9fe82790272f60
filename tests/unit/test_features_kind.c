/* The features kind through the run API: against the parity fixtures (so
 * the whole path from dataset bytes to features is checked), on the
 * converted nsfwjs weights, and on bad inputs. */
#include <stdlib.h>
#include <unistd.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "stages/nn/inception.h"
#include "tests/unit/data_util.h"
#include "tests/unit/inception_fixture.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

/* A dataset of n 32 x 32 RGB images: image i is the fixture's image
 * i % 2; label i % 2.  Serialised into a malloc'd buffer. */
static void *
fixture_dataset(const struct incep_fixture *f, int64_t n, size_t *size)
{
	const struct dfm_tensor *img = dfm_st_get(f->st, "images");
	char a[] = "a", b[] = "b", *names[] = {a, b};
	uint8_t *pix = malloc((size_t)n * 32 * 32 * 3);
	int32_t *lab = malloc((size_t)n * sizeof *lab);
	struct dfm_dataset ds;
	void *out = NULL;

	if (img && pix && lab) {
		for (int64_t i = 0; i < n; i++) {
			memcpy(pix + i * 3072, (const uint8_t *)img->data + (i % 2) * 3072, 3072);
			lab[i] = (int32_t)(i % 2);
		}
		ds = (struct dfm_dataset){.n = n, .h = 32, .w = 32, .c = 3, .images = pix,
			.labels = lab, .nclasses = 2, .classes = names, .source = "test"};
		if (dfm_dataset_write(&ds, &out, size))
			out = NULL;
	}
	free(pix);
	free(lab);
	return out;
}

/* Runs the kind on a dataset with params "name=value", NULL-ended. */
static struct dfm_run *
run_features(const void *data, size_t size, const char **params, int *rc)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("features"), "features[test]");
	char err[200], name[64];

	*rc = -1;
	if (!r)
		return NULL;
	for (const char **p = params; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		snprintf(name, sizeof name, "%.*s", (int)(eq - *p), *p);
		if (dfm_run_param(r, name, eq + 1, err, sizeof err)) {
			dfm_test_fail(__FILE__, __LINE__, "param %s: %s", *p, err);
			return r;
		}
	}
	dfm_run_input(r, "data", data, size, "resize[src=test].data");
	*rc = dfm_run_exec(r);
	return r;
}

/* Writes the fixture's weights to the test directory and returns
 * "weights=PATH" (static). */
static const char *
weights_param(const struct incep_fixture *f)
{
	static char param[600];
	size_t size;
	void *w = incep_weights(f, &size);

	if (!w || dfm_test_write(dfm_test_dir(), "w.safetensors", w, size)) {
		free(w);
		return NULL;
	}
	free(w);
	snprintf(param, sizeof param, "weights=%s/w.safetensors", dfm_test_dir());
	return param;
}

static double
rows_err(const struct dfm_tensor *got, const struct incep_fixture *f, const char *name,
	 int64_t row0, int64_t rows)
{
	const struct dfm_tensor *ref = dfm_st_get(f->st, name);
	int64_t d = ref ? ref->shape[1] : 0;

	if (!got || !ref || got->shape[1] != d)
		return 1;
	return nn_relerr((const float *)got->data + row0 * d, ref->data, (size_t)(rows * d));
}

/* Three images in batches of two: the last batch is padded, and its one
 * real image must come out as the first did. */
static void
kind_case(const char *variant, int nlogits)
{
	struct incep_fixture f;
	struct dfm_st *st = NULL;
	const char *params[4] = {NULL, "size=75", "batch=2", NULL};
	const struct dfm_tensor *feat, *logit, *lab;
	struct dfm_run *r = NULL;
	void *data;
	size_t size, osize;
	const void *out;
	char err[200];
	int rc;

	if (incep_fixture_open(&f, variant))
		return;
	CHECK((params[0] = weights_param(&f)) != NULL);
	CHECK((data = fixture_dataset(&f, 3, &size)) != NULL);
	if (params[0] && data)
		r = run_features(data, size, params, &rc);
	CHECK_INT(rc, 0);
	CHECK((out = dfm_run_output(r, "features", &osize)) != NULL);
	if (out && dfm_st_open(out, osize, &st, err, sizeof err) == 0) {
		feat = dfm_st_get(st, "features");
		logit = dfm_st_get(st, "logits");
		lab = dfm_st_get(st, "labels");
		CHECK(feat && feat->shape[0] == 3 && feat->shape[1] == DFM_INCEPTION_FEATURES);
		CHECK(logit && logit->shape[0] == 3 && logit->shape[1] == nlogits);
		CHECK(lab && lab->shape[0] == 3 && ((const int32_t *)lab->data)[2] == 0);
		CHECK_PARITY(rows_err(feat, &f, "features", 0, 2));
		CHECK_PARITY(rows_err(logit, &f, "logits", 0, 2));
		CHECK_PARITY(rows_err(feat, &f, "features", 2, 1));
		CHECK_STR(dfm_st_meta_get(st, "network"), "Inception-v3, random test weights");
		CHECK_STR(dfm_st_meta_get(st, "variant"), variant);
		dfm_st_close(st);
	} else {
		CHECK(!"the output is a safetensors file");
	}
	dfm_run_free(r);
	free(data);
	incep_fixture_close(&f);
}

TEST(features_kind_fid)
{
	kind_case("fid", 1008);
}

TEST(features_kind_keras)
{
	kind_case("keras", 5);
}

/* Fails with a message containing want, and puts no output. */
static void
expect_failure(const void *data, size_t size, const char **params, const char *want)
{
	int rc;
	struct dfm_run *r = run_features(data, size, params, &rc);
	const char *msg = r ? dfm_run_failure(r) : NULL;

	CHECK(rc != 0);
	CHECK(msg && strstr(msg, want));
	if (msg && !strstr(msg, want))
		fprintf(stderr, "  message: %s\n", msg);
	CHECK(!r || !dfm_run_output(r, "features", NULL));
	dfm_run_free(r);
}

/* Bad datasets are refused before the weights are read, so these runs name
 * weights that do not exist. */
TEST(features_kind_bad_inputs)
{
	struct incep_fixture f;
	const char *params[3] = {"weights=/nonexistent/w.safetensors", "size=75", NULL};
	struct dfm_st_writer *wr;
	float pixels[2 * 4 * 4 * 3] = {0};
	int64_t shape[4] = {2, 4, 4, 3};
	char a[] = "a", *names[] = {a}, nv[600];
	const char *novariant[2] = {nv, NULL};
	uint8_t pix[1];
	int32_t lab[1];
	struct dfm_dataset empty = {.n = 0, .h = 32, .w = 32, .c = 3, .images = pix,
		.labels = lab, .nclasses = 1, .classes = names, .source = "test"};
	void *data, *bad;
	size_t size, bsize;

	if (incep_fixture_open(&f, "fid"))
		return;
	CHECK((data = fixture_dataset(&f, 2, &size)) != NULL);

	expect_failure(data, size, params, "cannot open weights '/nonexistent/w.safetensors'");
	expect_failure(data, size, params, "make deps");
	expect_failure(data, 0, params, "is not a dataset");

	/* No images. */
	if (dfm_dataset_write(&empty, &bad, &bsize) == 0) {
		expect_failure(bad, bsize, params, "input 'resize[src=test].data' holds no images");
		free(bad);
	}

	/* Float pixels. */
	CHECK((wr = dfm_st_writer_new()) != NULL);
	CHECK_INT(dfm_st_add(wr, "images", DFM_F32, 4, shape, pixels), 0);
	CHECK_INT(dfm_st_meta(wr, "classes", "[\"a\"]"), 0);
	CHECK_INT(dfm_st_writer_finish(wr, &bad, &bsize), 0);
	expect_failure(bad, bsize, params, "is not a dataset");
	free(bad);

	/* Weights without a variant. */
	CHECK((wr = dfm_st_writer_new()) != NULL);
	CHECK_INT(dfm_st_meta(wr, "network", "x"), 0);
	CHECK_INT(dfm_st_writer_finish(wr, &bad, &bsize), 0);
	CHECK_INT(dfm_test_write(dfm_test_dir(), "novariant.safetensors", bad, bsize), 0);
	free(bad);
	snprintf(nv, sizeof nv, "weights=%s/novariant.safetensors", dfm_test_dir());
	expect_failure(data, size, novariant, "do not say their variant");

	free(data);
	incep_fixture_close(&f);
}

/* A grey dataset of n images of 32 x 32 (c = 1) or the same repeated into
 * three channels (c = 3), from channel 0 of the fixture's images. */
static void *
grey_dataset(const struct incep_fixture *f, int c, size_t *size)
{
	const struct dfm_tensor *img = dfm_st_get(f->st, "images");
	char a[] = "a", *names[] = {a};
	uint8_t pix[2 * 32 * 32 * 3];
	int32_t lab[2] = {0, 0};
	struct dfm_dataset ds;
	void *out = NULL;

	if (!img)
		return NULL;
	for (int i = 0; i < 2 * 32 * 32; i++)
		for (int k = 0; k < c; k++)
			pix[i * c + k] = ((const uint8_t *)img->data)[i * 3];
	ds = (struct dfm_dataset){.n = 2, .h = 32, .w = 32, .c = c, .images = pix,
		.labels = lab, .nclasses = 1, .classes = names, .source = "test"};
	return dfm_dataset_write(&ds, &out, size) ? NULL : out;
}

TEST(features_kind_grey_is_repeated_rgb)
{
	struct incep_fixture f;
	const char *params[4] = {NULL, "size=75", "batch=2", NULL};
	struct dfm_run *r1 = NULL, *r3 = NULL;
	const void *o1 = NULL, *o3 = NULL;
	void *d1, *d3;
	size_t s1, s3, n1 = 0, n3 = 0;
	int rc1 = -1, rc3 = -1;

	if (incep_fixture_open(&f, "keras"))
		return;
	CHECK((params[0] = weights_param(&f)) != NULL);
	CHECK((d1 = grey_dataset(&f, 1, &s1)) != NULL);
	CHECK((d3 = grey_dataset(&f, 3, &s3)) != NULL);
	if (params[0] && d1 && d3) {
		r1 = run_features(d1, s1, params, &rc1);
		r3 = run_features(d3, s3, params, &rc3);
		o1 = dfm_run_output(r1, "features", &n1);
		o3 = dfm_run_output(r3, "features", &n3);
	}
	CHECK_INT(rc1, 0);
	CHECK_INT(rc3, 0);
	CHECK(o1 && o3 && n1 == n3 && memcmp(o1, o3, n1) == 0);
	dfm_run_free(r1);
	dfm_run_free(r3);
	free(d1);
	free(d3);
	incep_fixture_close(&f);
}
