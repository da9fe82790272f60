/* The build command, and status, which is a build that runs nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/lockfile.h"
#include "engine/log.h"
#include "engine/sched.h"

static int
select_targets(struct dfm_ctx *c, int argc, char **argv)
{
	return dfm_graph_select(c->g, argc, argv);
}

/* Prints the Markdown outputs of the build's final instances: the tables. */
static void
print_results(struct dfm_ctx *c)
{
	for (size_t i = 0; i < c->g->n; i++) {
		struct dfm_inst *in = c->g->inst[i];
		int leaf = 1;

		if (!in->needed || in->state != DFM_DONE)
			continue;
		for (size_t u = 0; u < in->nusers; u++)
			leaf &= !in->users[u]->needed;
		for (size_t o = 0; leaf && o < in->nouts; o++) {
			void *data;
			size_t size;
			int rc;

			if (strcmp(in->kind->outputs[o].format, "md"))
				continue;
			if ((rc = dfm_store_get(c->s, &in->out[o], &data, &size))) {
				fprintf(stderr, "dfmake: cannot read %s.%s: %s\n", in->name,
					in->kind->outputs[o].name, dfm_strerror(rc));
				continue;
			}
			fwrite(data, 1, size, stdout);
			if (size && ((char *)data)[size - 1] != '\n')
				putchar('\n');
			free(data);
		}
	}
	fflush(stdout);
}

static void
print_would_run(struct dfm_ctx *c)
{
	for (size_t i = 0; i < c->g->n; i++) {
		struct dfm_inst *in = c->g->inst[i];

		if (in->needed && in->state == DFM_DONE && !in->cached)
			printf("%s: %s\n", in->name, in->reason ? in->reason : "runs");
	}
}

int
dfm_cmd_build(struct dfm_ctx *c, int argc, char **argv)
{
	struct dfm_build_opts o = {
		.jobs = c->jobs, .threads = c->threads, .keep_going = c->keep_going,
		.dry_run = c->dry_run, .cache_dir = c->cache_dir, .prev = c->prev,
		.env = &c->env,
	};
	struct dfm_build_stats st;
	int rc;

	if (select_targets(c, argc, argv))
		return 2;
	rc = dfm_build(c->g, c->s, &o, &st);
	if (c->dry_run) {
		print_would_run(c);
		fprintf(stderr, "dfmake: %d would run, %d cached%s\n", st.would_run, st.cached,
			st.failed ? ", some keys could not be computed" : "");
		return rc ? 1 : 0;
	}
	if (dfm_lock_write(c->lock_path, c->g, c->prev, c->s) && !rc)
		rc = 1;
	if (!rc)
		print_results(c);
	if (st.skipped)
		fprintf(stderr, "dfmake: %d skipped because an input failed\n", st.skipped);
	if (st.interrupted)
		fprintf(stderr, "dfmake: interrupted before the build finished\n");
	fprintf(stderr, "dfmake: %d ran, %d cached, %d failed\n", st.ran, st.cached, st.failed);
	return rc ? 1 : 0;
}

int
dfm_cmd_status(struct dfm_ctx *c, int argc, char **argv)
{
	int stale = 0;

	if (select_targets(c, argc, argv))
		return 2;
	dfm_ctx_resolve(c);
	for (size_t i = 0; i < c->g->n; i++) {
		struct dfm_inst *in = c->g->inst[i];

		if (!in->needed)
			continue;
		if (in->state == DFM_DONE && in->cached)
			printf("cached  %s\n", in->name);
		else if (in->state == DFM_DONE)
			printf("stale   %s: %s\n", in->name, in->reason ? in->reason : "");
		else
			printf("error   %s: its key cannot be computed\n", in->name);
		stale += !(in->state == DFM_DONE && in->cached);
	}
	return 0;
}
