#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rules.h"

void
dfm_rules_error(const struct dfm_rules *r, const struct dfm_ynode *at,
		const char *fmt, ...)
{
	va_list ap;

	if (at)
		fprintf(stderr, "dfmake: %s:%d:%d: ", r->path, at->line, at->col);
	else
		fprintf(stderr, "dfmake: %s: ", r->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

const char *
dfm_rules_var(const struct dfm_rules *r, const char *name)
{
	const struct dfm_ynode *v = dfm_ymap_get(r->vars, name);

	return v && v->type == DFM_Y_SCALAR ? v->value : NULL;
}

/* "${name}" as the whole scalar: returns name's length, else 0. */
static size_t
whole_var(const char *s)
{
	size_t n = strlen(s);

	if (n > 3 && s[0] == '$' && s[1] == '{' && s[n - 1] == '}' &&
	    !strchr(s + 2, '$'))
		return n - 3;
	return 0;
}

static int
load_axis(struct dfm_rules *r, struct dfm_axis *ax, const struct dfm_ynode *key,
	  const struct dfm_ynode *val)
{
	const struct dfm_ynode *list = val;
	size_t vn;

	ax->name = key->value;
	ax->at = key;
	if (!valid_name(ax->name)) {
		dfm_rules_error(r, key, "matrix variable '%s' must be letters, digits, '-' or '_'",
				ax->name);
		return DFM_ERR_RULES;
	}
	if (val->type == DFM_Y_SCALAR && (vn = whole_var(val->value))) {
		char name[128];

		snprintf(name, sizeof name, "%.*s", (int)vn, val->value + 2);
		list = dfm_ymap_get(r->vars, name);
		if (!list) {
			dfm_rules_error(r, val, "unknown variable '%s'", name);
			return DFM_ERR_RULES;
		}
	}
	if (list->type != DFM_Y_SEQ || list->n == 0) {
		dfm_rules_error(r, val, "matrix variable '%s' needs a non-empty list of values",
				ax->name);
		return DFM_ERR_RULES;
	}
	ax->n = list->n;
	if (!(ax->values = calloc(list->n, sizeof *ax->values)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < list->n; i++) {
		if (list->items[i]->type != DFM_Y_SCALAR) {
			dfm_rules_error(r, list->items[i], "matrix values must be scalars");
			return DFM_ERR_RULES;
		}
		ax->values[i] = list->items[i]->value;
	}
	return 0;
}

static int
load_matrix(struct dfm_rules *r, struct dfm_rule *rule, const struct dfm_ynode *m)
{
	int rc;

	if (m->type != DFM_Y_MAP) {
		dfm_rules_error(r, m, "'matrix' must be a mapping of variable to values");
		return DFM_ERR_RULES;
	}
	rule->naxes = m->n / 2;
	if (!(rule->axes = calloc(rule->naxes + 1, sizeof *rule->axes)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < rule->naxes; i++)
		if ((rc = load_axis(r, &rule->axes[i], m->items[2 * i], m->items[2 * i + 1])))
			return rc;
	return 0;
}

static int
load_params(struct dfm_rules *r, struct dfm_rule *rule, const struct dfm_ynode *p)
{
	int bad = 0;

	if (p->type != DFM_Y_MAP) {
		dfm_rules_error(r, p, "'params' must be a mapping");
		return DFM_ERR_RULES;
	}
	rule->nparams = p->n / 2;
	if (!(rule->params = calloc(rule->nparams + 1, sizeof *rule->params)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < rule->nparams; i++) {
		struct dfm_rule_param *rp = &rule->params[i];

		rp->key = p->items[2 * i];
		rp->value = p->items[2 * i + 1];
		rp->name = rp->key->value;
		if (!dfm_kind_param(rule->kind, rp->name)) {
			dfm_rules_error(r, rp->key, "kind '%s' has no parameter '%s'",
					rule->kind->name, rp->name);
			bad = 1;
		} else if (rp->value->type != DFM_Y_SCALAR) {
			dfm_rules_error(r, rp->value, "parameter '%s' must be a scalar, not %s",
					rp->name, dfm_ytype_name(rp->value));
			bad = 1;
		}
	}
	return bad ? DFM_ERR_RULES : 0;
}

static const struct dfm_slot *
find_slot(const struct dfm_kind *k, const char *name)
{
	for (const struct dfm_slot *s = k->inputs; s && s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static int
load_input(struct dfm_rules *r, struct dfm_rule *rule, struct dfm_rule_input *in)
{
	const struct dfm_slot *slot = find_slot(rule->kind, in->slot);
	const struct dfm_ynode *v = in->refs[0];

	if (!slot) {
		dfm_rules_error(r, in->key, "kind '%s' has no input '%s'", rule->kind->name,
				in->slot);
		return DFM_ERR_RULES;
	}
	if (v->type == DFM_Y_SCALAR)
		return 0;
	if (v->type != DFM_Y_SEQ || !(slot->flags & DFM_SLOT_LIST)) {
		dfm_rules_error(r, v, "input '%s' takes %s", in->slot,
				slot->flags & DFM_SLOT_LIST ? "a reference or a list of references"
							    : "one reference, as STAGE.OUTPUT");
		return DFM_ERR_RULES;
	}
	in->nrefs = v->n;
	free(in->refs);
	if (!(in->refs = calloc(v->n + 1, sizeof *in->refs)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->type != DFM_Y_SCALAR) {
			dfm_rules_error(r, v->items[i], "a reference must be a scalar STAGE.OUTPUT");
			return DFM_ERR_RULES;
		}
		in->refs[i] = v->items[i];
	}
	return 0;
}

static int
load_inputs(struct dfm_rules *r, struct dfm_rule *rule, const struct dfm_ynode *m)
{
	int rc = 0;

	if (m->type != DFM_Y_MAP) {
		dfm_rules_error(r, m, "'inputs' must be a mapping of slot to references");
		return DFM_ERR_RULES;
	}
	rule->ninputs = m->n / 2;
	if (!(rule->inputs = calloc(rule->ninputs + 1, sizeof *rule->inputs)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < rule->ninputs; i++) {
		struct dfm_rule_input *in = &rule->inputs[i];

		in->key = m->items[2 * i];
		in->slot = in->key->value;
		in->nrefs = 1;
		if (!(in->refs = calloc(2, sizeof *in->refs)))
			return DFM_ERR_NOMEM;
		in->refs[0] = m->items[2 * i + 1];
		if (load_input(r, rule, in))
			rc = DFM_ERR_RULES;
	}
	return rc;
}

/* Every required slot is bound. */
static int
check_slots(struct dfm_rules *r, const struct dfm_rule *rule)
{
	int rc = 0;

	for (const struct dfm_slot *s = rule->kind->inputs; s && s->name; s++) {
		int bound = 0;

		for (size_t i = 0; i < rule->ninputs; i++)
			bound |= strcmp(rule->inputs[i].slot, s->name) == 0;
		if (!bound && !(s->flags & DFM_SLOT_OPTIONAL)) {
			dfm_rules_error(r, rule->at, "stage '%s' is missing input '%s' of kind '%s'",
					rule->name, s->name, rule->kind->name);
			rc = DFM_ERR_RULES;
		}
	}
	return rc;
}

static int
load_rule(struct dfm_rules *r, struct dfm_rule *rule, const struct dfm_ynode *key,
	  const struct dfm_ynode *body)
{
	static const char *const known[] = {"kind", "matrix", "foreach", "params", "inputs", NULL};
	const struct dfm_ynode *kind, *m;
	int rc = 0;

	rule->name = key->value;
	rule->at = key;
	if (!valid_name(rule->name)) {
		dfm_rules_error(r, key, "stage name '%s' must be letters, digits, '-' or '_'",
				rule->name);
		return DFM_ERR_RULES;
	}
	if (body->type != DFM_Y_MAP) {
		dfm_rules_error(r, body, "stage '%s' must be a mapping", rule->name);
		return DFM_ERR_RULES;
	}
	for (size_t i = 0; i < body->n; i += 2) {
		size_t k = 0;

		while (known[k] && strcmp(known[k], body->items[i]->value))
			k++;
		if (!known[k]) {
			dfm_rules_error(r, body->items[i], "unknown key '%s' in stage '%s' "
					"(expected kind, matrix, params or inputs)",
					body->items[i]->value, rule->name);
			rc = DFM_ERR_RULES;
		}
	}
	kind = dfm_ymap_get(body, "kind");
	if (!kind || kind->type != DFM_Y_SCALAR) {
		dfm_rules_error(r, kind ? kind : key, "stage '%s' needs a 'kind'", rule->name);
		return DFM_ERR_RULES;
	}
	if (!(rule->kind = dfm_kind_find(kind->value))) {
		dfm_rules_error(r, kind, "unknown kind '%s' (see 'dfmake --help kinds')",
				kind->value);
		return DFM_ERR_RULES;
	}
	if (dfm_ymap_get(body, "matrix") && dfm_ymap_get(body, "foreach")) {
		dfm_rules_error(r, key, "stage '%s' has both 'matrix' and 'foreach'", rule->name);
		return DFM_ERR_RULES;
	}
	if ((m = dfm_ymap_get(body, "matrix")) || (m = dfm_ymap_get(body, "foreach")))
		rc |= load_matrix(r, rule, m);
	if ((m = dfm_ymap_get(body, "params")))
		rc |= load_params(r, rule, m);
	if ((m = dfm_ymap_get(body, "inputs")))
		rc |= load_inputs(r, rule, m);
	if (!rc)
		rc = check_slots(r, rule);
	return rc ? DFM_ERR_RULES : 0;
}

static int
check_top(struct dfm_rules *r)
{
	static const char *const known[] = {"vars", "stages", "targets", "default", NULL};
	int rc = 0;

	if (r->root->type != DFM_Y_MAP) {
		dfm_rules_error(r, r->root, "the rules must be a mapping with 'stages'");
		return DFM_ERR_RULES;
	}
	for (size_t i = 0; i < r->root->n; i += 2) {
		size_t k = 0;

		while (known[k] && strcmp(known[k], r->root->items[i]->value))
			k++;
		if (!known[k]) {
			dfm_rules_error(r, r->root->items[i], "unknown top-level key '%s' "
					"(expected vars, stages, targets or default)",
					r->root->items[i]->value);
			rc = DFM_ERR_RULES;
		}
	}
	r->vars = dfm_ymap_get(r->root, "vars");
	r->targets = dfm_ymap_get(r->root, "targets");
	r->deflt = dfm_ymap_get(r->root, "default");
	if (r->vars && r->vars->type != DFM_Y_MAP) {
		dfm_rules_error(r, r->vars, "'vars' must be a mapping");
		rc = DFM_ERR_RULES;
	}
	if (r->targets && r->targets->type != DFM_Y_MAP) {
		dfm_rules_error(r, r->targets, "'targets' must be a mapping of name to list");
		rc = DFM_ERR_RULES;
	}
	return rc;
}

static int
load_rules(struct dfm_rules *r)
{
	const struct dfm_ynode *stages;
	int rc;

	if ((rc = check_top(r)))
		return rc;
	stages = dfm_ymap_get(r->root, "stages");
	if (!stages || stages->type != DFM_Y_MAP) {
		dfm_rules_error(r, stages ? stages : r->root, "the rules need a 'stages' mapping");
		return DFM_ERR_RULES;
	}
	r->n = stages->n / 2;
	if (!(r->rule = calloc(r->n + 1, sizeof *r->rule)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < r->n; i++)
		rc |= load_rule(r, &r->rule[i], stages->items[2 * i], stages->items[2 * i + 1]);
	return rc ? DFM_ERR_RULES : 0;
}

int
dfm_rules_parse(const char *text, size_t len, const char *name, struct dfm_rules **out)
{
	struct dfm_rules *r = calloc(1, sizeof *r);
	char err[512];
	int rc;

	*out = NULL;
	if (!r || !(r->path = strdup(name))) {
		free(r);
		return DFM_ERR_NOMEM;
	}
	if ((rc = dfm_yaml_parse(text, len, name, &r->root, err, sizeof err))) {
		fprintf(stderr, "dfmake: %s\n", err);
		dfm_rules_free(r);
		return rc;
	}
	if ((rc = load_rules(r))) {
		dfm_rules_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
dfm_rules_load(const char *path, struct dfm_rules **out)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!f) {
		fprintf(stderr, "dfmake: cannot open rules file '%s': %m\n", path);
		return DFM_ERR_RULES;
	}
	for (size_t cap = 0, got = 1; got;) {
		if (len + 4096 > cap) {
			char *p = realloc(text, cap = 2 * cap + 4096);

			if (!p) {
				free(text);
				fclose(f);
				return DFM_ERR_NOMEM;
			}
			text = p;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
	}
	fclose(f);
	rc = dfm_rules_parse(text, len, path, out);
	free(text);
	return rc;
}

void
dfm_rules_free(struct dfm_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->rule && i < r->n; i++) {
		struct dfm_rule *rule = &r->rule[i];

		for (size_t j = 0; rule->axes && j < rule->naxes; j++)
			free(rule->axes[j].values);
		for (size_t j = 0; rule->inputs && j < rule->ninputs; j++)
			free(rule->inputs[j].refs);
		free(rule->axes);
		free(rule->params);
		free(rule->inputs);
	}
	free(r->rule);
	dfm_ynode_free(r->root);
	free(r->path);
	free(r);
}

const struct dfm_rule *
dfm_rules_find(const struct dfm_rules *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->rule[i].name, name) == 0)
			return &r->rule[i];
	return NULL;
}
