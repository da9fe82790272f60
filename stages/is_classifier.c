/* is-classifier: the offline stand-in for the Inception network of the
 * Inception Score.  No package ships an ImageNet classifier, so the score
 * of generated target images is taken with a ResNet-18 (CIFAR stem) trained
 * on the target's full training set; "classify" applies it.  Scores made
 * this way say so and are not comparable to published Inception Scores. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "stages/dataset.h"
#include "stages/nn/resnet.h"
#include "stages/nn/rng.h"
#include "stages/stage.h"

static const struct dfm_param params[] = {
	{"width", DFM_INT, "16", "channels of the first stage (64 in the paper's ResNet-18)",
	 NULL, 4, 64},
	{"epochs", DFM_INT, "3", "passes over the training set", NULL, 1, 1000},
	{"batch", DFM_INT, "128", "images per step", NULL, 8, 1024},
	{"lr", DFM_FLOAT, "0.001", "Adam learning rate, falling linearly to 0", NULL, 1e-6, 1},
	{"seed", DFM_INT, "1", "seed of the initial weights and the batch order", NULL, 0, 0},
	{0},
};

static const struct dfm_slot inputs[] = {
	{"data", 0, "the target's training set: 32 x 32 RGB, fixed size"},
	{0},
};

static const struct dfm_output outputs[] = {
	{"weights", "safetensors", "the classifier's state under torchvision's names"},
	{"report", "json", "classes, width, steps, loss and accuracy of the last epoch"},
	{0},
};

struct trainer {
	struct dfm_dataset ds;
	struct dfm_nn_ctx ctx;
	struct dfm_resnet net;
	struct dfm_nn_tensor x;
	int32_t *labels, *order;
	int64_t batch, steps;
	bool have_ctx, have_net;
};

/* Pixels to [-1, 1], batch rows picked by order. */
static int
fill_batch(struct trainer *t, const int32_t *rows)
{
	int64_t pix = (int64_t)t->ds.h * t->ds.w * 3;
	int rc = dfm_nn_tensor_shape(&t->x, t->batch, 3, t->ds.h, t->ds.w);

	if (rc)
		return rc;
	for (int64_t b = 0; b < t->batch; b++) {
		const uint8_t *src = t->ds.images + (int64_t)rows[b] * pix;

		for (int64_t k = 0; k < pix; k++)
			t->x.data[b * pix + k] = src[k] / 127.5f - 1.0f;
		t->labels[b] = t->ds.labels[rows[b]];
	}
	return 0;
}

