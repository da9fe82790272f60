#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/key.h"
#include "engine/lockfile.h"

enum { LOCK_FORMAT = 1 };

int
dfm_lock_read(const char *path, json_object **out)
{
	json_object *lock;

	*out = NULL;
	if (access(path, F_OK) != 0) {
		*out = json_object_new_object();
		return *out ? 0 : DFM_ERR_NOMEM;
	}
	lock = json_object_from_file(path);
	if (!lock || !json_object_is_type(lock, json_type_object)) {
		fprintf(stderr, "dfmake: '%s' is not a valid lock file: %s\n", path,
			json_util_get_last_err() ? json_util_get_last_err() : "not an object");
		json_object_put(lock);
		return DFM_ERR_FORMAT;
	}
	*out = lock;
	return 0;
}

json_object *
dfm_lock_entry(json_object *lock, const char *name)
{
	json_object *instances, *e;

	if (!lock || !json_object_object_get_ex(lock, "instances", &instances) ||
	    !json_object_object_get_ex(instances, name, &e))
		return NULL;
	return e;
}

json_object *
dfm_lock_value(const struct dfm_value *v)
{
	char text[64];

	switch (v->type) {
	case DFM_INT:
		return json_object_new_int64(v->i);
	case DFM_FLOAT:
		dfm_value_format(v, text, sizeof text);
		return json_object_new_double_s(v->f, text);
	case DFM_BOOL:
		return json_object_new_boolean((int)v->i);
	default:
		return json_object_new_string(v->s ? v->s : "");
	}
}

static json_object *
hex(const struct dfm_digest *d)
{
	char h[DFM_DIGEST_HEX];

	return json_object_new_string(dfm_digest_hex(d, h));
}

static json_object *
params_json(const struct dfm_inst *in)
{
	json_object *o = json_object_new_object();
	size_t order[256], n = in->nparams < 256 ? in->nparams : 256;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 1; i < n; i++)   /* insertion sort: schemas are short */
		for (size_t j = i; j > 0 && strcmp(in->param_names[order[j - 1]],
						   in->param_names[order[j]]) > 0; j--) {
			size_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, in->param_names[order[i]],
				       dfm_lock_value(&in->params[order[i]]));
	return o;
}

static json_object *
inputs_json(const struct dfm_inst *in)
{
	json_object *o = json_object_new_object();
	char from[1024];

	for (size_t s = 0; s < in->nslots; s++) {
		json_object *list;

		if (!in->slots[s].n)
			continue;
		list = json_object_new_array();
		for (size_t e = 0; e < in->slots[s].n; e++) {
			const struct dfm_edge *edge = &in->slots[s].edge[e];
			json_object *item = json_object_new_object();

			snprintf(from, sizeof from, "%s.%s", edge->from->name,
				 edge->from->kind->outputs[edge->out].name);
			json_object_object_add(item, "from", json_object_new_string(from));
			json_object_object_add(item, "digest", hex(&edge->from->out[edge->out]));
			json_object_array_add(list, item);
		}
		json_object_object_add(o, in->kind->inputs[s].name, list);
	}
	return o;
}

static json_object *
outputs_json(const struct dfm_inst *in, struct dfm_store *s)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < in->nouts; i++) {
		json_object *item = json_object_new_object();
		size_t size = 0;

		json_object_object_add(item, "digest", hex(&in->out[i]));
		if (dfm_store_stat(s, &in->out[i], &size) == 0)
			json_object_object_add(item, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(o, in->kind->outputs[i].name, item);
	}
	return o;
}

static json_object *
entry_json(const struct dfm_inst *in, struct dfm_store *s)
{
	json_object *e = json_object_new_object(), *sources, *record = NULL;
	char *text;

	json_object_object_add(e, "kind", json_object_new_string(in->kind->name));
	json_object_object_add(e, "kind_version", json_object_new_int(in->kind->version));
	json_object_object_add(e, "key", hex(&in->key));
	json_object_object_add(e, "params", params_json(in));
	json_object_object_add(e, "inputs", inputs_json(in));
	if (in->nsources) {
		sources = json_object_new_array();
		for (size_t i = 0; i < in->nsources; i++)
			json_object_array_add(sources, hex(&in->sources[i]));
		json_object_object_add(e, "sources", sources);
	}
	json_object_object_add(e, "outputs", outputs_json(in, s));
	if (dfm_store_record(s, &in->key, &text) == 0) {
		record = json_tokener_parse(text);
		free(text);
	}
	json_object_object_add(e, "record", record);
	return e;
}

