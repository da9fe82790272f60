/* The scheduler.
 *
 * An instance goes through these states (enum dfm_state in graph.h):
 *
 *   IDLE -> WAITING -> DONE (cached)
 *                   -> READY -> RUNNING -> DONE (ran)
 *                   |        -> OTHER (claimed elsewhere) -> DONE (cached)
 *                   |                                     -> RUNNING
 *                   -> FAILED | SKIPPED
 *
 * WAITING becomes READY only when every input is DONE, so its key (which
 * covers the input digests) can be computed.  An instance is run only by
 * the process holding its claim, and only after a second look-up under the
 * claim finds nothing: another process may have finished it meanwhile.
 *
 * Invariants:
 *   - the cache is only written by workers, one transaction per instance;
 *   - a FAILED or crashed worker leaves the cache as it was;
 *   - at most opts.jobs workers run at once;
 *   - when a worker finds an input corrupt or missing, the store has dropped
 *     it; the producing instance goes back to WAITING and is rebuilt, and
 *     the consumer waits for it again (at most MAX_RETRIES times).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/claim.h"
#include "engine/explain.h"
#include "engine/key.h"
#include "engine/lockfile.h"
#include "engine/log.h"
#include "engine/run.h"
#include "engine/sched.h"
#include "engine/worker.h"

enum { MAX_RETRIES = 3, MAX_JOBS = 256 };

struct job {
	struct dfm_worker *w;
	struct dfm_claim *claim;
};

struct sched {
	struct dfm_graph *g;
	struct dfm_store *s;
	const struct dfm_build_opts *o;
	struct dfm_build_stats *st;
	struct job jobs[MAX_JOBS];
	int njobs;
	int stop;                       /* a failure without -k, or a signal */
	int killing;                    /* workers are being stopped on purpose */
	unsigned char *retries;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

/* Source files */

struct sources {
	struct dfm_inst *in;
	struct dfm_store *s;
	int failed;
};

