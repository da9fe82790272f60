#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/store.h"
#include "engine/run.h"
#include "engine/worker.h"

double
dfm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Child side */

struct child {
	int fd;
	double last_progress;
};

static void
send_line(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
		_exit(1);
}

static void
on_progress(double done, double total, void *arg)
{
	struct child *c = arg;
	double now = dfm_now();

	if (now - c->last_progress < 0.1 && done < total)
		return;
	c->last_progress = now;
	send_line(c->fd, "P %.6g %.6g\n", done, total);
}

static int
load_inputs(struct dfm_run *run, struct dfm_store *s, struct dfm_inst *in, int fd,
	    void ***bufs, size_t *nbufs)
{
	char hex[DFM_DIGEST_HEX], name[1024];

	for (size_t sl = 0; sl < in->nslots; sl++) {
		for (size_t e = 0; e < in->slots[sl].n; e++) {
			const struct dfm_edge *edge = &in->slots[sl].edge[e];
			const struct dfm_digest *d = &edge->from->out[edge->out];
			void *data, *p;
			size_t size;
			int rc = dfm_store_get(s, d, &data, &size);

			if (rc == DFM_ERR_CORRUPT || rc == DFM_ERR_NOTFOUND) {
				send_line(fd, "%c %s\n", rc == DFM_ERR_CORRUPT ? 'C' : 'M',
					  dfm_digest_hex(d, hex));
				return DFM_WORKER_BAD_INPUT;
			}
			if (rc)
				return dfm_fail(run, "cannot read input '%s': %s",
						in->kind->inputs[sl].name, dfm_strerror(rc));
			if (!(p = realloc(*bufs, (*nbufs + 1) * sizeof **bufs))) {
				free(data);
				return DFM_ERR_NOMEM;
			}
			*bufs = p;
			(*bufs)[(*nbufs)++] = data;
			snprintf(name, sizeof name, "%s.%s", edge->from->name,
				 edge->from->kind->outputs[edge->out].name);
			if ((rc = dfm_run_input(run, in->kind->inputs[sl].name, data, size,
						strdup(name))))
				return rc;
		}
	}
	return 0;
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

static char *
join_logs(const char *notes, const char *captured)
{
	char *all = NULL;

	if (asprintf(&all, "%s%s", notes, captured) < 0)
		return NULL;
	return all;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int
commit(struct dfm_run *run, struct dfm_store *s, struct dfm_inst *in,
       const struct dfm_worker_opts *o, const char *logpath, double wall, double cpu,
       int fd)
{
	struct dfm_output_bytes outs[64];
	struct dfm_digest digests[64];
	char hex[DFM_DIGEST_HEX], *record, *log, *captured;
	int rc;

	if (in->nouts > 64)
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < in->nouts; i++) {
		outs[i].name = in->kind->outputs[i].name;
		outs[i].data = dfm_run_output(run, outs[i].name, &outs[i].size);
		if (o->audit) {
			digests[i] = dfm_digest_of(outs[i].data, outs[i].size);
			send_line(fd, "O %zu %s\n", i, dfm_digest_hex(&digests[i], hex));
		}
	}
	if (o->audit)
		return 0;
	fflush(stdout);
	fflush(stderr);
	captured = read_file(logpath);
	log = join_logs(dfm_run_log(run), captured);
	record = dfm_record_json(o->env, in, o->threads, wall, cpu);
	rc = record && log ? dfm_store_commit(s, &in->key, in->nouts, outs, digests, record, log)
			   : DFM_ERR_NOMEM;
	free(captured);
	free(log);
	free(record);
	return rc;
}

static int
child_main(struct dfm_inst *in, const struct dfm_worker_opts *o, int fd,
	   const char *logpath)
{
	struct child c = {.fd = fd};
	struct dfm_store *s = NULL;
	struct dfm_run *run = NULL;
	void **bufs = NULL;
	size_t nbufs = 0;
	double t0 = dfm_now(), cpu0 = cpu_seconds();
	int rc;

	omp_set_num_threads(o->threads);
	if ((rc = dfm_store_open(o->cache_dir, &s))) {
		fprintf(stderr, "dfmake: cannot open the cache '%s': %s\n", o->cache_dir,
			dfm_strerror(rc));
		return 1;
	}
	rc = DFM_ERR_NOMEM;
	if (!(run = dfm_run_new(in->kind, in->name)))
		goto done;
	for (size_t p = 0; p < in->nparams; p++)
		if ((rc = dfm_run_value(run, in->param_names[p], &in->params[p])))
			goto done;
	dfm_run_set_threads(run, o->threads);
	dfm_run_on_progress(run, on_progress, &c);
	if ((rc = load_inputs(run, s, in, fd, &bufs, &nbufs)))
		goto done;
	if ((rc = dfm_run_exec(run)) == 0)
		rc = commit(run, s, in, o, logpath, dfm_now() - t0, cpu_seconds() - cpu0, fd);
done:
	if (rc && rc != DFM_WORKER_BAD_INPUT && run) {
		/* The stage's notes go to the capture file, which the parent shows. */
		fputs(dfm_run_log(run), stderr);
		if (!dfm_run_failure(run))
			fprintf(stderr, "dfmake: %s\n", dfm_strerror(rc));
	}
	fflush(stdout);
	fflush(stderr);
	return rc == DFM_WORKER_BAD_INPUT ? DFM_WORKER_BAD_INPUT : rc ? 1 : 0;
}

/* Parent side */

static char *
capture_path(const char *cache_dir, const struct dfm_inst *in)
{
	char hex[DFM_DIGEST_HEX], *path = NULL, *dir = NULL;

	if (asprintf(&dir, "%s/tmp", cache_dir) < 0)
		return NULL;
	mkdir(dir, 0777);
	if (asprintf(&path, "%s/%s.%d.log", dir, dfm_digest_hex(&in->key, hex),
		     (int)getpid()) < 0)
		path = NULL;
	free(dir);
	return path;
}

int
dfm_worker_start(struct dfm_inst *in, const struct dfm_worker_opts *o,
		 struct dfm_worker **out)
{
	struct dfm_worker *w = calloc(1, sizeof *w);
	pid_t parent = getpid();
	int pipefd[2], logfd;

	if (!w || !(w->logpath = capture_path(o->cache_dir, in))) {
		free(w);
		return DFM_ERR_NOMEM;
	}
	if (o->audit && (!(w->audit_out = calloc(in->nouts + 1, sizeof *w->audit_out)) ||
			 !(w->audit_seen = calloc(in->nouts + 1, 1)))) {
		dfm_worker_free(w);
		return DFM_ERR_NOMEM;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		dfm_worker_free(w);
		return errno;
	}
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid < 0) {
		int err = errno;

		close(pipefd[0]);
		close(pipefd[1]);
		dfm_worker_free(w);
		return err;
	}
	if (w->pid == 0) {
		/* A worker must not outlive the dfmake that claimed its work. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		close(pipefd[0]);
		/* Its own process group: a Ctrl-C reaches dfmake, which stops the
		 * workers itself and reports the interruption once. */
		setpgid(0, 0);
		logfd = open("/dev/null", O_RDONLY);
		if (logfd >= 0) {
			dup2(logfd, 0);
			close(logfd);
		}
		logfd = open(w->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
			close(logfd);
		}
		/* Line-buffered, so a crash loses no finished line. */
		setvbuf(stdout, NULL, _IOLBF, 0);
		_exit(child_main(in, o, pipefd[1], w->logpath));
	}
	close(pipefd[1]);
	w->fd = pipefd[0];
	fcntl(w->fd, F_SETFL, O_NONBLOCK);
	w->inst = in;
	w->started = dfm_now();
	*out = w;
	return 0;
}

