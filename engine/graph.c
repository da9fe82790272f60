#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"

/* Instances of one rule, contiguous in expansion order. */
struct span {
	size_t first, n;
};

struct builder {
	struct dfm_rules *rules;
	struct dfm_inst **inst;   /* expansion order */
	size_t n;
	struct span *span;        /* per rule */
	int bad;
};

long
dfm_kind_output(const struct dfm_kind *k, const char *name)
{
	for (long i = 0; k->outputs && k->outputs[i].name; i++)
		if (strcmp(k->outputs[i].name, name) == 0)
			return i;
	return -1;
}

static size_t
count(const void *array, size_t stride)
{
	size_t n = 0;

	while (*(const char *const *)((const char *)array + n * stride))
		n++;
	return n;
}

static char *
instance_name(const struct dfm_rule *rule, const char **vals)
{
	size_t len = strlen(rule->name) + 3;
	char *s, *p;

	for (size_t a = 0; a < rule->naxes; a++)
		len += strlen(rule->axes[a].name) + strlen(vals[a]) + 2;
	if (!(s = malloc(len)))
		return NULL;
	p = s + sprintf(s, "%s", rule->name);
	for (size_t a = 0; a < rule->naxes; a++)
		p += sprintf(p, "%c%s=%s", a ? ',' : '[', rule->axes[a].name, vals[a]);
	if (rule->naxes)
		strcpy(p, "]");
	return s;
}

static struct dfm_inst *
new_inst(const struct dfm_rule *rule, const size_t *pick)
{
	struct dfm_inst *in = calloc(1, sizeof *in);
	const struct dfm_kind *k = rule->kind;

	if (!in)
		return NULL;
	in->rule = rule;
	in->kind = k;
	in->vals = calloc(rule->naxes + 1, sizeof *in->vals);
	in->nparams = k->params ? count(k->params, sizeof *k->params) : 0;
	in->param_names = calloc(in->nparams + 1, sizeof *in->param_names);
	in->params = calloc(in->nparams + 1, sizeof *in->params);
	in->nslots = k->inputs ? count(k->inputs, sizeof *k->inputs) : 0;
	in->slots = calloc(in->nslots + 1, sizeof *in->slots);
	in->nouts = count(k->outputs, sizeof *k->outputs);
	in->out = calloc(in->nouts + 1, sizeof *in->out);
	if (!in->vals || !in->param_names || !in->params || !in->slots || !in->out)
		return in;   /* the caller sees name == NULL and frees */
	for (size_t a = 0; a < rule->naxes; a++)
		in->vals[a] = rule->axes[a].values[pick[a]];
	for (size_t p = 0; p < in->nparams; p++)
		in->param_names[p] = k->params[p].name;
	in->name = instance_name(rule, in->vals);
	return in;
}

static void
free_inst(struct dfm_inst *in)
{
	if (!in)
		return;
	for (size_t p = 0; in->params && p < in->nparams; p++)
		dfm_value_free(&in->params[p]);
	for (size_t s = 0; in->slots && s < in->nslots; s++)
		free(in->slots[s].edge);
	free(in->vals);
	free(in->param_names);
	free(in->params);
	free(in->slots);
	free(in->deps);
	free(in->users);
	free(in->out);
	free(in->sources);
	free(in->reason);
	free(in->name);
	free(in);
}

static int
push(struct builder *b, struct dfm_inst *in)
{
	void *p;

	if (!in || !in->name) {
		free_inst(in);
		return DFM_ERR_NOMEM;
	}
	if (!(p = realloc(b->inst, (b->n + 1) * sizeof *b->inst))) {
		free_inst(in);
		return DFM_ERR_NOMEM;
	}
	b->inst = p;
	b->inst[b->n++] = in;
	return 0;
}

/* One instance per point of the rule's matrix, first axis slowest. */
static int
expand(struct builder *b, const struct dfm_rule *rule)
{
	size_t pick[64] = {0};
	int rc;

	if (rule->naxes > 64) {
		dfm_rules_error(b->rules, rule->at, "too many matrix variables");
		return DFM_ERR_RULES;
	}
	for (;;) {
		size_t a;

		if ((rc = push(b, new_inst(rule, pick))))
			return rc;
		for (a = rule->naxes; a-- > 0;) {
			if (++pick[a] < rule->axes[a].n)
				break;
			pick[a] = 0;
		}
		if (a == (size_t)-1)
			return 0;
	}
}

/* Replaces each ${name} in text by the instance's matrix value or a
 * variable.  Returns a malloc'd string, or NULL after an error. */
