/* gc: drops cache entries that no lock file in a given set references. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/lockfile.h"

/* A growing list of digests; sorted, it is the set gc keeps. */
struct digests {
	struct dfm_digest *d;
	size_t n, cap;
};

static int
digests_add(struct digests *k, const struct dfm_digest *d)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 256;
		void *p = realloc(k->d, cap * sizeof *k->d);

		if (!p)
			return DFM_ERR_NOMEM;
		k->d = p;
		k->cap = cap;
	}
	k->d[k->n++] = *d;
	return 0;
}

static int
keep_add(struct digests *k, const char *hex)
{
	struct dfm_digest d;

	if (!hex || dfm_digest_parse(hex, &d))
		return 0;
	return digests_add(k, &d);
}

static int
cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, DFM_DIGEST_SIZE);
}

static int
keep_has(const struct digests *k, const struct dfm_digest *d)
{
	return bsearch(d, k->d, k->n, sizeof *k->d, cmp_digest) != NULL;
}

static const char *
str_at(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* Every key and artifact digest an entry names. */
static int
keep_entry(struct digests *k, json_object *e)
{
	json_object *outputs, *inputs;
	int rc = keep_add(k, str_at(e, "key"));

	if (json_object_object_get_ex(e, "outputs", &outputs)) {
		json_object_object_foreach(outputs, name, out) {
			(void)name;
			rc |= keep_add(k, str_at(out, "digest"));
		}
	}
	if (json_object_object_get_ex(e, "inputs", &inputs)) {
		json_object_object_foreach(inputs, slot, list) {
			(void)slot;
			for (size_t i = 0; i < json_object_array_length(list); i++)
				rc |= keep_add(k, str_at(json_object_array_get_idx(list, i), "digest"));
		}
	}
	return rc;
}

static int
keep_lock(struct digests *k, const char *path)
{
	json_object *lock, *instances;
	int rc = dfm_lock_read(path, &lock);

	if (rc)
		return rc;
	if (json_object_object_get_ex(lock, "instances", &instances)) {
		json_object_object_foreach(instances, name, e) {
			(void)name;
			rc |= keep_entry(k, e);
		}
	}
	json_object_put(lock);
	return rc;
}

struct sweep {
	const struct digests *keep;
	struct digests drop;
	uint64_t bytes;
};

static int
note_drop(struct sweep *sw, const struct dfm_digest *d, size_t size)
{
	sw->bytes += size;
	return digests_add(&sw->drop, d);
}

static int
sweep_artifact(const struct dfm_digest *d, size_t size, void *arg)
{
	struct sweep *sw = arg;

	return keep_has(sw->keep, d) ? 0 : note_drop(sw, d, size);
}

static int
sweep_action(const struct dfm_digest *key, const struct dfm_action *a, void *arg)
{
	struct sweep *sw = arg;

	(void)a;
	return keep_has(sw->keep, key) ? 0 : note_drop(sw, key, 0);
}

int
dfm_cmd_gc(struct dfm_ctx *c, int argc, char **argv)
{
	struct digests k = {0};
	struct sweep arts = {.keep = &k}, acts = {.keep = &k};
	int rc = 0;

	if (argc == 0)
		rc = keep_lock(&k, c->lock_path);
	for (int i = 0; i < argc && !rc; i++)
		rc = keep_lock(&k, argv[i]);
	if (rc)
		goto done;
	qsort(k.d, k.n, sizeof *k.d, cmp_digest);
	if ((rc = dfm_store_each(c->s, sweep_artifact, &arts)) ||
	    (rc = dfm_store_each_action(c->s, sweep_action, &acts)))
		goto done;
	if (!c->dry_run) {
		for (size_t i = 0; i < acts.drop.n && !rc; i++)
			rc = dfm_store_drop_action(c->s, &acts.drop.d[i]);
		for (size_t i = 0; i < arts.drop.n && !rc; i++)
			rc = dfm_store_drop(c->s, &arts.drop.d[i], NULL);
	}
	if (!rc)
		printf("dfmake: gc %s %zu artifacts (%llu bytes) and %zu actions\n",
		       c->dry_run ? "would drop" : "dropped", arts.drop.n,
		       (unsigned long long)arts.bytes, acts.drop.n);
done:
	if (rc)
		fprintf(stderr, "dfmake: gc: %s\n", dfm_strerror(rc));
	free(k.d);
	free(arts.drop.d);
	free(acts.drop.d);
	return rc ? 1 : 0;
}
