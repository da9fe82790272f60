#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/run.h"

struct slot_inputs {
	size_t n, cap;
	struct dfm_blob *blob;
};

struct dfm_run {
	const struct dfm_kind *kind;
	char *name;
	size_t nparams, nslots, nouts;
	struct dfm_value *values;
	unsigned char *given;
	struct slot_inputs *inputs;
	void **out_data;
	size_t *out_size;
	int threads;
	void (*progress)(double done, double total, void *arg);
	void *progress_arg;
	int (*source_fn)(const char *path, const char *hint, void *arg);
	void *source_arg;
	char *log;
	size_t loglen;
	char *failure;
};

static size_t
count_params(const struct dfm_param *p)
{
	size_t n = 0;

	while (p && p[n].name)
		n++;
	return n;
}

static size_t
count_slots(const struct dfm_slot *s)
{
	size_t n = 0;

	while (s && s[n].name)
		n++;
	return n;
}

static size_t
count_outputs(const struct dfm_output *o)
{
	size_t n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

struct dfm_run *
dfm_run_new(const struct dfm_kind *k, const char *name)
{
	struct dfm_run *r = calloc(1, sizeof *r);
	char err[200];

	if (!r)
		return NULL;
	r->kind = k;
	r->threads = 1;
	r->nparams = count_params(k->params);
	r->nslots = count_slots(k->inputs);
	r->nouts = count_outputs(k->outputs);
	r->name = strdup(name);
	r->values = calloc(r->nparams + 1, sizeof *r->values);
	r->given = calloc(r->nparams + 1, 1);
	r->inputs = calloc(r->nslots + 1, sizeof *r->inputs);
	r->out_data = calloc(r->nouts + 1, sizeof *r->out_data);
	r->out_size = calloc(r->nouts + 1, sizeof *r->out_size);
	r->log = calloc(1, 1);
	if (!r->name || !r->values || !r->given || !r->inputs || !r->out_data ||
	    !r->out_size || !r->log) {
		dfm_run_free(r);
		return NULL;
	}
	for (size_t i = 0; i < r->nparams; i++) {
		const struct dfm_param *p = &k->params[i];

		r->values[i].type = p->type;
		if (p->def && dfm_value_parse(p, p->def, &r->values[i], err, sizeof err) == 0)
			r->given[i] = 1;
	}
	return r;
}

void
dfm_run_free(struct dfm_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->values && i < r->nparams; i++)
		dfm_value_free(&r->values[i]);
	for (size_t i = 0; r->inputs && i < r->nslots; i++)
		free(r->inputs[i].blob);
	for (size_t i = 0; r->out_data && i < r->nouts; i++)
		free(r->out_data[i]);
	free(r->values);
	free(r->given);
	free(r->inputs);
	free(r->out_data);
	free(r->out_size);
	free(r->name);
	free(r->log);
	free(r->failure);
	free(r);
}

static long
param_index(const struct dfm_run *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->kind->params[i].name, name) == 0)
			return (long)i;
	return -1;
}

static long
slot_index(const struct dfm_run *r, const char *slot)
{
	for (size_t i = 0; i < r->nslots; i++)
		if (strcmp(r->kind->inputs[i].name, slot) == 0)
			return (long)i;
	return -1;
}

static long
output_index(const struct dfm_run *r, const char *name)
{
	for (size_t i = 0; i < r->nouts; i++)
		if (strcmp(r->kind->outputs[i].name, name) == 0)
			return (long)i;
	return -1;
}

int
dfm_run_param(struct dfm_run *r, const char *name, const char *text, char *err,
	      size_t errlen)
{
	long i = param_index(r, name);
	struct dfm_value v;
	int rc;

	if (i < 0) {
		snprintf(err, errlen, "kind '%s' has no parameter '%s'", r->kind->name, name);
		return DFM_ERR_RULES;
	}
	if ((rc = dfm_value_parse(&r->kind->params[i], text, &v, err, errlen)))
		return rc;
	dfm_value_free(&r->values[i]);
	r->values[i] = v;
	r->given[i] = 1;
	return 0;
}

int
dfm_run_value(struct dfm_run *r, const char *name, const struct dfm_value *v)
{
	long i = param_index(r, name);
	struct dfm_value copy;

	if (i < 0 || v->type != r->kind->params[i].type)
		return DFM_ERR_RULES;
	if (dfm_value_copy(&copy, v))
		return DFM_ERR_NOMEM;
	dfm_value_free(&r->values[i]);
	r->values[i] = copy;
	r->given[i] = 1;
	return 0;
}

int
dfm_run_input(struct dfm_run *r, const char *slot, const void *data, size_t size,
	      const char *name)
{
	long i = slot_index(r, slot);
	struct slot_inputs *in;

	if (i < 0)
		return DFM_ERR_NOTFOUND;
	in = &r->inputs[i];
	if (in->n == in->cap) {
		size_t cap = in->cap ? 2 * in->cap : 4;
		void *p = realloc(in->blob, cap * sizeof *in->blob);

		if (!p)
			return DFM_ERR_NOMEM;
		in->blob = p;
		in->cap = cap;
	}
	in->blob[in->n++] = (struct dfm_blob){data, size, name};
	return 0;
}

void
dfm_run_set_threads(struct dfm_run *r, int threads)
{
	r->threads = threads > 0 ? threads : 1;
}

