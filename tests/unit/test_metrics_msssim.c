#include <stdlib.h>

#include "engine/run.h"
#include "stages/nn/safetensors.h"
#include "tests/unit/metrics_fixture.h"
#include "tests/unit/test.h"

/* Runs ms-ssim with params given as "name=value" strings, NULL-ended. */
static int
run_ms(const void *data, size_t size, int threads, const char **params,
       struct dfm_run **out)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("ms-ssim"), "ms-ssim[test]");
	char err[200], name[64];

	*out = r;
	if (!r)
		return -1;
	for (const char **p = params; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		snprintf(name, sizeof name, "%.*s", (int)(eq - *p), *p);
		if (dfm_run_param(r, name, eq + 1, err, sizeof err))
			return -1;
	}
	dfm_run_set_threads(r, threads);
	dfm_run_input(r, "data", data, size, "resize[src=test].data");
	return dfm_run_exec(r);
}

/* The mean of a run, or NAN when it failed. */
static double
ms_mean(const void *data, size_t size, int threads, const char **params)
{
	struct dfm_run *r;
	json_object *res;
	double mean = NAN;

	if (run_ms(data, size, threads, params, &r) == 0 &&
	    (res = mf_output_json(r, "result"))) {
		mean = mf_number(res, "mean", NULL, NULL);
		json_object_put(res);
	}
	dfm_run_free(r);
	return mean;
}

/* A view of a fixture dataset's images. */
struct images {
	void *file;
	struct dfm_st *st;
	const uint8_t *px;
	const int32_t *labels;
	int64_t n, h, w, c;
	size_t size;
};

static int
images_open(const char *name, struct images *im)
{
	const struct dfm_tensor *t;

	memset(im, 0, sizeof *im);
	if (!(im->file = mf_load(name, &im->size)) ||
	    dfm_st_open(im->file, im->size, &im->st, NULL, 0))
		return -1;
	t = dfm_st_get(im->st, "images");
	im->px = t->data;
	im->n = t->shape[0];
	im->h = t->shape[1];
	im->w = t->shape[2];
	im->c = t->shape[3];
	im->labels = dfm_st_get(im->st, "labels")->data;
	return 0;
}

static void
images_close(struct images *im)
{
	if (im->st)
		dfm_st_close(im->st);
	free(im->file);
}

/* Every reference pair, one two-image dataset each: parity of single pairs. */
static void
check_pairs(const char *fixture, const char *convention)
{
	struct images im;
	char file[100], conv[64];
	const char *params[] = {conv, NULL};
	json_object *pairs;
	size_t bytes;
	double worst = 0;

	snprintf(file, sizeof file, "%s.safetensors", fixture);
	snprintf(conv, sizeof conv, "convention=%s", convention);
	CHECK_INT(images_open(file, &im), 0);
	bytes = (size_t)(im.h * im.w * im.c);
	pairs = json_object_object_get(json_object_object_get(
		json_object_object_get(mf_reference(), fixture), convention), "pairs");
	CHECK(pairs && json_object_array_length(pairs) == (size_t)(im.n * (im.n - 1) / 2));
	for (size_t k = 0; pairs && k < json_object_array_length(pairs); k++) {
		json_object *p = json_object_array_get_idx(pairs, k);
		int i = json_object_get_int(json_object_array_get_idx(p, 0));
		int j = json_object_get_int(json_object_array_get_idx(p, 1));
		double want = json_object_get_double(json_object_array_get_idx(p, 2));
		uint8_t *two = malloc(2 * bytes);
		size_t size = 0;
		void *ds;
		double got;

		memcpy(two, im.px + i * bytes, bytes);
		memcpy(two + bytes, im.px + j * bytes, bytes);
		ds = mf_dataset(two, NULL, 2, (int)im.h, (int)im.w, (int)im.c, &size);
		got = ms_mean(ds, size, 1, params);
		if (!(fabs(got - want) <= worst))
			worst = fabs(got - want);
		if (!(fabs(got - want) <= 1e-5))
			fprintf(stderr, "  %s %s pair (%d, %d): %.9f, want %.9f\n", fixture,
				convention, i, j, got, want);
		CHECK(fabs(got - want) <= 1e-5);
		free(ds);
		free(two);
	}
	images_close(&im);
}

TEST(metrics_msssim_pairs_rgb32_shrink)
{
	check_pairs("ms_rgb32", "shrink");
}

TEST(metrics_msssim_pairs_rgb32_fit)
{
	check_pairs("ms_rgb32", "fit");
}

