/* The rules file: named stages with a kind, parameters, inputs and an
 * optional matrix, plus variables and named target groups.  Loading checks
 * the shape of the file and the kinds; the graph expands it into instances.
 * docs/guide.md describes the format. */
#ifndef DFM_RULES_H
#define DFM_RULES_H

#include <stddef.h>

#include "engine/yaml.h"
#include "stages/stage.h"

/* One matrix variable of a stage and the values it takes. */
struct dfm_axis {
	const char *name;
	const struct dfm_ynode *at;
	size_t n;
	const char **values;   /* borrowed from the YAML tree or vars */
};

struct dfm_rule_param {
	const char *name;
	const struct dfm_ynode *key, *value;
};

/* An input slot's references, as written ("resize.data", ...). */
struct dfm_rule_input {
	const char *slot;
	const struct dfm_ynode *key;
	size_t nrefs;
	const struct dfm_ynode **refs;
};

struct dfm_rule {
	const char *name;
	const struct dfm_ynode *at;     /* the stage's name in the file */
	const struct dfm_kind *kind;
	size_t naxes, nparams, ninputs;
	struct dfm_axis *axes;
	struct dfm_rule_param *params;
	struct dfm_rule_input *inputs;
};

struct dfm_rules {
	char *path;                     /* as given, for messages */
	struct dfm_ynode *root;
	size_t n;
	struct dfm_rule *rule;
	const struct dfm_ynode *vars;    /* mapping or NULL */
	const struct dfm_ynode *targets; /* mapping or NULL */
	const struct dfm_ynode *deflt;   /* scalar, list or NULL */
};

/* Loads and checks a rules file.  Errors are printed as
 * "dfmake: path:line:col: reason"; returns 0 and *out (free with
 * dfm_rules_free), or DFM_ERR_RULES or a system error. */
int dfm_rules_load(const char *path, struct dfm_rules **out);

/* Loads rules from text in memory; name is used in messages. */
int dfm_rules_parse(const char *text, size_t len, const char *name,
		    struct dfm_rules **out);

void dfm_rules_free(struct dfm_rules *r);

/* The rule named name, or NULL. */
const struct dfm_rule *dfm_rules_find(const struct dfm_rules *r, const char *name);

/* Prints "dfmake: path:line:col: " and the message to stderr. */
void dfm_rules_error(const struct dfm_rules *r, const struct dfm_ynode *at,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A scalar variable's value from vars, or NULL. */
const char *dfm_rules_var(const struct dfm_rules *r, const char *name);

#endif
