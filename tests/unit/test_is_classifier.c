/* The offline Inception-Score pipeline: is-classifier learns an easy
 * two-class set, classify gives its logits, and the score of a balanced,
 * confidently classified set comes out near two, labelled as not
 * comparable to published scores. */
#include <json-c/json.h>
#include <stdlib.h>

#include "engine/run.h"
#include "stages/nn/safetensors.h"
#include "tests/unit/test.h"

enum { N = 256, S = 16 };

/* Dark images with a bright blob are class 0, bright ones with a dark
 * blob class 1, with noise so no two are alike. */
static void *
two_class_set(size_t *size)
{
	static uint8_t img[N * S * S * 3];
	static int32_t lab[N];
	struct dfm_st_writer *w = dfm_st_writer_new();
	int64_t ishape[4] = {N, S, S, 3}, lshape[1] = {N};
	uint32_t x = 12345;
	void *out = NULL;

	for (int i = 0; i < N; i++) {
		lab[i] = i % 2;
		for (int p = 0; p < S * S * 3; p++) {
			int y = p / (S * 3), xx = (p / 3) % S;
			int blob = (y - S / 2) * (y - S / 2) + (xx - S / 2) * (xx - S / 2) < 16;
			int base = (lab[i] ? 200 : 40) + (blob ? (lab[i] ? -120 : 120) : 0);

			x = x * 1664525u + 1013904223u;
			img[i * S * S * 3 + p] = (uint8_t)(base + (int)(x >> 27) - 16);
		}
	}
	if (!w || dfm_st_add(w, "images", DFM_U8, 4, ishape, img) ||
	    dfm_st_add(w, "labels", DFM_I32, 1, lshape, lab) ||
	    dfm_st_meta(w, "classes", "[\"dark\", \"bright\"]") ||
	    dfm_st_meta(w, "source", "test") || dfm_st_writer_finish(w, &out, size))
		return NULL;
	return out;
}

static struct dfm_run *
run(const char *kind, const char *const *kv, const char *const *slots,
    const void *const *data, const size_t *sizes, int ninputs)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find(kind), kind);
	char err[200];

	for (int i = 0; kv[i]; i += 2)
		CHECK_INT(dfm_run_param(r, kv[i], kv[i + 1], err, sizeof err), 0);
	for (int i = 0; i < ninputs; i++)
		dfm_run_input(r, slots[i], data[i], sizes[i], slots[i]);
	dfm_run_set_threads(r, 2);
	if (dfm_run_exec(r))
		fprintf(stderr, "  %s: %s\n", kind, dfm_run_failure(r));
	return r;
}

TEST(is_classifier_scores_an_easy_set_near_two)
{
	static const char *const train[] = {"width", "4", "epochs", "12", "batch", "32", NULL};
	static const char *const none[] = {NULL};
	size_t size, wsize, fsize, rsize;
	void *set = two_class_set(&size);
	struct dfm_run *t, *c, *is;
	const void *weights, *report, *feats, *result;
	json_object *o, *v;

	CHECK(set != NULL);
	t = run("is-classifier", train, (const char *[]){"data"}, (const void *[]){set},
		(size_t[]){size}, 1);
	weights = dfm_run_output(t, "weights", &wsize);
	report = dfm_run_output(t, "report", &rsize);
	CHECK(weights && report);
	if (!weights || !report)
		goto out_t;
	{
		char *text = strndup(report, rsize);   /* artifacts are not strings */

		o = json_tokener_parse(text);
		CHECK(json_object_object_get_ex(o, "last_epoch_accuracy", &v) &&
		      json_object_get_double(v) > 0.9);
		json_object_put(o);
		free(text);
	}

	c = run("classify", none, (const char *[]){"weights", "data"},
		(const void *[]){weights, set}, (size_t[]){wsize, size}, 2);
	feats = dfm_run_output(c, "features", &fsize);
	CHECK(feats != NULL);
	if (!feats)
		goto out_c;
	is = run("inception-score", (const char *[]){"splits", "2", NULL},
		 (const char *[]){"features"}, (const void *[]){feats}, (size_t[]){fsize}, 1);
	result = dfm_run_output(is, "result", &rsize);
	CHECK(result != NULL);
	if (result) {
		char *text = strndup(result, rsize);

		o = json_tokener_parse(text);
		CHECK(json_object_object_get_ex(o, "mean", &v) &&
		      json_object_get_double(v) > 1.8 && json_object_get_double(v) <= 2.0 + 1e-9);
		CHECK(json_object_object_get_ex(o, "network", &v) &&
		      strstr(json_object_get_string(v), "not comparable"));
		json_object_put(o);
		free(text);
	}
	dfm_run_free(is);
out_c:
	dfm_run_free(c);
out_t:
	dfm_run_free(t);
	free(set);
}

TEST(is_classifier_refuses_a_single_class)
{
	static const char *const train[] = {"batch", "8", NULL};
	static uint8_t img[16 * 8 * 8 * 3];
	static int32_t lab[16];
	struct dfm_st_writer *w = dfm_st_writer_new();
	int64_t ishape[4] = {16, 8, 8, 3}, lshape[1] = {16};
	void *set;
	size_t size;
	struct dfm_run *r;
	size_t wsize;

	dfm_st_add(w, "images", DFM_U8, 4, ishape, img);
	dfm_st_add(w, "labels", DFM_I32, 1, lshape, lab);
	dfm_st_meta(w, "classes", "[\"only\"]");
	CHECK_INT(dfm_st_writer_finish(w, &set, &size), 0);
	r = run("is-classifier", train, (const char *[]){"data"}, (const void *[]){set},
		(size_t[]){size}, 1);
	CHECK(dfm_run_output(r, "weights", &wsize) == NULL);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), "two or more"));
	dfm_run_free(r);
	free(set);
}