/* An earlier entry still describes a cached instance when the key and the
 * producers of its inputs are the same; reusing it saves reading the record
 * back from the store. */
static int
still_true(const struct dfm_inst *in, json_object *old)
{
	json_object *key, *inputs, *list, *from;
	char hex[DFM_DIGEST_HEX], name[1024];

	if (!old || !in->cached || !json_object_object_get_ex(old, "key", &key) ||
	    strcmp(json_object_get_string(key), dfm_digest_hex(&in->key, hex)) ||
	    !json_object_object_get_ex(old, "inputs", &inputs))
		return 0;
	for (size_t s = 0; s < in->nslots; s++) {
		if (!in->slots[s].n)
			continue;
		if (!json_object_object_get_ex(inputs, in->kind->inputs[s].name, &list) ||
		    json_object_array_length(list) != in->slots[s].n)
			return 0;
		for (size_t e = 0; e < in->slots[s].n; e++) {
			const struct dfm_edge *edge = &in->slots[s].edge[e];

			snprintf(name, sizeof name, "%s.%s", edge->from->name,
				 edge->from->kind->outputs[edge->out].name);
			if (!json_object_object_get_ex(json_object_array_get_idx(list, e), "from",
						       &from) ||
			    strcmp(json_object_get_string(from), name))
				return 0;
		}
	}
	return 1;
}

static int
by_name(const void *a, const void *b)
{
	const struct dfm_inst *x = *(const struct dfm_inst *const *)a;
	const struct dfm_inst *y = *(const struct dfm_inst *const *)b;

	return strcmp(x->name, y->name);
}

int
dfm_lock_write(const char *path, const struct dfm_graph *g, json_object *prev,
	       struct dfm_store *s)
{
	json_object *lock = json_object_new_object(), *instances = json_object_new_object();
	json_object *old_instances = NULL;
	int changed = 0;
	struct dfm_inst **sorted = malloc((g->n + 1) * sizeof *sorted);
	char *tmp = NULL;
	int rc = DFM_ERR_NOMEM;

	if (!sorted || asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		goto done;
	memcpy(sorted, g->inst, g->n * sizeof *sorted);
	qsort(sorted, g->n, sizeof *sorted, by_name);
	json_object_object_add(lock, "dfmake_lock", json_object_new_int(LOCK_FORMAT));
	json_object_object_add(lock, "key_encoding", json_object_new_int(DFM_KEY_ENCODING));
	for (size_t i = 0; i < g->n; i++) {
		const struct dfm_inst *in = sorted[i];
		json_object *old = dfm_lock_entry(prev, in->name);

		if (in->state == DFM_DONE && in->have_key && !still_true(in, old)) {
			json_object_object_add(instances, in->name, entry_json(in, s));
			changed = 1;
		} else if (old && in->state != DFM_FAILED) {
			json_object_object_add(instances, in->name, json_object_get(old));
		} else {
			changed |= old != NULL;
		}
	}
	json_object_object_get_ex(prev, "instances", &old_instances);
	if (!changed && old_instances &&
	    json_object_object_length(old_instances) == json_object_object_length(instances)) {
		rc = 0;   /* the file already says all this */
		goto done;
	}
	json_object_object_add(lock, "instances", instances);
	instances = NULL;
	if (json_object_to_file_ext(tmp, lock, JSON_C_TO_STRING_PRETTY |
				    JSON_C_TO_STRING_SPACED |
				    JSON_C_TO_STRING_NOSLASHESCAPE) != 0 ||
	    rename(tmp, path) != 0) {
		rc = errno ? errno : DFM_ERR_STORE;
		fprintf(stderr, "dfmake: cannot write '%s': %s\n", path, strerror(rc));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	json_object_put(instances);
	json_object_put(lock);
	free(sorted);
	free(tmp);
	return rc;
}