TEST(metrics_msssim_pairs_grey28)
{
	check_pairs("ms_grey28", "shrink");
	check_pairs("ms_grey28", "fit");
}

/* Non-square images truncate the window per axis ('shrink') and keep the
 * one scale that fits ('fit'). */
TEST(metrics_msssim_pairs_wide20x36)
{
	check_pairs("ms_wide20x36", "shrink");
	check_pairs("ms_wide20x36", "fit");
}

/* Whole-dataset means, over all pairs and within classes, match the mean of
 * the reference pairs: the tiled lane kernel adds up what the pair does. */
static void
check_means(const char *fixture)
{
	static const char *convs[] = {"shrink", "fit"};
	char file[100], conv[64];
	size_t size = 0;
	void *data;

	snprintf(file, sizeof file, "%s.safetensors", fixture);
	data = mf_load(file, &size);
	for (int k = 0; k < 2; k++) {
		const char *all[] = {conv, NULL}, *within[] = {conv, "within-classes=true", NULL};
		double want = mf_number(mf_reference(), fixture, convs[k], "mean");
		double want_in = mf_number(mf_reference(), fixture, convs[k], "within_mean");

		snprintf(conv, sizeof conv, "convention=%s", convs[k]);
		CHECK(want > 0.02 && want_in > 0.02 && fabs(want - want_in) > 1e-3);
		CHECK(fabs(ms_mean(data, size, 2, all) - want) <= 1e-5);
		CHECK(fabs(ms_mean(data, size, 2, within) - want_in) <= 1e-5);
	}
	free(data);
}

TEST(metrics_msssim_dataset_means)
{
	check_means("ms_rgb32");
	check_means("ms_grey28");
	check_means("ms_wide20x36");
}

/* Random smooth-ish images, enough for several tiles and lane groups. */
static uint8_t *
synthetic(int64_t n, int h, int w, int c, unsigned seed)
{
	uint8_t *px = malloc((size_t)(n * h * w * c));

	srand(seed);
	for (int64_t i = 0; px && i < n; i++) {
		int base = rand() % 200, amp = 1 + rand() % 55, per = 2 + rand() % 9;

		for (int k = 0; k < h * w * c; k++)
			px[i * h * w * c + k] = (uint8_t)(base + (amp * ((k / c) % per)) / per +
							  rand() % 8);
	}
	return px;
}

/* The exact mean is the mean of every pair computed alone, and does not
 * depend on the number of threads, to the last bit. */
TEST(metrics_msssim_tiles_and_threads)
{
	enum { N = 37, H = 16, W = 16, C = 2 };
	uint8_t *px = synthetic(N, H, W, C, 7);
	size_t size = 0, bytes = H * W * C;
	void *data = mf_dataset(px, NULL, N, H, W, C, &size);
	double one = ms_mean(data, size, 1, NULL), two = ms_mean(data, size, 2, NULL);
	double three = ms_mean(data, size, 3, NULL), sum = 0;

	CHECK(one > 0 && one < 1);
	CHECK(memcmp(&one, &two, sizeof one) == 0);
	CHECK(memcmp(&one, &three, sizeof one) == 0);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++) {
			uint8_t two_px[2 * H * W * C];
			size_t s2 = 0;
			void *d2;

			memcpy(two_px, px + i * bytes, bytes);
			memcpy(two_px + bytes, px + j * bytes, bytes);
			d2 = mf_dataset(two_px, NULL, 2, H, W, C, &s2);
			sum += ms_mean(d2, s2, 1, NULL);
			free(d2);
		}
	CHECK_NEAR(one, sum / (N * (N - 1) / 2), 1e-12);
	free(data);
	free(px);
}

TEST(metrics_msssim_result_fields)
{
	size_t size = 0;
	void *data = mf_load("ms_rgb32.safetensors", &size);
	struct dfm_run *r;
	json_object *res;

	CHECK_INT(run_ms(data, size, 1, NULL, &r), 0);
	res = mf_output_json(r, "result");
	CHECK_INT(mf_number(res, "pairs", NULL, NULL), 12 * 11);
	CHECK_INT(mf_number(res, "images", NULL, NULL), 12);
	CHECK_INT(mf_number(res, "scales", NULL, NULL), 5);
	CHECK_STR(json_object_get_string(json_object_object_get(res, "convention")), "shrink");
	CHECK_STR(json_object_get_string(json_object_object_get(res, "method")), "exact");
	json_object_put(res);
	dfm_run_free(r);
	free(data);
}

