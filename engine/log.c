#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/worker.h"

enum dfm_level dfm_log_level = DFM_INFO;

static int tty;            /* stderr is a terminal */
static int drawn;          /* progress lines now on screen */
static double last_plain;  /* when plain progress lines were last printed */

enum { PLAIN_EVERY = 30 };  /* seconds between plain progress reports */

void
dfm_progress_init(int fd)
{
	tty = isatty(fd) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
	last_plain = dfm_now();
}

void
dfm_progress_clear(void)
{
	for (; drawn > 0; drawn--)
		fputs("\033[1A\033[2K", stderr);
}

void
dfm_log_print(const char *fmt, ...)
{
	va_list ap;

	dfm_progress_clear();
	fputs("dfmake: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
dfm_log_tail(const char *text, int max_lines)
{
	const char *start = text + strlen(text);
	int lines = 0;

	dfm_progress_clear();
	while (start > text && lines <= max_lines)
		if (*--start == '\n' && start[1])
			lines++;
	if (lines > max_lines)
		start++;
	while (*start) {
		const char *nl = strchrnul(start, '\n');

		fprintf(stderr, "  %.*s\n", (int)(nl - start), start);
		start = *nl ? nl + 1 : nl;
	}
}

static void
describe(const struct dfm_progress_line *l, char *buf, size_t len)
{
	if (l->total > 0 && l->done > 0) {
		double frac = l->done / l->total;
		double eta = l->elapsed / frac - l->elapsed;

		snprintf(buf, len, "%6.1fs %3.0f%% eta %.0fs", l->elapsed, 100 * frac,
			 eta > 0 ? eta : 0);
	} else {
		snprintf(buf, len, "%6.1fs", l->elapsed);
	}
}

void
dfm_progress_draw(const struct dfm_progress_line *lines, int n)
{
	char status[80];

	if (!tty) {
		if (dfm_now() - last_plain < PLAIN_EVERY)
			return;
		last_plain = dfm_now();
		for (int i = 0; i < n; i++) {
			describe(&lines[i], status, sizeof status);
			fprintf(stderr, "dfmake: running %s: %s\n", lines[i].name, status);
		}
		return;
	}
	dfm_progress_clear();
	for (int i = 0; i < n; i++) {
		describe(&lines[i], status, sizeof status);
		fprintf(stderr, "  %s  %s\n", status, lines[i].name);
	}
	drawn = n;
	fflush(stderr);
}
