/* features: Inception-v3 pool features (2048-d) and logits of every image
 * of a dataset, for FID and the Inception Score.
 *
 * Each image is scaled to [0, 1], resized bilinearly to size x size (half-
 * pixel centres, as pytorch-fid's F.interpolate), normalised as its weights'
 * variant expects, and run through stages/nn/inception.h in batches.  The
 * weights are a safetensors file named by the "weights" parameter: by
 * default the conversion of nsfwjs' Keras Inception-v3 that "make deps"
 * writes into the data folder; pytorch-fid's standard FID weights once a
 * user converts them (stages/nn/convert_fid_weights.py).  The file's bytes
 * join the instance key, and its "network" label goes into the output, so
 * features of different networks never pass for each other. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages/dataset.h"
#include "stages/nn/inception.h"
#include "stages/nn/safetensors.h"
#include "stages/stage.h"

#define DEFAULT_WEIGHTS "inception-nsfwjs.safetensors"
#define WEIGHTS_HINT "run 'make deps', which converts the nsfwjs weights into the data " \
	"folder, or name a weights file with the 'weights' parameter"

static const struct dfm_param params[] = {
	{"weights", DFM_STR, "", "Inception-v3 weights (safetensors); empty: the nsfwjs "
	 "conversion in the data folder", NULL, 0, 0},
	{"batch", DFM_INT, "16", "images per forward pass", NULL, 1, 256},
	{"size", DFM_INT, "299", "network input side; FID and IS are defined at 299", NULL,
	 DFM_INCEPTION_MIN_SIZE, 1024},
	{0},
};

static const struct dfm_slot inputs[] = {
	{"data", 0, "dataset of fixed-size grey or RGB images"},
	{0},
};

static const struct dfm_output outputs[] = {
	{"features", "safetensors", "F32 features [N, 2048], F32 logits [N, K], I32 labels "
	 "[N], metadata network"},
	{0},
};

/* The weights file: mapped read-only for the length of the run. */
struct weights {
	char *path;
	void *map;
	size_t size;
	struct dfm_st *st;
	enum dfm_inception_variant variant;
	const char *network;
};

static char *
weights_path(struct dfm_run *r)
{
	const char *given = dfm_str(r, "weights");
	char *dir, *p;

	if (*given)
		return strdup(given);
	if (!(dir = dfm_data_dir()))
		return NULL;
	if (asprintf(&p, "%s/%s", dir, DEFAULT_WEIGHTS) < 0)
		p = NULL;
	free(dir);
	return p;
}

static int
features_sources(struct dfm_run *r)
{
	char *path = weights_path(r);
	int rc;

	if (!path)
		return dfm_fail(r, "out of memory");
	rc = dfm_source(r, path, WEIGHTS_HINT);
	free(path);
	return rc;
}

static void
weights_close(struct weights *w)
{
	if (w->st)
		dfm_st_close(w->st);
	if (w->map)
		munmap(w->map, w->size);
	free(w->path);
	memset(w, 0, sizeof *w);
}

static int
weights_map(struct dfm_run *r, struct weights *w)
{
	struct stat sb;
	int fd;

	if ((fd = open(w->path, O_RDONLY | O_CLOEXEC)) < 0)
		return dfm_fail(r, "cannot open weights '%s': %s; %s", w->path, strerror(errno),
				WEIGHTS_HINT);
	if (fstat(fd, &sb) != 0 || sb.st_size < 8) {
		close(fd);
		return dfm_fail(r, "weights '%s' are not a safetensors file", w->path);
	}
	w->size = (size_t)sb.st_size;
	w->map = mmap(NULL, w->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (w->map == MAP_FAILED) {
		w->map = NULL;
		return dfm_fail(r, "cannot map weights '%s': %s", w->path, strerror(errno));
	}
	return 0;
}

/* Opens the weights and reads their variant and label. */
static int
weights_open(struct dfm_run *r, struct weights *w)
{
	char err[256];
	int rc;

	memset(w, 0, sizeof *w);
	if (!(w->path = weights_path(r)))
		return dfm_fail(r, "out of memory");
	if ((rc = weights_map(r, w)))
		return rc;
	if (dfm_st_open(w->map, w->size, &w->st, err, sizeof err) != 0)
		return dfm_fail(r, "weights '%s': %s", w->path, err);
	if (!(w->variant = dfm_inception_variant_of(w->st)))
		return dfm_fail(r, "weights '%s' do not say their variant (metadata 'variant' "
				"must be 'fid' or 'keras'); convert them with the scripts in "
				"stages/nn/", w->path);
	w->network = dfm_st_meta_get(w->st, "network");
	if (!w->network || !*w->network)
		return dfm_fail(r, "weights '%s' have no 'network' label in their metadata",
				w->path);
	return 0;
}

static int
check_dataset(struct dfm_run *r, const struct dfm_dataset *ds)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);

	if (ds->n < 1)
		return dfm_fail(r, "input '%s' holds no images", in->name);
	if (ds->h == 0)
		return dfm_fail(r, "input '%s' has images of different sizes; resize them first",
				in->name);
	if (ds->c != 1 && ds->c != 3)
		return dfm_fail(r, "input '%s' has %d channels; features need grey or RGB",
				in->name, ds->c);
	return 0;
}

