#include <stdlib.h>

#include "engine/run.h"
#include "tests/unit/metrics_fixture.h"
#include "tests/unit/test.h"

/* Runs fid on two artifacts; returns the exec result and the run. */
static int
run_fid(const void *a, size_t na, const void *b, size_t nb, struct dfm_run **out)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("fid"), "fid[test]");

	*out = r;
	if (!r)
		return -1;
	dfm_run_set_threads(r, 2);
	dfm_run_input(r, "a", a, na, "feat[set=a].features");
	dfm_run_input(r, "b", b, nb, "feat[set=b].features");
	return dfm_run_exec(r);
}

static void
check_parity(const char *name, const char *factor)
{
	char fa[100], fb[100];
	size_t na = 0, nb = 0;
	void *a, *b;
	struct dfm_run *r;
	json_object *res;
	double want = mf_number(mf_reference(), name, "fid", NULL);

	snprintf(fa, sizeof fa, "%s_a.safetensors", name);
	snprintf(fb, sizeof fb, "%s_b.safetensors", name);
	a = mf_load(fa, &na);
	b = mf_load(fb, &nb);
	CHECK_INT(run_fid(a, na, b, nb, &r), 0);
	res = mf_output_json(r, "result");
	CHECK(res != NULL);
	CHECK(want > 0);
	CHECK(fabs(mf_number(res, "fid", NULL, NULL) - want) <= 1e-6 * want);
	CHECK_INT(mf_number(res, "n_a", NULL, NULL), mf_number(mf_reference(), name, "n_a", NULL));
	CHECK_INT(mf_number(res, "n_b", NULL, NULL), mf_number(mf_reference(), name, "n_b", NULL));
	CHECK_INT(mf_number(res, "dims", NULL, NULL), 64);
	CHECK_STR(json_object_get_string(json_object_object_get(res, "network")),
		  "parity test features");
	CHECK_STR(json_object_get_string(json_object_object_get(res, "factor")), factor);
	json_object_put(res);
	dfm_run_free(r);
	free(a);
	free(b);
}

TEST(metrics_fid_parity_random)
{
	check_parity("fid_random", "cholesky");
}

TEST(metrics_fid_parity_correlated)
{
	check_parity("fid_corr", "cholesky");
}

/* Constant columns: singular covariances despite many samples, so the
 * Cholesky factorisation fails and the eigen factor takes over. */
TEST(metrics_fid_parity_dead_units)
{
	check_parity("fid_dead", "eigen");
}

/* Real features: scikit-learn's digit pixels, 0-4 against 5-9, with the
 * blank border pixels making both covariances singular. */
TEST(metrics_fid_parity_real_digits)
{
	check_parity("fid_digits", "eigen");
}

/* Fewer samples than dimensions: still exact, but warned about. */
TEST(metrics_fid_parity_few_samples_warns)
{
	size_t na = 0, nb = 0;
	void *a = mf_load("fid_few_a.safetensors", &na), *b = mf_load("fid_few_b.safetensors", &nb);
	struct dfm_run *r;
	json_object *res, *warn;
	double want = mf_number(mf_reference(), "fid_few", "fid", NULL);

	CHECK_INT(run_fid(a, na, b, nb, &r), 0);
	res = mf_output_json(r, "result");
	CHECK(res && fabs(mf_number(res, "fid", NULL, NULL) - want) <= 1e-6 * want);
	CHECK_STR(json_object_get_string(json_object_object_get(res, "factor")), "eigen");
	warn = res ? json_object_object_get(res, "warnings") : NULL;
	CHECK_INT(warn ? json_object_array_length(warn) : 0, 2);
	CHECK(warn && strstr(json_object_get_string(json_object_array_get_idx(warn, 0)),
			     "40 samples for 64 feature dimensions"));
	CHECK(strstr(dfm_run_log(r), "warning:") != NULL);
	json_object_put(res);
	dfm_run_free(r);
	free(a);
	free(b);
}

/* Enough samples: no warning, and a set against itself is at distance 0. */
TEST(metrics_fid_self_is_zero)
{
	size_t na = 0;
	void *a = mf_load("fid_corr_a.safetensors", &na);
	struct dfm_run *r;
	json_object *res;

	CHECK_INT(run_fid(a, na, a, na, &r), 0);
	res = mf_output_json(r, "result");
	CHECK(res && fabs(mf_number(res, "fid", NULL, NULL)) < 1e-8);
	CHECK(res && json_object_array_length(json_object_object_get(res, "warnings")) == 0);
	json_object_put(res);
	dfm_run_free(r);
	free(a);
}

static void
check_rejected(const float *fa, int64_t n_a, int64_t d_a, const char *net_a,
	       const float *fb, int64_t n_b, int64_t d_b, const char *net_b,
	       const char *message)
{
	size_t na = 0, nb = 0, size;
	void *a = mf_features("features", fa, n_a, d_a, net_a, &na);
	void *b = mf_features("features", fb, n_b, d_b, net_b, &nb);
	struct dfm_run *r;

	CHECK(a && b);
	CHECK(run_fid(a, na, b, nb, &r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), message));
	if (dfm_run_failure(r) && !strstr(dfm_run_failure(r), message))
		fprintf(stderr, "  failure: %s\n", dfm_run_failure(r));
	CHECK(dfm_run_output(r, "result", &size) == NULL);
	dfm_run_free(r);
	free(a);
	free(b);
}

static float *
random_features(int64_t n, int64_t d, unsigned seed)
{
	float *f = malloc((size_t)(n * d) * sizeof *f);

	srand(seed);
	for (int64_t k = 0; f && k < n * d; k++)
		f[k] = (float)rand() / RAND_MAX;
	return f;
}

TEST(metrics_fid_rejects_bad_input)
{
	float *f = random_features(20, 8, 1), *g = random_features(20, 8, 2);

	check_rejected(f, 1, 8, "net", g, 20, 8, "net", "needs at least 2");
	check_rejected(f, 20, 8, "net", g, 0, 8, "net", "needs at least 2");
	check_rejected(f, 20, 8, "net", g, 10, 16, "net", "feature dimensions differ");
	check_rejected(f, 20, 8, "net one", g, 20, 8, "net two", "different networks");
	g[37] = NAN;
	check_rejected(f, 20, 8, "net", g, 20, 8, "net", "non-finite value at row 4, column 5");
	g[37] = INFINITY;
	check_rejected(f, 20, 8, "net", g, 20, 8, "net", "non-finite");
	free(f);
	free(g);
}

TEST(metrics_fid_rejects_wrong_tensor)
{
	float *f = random_features(20, 8, 3);
	size_t na = 0, nb = 0, size;
	void *a = mf_features("features", f, 20, 8, "net", &na);
	void *b = mf_features("logits", f, 20, 8, "net", &nb);
	struct dfm_run *r;

	CHECK(run_fid(a, na, b, nb, &r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), "no tensor 'features'"));
	CHECK(dfm_run_output(r, "result", &size) == NULL);
	dfm_run_free(r);
	CHECK(run_fid(a, na, "garbage", 7, &r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), "not a safetensors"));
	dfm_run_free(r);
	free(a);
	free(b);
	free(f);
}
