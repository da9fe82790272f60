#include <stdio.h>
#include <stdlib.h>

#include "engine/run.h"
#include "tests/unit/metrics_fixture.h"
#include "tests/unit/test.h"

struct candidate {
	const char *blob;
	char fid[200], ssim[200];
};

static void
fill(struct candidate *c, const char *blob, double fid, double ssim, const char *net,
     const char *conv)
{
	c->blob = blob;
	snprintf(c->fid, sizeof c->fid, "{\"fid\": %.17g, \"network\": \"%s\"}", fid, net);
	snprintf(c->ssim, sizeof c->ssim, "{\"mean\": %.17g, \"convention\": \"%s\"}",
		 ssim, conv);
}

static int
run_rank(struct candidate *c, size_t n, size_t nssim, const char *names,
	 struct dfm_run **out)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("rank-outer"), "rank-outer[target=t]");
	char err[200];

	*out = r;
	if (!r || (names && dfm_run_param(r, "names", names, err, sizeof err)))
		return -1;
	for (size_t i = 0; i < n; i++)
		dfm_run_input(r, "fid", c[i].fid, strlen(c[i].fid), c[i].blob);
	for (size_t i = 0; i < nssim; i++)
		dfm_run_input(r, "ssim", c[i].ssim, strlen(c[i].ssim), "ms-ssim[src=x].result");
	return dfm_run_exec(r);
}

/* emoji has the lowest FID but little diversity; fonts wins on M. */
TEST(metrics_rank_outer_chooses_lowest_m)
{
	struct candidate c[3];
	struct dfm_run *r;
	json_object *choice, *table, *rows;
	const char *md;
	size_t size;

	fill(&c[0], "fid[target=t,outer=emoji].result", 40, 0.5, "net", "shrink");
	fill(&c[1], "fid[target=t,outer=fonts].result", 50, 0.2, "net", "shrink");
	fill(&c[2], "fid[outer=mnist,target=t].result", 30, 0.9, "net", "shrink");
	CHECK_INT(run_rank(c, 3, 3, NULL, &r), 0);
	choice = mf_output_json(r, "choice");
	CHECK_STR(json_object_get_string(json_object_object_get(choice, "outer")), "fonts");
	CHECK_NEAR(mf_number(choice, "m", NULL, NULL), 10, 1e-12);
	table = mf_output_json(r, "table");
	rows = json_object_object_get(table, "rows");
	CHECK(rows && json_object_array_length(rows) == 3);
	CHECK_STR(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(rows, 1), "outer")), "emoji");
	CHECK_NEAR(mf_number(json_object_array_get_idx(rows, 2), "m", NULL, NULL), 27, 1e-12);
	CHECK_INT(mf_number(json_object_array_get_idx(rows, 2), "rank", NULL, NULL), 3);
	CHECK_STR(json_object_get_string(json_object_object_get(table, "network")), "net");
	md = dfm_run_output(r, "report", &size);
	CHECK(md && strstr(md, "| 1 | fonts | 50.0000 | 0.2000 | 10.0000 |"));
	CHECK(md && strstr(md, "| 3 | mnist | 30.0000 | 0.9000 | 27.0000 |"));
	json_object_put(choice);
	json_object_put(table);
	dfm_run_free(r);
}

TEST(metrics_rank_outer_names_param)
{
	struct candidate c[2];
	struct dfm_run *r;
	json_object *choice;

	fill(&c[0], "a.result", 10, 0.5, "net", "fit");
	fill(&c[1], "b.result", 10, 0.4, "net", "fit");
	CHECK_INT(run_rank(c, 2, 2, " cars , flowers", &r), 0);
	choice = mf_output_json(r, "choice");
	CHECK_STR(json_object_get_string(json_object_object_get(choice, "outer")), "flowers");
	json_object_put(choice);
	dfm_run_free(r);
	CHECK(run_rank(c, 2, 2, "cars", &r) != 0);
	CHECK(strstr(dfm_run_failure(r), "lists 1 names for 2 candidates"));
	dfm_run_free(r);
	CHECK(run_rank(c, 2, 2, "cars,cars", &r) != 0);
	CHECK(strstr(dfm_run_failure(r), "'cars' appears twice"));
	dfm_run_free(r);
}

static void
check_rejected(struct candidate *c, size_t n, size_t nssim, const char *message)
{
	struct dfm_run *r;
	size_t size;

	CHECK(run_rank(c, n, nssim, NULL, &r) != 0);
	CHECK(dfm_run_failure(r) && strstr(dfm_run_failure(r), message));
	if (dfm_run_failure(r) && !strstr(dfm_run_failure(r), message))
		fprintf(stderr, "  failure: %s\n", dfm_run_failure(r));
	CHECK(dfm_run_output(r, "choice", &size) == NULL);
	dfm_run_free(r);
}

TEST(metrics_rank_outer_rejects_bad_input)
{
	struct candidate c[2];

	fill(&c[0], "fid[outer=a].result", 10, 0.5, "net", "shrink");
	fill(&c[1], "fid[outer=b].result", 10, 0.4, "net", "shrink");
	check_rejected(c, 2, 1, "2 fid results but 1 ms-ssim results");
	fill(&c[1], "fid[outer=b].result", 10, 1.5, "net", "shrink");
	check_rejected(c, 2, 2, "outside [0, 1]");
	fill(&c[1], "fid[outer=b].result", 10, 0.4, "other net", "shrink");
	check_rejected(c, 2, 2, "not comparable");
	fill(&c[1], "fid[outer=b].result", 10, 0.4, "net", "fit");
	check_rejected(c, 2, 2, "not comparable");
	fill(&c[1], "fid[outer=a].result", 10, 0.4, "net", "shrink");
	check_rejected(c, 2, 2, "appears twice");
	fill(&c[1], "fid[outer=b].result", 10, 0.4, "net", "shrink");
	strcpy(c[1].fid, "{\"fid\": \"ten\", \"network\": \"net\"}");
	check_rejected(c, 2, 2, "no finite number 'fid'");
	strcpy(c[1].fid, "[1, 2");
	check_rejected(c, 2, 2, "not a JSON object");
}
