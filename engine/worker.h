/* Workers: each stage instance runs in a forked child process, so that a
 * crash or abort in a stage is reported and cannot harm the cache or the
 * build.  The child opens its own store, reads and verifies its inputs,
 * runs the kind, and commits outputs, action, record and log in one
 * transaction.  It reports progress and problems over a pipe, one line per
 * message:
 *   P DONE TOTAL     progress
 *   C DIGEST         an input was corrupt (the store dropped it)
 *   M DIGEST         an input was missing from the store
 *   O NAME DIGEST    an output, in audit mode (nothing is committed)
 * and exits 0 on success, 1 when the stage failed, 3 on a bad input. */
#ifndef DFM_WORKER_H
#define DFM_WORKER_H

#include <sys/types.h>

#include "engine/graph.h"
#include "engine/record.h"

enum { DFM_WORKER_BAD_INPUT = 3 };

struct dfm_worker {
	pid_t pid;
	int fd;                       /* read end of the message pipe */
	struct dfm_inst *inst;
	double started;               /* monotonic seconds */
	double done, total;           /* last progress */
	int bad_input;                /* a C or M line was seen */
	struct dfm_digest bad_digest;
	char *logpath;                /* captured stdout and stderr */
	char line[512];
	size_t linelen;
	struct dfm_digest *audit_out; /* audit mode: per kind output */
	unsigned char *audit_seen;
};

struct dfm_worker_opts {
	const char *cache_dir;
	const struct dfm_env_info *env;
	int threads;
	int audit;                    /* run without committing; report outputs */
};

/* Forks a worker for inst; its input digests must be known.  Returns 0
 * and *out (free with dfm_worker_free after it ended), or an error. */
int dfm_worker_start(struct dfm_inst *inst, const struct dfm_worker_opts *o,
		     struct dfm_worker **out);

/* Reads what the worker has sent; returns 1 when its pipe closed. */
int dfm_worker_read(struct dfm_worker *w);

/* The worker's captured output, malloc'd ("" when none). */
char *dfm_worker_log(const struct dfm_worker *w);

/* Removes the capture file and frees w. */
void dfm_worker_free(struct dfm_worker *w);

/* Monotonic clock in seconds. */
double dfm_now(void);

#endif