void
dfm_run_on_progress(struct dfm_run *r,
		    void (*fn)(double done, double total, void *arg), void *arg)
{
	r->progress = fn;
	r->progress_arg = arg;
}

int
dfm_run_exec(struct dfm_run *r)
{
	int rc;

	for (size_t i = 0; i < r->nparams; i++)
		if (!r->given[i])
			return dfm_fail(r, "parameter '%s' is required",
					r->kind->params[i].name);
	for (size_t i = 0; i < r->nslots; i++)
		if (!r->inputs[i].n && !(r->kind->inputs[i].flags & DFM_SLOT_OPTIONAL))
			return dfm_fail(r, "input '%s' is empty", r->kind->inputs[i].name);
	rc = r->kind->run(r);
	if (rc) {
		if (!r->failure)
			dfm_fail(r, "%s", dfm_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < r->nouts; i++)
		if (!r->out_data[i])
			return dfm_fail(r, "kind '%s' did not produce output '%s'",
					r->kind->name, r->kind->outputs[i].name);
	return 0;
}

int
dfm_run_sources(struct dfm_run *r,
		int (*fn)(const char *path, const char *hint, void *arg), void *arg)
{
	if (!r->kind->sources)
		return 0;
	r->source_fn = fn;
	r->source_arg = arg;
	return r->kind->sources(r);
}

const void *
dfm_run_output(struct dfm_run *r, const char *name, size_t *size)
{
	long i = output_index(r, name);

	if (i < 0 || !r->out_data[i])
		return NULL;
	*size = r->out_size[i];
	return r->out_data[i];
}

const char *
dfm_run_log(struct dfm_run *r)
{
	return r->log;
}

const char *
dfm_run_failure(struct dfm_run *r)
{
	return r->failure;
}

/* The stage API */

static const struct dfm_value *
value_of(struct dfm_run *r, const char *name, enum dfm_type type)
{
	long i = param_index(r, name);

	if (i < 0 || r->values[i].type != type) {
		fprintf(stderr, "dfmake: kind '%s' reads undeclared parameter '%s'\n",
			r->kind->name, name);
		abort();
	}
	return &r->values[i];
}

int64_t
dfm_int(struct dfm_run *r, const char *name)
{
	return value_of(r, name, DFM_INT)->i;
}

double
dfm_float(struct dfm_run *r, const char *name)
{
	return value_of(r, name, DFM_FLOAT)->f;
}

const char *
dfm_str(struct dfm_run *r, const char *name)
{
	const char *s = value_of(r, name, DFM_STR)->s;

	return s ? s : "";
}

int
dfm_bool(struct dfm_run *r, const char *name)
{
	return (int)value_of(r, name, DFM_BOOL)->i;
}

size_t
dfm_ninputs(struct dfm_run *r, const char *slot)
{
	long i = slot_index(r, slot);

	return i < 0 ? 0 : r->inputs[i].n;
}

const struct dfm_blob *
dfm_input(struct dfm_run *r, const char *slot, size_t n)
{
	long i = slot_index(r, slot);

	if (i < 0 || n >= r->inputs[i].n)
		return NULL;
	return &r->inputs[i].blob[n];
}

int
dfm_put_owned(struct dfm_run *r, const char *output, void *data, size_t size)
{
	long i = output_index(r, output);

	if (i < 0) {
		free(data);
		return dfm_fail(r, "kind '%s' has no output '%s'", r->kind->name, output);
	}
	free(r->out_data[i]);
	r->out_data[i] = data;
	r->out_size[i] = size;
	return 0;
}

int
dfm_put(struct dfm_run *r, const char *output, const void *data, size_t size)
{
	void *copy = malloc(size ? size : 1);

	if (!copy)
		return dfm_fail(r, "out of memory for output '%s'", output);
	if (size)
		memcpy(copy, data, size);
	return dfm_put_owned(r, output, copy, size);
}

void
dfm_progress(struct dfm_run *r, double done, double total)
{
	if (r->progress)
		r->progress(done, total, r->progress_arg);
}

static void
append(struct dfm_run *r, const char *fmt, va_list ap)
{
	va_list copy;
	int n;
	char *p;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0 || !(p = realloc(r->log, r->loglen + (size_t)n + 2)))
		return;
	r->log = p;
	vsnprintf(r->log + r->loglen, (size_t)n + 1, fmt, ap);
	r->loglen += (size_t)n;
	r->log[r->loglen++] = '\n';
	r->log[r->loglen] = '\0';
}

void
dfm_note(struct dfm_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append(r, fmt, ap);
	va_end(ap);
}

int
dfm_fail(struct dfm_run *r, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg) {
		free(r->failure);
		r->failure = msg;
		dfm_note(r, "error: %s", msg);
	}
	return DFM_ERR_STAGE;
}

int
dfm_threads(struct dfm_run *r)
{
	return r->threads;
}

const char *
dfm_name(struct dfm_run *r)
{
	return r->name;
}

int
dfm_source(struct dfm_run *r, const char *path, const char *hint)
{
	return r->source_fn ? r->source_fn(path, hint, r->source_arg) : 0;
}

char *
dfm_data_dir(void)
{
	const char *env = getenv("DFMAKE_DATA");
	char exe[PATH_MAX], *slash, *dir;
	ssize_t n;

	if (env && *env)
		return strdup(env);
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) < 0)
		return strdup(".data");
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')))
		*slash = '\0';
	return asprintf(&dir, "%s/../.data", exe) < 0 ? NULL : dir;
}
