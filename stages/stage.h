/* The stage API: all that a stage kind sees of dfmake.
 *
 * A stage kind is a named, versioned function from typed parameters and input
 * artifacts to output artifacts.  It knows nothing of the scheduler, the rules
 * file or the cache: it reads its parameters and inputs through a struct
 * dfm_run, reports progress, and hands its outputs back as bytes.  The engine
 * runs it in a worker process, so a crash cannot harm the cache, and commits
 * its outputs only when run() returns 0.
 *
 * Bump a kind's version whenever a change to its code can change its outputs:
 * the version is part of every instance key. */
#ifndef DFM_STAGE_H
#define DFM_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/error.h"

enum dfm_type {
	DFM_INT = 1,    /* int64 */
	DFM_FLOAT,      /* double */
	DFM_STR,        /* UTF-8 string */
	DFM_BOOL,       /* true or false */
};

/* One typed parameter.  def is the default written as in a rules file, or
 * NULL when the parameter is required.  choices, for strings, lists the
 * allowed values separated by '|'.  A number outside [min, max] is rejected
 * when min < max. */
struct dfm_param {
	const char *name;
	enum dfm_type type;
	const char *def;
	const char *help;
	const char *choices;
	double min, max;
};

/* Input slot flags. */
enum {
	DFM_SLOT_LIST = 1,      /* takes any number of artifacts, in order */
	DFM_SLOT_OPTIONAL = 2,  /* may be left empty */
};

struct dfm_slot {
	const char *name;
	unsigned flags;
	const char *help;
};

/* One output.  format is the file extension it is exported with:
 * "safetensors", "json", "md", "csv", "tex", "png", "txt". */
struct dfm_output {
	const char *name;
	const char *format;
	const char *help;
};

struct dfm_run;

struct dfm_kind {
	const char *name;
	int version;
	const char *summary;
	const struct dfm_param *params;     /* ends with a zeroed entry */
	const struct dfm_slot *inputs;      /* ends with a zeroed entry; may be NULL */
	const struct dfm_output *outputs;   /* ends with a zeroed entry */

	/* Does the work.  Returns 0 after putting every output, or an error
	 * (dfm_fail() says why).  Runs in a worker process of its own. */
	int (*run)(struct dfm_run *run);

	/* Optional: calls dfm_source() for each file outside the cache that an
	 * instance reads (a dataset shipped by a package, say), so that the
	 * contents of those files join the instance key.  Only the parameters
	 * are readable here. */
	int (*sources)(struct dfm_run *run);

	/* Optional: prints a human summary of one of this kind's outputs, for
	 * "dfmake show".  Returns 0 or an error. */
	int (*describe)(const char *output, const void *data, size_t size,
			void *file);
};

/* Parameters, by name; the name must be in the kind's schema (a typo is a
 * programming error and aborts).  Strings stay valid for the whole run. */
int64_t dfm_int(struct dfm_run *r, const char *name);
double dfm_float(struct dfm_run *r, const char *name);
const char *dfm_str(struct dfm_run *r, const char *name);
int dfm_bool(struct dfm_run *r, const char *name);

/* Input artifacts.  The bytes stay valid and unchanged for the whole run;
 * data is aligned to 64 bytes.  name says where the artifact came from, as
 * "INSTANCE.OUTPUT". */
struct dfm_blob {
	const void *data;
	size_t size;
	const char *name;
};

/* Number of artifacts bound to an input slot (0 or 1 for a plain slot). */
size_t dfm_ninputs(struct dfm_run *r, const char *slot);

/* The i-th artifact of a slot, or NULL when there is none. */
const struct dfm_blob *dfm_input(struct dfm_run *r, const char *slot, size_t i);

/* Sets an output to a copy of size bytes at data.  Returns 0 or an error. */
int dfm_put(struct dfm_run *r, const char *output, const void *data, size_t size);

/* Sets an output to a malloc'd buffer, which the run now owns. */
int dfm_put_owned(struct dfm_run *r, const char *output, void *data, size_t size);

/* Reports that done of total units of work are finished.  Cheap; call it
 * as often as is natural. */
void dfm_progress(struct dfm_run *r, double done, double total);

/* Appends a line to the instance's log (kept in the cache, shown by
 * "dfmake log" and when the stage fails). */
void dfm_note(struct dfm_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records why the stage failed and returns DFM_ERR_STAGE, so that a run
 * function can say "return dfm_fail(r, "...", ...);". */
int dfm_fail(struct dfm_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Threads this instance may use for compute. */
int dfm_threads(struct dfm_run *r);

/* The readable instance name, e.g. "resize[src=emoji]". */
const char *dfm_name(struct dfm_run *r);

/* From a sources() function: names a file whose bytes join the key.  A
 * missing file is an error the user sees, with hint as the remedy (an
 * install command, say) when it is not NULL. */
int dfm_source(struct dfm_run *r, const char *path, const char *hint);

/* The folder of offline data that "make deps" installs: $DFMAKE_DATA, else
 * .data beside the folder of the running binary.  Malloc'd; NULL when out
 * of memory. */
char *dfm_data_dir(void);

/* The registry of stage kinds. */
const struct dfm_kind *dfm_kind_find(const char *name);
const struct dfm_kind *dfm_kind_at(size_t i);   /* NULL past the end */
void dfm_kind_register(const struct dfm_kind *kind);  /* for test binaries */

/* A parameter's schema entry, or NULL when the kind has none by that name. */
const struct dfm_param *dfm_kind_param(const struct dfm_kind *k, const char *name);

#endif