/* Everything a run holds. */
struct job {
	struct dfm_dataset ds;
	struct weights w;
	struct dfm_nn_ctx ctx;
	bool have_ctx;
	struct dfm_inception *net;
	int64_t batch, size, nlogits;
	float *x, *bfeat, *blogit;   /* one batch */
	float *feat, *logit;         /* all images */
};

static int
job_alloc(struct dfm_run *r, struct job *j)
{
	size_t per = (size_t)(3 * j->size * j->size);

	j->nlogits = dfm_inception_nlogits(j->net);
	j->x = calloc((size_t)j->batch * per, sizeof *j->x);
	j->bfeat = malloc((size_t)j->batch * DFM_INCEPTION_FEATURES * sizeof *j->bfeat);
	j->blogit = malloc((size_t)(j->batch * j->nlogits) * sizeof *j->blogit);
	j->feat = malloc((size_t)j->ds.n * DFM_INCEPTION_FEATURES * sizeof *j->feat);
	j->logit = malloc((size_t)(j->ds.n * j->nlogits) * sizeof *j->logit);
	if (!j->x || !j->bfeat || !j->blogit || !j->feat || !j->logit)
		return dfm_fail(r, "out of memory for %lld images", (long long)j->ds.n);
	return 0;
}

/* Runs images [i0, i0 + n); a short last batch is padded with zeros so that
 * every batch runs on the one plan. */
static int
run_batch(struct dfm_run *r, struct job *j, int64_t i0, int64_t n)
{
	size_t per = (size_t)(3 * j->size * j->size);
	int h, w, c, rc;

	for (int64_t i = 0; i < n; i++) {
		const uint8_t *img = dfm_dataset_image(&j->ds, i0 + i, &h, &w, &c);

		dfm_inception_input(j->w.variant, img, h, w, c, (int)j->size, j->x + i * per);
	}
	if (n < j->batch)
		memset(j->x + n * per, 0, (size_t)(j->batch - n) * per * sizeof *j->x);
	rc = dfm_inception_forward(j->net, j->x, j->batch, j->size, j->size, j->bfeat,
				   j->blogit);
	if (rc)
		return dfm_fail(r, "%s", dfm_nn_errmsg());
	memcpy(j->feat + i0 * DFM_INCEPTION_FEATURES, j->bfeat,
	       (size_t)n * DFM_INCEPTION_FEATURES * sizeof *j->feat);
	memcpy(j->logit + i0 * j->nlogits, j->blogit, (size_t)(n * j->nlogits) * sizeof *j->logit);
	return 0;
}

static int
put_output(struct dfm_run *r, struct job *j)
{
	int64_t fshape[2] = {j->ds.n, DFM_INCEPTION_FEATURES}, lshape[2] = {j->ds.n, j->nlogits};
	int64_t yshape[1] = {j->ds.n};
	struct dfm_st_writer *wr = dfm_st_writer_new();
	char size[24];
	void *out;
	size_t len;

	snprintf(size, sizeof size, "%lld", (long long)j->size);
	if (!wr || dfm_st_add(wr, "features", DFM_F32, 2, fshape, j->feat) ||
	    dfm_st_add(wr, "logits", DFM_F32, 2, lshape, j->logit) ||
	    dfm_st_add(wr, "labels", DFM_I32, 1, yshape, j->ds.labels) ||
	    dfm_st_meta(wr, "network", j->w.network) ||
	    dfm_st_meta(wr, "variant", j->w.variant == DFM_INCEPTION_FID ? "fid" : "keras") ||
	    dfm_st_meta(wr, "input_size", size) ||
	    dfm_st_meta(wr, "resize", "bilinear, half-pixel centres, no antialiasing")) {
		dfm_st_writer_free(wr);
		return dfm_fail(r, "out of memory");
	}
	if (dfm_st_writer_finish(wr, &out, &len))
		return dfm_fail(r, "out of memory");
	return dfm_put_owned(r, "features", out, len);
}

