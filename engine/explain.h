/* Why an instance runs: compares it with its entry in the previous lock
 * file and names what changed.  Used by "dfmake -n", "--explain" and
 * "status". */
#ifndef DFM_EXPLAIN_H
#define DFM_EXPLAIN_H

#include <json-c/json.h>

#include "engine/graph.h"

/* The reason an instance whose key is known but not in the cache runs;
 * prev is its entry in the previous lock or NULL.  Malloc'd. */
char *dfm_explain(const struct dfm_inst *in, json_object *prev);

/* The reason an instance runs when some input is not built yet (a dry run):
 * names the first such input.  Malloc'd. */
char *dfm_explain_upstream(const struct dfm_inst *in);

#endif
