/* The instance graph: the rules expanded over their matrices into stage
 * instances, each with typed parameters and its inputs bound to other
 * instances' outputs.  Built once per command; acyclic by construction
 * (a cycle is an error that names it). */
#ifndef DFM_GRAPH_H
#define DFM_GRAPH_H

#include <stddef.h>

#include "cache/digest.h"
#include "engine/param.h"
#include "engine/rules.h"

/* One artifact bound to an input slot: output out of instance from. */
struct dfm_edge {
	struct dfm_inst *from;
	size_t out;
};

struct dfm_bound {
	size_t n;
	struct dfm_edge *edge;
};

/* The states an instance goes through in a build; see engine/sched.c. */
enum dfm_state {
	DFM_IDLE,       /* not needed, or not yet considered */
	DFM_WAITING,    /* some input is not done yet */
	DFM_READY,      /* key known, not in the cache: to run */
	DFM_OTHER,      /* another process holds the claim: waiting for it */
	DFM_RUNNING,    /* a worker of ours is running it */
	DFM_DONE,       /* outputs known: ran or cached */
	DFM_FAILED,     /* the stage failed or crashed */
	DFM_SKIPPED,    /* an input failed */
};

struct dfm_inst {
	size_t id;                      /* index in the graph, topological */
	char *name;                     /* "rule[a=1,b=x]" */
	const struct dfm_rule *rule;
	const struct dfm_kind *kind;
	const char **vals;              /* per rule axis */
	size_t nparams;
	const char **param_names;       /* schema order */
	struct dfm_value *params;
	size_t nslots;
	struct dfm_bound *slots;        /* per kind input slot */
	size_t ndeps, nusers;
	struct dfm_inst **deps;         /* distinct upstream instances */
	struct dfm_inst **users;        /* distinct downstream instances */
	size_t nouts;

	/* Build state, owned by the scheduler. */
	int needed;
	enum dfm_state state;
	int have_key;
	struct dfm_digest key;
	size_t nsources;
	struct dfm_digest *sources;     /* digests of external files read */
	struct dfm_digest *out;         /* per kind output, when DONE */
	int cached;
	char *reason;                   /* why it runs, for -n and --explain */
};

struct dfm_graph {
	struct dfm_rules *rules;
	size_t n;
	struct dfm_inst **inst;         /* topological order: inputs first */
};

/* Expands rules into instances.  Errors (bad parameter values, unknown
 * stages or outputs, ambiguous references, cycles) are printed with their
 * rules position.  Returns 0 and *out, or DFM_ERR_RULES. */
int dfm_graph_build(struct dfm_rules *rules, struct dfm_graph **out);

/* Frees the graph (not the rules). */
void dfm_graph_free(struct dfm_graph *g);

/* The instance with this exact name, or NULL. */
struct dfm_inst *dfm_graph_find(const struct dfm_graph *g, const char *name);

/* Marks needed every instance that the targets need.  A target is a group
 * from "targets", a stage name (all its instances) or an instance name;
 * none means the rules' default, else every instance.  Returns 0 or
 * DFM_ERR_USAGE after printing what was not found. */
int dfm_graph_select(struct dfm_graph *g, int ntargets, char **targets);

/* Index of a kind's output by name, or -1. */
long dfm_kind_output(const struct dfm_kind *k, const char *name);

#endif