static void
job_free(struct job *j)
{
	dfm_inception_free(j->net);
	if (j->have_ctx)
		dfm_nn_ctx_free(&j->ctx);
	weights_close(&j->w);
	dfm_dataset_close(&j->ds);
	free(j->x);
	free(j->bfeat);
	free(j->blogit);
	free(j->feat);
	free(j->logit);
}

static int
job_open(struct dfm_run *r, struct job *j)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);
	char err[256];
	int rc;

	if (dfm_dataset_open(in->data, in->size, &j->ds, err, sizeof err) != 0)
		return dfm_fail(r, "input '%s' is not a dataset: %s", in->name, err);
	if ((rc = check_dataset(r, &j->ds)) || (rc = weights_open(r, &j->w)))
		return rc;
	if (dfm_nn_ctx_init(&j->ctx, dfm_threads(r)) != 0)
		return dfm_fail(r, "%s", dfm_nn_errmsg());
	j->have_ctx = true;
	if (dfm_inception_new(&j->ctx, j->w.variant, j->w.st, &j->net) != 0)
		return dfm_fail(r, "weights '%s': %s", j->w.path, dfm_nn_errmsg());
	j->size = dfm_int(r, "size");
	j->batch = dfm_int(r, "batch");
	if (j->batch > j->ds.n)
		j->batch = j->ds.n;
	return job_alloc(r, j);
}

static int
features_run(struct dfm_run *r)
{
	struct job j;
	int rc;

	memset(&j, 0, sizeof j);
	if ((rc = job_open(r, &j)))
		goto out;
	dfm_note(r, "%lld images at %lld x %lld, batches of %lld, %s", (long long)j.ds.n,
		 (long long)j.size, (long long)j.size, (long long)j.batch, j.w.network);
	for (int64_t i = 0; i < j.ds.n && !rc; i += j.batch) {
		int64_t n = j.ds.n - i < j.batch ? j.ds.n - i : j.batch;

		rc = run_batch(r, &j, i, n);
		dfm_progress(r, (double)(i + n), (double)j.ds.n);
	}
	if (!rc)
		rc = put_output(r, &j);
out:
	job_free(&j);
	return rc;
}

/* "dfmake show": sizes, the network label and the input convention. */
static int
features_describe(const char *output, const void *data, size_t size, void *file)
{
	const struct dfm_tensor *feat, *logit;
	const char *network, *input_size;
	struct dfm_st *st;

	(void)output;
	if (dfm_st_open(data, size, &st, NULL, 0) != 0)
		return DFM_ERR_FORMAT;
	feat = dfm_st_get(st, "features");
	logit = dfm_st_get(st, "logits");
	network = dfm_st_meta_get(st, "network");
	input_size = dfm_st_meta_get(st, "input_size");
	if (!feat || feat->ndim != 2 || !logit || logit->ndim != 2) {
		dfm_st_close(st);
		return DFM_ERR_FORMAT;
	}
	fprintf(file, "%lld images: %lld features, %lld logits each\n",
		(long long)feat->shape[0], (long long)feat->shape[1], (long long)logit->shape[1]);
	fprintf(file, "network: %s\n", network ? network : "(unlabelled)");
	fprintf(file, "input: %s x %s, %s\n", input_size ? input_size : "?",
		input_size ? input_size : "?", dfm_st_meta_get(st, "resize") ?
		dfm_st_meta_get(st, "resize") : "unknown resize");
	dfm_st_close(st);
	return 0;
}

const struct dfm_kind dfm_kind_features = {
	.name = "features",
	.version = 1,
	.summary = "Inception-v3 pool features and logits of a dataset",
	.params = params,
	.inputs = inputs,
	.outputs = outputs,
	.run = features_run,
	.sources = features_sources,
	.describe = features_describe,
};
