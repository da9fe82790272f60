#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/explain.h"

struct text {
	char *s;
	size_t len;
};

static void
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *piece = NULL, *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&piece, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((p = realloc(t->s, t->len + (size_t)n + 3))) {
		t->s = p;
		t->len += (size_t)sprintf(t->s + t->len, "%s%s", t->len ? "; " : "", piece);
	}
	free(piece);
}

static void
explain_params(struct text *t, const struct dfm_inst *in, json_object *params)
{
	char now[256], was[256], err[200];

	for (size_t p = 0; p < in->nparams; p++) {
		const struct dfm_param *spec = &in->kind->params[p];
		json_object *old;
		struct dfm_value v;

		dfm_value_format(&in->params[p], now, sizeof now);
		if (!json_object_object_get_ex(params, spec->name, &old)) {
			add(t, "parameter '%s' is new (%s)", spec->name, now);
			continue;
		}
		snprintf(was, sizeof was, "%s", json_object_get_string(old));
		if (dfm_value_parse(spec, was, &v, err, sizeof err) != 0) {
			add(t, "parameter '%s' changed: %s -> %s", spec->name, was, now);
			continue;
		}
		if (!dfm_value_eq(&v, &in->params[p])) {
			dfm_value_format(&v, was, sizeof was);
			add(t, "parameter '%s' changed: %s -> %s", spec->name, was, now);
		}
		dfm_value_free(&v);
	}
}

static int
same_inputs(const struct dfm_inst *in, size_t s, json_object *list)
{
	char hex[DFM_DIGEST_HEX];

	if (!list || json_object_array_length(list) != in->slots[s].n)
		return 0;
	for (size_t e = 0; e < in->slots[s].n; e++) {
		const struct dfm_edge *edge = &in->slots[s].edge[e];
		json_object *item = json_object_array_get_idx(list, e), *d;

		if (!json_object_object_get_ex(item, "digest", &d) ||
		    strcmp(json_object_get_string(d),
			   dfm_digest_hex(&edge->from->out[edge->out], hex)))
			return 0;
	}
	return 1;
}

static void
explain_inputs(struct text *t, const struct dfm_inst *in, json_object *inputs)
{
	for (size_t s = 0; s < in->nslots; s++) {
		json_object *list = NULL;

		json_object_object_get_ex(inputs, in->kind->inputs[s].name, &list);
		if (!in->slots[s].n && !list)
			continue;
		if (!same_inputs(in, s, list))
			add(t, "input '%s' changed (from %s)", in->kind->inputs[s].name,
			    in->slots[s].n ? in->slots[s].edge[0].from->name : "nothing");
	}
}

static void
explain_sources(struct text *t, const struct dfm_inst *in, json_object *sources)
{
	char hex[DFM_DIGEST_HEX];
	size_t n = sources ? json_object_array_length(sources) : 0;

	if (n != in->nsources) {
		add(t, "source files changed (%zu now, %zu before)", in->nsources, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(sources, i)),
			   dfm_digest_hex(&in->sources[i], hex))) {
			add(t, "source files changed");
			return;
		}
}

char *
dfm_explain(const struct dfm_inst *in, json_object *prev)
{
	struct text t = {0};
	json_object *v;
	char hex[DFM_DIGEST_HEX];

	if (!prev)
		return strdup("not in cache (no earlier build recorded)");
	if (json_object_object_get_ex(prev, "key", &v) &&
	    strcmp(json_object_get_string(v), dfm_digest_hex(&in->key, hex)) == 0)
		return strdup("not in cache (same key as recorded: dropped or never stored here)");
	if (json_object_object_get_ex(prev, "kind_version", &v) &&
	    json_object_get_int(v) != in->kind->version)
		add(&t, "kind version changed: %d -> %d", json_object_get_int(v),
		    in->kind->version);
	v = NULL;
	json_object_object_get_ex(prev, "params", &v);
	explain_params(&t, in, v);
	v = NULL;
	json_object_object_get_ex(prev, "inputs", &v);
	explain_inputs(&t, in, v);
	v = NULL;
	json_object_object_get_ex(prev, "sources", &v);
	explain_sources(&t, in, v);
	if (!t.s)
		return strdup("not in cache (key changed)");
	return t.s;
}

char *
dfm_explain_upstream(const struct dfm_inst *in)
{
	char *s = NULL;

	for (size_t d = 0; d < in->ndeps; d++)
		if (!in->deps[d]->have_key || in->deps[d]->state != DFM_DONE ||
		    !in->deps[d]->cached) {
			if (asprintf(&s, "input from %s will change (it runs first)",
				     in->deps[d]->name) < 0)
				s = NULL;
			return s;
		}
	return strdup("an input will change");
}
