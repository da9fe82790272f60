#include <stdlib.h>

#include "engine/run.h"
#include "tests/unit/metrics_fixture.h"
#include "tests/unit/test.h"

static int
run_is(const void *a, size_t na, const char *input, const char *splits, struct dfm_run **out)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("inception-score"), "is[test]");
	char err[200];

	*out = r;
	if (!r)
		return -1;
	if (input && dfm_run_param(r, "input", input, err, sizeof err))
		return -1;
	if (splits && dfm_run_param(r, "splits", splits, err, sizeof err))
		return -1;
	dfm_run_input(r, "features", a, na, "feat[set=gen].features");
	return dfm_run_exec(r);
}

static void
check_parity(const char *input, const char *mean_key, const char *std_key)
{
	size_t na = 0;
	void *a = mf_load("is_logits.safetensors", &na);
	struct dfm_run *r;
	json_object *res;
	double mean = mf_number(mf_reference(), "is", mean_key, NULL);
	double std = mf_number(mf_reference(), "is", std_key, NULL);

	CHECK_INT(run_is(a, na, input, NULL, &r), 0);
	res = mf_output_json(r, "result");
	CHECK(res != NULL);
	CHECK(mean > 1 && std > 0);
	CHECK_NEAR(mf_number(res, "mean", NULL, NULL), mean, 1e-6);
	CHECK_NEAR(mf_number(res, "std", NULL, NULL), std, 1e-6);
	CHECK_INT(mf_number(res, "splits", NULL, NULL), 10);
	CHECK_INT(mf_number(res, "n", NULL, NULL), 500);
	CHECK_STR(json_object_get_string(json_object_object_get(res, "network")),
		  "parity test logits");
	json_object_put(res);
	dfm_run_free(r);
	free(a);
}

TEST(metrics_is_parity_logits)
{
	check_parity(NULL, "mean", "std");
}

TEST(metrics_is_parity_probs)
{
	check_parity("probs", "probs_mean", "probs_std");
}

/* Certain, evenly spread predictions score the number of classes; equal
 * predictions score 1, whatever the logits' size. */
TEST(metrics_is_extremes)
{
	enum { N = 40, K = 4 };
	float sure[N * K], flat[N * K];
	size_t ns = 0, nf = 0;
	void *a, *b;
	struct dfm_run *r;
	json_object *res;

	for (int i = 0; i < N * K; i++) {
		sure[i] = (i % K == (i / K) % K) ? 200.0f : -200.0f;
		flat[i] = 1000.0f;
	}
	a = mf_features("logits", sure, N, K, "net", &ns);
	b = mf_features("logits", flat, N, K, "net", &nf);
	CHECK_INT(run_is(a, ns, NULL, "2", &r), 0);
	res = mf_output_json(r, "result");
	CHECK_NEAR(mf_number(res, "mean", NULL, NULL), K, 1e-12);
	CHECK_NEAR(mf_number(res, "std", NULL, NULL), 0, 1e-12);
	json_object_put(res);
	dfm_run_free(r);
	CHECK_INT(run_is(b, nf, NULL, "2", &r), 0);
	res = mf_output_json(r, "result");
	CHECK_NEAR(mf_number(res, "mean", NULL, NULL), 1, 1e-12);
	json_object_put(res);
	dfm_run_free(r);
	free(a);
	free(b);
}

static void
check_rejected(const char *tensor, const float *data, int64_t n, int64_t k,
	       const char *input, const char *message)
{
	size_t na = 0, size;
	void *a = mf_features(tensor, data, n, k, "net", &na);
	struct dfm_run *r;

	CHECK(a != NULL);
	CHECK(run_is(a, na, input, NULL, &r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), message));
	CHECK(dfm_run_output(r, "result", &size) == NULL);
	dfm_run_free(r);
	free(a);
}

TEST(metrics_is_rejects_bad_input)
{
	float v[60 * 3];

	for (int i = 0; i < 60 * 3; i++)
		v[i] = 1.0f / 3;
	check_rejected("logits", v, 9, 3, NULL, "fewer than the 10 splits");
	check_rejected("logits", v, 60, 1, NULL, "at least 2");
	check_rejected("logits", v, 60, 3, "probs", "no tensor 'probs'");
	v[4] = NAN;
	check_rejected("logits", v, 60, 3, NULL, "non-finite");
	v[4] = 0.5f;
	check_rejected("probs", v, 60, 3, "probs", "row 1 sums to");
	v[4] = -0.1f;
	check_rejected("probs", v, 60, 3, "probs", "negative");
}
