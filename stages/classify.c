/* classify: the class logits of a dataset under a classifier trained by
 * is-classifier, as a features artifact ("logits" [N, K], "labels" [N])
 * that inception-score reads.  The artifact's network label says what made
 * the logits, so every score taken from it says so too. */
#include <stdlib.h>
#include <string.h>

#include "stages/dataset.h"
#include "stages/nn/resnet.h"
#include "stages/nn/safetensors.h"
#include "stages/stage.h"

#define NETWORK "ResNet-18 trained on the target's training set; not comparable " \
	"to published Inception Scores"

static const struct dfm_param params[] = {
	{"batch", DFM_INT, "256", "images per forward pass", NULL, 1, 4096},
	{0},
};

static const struct dfm_slot inputs[] = {
	{"weights", 0, "an is-classifier's weights"},
	{"data", 0, "images of the classifier's size, RGB"},
	{0},
};

static const struct dfm_output outputs[] = {
	{"features", "safetensors", "F32 logits [N, K], I32 labels [N], metadata network"},
	{0},
};

struct job {
	struct dfm_dataset ds;
	struct dfm_st *st;
	struct dfm_nn_ctx ctx;
	struct dfm_resnet net;
	struct dfm_nn_tensor x;
	float *logits;
	bool have_ctx, have_net;
};

/* The network's shape is read off its weights: fc.weight is
 * (classes, 8 x width). */
static int
build(struct dfm_run *r, struct job *j)
{
	const struct dfm_blob *w = dfm_input(r, "weights", 0);
	const struct dfm_tensor *fc;
	struct dfm_resnet_config cfg = {0};
	char err[256];

	if (dfm_st_open(w->data, w->size, &j->st, err, sizeof err))
		return dfm_fail(r, "input '%s' is not a weights file: %s", w->name, err);
	fc = dfm_st_get(j->st, "fc.weight");
	if (!fc || fc->ndim != 2 || fc->shape[0] < 2 || fc->shape[1] % 8)
		return dfm_fail(r, "input '%s' holds no ResNet-18 classifier", w->name);
	cfg.nclass = (int)fc->shape[0];
	cfg.width = (int)(fc->shape[1] / 8);
	if (!(j->have_ctx = dfm_nn_ctx_init(&j->ctx, dfm_threads(r)) == 0) ||
	    !(j->have_net = dfm_resnet_init(&j->net, &cfg) == 0) ||
	    dfm_nn_state_load(&j->net.state, j->st, "", false))
		return dfm_fail(r, "cannot load the classifier '%s': %s", w->name,
				dfm_nn_errmsg());
	return 0;
}

static int
forward(struct dfm_run *r, struct job *j)
{
	int64_t batch = dfm_int(r, "batch"), k = j->net.cfg.nclass;
	int64_t pix = (int64_t)j->ds.h * j->ds.w * 3;

	for (int64_t at = 0; at < j->ds.n; at += batch) {
		int64_t nb = j->ds.n - at < batch ? j->ds.n - at : batch;
		const uint8_t *src = j->ds.images + at * pix;

		if (dfm_nn_tensor_shape(&j->x, nb, 3, j->ds.h, j->ds.w))
			return dfm_fail(r, "%s", dfm_nn_errmsg());
		for (int64_t i = 0; i < nb * pix; i++)
			j->x.data[i] = src[i] / 127.5f - 1.0f;
		if (dfm_resnet_forward(&j->ctx, &j->net, &j->x, false))
			return dfm_fail(r, "classifying failed: %s", dfm_nn_errmsg());
		memcpy(j->logits + at * k, j->net.logits.data, (size_t)(nb * k) * sizeof *j->logits);
		dfm_progress(r, (double)(at + nb), (double)j->ds.n);
	}
	return 0;
}

static int
put_features(struct dfm_run *r, struct job *j)
{
	struct dfm_st_writer *wr = dfm_st_writer_new();
	int64_t lshape[2] = {j->ds.n, j->net.cfg.nclass}, yshape[1] = {j->ds.n};
	void *out;
	size_t len;

	if (!wr || dfm_st_add(wr, "logits", DFM_F32, 2, lshape, j->logits) ||
	    dfm_st_add(wr, "labels", DFM_I32, 1, yshape, j->ds.labels) ||
	    dfm_st_meta(wr, "network", NETWORK) || dfm_st_writer_finish(wr, &out, &len)) {
		if (wr)
			dfm_st_writer_free(wr);
		return dfm_fail(r, "out of memory");
	}
	return dfm_put_owned(r, "features", out, len);
}

static int
classify_run(struct dfm_run *r)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);
	struct job j = {0};
	char err[256];
	int rc;

	if (dfm_dataset_open(in->data, in->size, &j.ds, err, sizeof err)) {
		rc = dfm_fail(r, "input '%s' is not a dataset: %s", in->name, err);
		goto out;
	}
	if ((rc = build(r, &j)))
		goto out;
	if (!j.ds.images || j.ds.c != 3 || j.ds.n < 1) {
		rc = dfm_fail(r, "input '%s' must hold RGB images of one size", in->name);
		goto out;
	}
	if (!(j.logits = malloc((size_t)(j.ds.n * j.net.cfg.nclass) * sizeof *j.logits))) {
		rc = dfm_fail(r, "out of memory");
		goto out;
	}
	if (!(rc = forward(r, &j)))
		rc = put_features(r, &j);
out:
	dfm_nn_tensor_free(&j.x);
	if (j.have_net)
		dfm_resnet_free(&j.net);
	if (j.have_ctx)
		dfm_nn_ctx_free(&j.ctx);
	dfm_st_close(j.st);
	dfm_dataset_close(&j.ds);
	free(j.logits);
	return rc;
}

const struct dfm_kind dfm_kind_classify = {
	.name = "classify",
	.version = 1,
	.summary = "class logits of a dataset under an is-classifier, for the Inception Score",
	.params = params,
	.inputs = inputs,
	.outputs = outputs,
	.run = classify_run,
};
