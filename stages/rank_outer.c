/* rank-outer: Domain Fusion's choice of outer dataset (paper eq. 19),
 *
 *   M(T, O) = FID(T, O) * SSIM(O),
 *
 * lowest M first: an outer dataset close to the target (low FID) and diverse
 * (low mean MS-SSIM).  Candidates are named by the `names` parameter or, by
 * default, by the value of the `key` parameter in the name of the instance
 * that made each FID result ("fid[outer=emoji].result" names "emoji"). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/metric_io.h"

struct rank_row {
	char *name;
	double fid, ssim, m;
	int rank;
	int warned;     /* its FID result carries warnings */
	size_t index;
};

struct rank_table {
	struct rank_row *rows;
	size_t n;
	const char *network, *convention;
	json_object *network_src, *convention_src;  /* keep the strings alive */
};

static char *
trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return strndup(s, len);
}

/* "fid[target=a,outer=b].result" with key "outer" gives "b"; without the
 * key, the instance name "fid[target=a,outer=b]". */
static char *
name_from_blob(const char *blob, const char *key)
{
	const char *dot = strrchr(blob, '.'), *open = strchr(blob, '[');
	size_t klen = strlen(key);
	size_t len = dot ? (size_t)(dot - blob) : strlen(blob);

	for (const char *p = open; p && p < blob + len; p = strchr(p + 1, ',')) {
		const char *k = p + 1, *stop;

		if (strncmp(k, key, klen) != 0 || k[klen] != '=')
			continue;
		stop = k + klen + 1 + strcspn(k + klen + 1, ",]");
		return trimmed(k + klen + 1, (size_t)(stop - (k + klen + 1)));
	}
	return trimmed(blob, len);
}

static int
names_from_param(struct dfm_run *r, struct rank_table *t)
{
	const char *p = dfm_str(r, "names");
	size_t count = 1;

	for (const char *c = p; *c; c++)
		count += *c == ',';
	if (count != t->n)
		return dfm_fail(r, "parameter 'names' lists %zu names for %zu candidates",
				count, t->n);
	for (size_t i = 0; i < t->n; i++) {
		size_t len = strcspn(p, ",");

		if (!(t->rows[i].name = trimmed(p, len)))
			return dfm_fail(r, "out of memory");
		p += len + (p[len] == ',');
	}
	return 0;
}

static int
read_names(struct dfm_run *r, struct rank_table *t)
{
	if (*dfm_str(r, "names"))
		return names_from_param(r, t);
	for (size_t i = 0; i < t->n; i++) {
		const struct dfm_blob *b = dfm_input(r, "fid", i);

		if (!(t->rows[i].name = name_from_blob(b->name ? b->name : "?",
						       dfm_str(r, "key"))))
			return dfm_fail(r, "out of memory");
	}
	return 0;
}

static int
check_names(struct dfm_run *r, const struct rank_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!*t->rows[i].name)
			return dfm_fail(r, "candidate %zu has an empty name", i + 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->rows[i].name, t->rows[j].name) == 0)
				return dfm_fail(r, "candidate name '%s' appears twice; give "
						"'names' or a distinct 'key'", t->rows[i].name);
	}
	return 0;
}

/* A finite number field of a result, or NAN after failing the run. */
static double
number_field(struct dfm_run *r, json_object *o, const char *field, const char *what)
{
	json_object *v;
	double x;

	if (!json_object_object_get_ex(o, field, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	      json_object_is_type(v, json_type_int)) || !isfinite(x = json_object_get_double(v))) {
		dfm_fail(r, "%s has no finite number '%s'", what, field);
		return NAN;
	}
	return x;
}

/* The string field of every result must agree: values from different
 * networks or conventions are not comparable. */
static int
same_string(struct dfm_run *r, json_object *o, const char *field, json_object **first,
	    const char *what)
{
	json_object *v;

	if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_string))
		return dfm_fail(r, "%s has no '%s'", what, field);
	if (!*first) {
		*first = json_object_get(v);
		return 0;
	}
	if (strcmp(json_object_get_string(*first), json_object_get_string(v)) != 0)
		return dfm_fail(r, "%s has %s '%s' but another candidate has '%s'; they "
				"are not comparable", what, field, json_object_get_string(v),
				json_object_get_string(*first));
	return 0;
}

static int
read_row(struct dfm_run *r, struct rank_table *t, size_t i)
{
	struct rank_row *row = &t->rows[i];
	json_object *fid = dfm_metric_read_json(r, "fid", i), *ssim = NULL, *warnings;
	char what[300];
	int rc = DFM_ERR_STAGE;

	if (!fid || !(ssim = dfm_metric_read_json(r, "ssim", i)))
		goto out;
	snprintf(what, sizeof what, "the fid result of '%s'", row->name);
	if (isnan(row->fid = number_field(r, fid, "fid", what)) ||
	    same_string(r, fid, "network", &t->network_src, what))
		goto out;
	snprintf(what, sizeof what, "the ms-ssim result of '%s'", row->name);
	if (isnan(row->ssim = number_field(r, ssim, "mean", what)) ||
	    same_string(r, ssim, "convention", &t->convention_src, what))
		goto out;
	if (row->ssim < 0 || row->ssim > 1) {
		dfm_fail(r, "%s has mean %g outside [0, 1]", what, row->ssim);
		goto out;
	}
	row->m = row->fid * row->ssim;
	row->index = i;
	row->warned = json_object_object_get_ex(fid, "warnings", &warnings) &&
		      json_object_is_type(warnings, json_type_array) &&
		      json_object_array_length(warnings) > 0;
	rc = 0;
out:
	json_object_put(fid);
	json_object_put(ssim);
	return rc;
}

