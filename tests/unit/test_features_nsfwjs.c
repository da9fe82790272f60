/* The default feature network: nsfwjs' Inception-v3 as "make deps"
 * converts it, run by the features kind, against the same network run by
 * TensorFlow.js (tests/parity/nsfwjs_reference.js) on two 299 x 299
 * images, and run twice for determinism.  Skipped, with a note, when the
 * converted weights are missing (make check runs make deps first). */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "stages/nn/inception.h"
#include "tests/unit/inception_fixture.h"
#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

static void *
nsfwjs_dataset(const struct incep_fixture *f, size_t *size)
{
	const struct dfm_tensor *img = dfm_st_get(f->st, "images");
	char a[] = "a", *names[] = {a};
	int32_t lab[2] = {0, 0};
	struct dfm_dataset ds;
	void *out = NULL;

	if (!img || img->shape[0] != 2 || img->shape[1] != DFM_INCEPTION_SIZE)
		return NULL;
	ds = (struct dfm_dataset){.n = 2, .h = DFM_INCEPTION_SIZE, .w = DFM_INCEPTION_SIZE,
		.c = 3, .images = img->data, .labels = lab, .nclasses = 1, .classes = names,
		.source = "test"};
	return dfm_dataset_write(&ds, &out, size) ? NULL : out;
}

/* The output of one run with the default weights, copied; NULL on failure. */
static void *
run_default(const void *data, size_t size, size_t *osize)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("features"), "features[nsfwjs]");
	const void *out;
	void *copy = NULL;
	char err[200];

	if (!r)
		return NULL;
	dfm_run_param(r, "batch", "2", err, sizeof err);
	dfm_run_set_threads(r, 2);
	dfm_run_input(r, "data", data, size, "ingest[test].data");
	if (dfm_run_exec(r) == 0 && (out = dfm_run_output(r, "features", osize)) &&
	    (copy = malloc(*osize)))
		memcpy(copy, out, *osize);
	else
		fprintf(stderr, "  features: %s\n", dfm_run_failure(r));
	dfm_run_free(r);
	return copy;
}

/* Largest relative difference of softmax(logits) from the reference. */
static double
probs_err(const float *logits, const float *probs)
{
	float p[10];

	for (int i = 0; i < 2; i++) {
		double max = logits[i * 5], sum = 0;

		for (int k = 1; k < 5; k++)
			max = fmax(max, logits[i * 5 + k]);
		for (int k = 0; k < 5; k++)
			sum += exp(logits[i * 5 + k] - max);
		for (int k = 0; k < 5; k++)
			p[i * 5 + k] = (float)(exp(logits[i * 5 + k] - max) / sum);
	}
	return nn_relerr(p, probs, 10);
}

static int
all_finite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

static void
check_output(const void *out, size_t osize, const struct incep_fixture *f)
{
	struct dfm_st *st;
	const struct dfm_tensor *feat, *logit;
	char err[200];

	CHECK_INT(dfm_st_open(out, osize, &st, err, sizeof err), 0);
	if (!st)
		return;
	feat = dfm_st_get(st, "features");
	logit = dfm_st_get(st, "logits");
	CHECK(feat && logit && logit->shape[1] == 5);
	if (feat && logit && logit->shape[1] == 5) {
		CHECK(all_finite(feat->data, 2 * DFM_INCEPTION_FEATURES));
		CHECK(all_finite(logit->data, 10));
		CHECK_PARITY(nn_relerr(feat->data, dfm_st_get(f->st, "features")->data,
				       2 * DFM_INCEPTION_FEATURES));
		CHECK_PARITY(probs_err(logit->data, dfm_st_get(f->st, "probs")->data));
	}
	CHECK_STR(dfm_st_meta_get(st, "network"),
		  "Inception-v3, nsfwjs weights; not comparable to published FID");
	CHECK_STR(dfm_st_meta_get(st, "variant"), "keras");
	dfm_st_close(st);
}

TEST(features_nsfwjs_matches_tfjs)
{
	const char *top = getenv("TOP");
	char path[512];
	struct incep_fixture f;
	void *data, *a = NULL, *b = NULL;
	size_t size, asize = 0, bsize = 0;

	snprintf(path, sizeof path, "%s/.data/inception-nsfwjs.safetensors", top ? top : ".");
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "  skip: %s is missing (run make deps)\n", path);
		return;
	}
	if (incep_fixture_open(&f, "nsfwjs"))
		return;
	CHECK((data = nsfwjs_dataset(&f, &size)) != NULL);
	if (data) {
		a = run_default(data, size, &asize);
		b = run_default(data, size, &bsize);
	}
	CHECK(a && b);
	if (a && b) {
		check_output(a, asize, &f);
		CHECK(asize == bsize && memcmp(a, b, asize) == 0);
	}
	free(a);
	free(b);
	free(data);
	incep_fixture_close(&f);
}
