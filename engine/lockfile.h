/* dfmake.lock: the record of a build, written beside the rules and meant to
 * be committed.  JSON in a stable order (instances and keys sorted), one
 * entry per instance: kind, kind version, key, parameters, input, source
 * and output digests, and the run record that made the outputs. */
#ifndef DFM_LOCKFILE_H
#define DFM_LOCKFILE_H

#include <json-c/json.h>

#include "cache/store.h"
#include "engine/graph.h"

/* Reads a lock file.  A missing file gives an empty lock.  Returns 0 and
 * *out (free with json_object_put), or an error after printing it. */
int dfm_lock_read(const char *path, json_object **out);

/* The entry of an instance in a lock, or NULL.  Borrowed. */
json_object *dfm_lock_entry(json_object *lock, const char *name);

/* Writes the lock for g atomically: instances done in this build get fresh
 * entries; others keep their entry from prev while they still exist in the
 * rules.  Returns 0 or an error after printing it. */
int dfm_lock_write(const char *path, const struct dfm_graph *g, json_object *prev,
		   struct dfm_store *s);

/* A parameter value as JSON (a new reference). */
json_object *dfm_lock_value(const struct dfm_value *v);

#endif
