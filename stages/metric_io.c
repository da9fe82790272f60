#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/metric_io.h"

static int
check_finite(struct dfm_run *r, const struct dfm_matrix *m, const char *tensor)
{
	int64_t n = m->rows * m->cols;

	for (int64_t k = 0; k < n; k++)
		if (!isfinite(m->data[k]))
			return dfm_fail(r, "input '%s': tensor '%s' has a non-finite value "
					"at row %lld, column %lld", m->input, tensor,
					(long long)(k / m->cols), (long long)(k % m->cols));
	return 0;
}

int
dfm_matrix_read(struct dfm_run *r, const char *slot, const char *tensor,
		struct dfm_matrix *m)
{
	const struct dfm_blob *b = dfm_input(r, slot, 0);
	const struct dfm_tensor *t;
	char err[200];

	memset(m, 0, sizeof *m);
	if (!b)
		return dfm_fail(r, "input '%s' is empty", slot);
	m->input = b->name ? b->name : slot;
	if (dfm_st_open(b->data, b->size, &m->st, err, sizeof err))
		return dfm_fail(r, "input '%s': not a safetensors artifact: %s",
				m->input, err);
	t = dfm_st_get(m->st, tensor);
	if (!t)
		return dfm_fail(r, "input '%s' has no tensor '%s'", m->input, tensor);
	if (t->dtype != DFM_F32 || t->ndim != 2)
		return dfm_fail(r, "input '%s': tensor '%s' must be F32 [N, D], not %s "
				"with %d dimensions", m->input, tensor,
				dfm_dtype_name(t->dtype), t->ndim);
	m->data = t->data;
	m->rows = t->shape[0];
	m->cols = t->shape[1];
	m->network = dfm_st_meta_get(m->st, "network");
	if (!m->network)
		m->network = "unlabelled network";
	if (m->cols < 1)
		return dfm_fail(r, "input '%s': tensor '%s' has no columns", m->input, tensor);
	return check_finite(r, m, tensor);
}

void
dfm_matrix_close(struct dfm_matrix *m)
{
	if (m->st)
		dfm_st_close(m->st);
	m->st = NULL;
}

int
dfm_metric_put_json(struct dfm_run *r, const char *output, json_object *obj)
{
	const char *text;
	int rc;

	if (!obj)
		return dfm_fail(r, "out of memory building output '%s'", output);
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		json_object_put(obj);
		return dfm_fail(r, "out of memory serialising output '%s'", output);
	}
	rc = dfm_put(r, output, text, strlen(text));
	json_object_put(obj);
	return rc;
}

json_object *
dfm_metric_read_json(struct dfm_run *r, const char *slot, size_t i)
{
	const struct dfm_blob *b = dfm_input(r, slot, i);
	struct json_tokener *tok;
	json_object *obj;

	if (!b) {
		dfm_fail(r, "input '%s' has no artifact %zu", slot, i);
		return NULL;
	}
	if (!(tok = json_tokener_new())) {
		dfm_fail(r, "out of memory parsing input '%s'", slot);
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, b->data, (int)b->size);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object)) {
		dfm_fail(r, "input '%s': not a JSON object", b->name ? b->name : slot);
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

json_object *
dfm_metric_number(double x)
{
	char text[40];

	snprintf(text, sizeof text, "%.17g", x);
	return json_object_new_double_s(x, text);
}
