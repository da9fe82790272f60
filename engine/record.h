/* Run records: what made an instance's outputs.  dfmake, kind and oneDNN
 * versions, the CPU ISA oneDNN dispatches to, threads, seed, wall and CPU
 * time, host, and the git commit and dirty state of the repository holding
 * the rules.  Stored beside the action and copied into dfmake.lock. */
#ifndef DFM_RECORD_H
#define DFM_RECORD_H

#include "engine/graph.h"

#define DFMAKE_VERSION "0.1.0"

/* Facts about this machine and checkout, gathered once per command and
 * only when something runs: reading git state costs more than a no-op
 * build. */
struct dfm_env_info {
	int loaded;
	char rules_dir[4096];
	char host[256];
	char onednn[32];
	const char *isa;
	int in_git;            /* the rules live in a git work tree */
	char commit[41];
	int dirty;             /* tracked files differ from the commit */
};

/* Prepares info for the rules in rules_dir; reads nothing yet. */
void dfm_record_env(const char *rules_dir, struct dfm_env_info *info);

/* Gathers the facts, once; later calls do nothing. */
void dfm_record_env_load(struct dfm_env_info *info);

/* A run record as JSON text, malloc'd; NULL when out of memory. */
char *dfm_record_json(const struct dfm_env_info *env, const struct dfm_inst *in,
		      int threads, double wall_s, double cpu_s);

#endif