static char *
substitute(struct builder *b, const struct dfm_inst *in, const struct dfm_ynode *at)
{
	const char *s = at->value;
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap);

	while (out && *s) {
		const char *val = NULL, *end;
		char name[128];
		size_t vlen;

		if (s[0] != '$' || s[1] != '{' || !(end = strchr(s, '}'))) {
			out[len++] = *s++;
			continue;
		}
		snprintf(name, sizeof name, "%.*s", (int)(end - s - 2), s + 2);
		for (size_t a = 0; a < in->rule->naxes && !val; a++)
			if (strcmp(in->rule->axes[a].name, name) == 0)
				val = in->vals[a];
		if (!val)
			val = dfm_rules_var(b->rules, name);
		if (!val) {
			dfm_rules_error(b->rules, at, "unknown variable '%s' in '%s'", name,
					at->value);
			free(out);
			return NULL;
		}
		vlen = strlen(val);
		cap += vlen;
		if (!(out = realloc(out, cap)))
			return NULL;
		memcpy(out + len, val, vlen);
		len += vlen;
		s = end + 1;
	}
	if (out)
		out[len] = '\0';
	return out;
}

static int
bind_params(struct builder *b, struct dfm_inst *in)
{
	const struct dfm_kind *k = in->kind;
	char err[300];
	int rc = 0;

	for (size_t p = 0; p < in->nparams; p++) {
		const struct dfm_param *spec = &k->params[p];
		const struct dfm_rule_param *rp = NULL;
		char *text;

		for (size_t i = 0; i < in->rule->nparams && !rp; i++)
			if (strcmp(in->rule->params[i].name, spec->name) == 0)
				rp = &in->rule->params[i];
		if (!rp && !spec->def) {
			dfm_rules_error(b->rules, in->rule->at,
					"stage '%s' needs parameter '%s' of kind '%s'",
					in->rule->name, spec->name, k->name);
			rc = DFM_ERR_RULES;
			continue;
		}
		if (!rp) {
			rc |= dfm_value_parse(spec, spec->def, &in->params[p], err, sizeof err);
			continue;
		}
		if (!(text = substitute(b, in, rp->value))) {
			rc = DFM_ERR_RULES;
			continue;
		}
		if (dfm_value_parse(spec, text, &in->params[p], err, sizeof err)) {
			dfm_rules_error(b->rules, rp->value, "parameter '%s' of kind '%s': %s",
					spec->name, k->name, err);
			rc = DFM_ERR_RULES;
		}
		free(text);
	}
	return rc ? DFM_ERR_RULES : 0;
}

struct ref {
	char *stage, *output;
	size_t nfilters;
	char *fkey[16], *fval[16];
};

/* Splits "stage[k=v,...].output" in place. */
static int
parse_ref(char *text, struct ref *r)
{
	char *p = text + strcspn(text, "[.");

	memset(r, 0, sizeof *r);
	r->stage = text;
	if (*p == '[') {
		char *close = strchr(p, ']');

		if (!close)
			return -1;
		*p++ = '\0';
		*close = '\0';
		while (*p) {
			char *comma = p + strcspn(p, ","), *eq = strchr(p, '=');

			if (!eq || eq > comma || r->nfilters == 16)
				return -1;
			*eq = '\0';
			r->fkey[r->nfilters] = p;
			r->fval[r->nfilters++] = eq + 1;
			p = *comma ? (*comma = '\0', comma + 1) : comma;
		}
		p = close + 1;
	}
	if (*p != '.' || !p[1] || strchr(p + 1, '.'))
		return -1;
	*p = '\0';
	r->output = p + 1;
	return *r->stage ? 0 : -1;
}

static long
axis_index(const struct dfm_rule *rule, const char *name)
{
	for (size_t a = 0; a < rule->naxes; a++)
		if (strcmp(rule->axes[a].name, name) == 0)
			return (long)a;
	return -1;
}

/* Does instance j of the referenced rule match the reference from in? */
static int
matches(const struct dfm_inst *in, const struct dfm_inst *j, const struct ref *r)
{
	const struct dfm_rule *target = j->rule;

	for (size_t f = 0; f < r->nfilters; f++)
		if (strcmp(j->vals[axis_index(target, r->fkey[f])], r->fval[f]))
			return 0;
	for (size_t a = 0; a < in->rule->naxes; a++) {
		const char *name = in->rule->axes[a].name;
		long ja = axis_index(target, name);
		int filtered = 0;

		for (size_t f = 0; f < r->nfilters; f++)
			filtered |= strcmp(r->fkey[f], name) == 0;
		if (ja >= 0 && !filtered && strcmp(j->vals[ja], in->vals[a]))
			return 0;
	}
	return 1;
}

static int
add_edge(struct dfm_bound *slot, struct dfm_inst *from, size_t out)
{
	void *p = realloc(slot->edge, (slot->n + 1) * sizeof *slot->edge);

	if (!p)
		return DFM_ERR_NOMEM;
	slot->edge = p;
	slot->edge[slot->n++] = (struct dfm_edge){from, out};
	return 0;
}

