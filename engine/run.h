/* A stage run: the object behind the stage API (struct dfm_run).  The
 * engine fills in parameters and inputs, calls the kind's run function, and
 * takes the outputs, log and failure message back.  Unit tests use it the
 * same way to run a kind directly. */
#ifndef DFM_RUN_H
#define DFM_RUN_H

#include "engine/param.h"
#include "stages/stage.h"

/* A run of kind k named name, with every parameter at its default (a
 * required one is unset until given).  NULL when out of memory. */
struct dfm_run *dfm_run_new(const struct dfm_kind *k, const char *name);

void dfm_run_free(struct dfm_run *r);

/* Sets a parameter from rules text.  Returns 0 or DFM_ERR_RULES with a
 * reason in err. */
int dfm_run_param(struct dfm_run *r, const char *name, const char *text,
		  char *err, size_t errlen);

/* Sets a parameter to a parsed value (copied). */
int dfm_run_value(struct dfm_run *r, const char *name, const struct dfm_value *v);

/* Appends an artifact to an input slot.  The bytes are borrowed: they must
 * outlive the run.  Returns 0 or an error. */
int dfm_run_input(struct dfm_run *r, const char *slot, const void *data,
		  size_t size, const char *name);

/* Threads the kind may use (default 1). */
void dfm_run_set_threads(struct dfm_run *r, int threads);

/* Where progress goes: a callback, or none. */
void dfm_run_on_progress(struct dfm_run *r,
			 void (*fn)(double done, double total, void *arg), void *arg);

/* Calls the kind's run function.  Returns its result, or DFM_ERR_STAGE when
 * it returned 0 without putting every output. */
int dfm_run_exec(struct dfm_run *r);

/* Calls the kind's sources function, if any, with fn receiving each file
 * (and the hint for a missing file). */
int dfm_run_sources(struct dfm_run *r,
		    int (*fn)(const char *path, const char *hint, void *arg), void *arg);

/* An output's bytes after a successful exec, or NULL.  Owned by the run. */
const void *dfm_run_output(struct dfm_run *r, const char *name, size_t *size);

/* The accumulated log text (never NULL) and the failure message (NULL when
 * none).  Owned by the run. */
const char *dfm_run_log(struct dfm_run *r);
const char *dfm_run_failure(struct dfm_run *r);

#endif