/* Digest of a file, remembered by path, size, time and inode. */
static int
file_digest(struct dfm_store *s, const char *path, struct dfm_digest *d)
{
	struct stat sb;
	char *memo = NULL;
	void *val = NULL, *map;
	size_t vlen = 0;
	int fd, klen, rc;

	if (stat(path, &sb) != 0)
		return errno;
	klen = asprintf(&memo, "src:%s:%lld:%lld.%09ld:%llu", path, (long long)sb.st_size,
			(long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
			(unsigned long long)sb.st_ino);
	if (klen < 0)
		return DFM_ERR_NOMEM;
	if (dfm_store_memo_get(s, memo, (size_t)klen, &val, &vlen) == 0 &&
	    vlen == DFM_DIGEST_SIZE) {
		memcpy(d->b, val, DFM_DIGEST_SIZE);
		free(val);
		free(memo);
		return 0;
	}
	free(val);
	rc = 0;
	if ((fd = open(path, O_RDONLY)) < 0) {
		rc = errno;
	} else if (sb.st_size == 0) {
		*d = dfm_digest_of("", 0);
	} else if ((map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) ==
		   MAP_FAILED) {
		rc = errno;
	} else {
		*d = dfm_digest_of(map, (size_t)sb.st_size);
		munmap(map, (size_t)sb.st_size);
	}
	if (fd >= 0)
		close(fd);
	if (!rc)
		dfm_store_memo_put(s, memo, (size_t)klen, d->b, DFM_DIGEST_SIZE);
	free(memo);
	return rc;
}

static int
add_source(const char *path, const char *hint, void *arg)
{
	struct sources *src = arg;
	struct dfm_inst *in = src->in;
	struct dfm_digest d;
	int rc = file_digest(src->s, path, &d);
	void *p;

	if (rc) {
		dfm_log_print("%s: cannot read '%s': %s", in->name, path, dfm_strerror(rc));
		if (hint)
			dfm_log_print("%s: to install it: %s", in->name, hint);
		src->failed = 1;
		return rc;
	}
	if (!(p = realloc(in->sources, (in->nsources + 1) * sizeof *in->sources)))
		return DFM_ERR_NOMEM;
	in->sources = p;
	in->sources[in->nsources++] = d;
	return 0;
}

static int
compute_sources(struct dfm_inst *in, struct dfm_store *s)
{
	struct sources src = {in, s, 0};
	struct dfm_run *run;
	int rc;

	free(in->sources);
	in->sources = NULL;
	in->nsources = 0;
	if (!in->kind->sources)
		return 0;
	if (!(run = dfm_run_new(in->kind, in->name)))
		return DFM_ERR_NOMEM;
	for (size_t p = 0; p < in->nparams; p++)
		dfm_run_value(run, in->param_names[p], &in->params[p]);
	rc = dfm_run_sources(run, add_source, &src);
	if (rc && !src.failed)
		dfm_log_print("%s: %s", in->name,
			      dfm_run_failure(run) ? dfm_run_failure(run) : dfm_strerror(rc));
	dfm_run_free(run);
	return rc;
}

/* Keys */

int
dfm_inst_key(struct dfm_inst *in, struct dfm_store *s)
{
	struct dfm_key_slot slots[64];
	struct dfm_digest *digests[64] = {0};
	struct dfm_key_input ki = {
		.kind = in->kind->name,
		.kind_version = in->kind->version,
		.nparams = in->nparams,
		.param_names = in->param_names,
		.params = in->params,
		.nslots = in->nslots,
		.slots = slots,
	};
	int rc;

	if (in->nslots > 64)
		return DFM_ERR_NOMEM;
	if ((rc = compute_sources(in, s)))
		return rc;
	ki.nsources = in->nsources;
	ki.sources = in->sources;
	rc = 0;
	for (size_t i = 0; i < in->nslots && !rc; i++) {
		slots[i].name = in->kind->inputs[i].name;
		slots[i].n = in->slots[i].n;
		if (!(digests[i] = calloc(in->slots[i].n + 1, sizeof **digests)))
			rc = DFM_ERR_NOMEM;
		for (size_t e = 0; !rc && e < in->slots[i].n; e++) {
			const struct dfm_edge *edge = &in->slots[i].edge[e];

			digests[i][e] = edge->from->out[edge->out];
		}
		slots[i].digests = digests[i];
	}
	if (!rc && !(rc = dfm_key(&ki, &in->key)))
		in->have_key = 1;
	for (size_t i = 0; i < in->nslots; i++)
		free(digests[i]);
	return rc;
}

static int
verify_outputs(struct dfm_inst *in, struct dfm_store *s)
{
	char hex[DFM_DIGEST_HEX];

	for (size_t i = 0; i < in->nouts; i++) {
		if (dfm_store_verify(s, &in->out[i]) != DFM_ERR_CORRUPT)
			continue;
		dfm_log_print("%s: output '%s' (%s) is corrupt in the cache; rebuilding",
			      in->name, in->kind->outputs[i].name, dfm_digest_hex(&in->out[i], hex));
		dfm_store_drop(s, &in->out[i], NULL);
		dfm_store_drop_action(s, &in->key);
		free(in->reason);
		in->reason = strdup("an output was corrupt in the cache");
		return 0;
	}
	return 1;
}

int
dfm_inst_lookup(struct dfm_inst *in, struct dfm_store *s, int verify)
{
	struct dfm_action *a;
	int hit = 1;

	if (dfm_store_action(s, &in->key, &a) != 0)
		return 0;
	for (size_t i = 0; i < in->nouts && hit; i++) {
		size_t j = 0, size;

		while (j < a->nout && strcmp(a->out[j].name, in->kind->outputs[i].name))
			j++;
		if (j == a->nout || dfm_store_stat(s, &a->out[j].digest, &size) != 0)
			hit = 0;
		else
			in->out[i] = a->out[j].digest;
	}
	dfm_action_free(a);
	if (hit && verify)
		hit = verify_outputs(in, s);
	return hit;
}

/* State changes */

static int
is_leaf(const struct dfm_inst *in)
{
	for (size_t u = 0; u < in->nusers; u++)
		if (in->users[u]->needed)
			return 0;
	return 1;
}

static void
set_reason(struct dfm_inst *in, char *reason)
{
	free(in->reason);
	in->reason = reason;
}

/* A WAITING instance whose inputs are all done: reuse it or make it READY. */
static void
consider(struct sched *sc, struct dfm_inst *in)
{
	json_object *prev = dfm_lock_entry(sc->o->prev, in->name);

	if (sc->o->dry_run) {
		for (size_t d = 0; d < in->ndeps; d++)
			if (!in->deps[d]->cached) {
				set_reason(in, dfm_explain_upstream(in));
				goto would_run;
			}
	}
	if (dfm_inst_key(in, sc->s) != 0) {
		in->state = DFM_FAILED;
		sc->st->failed++;
		return;
	}
	if (dfm_inst_lookup(in, sc->s, is_leaf(in))) {
		in->state = DFM_DONE;
		in->cached = 1;
		sc->st->cached++;
		dfm_log(DFM_EXPLAIN, "%s: cached", in->name);
		return;
	}
	if (!in->reason)
		set_reason(in, dfm_explain(in, prev));
	if (!sc->o->dry_run) {
		in->state = DFM_READY;
		return;
	}
would_run:
	in->state = DFM_DONE;
	in->cached = 0;
	sc->st->would_run++;
}

/* Moves WAITING instances on; returns how many changed state. */
static int
advance(struct sched *sc)
{
	int changed = 0;

	for (size_t i = 0; i < sc->g->n; i++) {
		struct dfm_inst *in = sc->g->inst[i];
		int ready = 1, broken = 0;

		if (!in->needed || in->state != DFM_WAITING)
			continue;
		for (size_t d = 0; d < in->ndeps; d++) {
			enum dfm_state ds = in->deps[d]->state;

			broken |= ds == DFM_FAILED || ds == DFM_SKIPPED;
			ready &= ds == DFM_DONE;
		}
		if (broken) {
			in->state = DFM_SKIPPED;
			sc->st->skipped++;
			changed++;
		} else if (ready) {
			consider(sc, in);
			changed++;
		}
	}
	return changed;
}

/* Launching */

static void
start(struct sched *sc, struct dfm_inst *in, struct dfm_claim *claim)
{
	struct dfm_worker_opts wo = {
		.cache_dir = sc->o->cache_dir,
		.env = sc->o->env,
		.threads = sc->o->threads,
	};
	struct job *job = &sc->jobs[sc->njobs];
	int rc;

	dfm_record_env_load(sc->o->env);
	rc = dfm_worker_start(in, &wo, &job->w);

	if (rc) {
		dfm_log_print("%s: cannot start a worker: %s", in->name, dfm_strerror(rc));
		dfm_claim_release(claim);
		in->state = DFM_FAILED;
		sc->st->failed++;
		return;
	}
	job->claim = claim;
	sc->njobs++;
	in->state = DFM_RUNNING;
	if (dfm_log_level >= DFM_EXPLAIN)
		dfm_log_print("run %s: %s", in->name, in->reason ? in->reason : "");
	else
		dfm_log(DFM_INFO, "run %s", in->name);
}

/* Claims a READY or OTHER instance and starts it, unless another process
 * holds it or has just finished it. */
static void
try_launch(struct sched *sc, struct dfm_inst *in)
{
	struct dfm_claim *claim;
	const char *holder = NULL;
	int rc = dfm_claim_try(sc->o->cache_dir, &in->key, &claim, &holder);

	if (rc == DFM_ERR_BUSY) {
		if (in->state == DFM_READY)
			dfm_log(DFM_INFO, "waiting for %s: being built by %s", in->name,
				holder ? holder : "another process");
		in->state = DFM_OTHER;
		return;
	}
	if (rc) {
		dfm_log_print("%s: cannot claim: %s", in->name, dfm_strerror(rc));
		in->state = DFM_FAILED;
		sc->st->failed++;
		return;
	}
	if (dfm_inst_lookup(in, sc->s, 0)) {
		dfm_claim_release(claim);
		in->state = DFM_DONE;
		in->cached = 1;
		sc->st->cached++;
		dfm_log(DFM_INFO, "%s: built by another process", in->name);
		return;
	}
	start(sc, in, claim);
}

/* Starts what it can; returns how many instances changed state. */
static int
launch(struct sched *sc)
{
	int changed = 0;

	for (size_t i = 0; i < sc->g->n && !sc->stop; i++) {
		struct dfm_inst *in = sc->g->inst[i];
		enum dfm_state before = in->state;

		if (sc->njobs >= sc->o->jobs)
			break;
		if (before == DFM_READY || before == DFM_OTHER)
			try_launch(sc, in);
		changed += in->state != before;
	}
	return changed;
}

/* Finishing */

static struct dfm_inst *
producer_of(struct dfm_inst *in, const struct dfm_digest *d)
{
	for (size_t s = 0; s < in->nslots; s++)
		for (size_t e = 0; e < in->slots[s].n; e++) {
			struct dfm_edge *edge = &in->slots[s].edge[e];

			if (dfm_digest_eq(&edge->from->out[edge->out], d))
				return edge->from;
		}
	return NULL;
}

/* The worker found an input corrupt or gone: rebuild its producer. */
static void
redo_input(struct sched *sc, struct dfm_worker *w)
{
	struct dfm_inst *in = w->inst, *from = producer_of(in, &w->bad_digest);
	char hex[DFM_DIGEST_HEX];

	dfm_log_print("%s: input %s was %s in the cache; rebuilding %s", in->name,
		      dfm_digest_hex(&w->bad_digest, hex),
		      w->bad_input == 'C' ? "corrupt" : "missing", from ? from->name : "it");
	if (!from || ++sc->retries[in->id] > MAX_RETRIES) {
		in->state = DFM_FAILED;
		sc->st->failed++;
		return;
	}
	dfm_store_drop_action(sc->s, &from->key);
	if (from->cached)
		sc->st->cached--;
	else
		sc->st->ran--;
	from->state = DFM_WAITING;
	from->have_key = 0;
	from->cached = 0;
	set_reason(from, strdup("its output was corrupt or missing in the cache"));
	in->state = DFM_WAITING;
}

/* Keeps a failed run's log, so that "dfmake log" can show it later. */
static void
keep_failure_log(struct dfm_store *s, const struct dfm_inst *in, const char *log)
{
	unsigned char key[5 + DFM_DIGEST_SIZE] = "fail:";

	memcpy(key + 5, in->key.b, DFM_DIGEST_SIZE);
	dfm_store_memo_put(s, key, sizeof key, log, strlen(log) + 1);
}

static void
report_failure(struct sched *sc, struct dfm_worker *w, int status)
{
	char *log = dfm_worker_log(w);

	if (WIFSIGNALED(status))
		dfm_log_print("%s crashed: %s (signal %d)", w->inst->name,
			      strsignal(WTERMSIG(status)), WTERMSIG(status));
	else
		dfm_log_print("%s failed", w->inst->name);
	if (log && *log) {
		dfm_log_tail(log, 40);
		keep_failure_log(sc->s, w->inst, log);
	}
	free(log);
}

static void
finish(struct sched *sc, int j, int status)
{
	struct job *job = &sc->jobs[j];
	struct dfm_worker *w = job->w;
	struct dfm_inst *in = w->inst;

	dfm_worker_read(w);
	if (sc->killing) {
		in->state = DFM_READY;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		   dfm_inst_lookup(in, sc->s, 0)) {
		in->state = DFM_DONE;
		in->cached = 0;
		sc->st->ran++;
		dfm_log(DFM_INFO, "done %s (%.1fs)", in->name, dfm_now() - w->started);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == DFM_WORKER_BAD_INPUT &&
		   w->bad_input) {
		redo_input(sc, w);
	} else {
		report_failure(sc, w, status);
		in->state = DFM_FAILED;
		sc->st->failed++;
		if (!sc->o->keep_going)
			sc->stop = 1;
	}
	dfm_claim_release(job->claim);
	dfm_worker_free(w);
	sc->jobs[j] = sc->jobs[--sc->njobs];
}

static void
draw(struct sched *sc)
{
	struct dfm_progress_line lines[MAX_JOBS];

	for (int j = 0; j < sc->njobs; j++) {
		struct dfm_worker *w = sc->jobs[j].w;

		lines[j] = (struct dfm_progress_line){w->inst->name, dfm_now() - w->started,
						      w->done, w->total};
	}
	dfm_progress_draw(lines, sc->njobs);
}

/* Waits a little for workers to talk or end, then reaps the ended ones. */
static void
wait_workers(struct sched *sc, int timeout_ms)
{
	struct pollfd pfd[MAX_JOBS];

	for (int j = 0; j < sc->njobs; j++)
		pfd[j] = (struct pollfd){.fd = sc->jobs[j].w->fd, .events = POLLIN};
	poll(pfd, (nfds_t)sc->njobs, timeout_ms);
	for (int j = sc->njobs - 1; j >= 0; j--) {
		int status;

		if (!dfm_worker_read(sc->jobs[j].w))
			continue;
		if (waitpid(sc->jobs[j].w->pid, &status, 0) == sc->jobs[j].w->pid)
			finish(sc, j, status);
	}
	draw(sc);
}

static int
pending(struct sched *sc)
{
	for (size_t i = 0; i < sc->g->n; i++) {
		enum dfm_state s = sc->g->inst[i]->state;

		if (sc->g->inst[i]->needed && (s == DFM_READY || s == DFM_OTHER))
			return 1;
	}
	return 0;
}

static void
stop_workers(struct sched *sc)
{
	sc->killing = 1;
	for (int j = 0; j < sc->njobs; j++)
		kill(sc->jobs[j].w->pid, SIGKILL);
	while (sc->njobs > 0) {
		int status;

		waitpid(sc->jobs[sc->njobs - 1].w->pid, &status, 0);
		finish(sc, sc->njobs - 1, status);
	}
}

int
dfm_build(struct dfm_graph *g, struct dfm_store *s, const struct dfm_build_opts *o,
	  struct dfm_build_stats *st)
{
	struct sched sc = {.g = g, .s = s, .o = o, .st = st};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;

	memset(st, 0, sizeof *st);
	if (!(sc.retries = calloc(g->n + 1, 1)))
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < g->n; i++)
		g->inst[i]->state = g->inst[i]->needed ? DFM_WAITING : DFM_IDLE;
	interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	for (;;) {
		int moved = advance(&sc);

		if (interrupted && !sc.stop) {
			dfm_log_print("interrupted; stopping %d running instance%s", sc.njobs,
				      sc.njobs == 1 ? "" : "s");
			sc.stop = 1;
			stop_workers(&sc);
		}
		if (!sc.stop)
			moved += launch(&sc);
		if (sc.njobs == 0 && !moved && (sc.stop || !pending(&sc)))
			break;
		if (sc.njobs > 0 || pending(&sc))
			wait_workers(&sc, sc.njobs ? 200 : 100);
	}
	dfm_progress_clear();
	for (size_t i = 0; i < g->n && !sc.stop; i++) {
		enum dfm_state state = g->inst[i]->state;

		if (g->inst[i]->needed && state != DFM_DONE && state != DFM_FAILED &&
		    state != DFM_SKIPPED)
			dfm_log_print("%s: left in state %d", g->inst[i]->name, state);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	free(sc.retries);
	st->interrupted = interrupted != 0;
	return st->failed || st->skipped || interrupted ? DFM_ERR_STAGE : 0;
}
