/* The pipeline of examples/data/dfmake.yaml through the stage API, on a
 * few images per class: Fashion-MNIST and three offline outer sources,
 * each ingested, resized, subsampled and drawn as a grid. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "stages/image.h"
#include "tests/unit/test.h"

static struct dfm_run *
step(const char *kind, const char *const *kv, const void *in, size_t insize)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find(kind), kind);
	char err[200];

	for (int i = 0; kv[i]; i += 2)
		CHECK_INT(dfm_run_param(r, kv[i], kv[i + 1], err, sizeof err), 0);
	if (in)
		CHECK_INT(dfm_run_input(r, "data", in, insize, "pipeline"), 0);
	if (dfm_run_exec(r)) {
		fprintf(stderr, "  %s: %s\n", kind, dfm_run_failure(r));
		dfm_run_free(r);
		return NULL;
	}
	return r;
}

/* Returns the number of classes seen, or -1. */
static int
pipeline(const char *source, const char *n, const char *val)
{
	const char *const ingest[] = {"source", source, "limit", "40", NULL};
	const char *const resize[] = {"size", "32", NULL};
	const char *const sub[] = {"n", n, "val", val, "seed", "3", NULL};
	const char *const draw[] = {"per_class", "5", NULL};
	struct dfm_run *r[4] = {NULL};
	const char *const *params[4] = {ingest, resize, sub, draw};
	const char *kinds[4] = {"ingest", "resize", "subsample", "export"};
	const char *outs[4] = {"data", "data", "train", "grid"};
	const void *data = NULL;
	size_t size = 0;
	struct dfm_dataset ds;
	struct dfm_image im;
	char err[300];
	int classes = -1;

	for (int i = 0; i < 4; i++) {
		if (!(r[i] = step(kinds[i], params[i], data, size)))
			goto out;
		if (i == 2) {
			CHECK_INT(dfm_dataset_open(data, size, &ds, err, sizeof err), 0);
			classes = ds.nclasses;
			dfm_dataset_close(&ds);
		}
		data = dfm_run_output(r[i], outs[i], &size);
		if (i == 1 || i == 2) {
			CHECK_INT(dfm_dataset_open(data, size, &ds, err, sizeof err), 0);
			CHECK(ds.h == 32 && ds.w == 32 && ds.c == 3);
			if (i == 2)
				CHECK_INT(ds.n, atoi(n) - atoi(val));
			dfm_dataset_close(&ds);
		}
	}
	CHECK_INT(dfm_png_decode(data, size, &im, err, sizeof err), 0);
	CHECK_INT(im.h, classes * (32 + 2) + 2);
	dfm_image_free(&im);
out:
	for (int i = 0; i < 4; i++)
		dfm_run_free(r[i]);
	return classes;
}

TEST(data_pipeline_target_and_outers)
{
	CHECK_INT(pipeline("fmnist", "300", "100"), 10);
	CHECK_INT(pipeline("emoji", "90", "0"), 9);
	CHECK_INT(pipeline("glyphs", "360", "0"), 36);
	CHECK_INT(pipeline("digits8", "100", "0"), 10);
}
