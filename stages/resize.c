/* The resize kind: every image of a dataset to one size (the paper's 32 x
 * 32) with the bilinear filter of stages/image.h, then to the wanted
 * channels.  Antialiasing (on by default) widens the filter on downscales,
 * as Pillow's BILINEAR does; off, the filter keeps two taps and a 500-pixel
 * photo shrunk to 32 aliases. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/dataset.h"
#include "stages/image.h"
#include "stages/stage.h"

static const struct dfm_param params[] = {
	{"size", DFM_INT, "32", "output side in pixels (height and width)", NULL, 1, 4096},
	{"antialias", DFM_BOOL, "true", "widen the filter on downscales", NULL, 0, 0},
	{"channels", DFM_INT, "3", "output channels: 1 grey, 3 RGB, 0 keep", NULL, 0, 3},
	{0},
};

static const struct dfm_slot inputs[] = {
	{"data", 0, "the dataset to resize"},
	{0},
};

static const struct dfm_output outputs[] = {
	{"data", "safetensors", "the resized dataset"},
	{0},
};

struct job {
	const struct dfm_dataset *src;
	uint8_t *dst, *scratch;
	int size, c, antialias;
	int64_t from, to;
	int rc;
};

/* Fixed-size datasets reuse one plan; varying sizes make one per change of
 * size. */
static void *
resize_range(void *arg)
{
	struct job *j = arg;
	size_t out = (size_t)j->size * j->size;
	struct dfm_resampler *rs = NULL;
	int rh = 0, rw = 0;

	for (int64_t i = j->from; i < j->to && !j->rc; i++) {
		int h, w, c;
		const uint8_t *pix = dfm_dataset_image(j->src, i, &h, &w, &c);
		uint8_t *dst = j->dst + (size_t)i * out * j->c;
		uint8_t *tmp = c == j->c ? dst : j->scratch;

		if (!rs || h != rh || w != rw) {
			dfm_resampler_free(rs);
			rs = dfm_resampler_new(h, w, j->size, j->size, j->antialias);
			rh = h;
			rw = w;
		}
		if (!rs) {
			j->rc = DFM_ERR_NOMEM;
			break;
		}
		dfm_resampler_run(rs, pix, c, tmp);
		if (tmp != dst)
			dfm_convert_channels(tmp, c, dst, j->c, out);
	}
	dfm_resampler_free(rs);
	return NULL;
}

/* Splits the images over up to threads workers; the caller's thread takes
 * the first share. */
static int
resize_all(struct job *base, int threads)
{
	struct job jobs[64];
	pthread_t tid[64];
	int running[64] = {0};
	int64_t n = base->src->n;
	int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads, rc = 0;

	if (n < nt)
		nt = n > 0 ? (int)n : 1;
	for (int t = 0; t < nt; t++) {
		jobs[t] = *base;
		jobs[t].from = n * t / nt;
		jobs[t].to = n * (t + 1) / nt;
		if (!(jobs[t].scratch = malloc((size_t)base->size * base->size * 3)))
			jobs[t].rc = DFM_ERR_NOMEM;
	}
	for (int t = 1; t < nt; t++)
		if (!jobs[t].rc)
			running[t] = pthread_create(&tid[t], NULL, resize_range, &jobs[t]) == 0;
	for (int t = 1; t < nt; t++)
		if (!running[t])
			resize_range(&jobs[t]);
	resize_range(&jobs[0]);
	for (int t = 0; t < nt; t++) {
		if (running[t])
			pthread_join(tid[t], NULL);
		rc = rc ? rc : jobs[t].rc;
		free(jobs[t].scratch);
	}
	return rc;
}

/* The sizes before this resize, when they varied: kept in orig_sizes. */
static int64_t *
original_sizes(const struct dfm_dataset *ds)
{
	int64_t *orig;

	if (ds->orig_sizes || ds->images)
		return NULL;
	if (!(orig = malloc((ds->n + 1) * 2 * sizeof *orig)))
		return NULL;
	for (int64_t i = 0; i < ds->n; i++) {
		orig[2 * i] = ds->shapes[3 * i];
		orig[2 * i + 1] = ds->shapes[3 * i + 1];
	}
	return orig;
}

/* The output artifact, made before the images: its header, labels and
 * original sizes in *buf, and *pix where the resized images go. */
static int
make_output(struct dfm_run *r, const struct dfm_dataset *src, int size, int c, void **buf,
	    size_t *len, uint8_t **pix)
{
	struct dfm_dataset out = *src;
	int64_t *orig = original_sizes(src);
	int rc;

	if (!src->images && !src->orig_sizes && !orig)
		return dfm_fail(r, "out of memory");
	out.h = out.w = size;
	out.c = c;
	out.images = out.pixels = NULL;
	out.shapes = out.offsets = NULL;
	out.npixels = 0;
	if (orig)
		out.orig_sizes = orig;
	rc = dfm_dataset_write_reserved(&out, buf, len, pix);
	free(orig);
	if (rc)
		return dfm_fail(r, "cannot write the dataset: %s", dfm_strerror(rc));
	return 0;
}

/* The images are resized straight into the output artifact. */
static int
resize_run(struct dfm_run *r)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);
	struct dfm_dataset ds;
	struct job job = {0};
	void *buf = NULL;
	size_t len;
	char err[300];
	int size = (int)dfm_int(r, "size"), c = (int)dfm_int(r, "channels"), rc;

	if (c == 2)
		return dfm_fail(r, "channels must be 0, 1 or 3, not 2");
	if (dfm_dataset_open(in->data, in->size, &ds, err, sizeof err))
		return dfm_fail(r, "input '%s' is not a dataset: %s", in->name, err);
	job = (struct job){.src = &ds, .size = size, .c = c ? c : ds.c,
			   .antialias = dfm_bool(r, "antialias")};
	if ((rc = make_output(r, &ds, size, job.c, &buf, &len, &job.dst)))
		goto out;
	if ((rc = resize_all(&job, dfm_threads(r)))) {
		rc = dfm_fail(r, "cannot resize: %s", dfm_strerror(rc));
		goto out;
	}
	rc = dfm_put_owned(r, "data", buf, len);
	buf = NULL;
out:
	free(buf);
	dfm_dataset_close(&ds);
	return rc;
}

static int
resize_describe(const char *output, const void *data, size_t size, void *file)
{
	(void)output;
	return dfm_dataset_describe(data, size, file);
}

const struct dfm_kind dfm_kind_resize = {
	.name = "resize",
	.version = 1,
	.summary = "resize every image of a dataset (bilinear, antialiased) and set "
		   "its channels",
	.params = params,
	.inputs = inputs,
	.outputs = outputs,
	.run = resize_run,
	.describe = resize_describe,
};
