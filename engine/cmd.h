/* What every command shares: the options, the loaded rules and graph, the
 * open store and the previous lock.  cli.c fills it; the commands live in
 * build.c, inspect.c, gc.c and audit.c. */
#ifndef DFM_CMD_H
#define DFM_CMD_H

#include <json-c/json.h>

#include "cache/store.h"
#include "engine/graph.h"
#include "engine/record.h"
#include "engine/rules.h"

struct dfm_ctx {
	/* options */
	const char *rules_path;      /* NULL: dfmake.yaml, else the embedded rules */
	const char *cache_opt;       /* --cache */
	int jobs, threads, keep_going, dry_run, rerun;

	/* set up by dfm_ctx_open */
	int embedded;                /* running the built-in default rules */
	char *rules_dir, *lock_path, *cache_dir;
	struct dfm_rules *rules;
	struct dfm_graph *g;
	struct dfm_store *s;
	json_object *prev;           /* dfmake.lock as it was */
	struct dfm_env_info env;
};

/* Loads rules and graph, opens the store and reads the lock.  Returns 0 or
 * an error already reported. */
int dfm_ctx_open(struct dfm_ctx *c);
void dfm_ctx_close(struct dfm_ctx *c);

/* Works out keys and cache state of the needed instances without running
 * anything (a dry-run build, silent).  Returns 0 or an error. */
int dfm_ctx_resolve(struct dfm_ctx *c);

/* Resolves "INSTANCE" to an instance with known state; prints an error and
 * returns NULL when there is none. */
struct dfm_inst *dfm_ctx_instance(struct dfm_ctx *c, const char *name);

/* The commands; each returns the process exit status. */
int dfm_cmd_build(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_status(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_dag(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_show(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_export(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_log(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_gc(struct dfm_ctx *c, int argc, char **argv);
int dfm_cmd_audit(struct dfm_ctx *c, int argc, char **argv);

/* The built-in default rules (rules/quick.yaml), NUL-terminated. */
extern const char dfm_default_rules[];

#endif