static int
check_ref(struct builder *b, const struct dfm_ynode *at, const char *text,
	  const struct ref *r, const struct dfm_rule **target, long *out)
{
	if (!(*target = dfm_rules_find(b->rules, r->stage))) {
		dfm_rules_error(b->rules, at, "'%s' refers to stage '%s', which does not exist",
				text, r->stage);
		return DFM_ERR_RULES;
	}
	if ((*out = dfm_kind_output((*target)->kind, r->output)) < 0) {
		dfm_rules_error(b->rules, at, "stage '%s' (kind '%s') has no output '%s'",
				r->stage, (*target)->kind->name, r->output);
		return DFM_ERR_RULES;
	}
	for (size_t f = 0; f < r->nfilters; f++)
		if (axis_index(*target, r->fkey[f]) < 0) {
			dfm_rules_error(b->rules, at, "stage '%s' has no matrix variable '%s'",
					r->stage, r->fkey[f]);
			return DFM_ERR_RULES;
		}
	return 0;
}

static int
bind_ref(struct builder *b, struct dfm_inst *in, size_t slot, const struct dfm_ynode *at)
{
	char *text = substitute(b, in, at), *copy = NULL;
	const struct dfm_rule *target;
	struct ref r;
	long out;
	size_t before = in->slots[slot].n;
	int rc = DFM_ERR_RULES;

	if (!text || !(copy = strdup(text)))
		goto done;
	if (parse_ref(copy, &r)) {
		dfm_rules_error(b->rules, at, "'%s' is not a reference of the form "
				"STAGE.OUTPUT or STAGE[VAR=VALUE,...].OUTPUT", text);
		goto done;
	}
	if (check_ref(b, at, text, &r, &target, &out))
		goto done;
	const struct span *sp = &b->span[target - b->rules->rule];
	for (size_t i = 0; i < sp->n; i++) {
		struct dfm_inst *j = b->inst[sp->first + i];

		if (matches(in, j, &r) && add_edge(&in->slots[slot], j, (size_t)out))
			goto done;
	}
	if (in->slots[slot].n == before) {
		dfm_rules_error(b->rules, at, "'%s' matches no instance of stage '%s' (from %s)",
				text, r.stage, in->name);
		goto done;
	}
	rc = 0;
done:
	free(text);
	free(copy);
	return rc;
}

static int
bind_inputs(struct builder *b, struct dfm_inst *in)
{
	int rc = 0;

	for (size_t i = 0; i < in->rule->ninputs; i++) {
		const struct dfm_rule_input *ri = &in->rule->inputs[i];
		size_t s = 0;

		while (strcmp(in->kind->inputs[s].name, ri->slot))
			s++;
		for (size_t r = 0; r < ri->nrefs; r++)
			rc |= bind_ref(b, in, s, ri->refs[r]);
		if (!rc && in->slots[s].n > 1 && !(in->kind->inputs[s].flags & DFM_SLOT_LIST)) {
			dfm_rules_error(b->rules, ri->refs[0], "input '%s' of %s takes one artifact "
					"but the reference matches %zu instances; narrow it with "
					"STAGE[VAR=VALUE].OUTPUT", ri->slot, in->name,
					in->slots[s].n);
			rc = DFM_ERR_RULES;
		}
	}
	return rc ? DFM_ERR_RULES : 0;
}

static int
add_unique(struct dfm_inst ***list, size_t *n, struct dfm_inst *x)
{
	void *p;

	for (size_t i = 0; i < *n; i++)
		if ((*list)[i] == x)
			return 0;
	if (!(p = realloc(*list, (*n + 1) * sizeof **list)))
		return DFM_ERR_NOMEM;
	*list = p;
	(*list)[(*n)++] = x;
	return 0;
}

static int
link_deps(struct builder *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct dfm_inst *in = b->inst[i];

		for (size_t s = 0; s < in->nslots; s++)
			for (size_t e = 0; e < in->slots[s].n; e++) {
				struct dfm_inst *from = in->slots[s].edge[e].from;

				if (add_unique(&in->deps, &in->ndeps, from) ||
				    add_unique(&from->users, &from->nusers, in))
					return DFM_ERR_NOMEM;
			}
	}
	return 0;
}

/* Depth-first search; on a back edge prints the cycle. */
static int
visit(struct builder *b, struct dfm_inst *in, unsigned char *color,
      struct dfm_inst **stack, size_t depth, struct dfm_inst **order, size_t *norder)
{
	color[in->id] = 1;
	stack[depth] = in;
	for (size_t d = 0; d < in->ndeps; d++) {
		struct dfm_inst *dep = in->deps[d];

		if (color[dep->id] == 1) {
			size_t start = depth;

			while (stack[start] != dep)
				start--;
			dfm_rules_error(b->rules, in->rule->at, "dependency cycle:");
			for (size_t k = start; k <= depth; k++)
				fprintf(stderr, "  %s needs %s\n", stack[k]->name,
					k < depth ? stack[k + 1]->name : dep->name);
			return DFM_ERR_RULES;
		}
		if (color[dep->id] == 0 &&
		    visit(b, dep, color, stack, depth + 1, order, norder))
			return DFM_ERR_RULES;
	}
	color[in->id] = 2;
	order[(*norder)++] = in;
	return 0;
}

