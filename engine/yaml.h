/* A YAML document as a small tree of scalars, sequences and mappings, each
 * node with the line and column where it starts, for rules-file errors.
 * Loaded with libyaml; anchors and aliases are refused. */
#ifndef DFM_YAML_H
#define DFM_YAML_H

#include <stddef.h>

enum dfm_ytype {
	DFM_Y_SCALAR,
	DFM_Y_SEQ,
	DFM_Y_MAP,
};

struct dfm_ynode {
	enum dfm_ytype type;
	int line, col;              /* 1-based */
	char *value;                /* scalars only */
	size_t n;                   /* sequence items, or mapping pairs */
	struct dfm_ynode **items;   /* mapping: key 2i, value 2i+1 */
};

/* Parses YAML text; name is the file name used in messages.  Returns 0 and
 * a tree the caller frees with dfm_ynode_free(), or an error with
 * "name:line:col: reason" in err. */
int dfm_yaml_parse(const char *text, size_t len, const char *name,
		   struct dfm_ynode **root, char *err, size_t errlen);

void dfm_ynode_free(struct dfm_ynode *n);

/* The value of key in a mapping, or NULL.  Borrowed from map. */
struct dfm_ynode *dfm_ymap_get(const struct dfm_ynode *map, const char *key);

/* A readable name of a node's type ("a scalar", "a list", "a mapping"). */
const char *dfm_ytype_name(const struct dfm_ynode *n);

#endif