static void
handle_line(struct dfm_worker *w, char *line)
{
	size_t idx;
	char hex[64];

	switch (line[0]) {
	case 'P':
		sscanf(line + 1, "%lf %lf", &w->done, &w->total);
		break;
	case 'C':
	case 'M':
		if (sscanf(line + 1, "%63s", hex) == 1 && !dfm_digest_parse(hex, &w->bad_digest))
			w->bad_input = line[0];
		break;
	case 'O':
		if (w->audit_out && sscanf(line + 1, "%zu %63s", &idx, hex) == 2 &&
		    idx < w->inst->nouts && !dfm_digest_parse(hex, &w->audit_out[idx]))
			w->audit_seen[idx] = 1;
		break;
	}
}

int
dfm_worker_read(struct dfm_worker *w)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (w->linelen < sizeof w->line - 1)
					w->line[w->linelen++] = buf[i];
				continue;
			}
			w->line[w->linelen] = '\0';
			handle_line(w, w->line);
			w->linelen = 0;
		}
	}
	return n == 0;
}

char *
dfm_worker_log(const struct dfm_worker *w)
{
	return read_file(w->logpath);
}

void
dfm_worker_free(struct dfm_worker *w)
{
	if (!w)
		return;
	if (w->logpath)
		unlink(w->logpath);
	if (w->fd > 0)
		close(w->fd);
	free(w->logpath);
	free(w->audit_out);
	free(w->audit_seen);
	free(w);
}