static int
sort_topologically(struct builder *b, struct dfm_graph *g)
{
	unsigned char *color = calloc(b->n + 1, 1);
	struct dfm_inst **stack = calloc(b->n + 1, sizeof *stack);
	int rc = DFM_ERR_NOMEM;

	g->inst = calloc(b->n + 1, sizeof *g->inst);
	if (!color || !stack || !g->inst)
		goto done;
	for (size_t i = 0; i < b->n; i++)
		b->inst[i]->id = i;
	rc = 0;
	for (size_t i = 0; i < b->n && !rc; i++)
		if (!color[i])
			rc = visit(b, b->inst[i], color, stack, 0, g->inst, &g->n);
	for (size_t i = 0; i < g->n; i++)
		g->inst[i]->id = i;
done:
	free(color);
	free(stack);
	return rc;
}

int
dfm_graph_build(struct dfm_rules *rules, struct dfm_graph **out)
{
	struct builder b = {.rules = rules};
	struct dfm_graph *g = calloc(1, sizeof *g);
	int rc = DFM_ERR_NOMEM;

	*out = NULL;
	if (!g || !(b.span = calloc(rules->n + 1, sizeof *b.span)))
		goto fail;
	g->rules = rules;
	for (size_t r = 0; r < rules->n; r++) {
		b.span[r].first = b.n;
		if ((rc = expand(&b, &rules->rule[r])))
			goto fail;
		b.span[r].n = b.n - b.span[r].first;
	}
	rc = 0;
	for (size_t i = 0; i < b.n; i++)
		rc |= bind_params(&b, b.inst[i]);
	for (size_t i = 0; i < b.n && !rc; i++)
		rc |= bind_inputs(&b, b.inst[i]);
	if (rc || (rc = link_deps(&b)) || (rc = sort_topologically(&b, g)))
		goto fail;
	free(b.inst);
	free(b.span);
	*out = g;
	return 0;
fail:
	for (size_t i = 0; i < b.n; i++)
		free_inst(b.inst[i]);
	free(b.inst);
	free(b.span);
	if (g)
		free(g->inst);
	free(g);
	return rc == DFM_ERR_NOMEM ? rc : DFM_ERR_RULES;
}

void
dfm_graph_free(struct dfm_graph *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		free_inst(g->inst[i]);
	free(g->inst);
	free(g);
}

struct dfm_inst *
dfm_graph_find(const struct dfm_graph *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->inst[i]->name, name) == 0)
			return g->inst[i];
	return NULL;
}

static void
need(struct dfm_inst *in)
{
	if (in->needed)
		return;
	in->needed = 1;
	for (size_t d = 0; d < in->ndeps; d++)
		need(in->deps[d]);
}

static int select_one(struct dfm_graph *g, const char *t, int depth);

static int
select_group(struct dfm_graph *g, const struct dfm_ynode *list, int depth)
{
	int rc = 0;

	if (list->type == DFM_Y_SCALAR)
		return select_one(g, list->value, depth + 1);
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i]->type == DFM_Y_SCALAR)
			rc |= select_one(g, list->items[i]->value, depth + 1);
	return rc;
}

static int
select_one(struct dfm_graph *g, const char *t, int depth)
{
	const struct dfm_ynode *group = dfm_ymap_get(g->rules->targets, t);
	int found = 0;

	if (depth > 32) {
		fprintf(stderr, "dfmake: target group '%s' includes itself\n", t);
		return DFM_ERR_USAGE;
	}
	if (group)
		return select_group(g, group, depth);
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->inst[i]->rule->name, t) == 0 || strcmp(g->inst[i]->name, t) == 0) {
			need(g->inst[i]);
			found = 1;
		}
	if (!found) {
		fprintf(stderr, "dfmake: no target, stage or instance named '%s' in %s\n", t,
			g->rules->path);
		return DFM_ERR_USAGE;
	}
	return 0;
}

int
dfm_graph_select(struct dfm_graph *g, int ntargets, char **targets)
{
	int rc = 0;

	if (ntargets > 0) {
		for (int i = 0; i < ntargets; i++)
			rc |= select_one(g, targets[i], 0);
	} else if (g->rules->deflt) {
		rc = select_group(g, g->rules->deflt, 0);
	} else {
		for (size_t i = 0; i < g->n; i++)
			g->inst[i]->needed = 1;
	}
	return rc ? DFM_ERR_USAGE : 0;
}