/* Lowest M first; equal M keeps the input order. */
static int
by_metric(const void *pa, const void *pb)
{
	const struct rank_row *a = pa, *b = pb;

	if (a->m != b->m)
		return a->m < b->m ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

static json_object *
table_json(const struct rank_table *t)
{
	json_object *o = json_object_new_object(), *rows = json_object_new_array();

	if (!o || !rows) {
		json_object_put(o);
		json_object_put(rows);
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		json_object *row = json_object_new_object();

		if (!row)
			continue;
		json_object_object_add(row, "rank", json_object_new_int(t->rows[i].rank));
		json_object_object_add(row, "outer", json_object_new_string(t->rows[i].name));
		json_object_object_add(row, "fid", dfm_metric_number(t->rows[i].fid));
		json_object_object_add(row, "ssim", dfm_metric_number(t->rows[i].ssim));
		json_object_object_add(row, "m", dfm_metric_number(t->rows[i].m));
		json_object_array_add(rows, row);
	}
	json_object_object_add(o, "metric", json_object_new_string("M = FID x mean MS-SSIM, "
								   "lowest first"));
	json_object_object_add(o, "network", json_object_new_string(t->network));
	json_object_object_add(o, "ssim_convention", json_object_new_string(t->convention));
	json_object_object_add(o, "rows", rows);
	return o;
}

static json_object *
choice_json(const struct rank_table *t)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "outer", json_object_new_string(t->rows[0].name));
	json_object_object_add(o, "m", dfm_metric_number(t->rows[0].m));
	json_object_object_add(o, "fid", dfm_metric_number(t->rows[0].fid));
	json_object_object_add(o, "ssim", dfm_metric_number(t->rows[0].ssim));
	return o;
}

static int
put_markdown(struct dfm_run *r, const struct rank_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return dfm_fail(r, "out of memory");
	fprintf(f, "| rank | outer | FID | MS-SSIM | M |\n|---:|---|---:|---:|---:|\n");
	for (size_t i = 0; i < t->n; i++)
		fprintf(f, "| %d | %s | %.4f%s | %.4f | %.4f |\n", t->rows[i].rank,
			t->rows[i].name, t->rows[i].fid, t->rows[i].warned ? " *" : "",
			t->rows[i].ssim, t->rows[i].m);
	fprintf(f, "\nM = FID x mean MS-SSIM; the lowest M is chosen (%s).\n"
		"FID features: %s.  MS-SSIM convention: %s.\n", t->rows[0].name,
		t->network, t->convention);
	for (size_t i = 0; i < t->n; i++)
		if (t->rows[i].warned) {
			fprintf(f, "* The FID results marked * carry warnings (fewer samples "
				"than feature dimensions, say): see 'dfmake show' of their fid "
				"instances.\n");
			break;
		}
	if (fclose(f) != 0) {
		free(text);
		return dfm_fail(r, "out of memory");
	}
	return dfm_put_owned(r, "report", text, len);
}

static int
rank_run(struct dfm_run *r)
{
	struct rank_table t = {0};
	int rc = DFM_ERR_STAGE;

	t.n = dfm_ninputs(r, "fid");
	if (t.n != dfm_ninputs(r, "ssim")) {
		dfm_fail(r, "%zu fid results but %zu ms-ssim results; give one of each "
			 "per candidate, in the same order", t.n, dfm_ninputs(r, "ssim"));
		goto out;
	}
	if (!(t.rows = calloc(t.n, sizeof *t.rows))) {
		dfm_fail(r, "out of memory");
		goto out;
	}
	if (read_names(r, &t) || check_names(r, &t))
		goto out;
	for (size_t i = 0; i < t.n; i++)
		if (read_row(r, &t, i))
			goto out;
	t.network = json_object_get_string(t.network_src);
	t.convention = json_object_get_string(t.convention_src);
	qsort(t.rows, t.n, sizeof *t.rows, by_metric);
	for (size_t i = 0; i < t.n; i++)
		t.rows[i].rank = (int)i + 1;
	dfm_note(r, "chosen outer dataset: '%s' (M %.6g)", t.rows[0].name, t.rows[0].m);
	if ((rc = dfm_metric_put_json(r, "table", table_json(&t))) ||
	    (rc = put_markdown(r, &t)) ||
	    (rc = dfm_metric_put_json(r, "choice", choice_json(&t))))
		goto out;
out:
	for (size_t i = 0; t.rows && i < t.n; i++)
		free(t.rows[i].name);
	free(t.rows);
	json_object_put(t.network_src);
	json_object_put(t.convention_src);
	return rc;
}

static const struct dfm_param rank_params[] = {
	{"names", DFM_STR, "", "candidate names, comma-separated, in input order; "
	 "empty to take them from the fid instances' names", NULL, 0, 0},
	{"key", DFM_STR, "outer", "parameter of the fid instance name that names the "
	 "candidate, when 'names' is empty", NULL, 0, 0},
	{0},
};

static const struct dfm_slot rank_inputs[] = {
	{"fid", DFM_SLOT_LIST, "one fid result (target vs candidate) per candidate"},
	{"ssim", DFM_SLOT_LIST, "one ms-ssim result per candidate, in the same order"},
	{0},
};

static const struct dfm_output rank_outputs[] = {
	{"table", "json", "FID, MS-SSIM, M and rank of every candidate"},
	{"report", "md", "the same table in Markdown"},
	{"choice", "json", "{\"outer\": name} of the lowest M"},
	{0},
};

const struct dfm_kind dfm_kind_rank_outer = {
	.name = "rank-outer",
	.version = 2,
	.summary = "ranks candidate outer datasets by M = FID x mean MS-SSIM",
	.params = rank_params,
	.inputs = rank_inputs,
	.outputs = rank_outputs,
	.run = rank_run,
};