/* A seeded permutation of the rows for one epoch. */
static void
shuffle(int32_t *order, int64_t n, uint64_t seed, int64_t epoch)
{
	uint64_t stream = dfm_nn_rng_stream("is-classifier order");

	for (int64_t i = 0; i < n; i++)
		order[i] = (int32_t)i;
	for (int64_t i = n - 1; i > 0; i--) {
		uint64_t bits = dfm_nn_rng_bits(seed, stream, (uint64_t)(epoch * n + i));
		int64_t j = (int64_t)(bits % (uint64_t)(i + 1));
		int32_t tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
}

static int
count_right(const struct trainer *t)
{
	int right = 0;
	int64_t k = t->net.logits.dims[1];

	for (int64_t b = 0; b < t->batch; b++) {
		const float *row = t->net.logits.data + b * k;
		int64_t best = 0;

		for (int64_t c = 1; c < k; c++)
			if (row[c] > row[best])
				best = c;
		right += best == t->labels[b];
	}
	return right;
}

static int
train(struct dfm_run *r, struct trainer *t, double *loss, double *accuracy)
{
	int64_t epochs = dfm_int(r, "epochs"), per_epoch = t->ds.n / t->batch;
	struct dfm_nn_adam adam = dfm_nn_adam_make((float)dfm_float(r, "lr"), 0.9f, 0.999f);
	int64_t right = 0, seen = 0;
	int rc = 0;

	adam.decay_steps = epochs * per_epoch;
	for (int64_t e = 0; e < epochs && !rc; e++) {
		double sum = 0;

		right = seen = 0;
		shuffle(t->order, t->ds.n, (uint64_t)dfm_int(r, "seed"), e);
		for (int64_t s = 0; s < per_epoch && !rc; s++) {
			double l;

			rc = fill_batch(t, t->order + s * t->batch);
			if (!rc)
				rc = dfm_resnet_train_step(&t->ctx, &t->net, &adam, &t->x, t->labels, &l);
			if (rc)
				break;
			sum += l;
			right += count_right(t);
			seen += t->batch;
			t->steps++;
			dfm_progress(r, (double)t->steps, (double)(epochs * per_epoch));
		}
		*loss = sum / (double)per_epoch;
		dfm_note(r, "epoch %lld: loss %.4f, training accuracy %.4f", (long long)e + 1,
			 *loss, seen ? (double)right / (double)seen : 0);
	}
	*accuracy = seen ? (double)right / (double)seen : 0;
	return rc ? dfm_fail(r, "training failed: %s", dfm_nn_errmsg()) : 0;
}

static int
put_report(struct dfm_run *r, const struct trainer *t, double loss, double accuracy)
{
	json_object *o = json_object_new_object();
	const char *text;
	int rc;

	json_object_object_add(o, "classes", json_object_new_int(t->ds.nclasses));
	json_object_object_add(o, "width", json_object_new_int((int)dfm_int(r, "width")));
	json_object_object_add(o, "steps", json_object_new_int64(t->steps));
	json_object_object_add(o, "last_epoch_loss", json_object_new_double(loss));
	json_object_object_add(o, "last_epoch_accuracy", json_object_new_double(accuracy));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	rc = dfm_put(r, "report", text, strlen(text));
	json_object_put(o);
	return rc;
}

static int
check_input(struct dfm_run *r, struct trainer *t)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);
	char err[256];

	if (dfm_dataset_open(in->data, in->size, &t->ds, err, sizeof err))
		return dfm_fail(r, "input '%s' is not a dataset: %s", in->name, err);
	if (!t->ds.images || t->ds.c != 3 || t->ds.h < 8 || t->ds.h != t->ds.w)
		return dfm_fail(r, "input '%s' must hold square RGB images of one size "
				"(resize it with channels: 3)", in->name);
	if (t->ds.nclasses < 2)
		return dfm_fail(r, "input '%s' has %d class; a classifier needs two or more",
				in->name, t->ds.nclasses);
	t->batch = dfm_int(r, "batch");
	if (t->ds.n < t->batch)
		return dfm_fail(r, "input '%s' has %lld images, fewer than one batch of %lld",
				in->name, (long long)t->ds.n, (long long)t->batch);
	return 0;
}

static int
is_classifier_run(struct dfm_run *r)
{
	struct trainer t = {0};
	struct dfm_resnet_config cfg = {0};
	double loss = 0, accuracy = 0;
	void *weights = NULL;
	size_t size;
	int rc;

	if ((rc = check_input(r, &t)))
		goto out;
	cfg = (struct dfm_resnet_config){t.ds.nclasses, (int)dfm_int(r, "width"), false,
					 (uint64_t)dfm_int(r, "seed")};
	t.labels = calloc((size_t)t.batch, sizeof *t.labels);
	t.order = calloc((size_t)t.ds.n, sizeof *t.order);
	if (!t.labels || !t.order) {
		rc = dfm_fail(r, "out of memory");
		goto out;
	}
	if (!(t.have_ctx = dfm_nn_ctx_init(&t.ctx, dfm_threads(r)) == 0) ||
	    !(t.have_net = dfm_resnet_init(&t.net, &cfg) == 0)) {
		rc = dfm_fail(r, "cannot build the classifier: %s", dfm_nn_errmsg());
		goto out;
	}
	if ((rc = train(r, &t, &loss, &accuracy)))
		goto out;
	if (dfm_nn_state_save(&t.net.state, &weights, &size)) {
		rc = dfm_fail(r, "cannot save the weights: %s", dfm_nn_errmsg());
		goto out;
	}
	if (!(rc = dfm_put_owned(r, "weights", weights, size)))
		rc = put_report(r, &t, loss, accuracy);
out:
	dfm_nn_tensor_free(&t.x);
	if (t.have_net)
		dfm_resnet_free(&t.net);
	if (t.have_ctx)
		dfm_nn_ctx_free(&t.ctx);
	dfm_dataset_close(&t.ds);
	free(t.labels);
	free(t.order);
	return rc;
}

const struct dfm_kind dfm_kind_is_classifier = {
	.name = "is-classifier",
	.version = 1,
	.summary = "trains the ResNet-18 that stands in for Inception in offline Inception Scores",
	.params = params,
	.inputs = inputs,
	.outputs = outputs,
	.run = is_classifier_run,
};
