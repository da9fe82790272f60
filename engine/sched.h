/* The scheduler: builds the needed instances of a graph in dependency
 * order, reusing what the cache holds and running the rest in worker
 * processes, several at once. */
#ifndef DFM_SCHED_H
#define DFM_SCHED_H

#include <json-c/json.h>

#include "cache/store.h"
#include "engine/graph.h"
#include "engine/record.h"

struct dfm_build_opts {
	int jobs;                /* instances at once */
	int threads;             /* compute threads per instance */
	int keep_going;          /* go on past failures */
	int dry_run;             /* say what would run, run nothing */
	const char *cache_dir;
	json_object *prev;       /* the previous lock, for reasons */
	struct dfm_env_info *env;        /* loaded before the first worker */
};

struct dfm_build_stats {
	int ran, cached, failed, skipped, would_run;
	int interrupted;         /* stopped by SIGINT or SIGTERM */
};

/* Builds every needed instance of g.  Returns 0 when all are done, or
 * DFM_ERR_STAGE when some failed or were skipped (already reported). */
int dfm_build(struct dfm_graph *g, struct dfm_store *s, const struct dfm_build_opts *o,
	      struct dfm_build_stats *st);

/* Computes an instance's source digests and key; its inputs must be done.
 * Returns 0 or an error after printing it. */
int dfm_inst_key(struct dfm_inst *in, struct dfm_store *s);

/* Looks an instance's key up in the store: 1 and its output digests in
 * in->out when every output is stored, 0 when not.  With verify, outputs
 * are re-hashed and a corrupt one is dropped (and reported) as a miss. */
int dfm_inst_lookup(struct dfm_inst *in, struct dfm_store *s, int verify);

#endif