/* The sampled estimate is honest: its interval holds the exact mean. */
TEST(metrics_msssim_sampled)
{
	size_t size = 0;
	void *data = mf_load("ms_rgb32.safetensors", &size);
	const char *params[] = {"samples=3000", "seed=5", NULL};
	struct dfm_run *r;
	json_object *res, *ci;
	double exact = mf_number(mf_reference(), "ms_rgb32", "shrink", "mean"), se;

	CHECK_INT(run_ms(data, size, 2, params, &r), 0);
	res = mf_output_json(r, "result");
	CHECK_STR(json_object_get_string(json_object_object_get(res, "method")), "sampled");
	se = mf_number(res, "std_error", NULL, NULL);
	ci = json_object_object_get(res, "ci95");
	CHECK(se > 0 && se < 0.02);
	CHECK(fabs(mf_number(res, "mean", NULL, NULL) - exact) < 4 * se);
	CHECK(ci && json_object_get_double(json_object_array_get_idx(ci, 0)) < exact);
	CHECK(ci && json_object_get_double(json_object_array_get_idx(ci, 1)) > exact);
	json_object_put(res);
	dfm_run_free(r);

	params[1] = "within-classes=true";
	exact = mf_number(mf_reference(), "ms_rgb32", "shrink", "within_mean");
	CHECK_INT(run_ms(data, size, 2, params, &r), 0);
	res = mf_output_json(r, "result");
	se = mf_number(res, "std_error", NULL, NULL);
	CHECK(se > 0 && fabs(mf_number(res, "mean", NULL, NULL) - exact) < 4 * se);
	json_object_put(res);
	dfm_run_free(r);
	free(data);
}

static void
count_progress(double done, double total, void *arg)
{
	double *last = arg;

	last[0] = done;
	last[1] = total;
}

TEST(metrics_msssim_identical_and_progress)
{
	enum { N = 20, H = 32, W = 32, C = 3 };
	uint8_t *px = synthetic(1, H, W, C, 3);
	uint8_t *same = malloc(N * H * W * C);
	size_t size = 0;
	void *data;
	double last[2] = {0, 0};
	struct dfm_run *r;
	json_object *res;

	for (int i = 0; i < N; i++)
		memcpy(same + i * H * W * C, px, H * W * C);
	data = mf_dataset(same, NULL, N, H, W, C, &size);
	r = dfm_run_new(dfm_kind_find("ms-ssim"), "ms-ssim[test]");
	dfm_run_on_progress(r, count_progress, last);
	dfm_run_set_threads(r, 2);
	dfm_run_input(r, "data", data, size, "same.data");
	CHECK_INT(dfm_run_exec(r), 0);
	res = mf_output_json(r, "result");
	CHECK_NEAR(mf_number(res, "mean", NULL, NULL), 1, 1e-6);
	CHECK(last[1] == N * (N - 1) / 2 && last[0] == last[1]);
	json_object_put(res);
	dfm_run_free(r);
	free(data);
	free(same);
	free(px);
}

static void
check_rejected(const uint8_t *px, const int32_t *labels, int64_t n, int h, int w,
	       const char **params, const char *message)
{
	size_t size = 0, out;
	void *data = mf_dataset(px, labels, n, h, w, 1, &size);
	struct dfm_run *r;

	CHECK(data != NULL);
	CHECK(run_ms(data, size, 1, params, &r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), message));
	if (dfm_run_failure(r) && !strstr(dfm_run_failure(r), message))
		fprintf(stderr, "  failure: %s\n", dfm_run_failure(r));
	CHECK(dfm_run_output(r, "result", &out) == NULL);
	dfm_run_free(r);
	free(data);
}

TEST(metrics_msssim_rejects_bad_input)
{
	uint8_t px[4 * 16 * 16] = {0};
	int32_t distinct[4] = {0, 1, 2, 3};
	const char *within[] = {"within-classes=true", NULL};
	const char *fit[] = {"convention=fit", NULL};

	check_rejected(px, NULL, 1, 16, 16, NULL, "at least 2");
	check_rejected(px, NULL, 0, 16, 16, NULL, "at least 2");
	check_rejected(px, NULL, 4, 8, 8, NULL, "at least 16 x 16");
	check_rejected(px, NULL, 4, 10, 12, fit, "at least 11 x 11");
	check_rejected(px, NULL, 4, 16, 16, within, "no 'labels'");
	check_rejected(px, distinct, 4, 16, 16, within, "no two images share a class");
}
