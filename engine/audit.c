/* audit: checks that every digest dfmake.lock records is in the cache and
 * intact, and with --rerun re-executes each instance with the cache bypassed
 * and compares the output digests with the recorded ones. */
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engine/cmd.h"
#include "engine/lockfile.h"
#include "engine/worker.h"

struct tally {
	int instances, intact, missing, corrupt;
	int same, differ, unrun;
};

static void
check_entry(struct dfm_ctx *c, const char *name, json_object *e, struct tally *t)
{
	json_object *outputs, *d;
	struct dfm_digest digest;

	t->instances++;
	if (!json_object_object_get_ex(e, "outputs", &outputs))
		return;
	json_object_object_foreach(outputs, out, item) {
		int rc;

		if (!json_object_object_get_ex(item, "digest", &d) ||
		    dfm_digest_parse(json_object_get_string(d), &digest)) {
			printf("%s.%s: no valid digest in the lock\n", name, out);
			t->corrupt++;
			continue;
		}
		rc = dfm_store_verify(c->s, &digest);
		if (rc == 0) {
			t->intact++;
		} else if (rc == DFM_ERR_NOTFOUND) {
			printf("%s.%s: missing from the cache (%s)\n", name, out,
			       json_object_get_string(d));
			t->missing++;
		} else {
			printf("%s.%s: %s (%s)\n", name, out, dfm_strerror(rc),
			       json_object_get_string(d));
			t->corrupt++;
		}
	}
}

/* Runs one instance in audit mode and waits for it. */
static int
rerun(struct dfm_ctx *c, struct dfm_inst *in, struct dfm_worker **out)
{
	struct dfm_worker_opts wo = {
		.cache_dir = c->cache_dir, .env = &c->env, .threads = c->threads, .audit = 1,
	};
	struct dfm_worker *w;
	int status, rc;

	dfm_record_env_load(&c->env);
	rc = dfm_worker_start(in, &wo, &w);

	if (rc)
		return rc;
	for (;;) {
		struct pollfd p = {.fd = w->fd, .events = POLLIN};

		poll(&p, 1, 1000);
		if (dfm_worker_read(w))
			break;
	}
	waitpid(w->pid, &status, 0);
	*out = w;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : DFM_ERR_STAGE;
}

static void
compare(struct dfm_inst *in, struct dfm_worker *w, json_object *e, struct tally *t)
{
	json_object *outputs = NULL, *item, *d;
	char hex[DFM_DIGEST_HEX];
	int same = 1;

	json_object_object_get_ex(e, "outputs", &outputs);
	for (size_t o = 0; o < in->nouts; o++) {
		const char *name = in->kind->outputs[o].name;
		const char *want = json_object_object_get_ex(outputs, name, &item) &&
				   json_object_object_get_ex(item, "digest", &d)
				   ? json_object_get_string(d) : "(none)";

		dfm_digest_hex(&w->audit_out[o], hex);
		if (!w->audit_seen[o] || strcmp(hex, want)) {
			printf("%s.%s: rerun gives %s, the lock records %s\n", in->name, name,
			       w->audit_seen[o] ? hex : "nothing", want);
			same = 0;
		}
	}
	if (same) {
		printf("%s: identical\n", in->name);
		t->same++;
	} else {
		t->differ++;
	}
}

static void
rerun_all(struct dfm_ctx *c, json_object *instances, struct tally *t)
{
	char hex[DFM_DIGEST_HEX];

	for (size_t i = 0; i < c->g->n; i++)
		c->g->inst[i]->needed = dfm_lock_entry(c->prev, c->g->inst[i]->name) != NULL;
	dfm_ctx_resolve(c);
	for (size_t i = 0; i < c->g->n; i++) {
		struct dfm_inst *in = c->g->inst[i];
		json_object *e, *key;
		struct dfm_worker *w = NULL;

		if (!json_object_object_get_ex(instances, in->name, &e))
			continue;
		if (!in->have_key || !json_object_object_get_ex(e, "key", &key) ||
		    strcmp(json_object_get_string(key), dfm_digest_hex(&in->key, hex))) {
			printf("%s: not rerun: its rules or inputs no longer match the lock\n",
			       in->name);
			t->unrun++;
			continue;
		}
		if (rerun(c, in, &w)) {
			char *log = w ? dfm_worker_log(w) : NULL;

			printf("%s: the rerun failed\n%s", in->name, log ? log : "");
			free(log);
			t->unrun++;
		} else {
			compare(in, w, e, t);
		}
		dfm_worker_free(w);
	}
}

int
dfm_cmd_audit(struct dfm_ctx *c, int argc, char **argv)
{
	struct tally t = {0};
	json_object *instances;

	(void)argv;
	if (argc) {
		fprintf(stderr, "dfmake: usage: dfmake audit [--rerun]\n");
		return 2;
	}
	if (!json_object_object_get_ex(c->prev, "instances", &instances)) {
		fprintf(stderr, "dfmake: no '%s' to audit; build first\n", c->lock_path);
		return 1;
	}
	json_object_object_foreach(instances, name, e)
		check_entry(c, name, e, &t);
	printf("dfmake: audit: %d instances, %d outputs intact, %d missing, %d corrupt\n",
	       t.instances, t.intact, t.missing, t.corrupt);
	if (c->rerun) {
		rerun_all(c, instances, &t);
		printf("dfmake: audit --rerun: %d identical, %d differ, %d not rerun\n", t.same,
		       t.differ, t.unrun);
	}
	return t.missing || t.corrupt || t.differ || t.unrun ? 1 : 0;
}
