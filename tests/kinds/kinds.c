/* Stage kinds compiled only into the test binary: they exercise the engine
 * (caching, failures, crashes, progress, concurrency) without real work. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cache/digest.h"
#include "stages/stage.h"
#include "tests/kinds/kinds.h"

/* Appends the instance name to a file, so tests can count runs. */
static void
tally(struct dfm_run *r, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
	char line[512];
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof line, "%s\n", dfm_name(r));
	flock(fd, LOCK_EX);
	if (write(fd, line, (size_t)n) != n)
		dfm_note(r, "tally write failed");
	close(fd);
}

static void
nap(struct dfm_run *r, int64_t ms)
{
	for (int64_t t = 0; t < ms; t += 10) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
		dfm_progress(r, (double)t, (double)ms);
	}
}

static int
echo_run(struct dfm_run *r)
{
	const char *text = dfm_str(r, "text"), *mode = dfm_str(r, "fail");
	int64_t size = dfm_int(r, "size");
	size_t n = dfm_ninputs(r, "in"), len, at;
	char hex[DFM_DIGEST_HEX], *out;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (*dfm_str(r, "tally"))
		tally(r, dfm_str(r, "tally"));
	nap(r, dfm_int(r, "ms"));
	printf("echo %s says hello on stdout\n", dfm_name(r));
	if (!strcmp(mode, "error"))
		return dfm_fail(r, "asked to fail");
	if (!strcmp(mode, "crash"))
		raise(SIGSEGV);
	if (!strcmp(mode, "abort"))
		abort();

	len = strlen(text) + 1 + n * (DFM_DIGEST_HEX) + (size_t)size;
	if (!(out = malloc(len + 1)))
		return dfm_fail(r, "out of memory");
	at = (size_t)sprintf(out, "%s\n", text);
	for (size_t i = 0; i < n; i++) {
		const struct dfm_blob *b = dfm_input(r, "in", i);
		struct dfm_digest d = dfm_digest_of(b->data, b->size);

		at += (size_t)sprintf(out + at, "%s\n", dfm_digest_hex(&d, hex));
	}
	for (const char *c = text; *c; c++)
		x = (x ^ (unsigned char)*c) * 0x100000001b3ull;
	for (int64_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[at++] = (char)('a' + x % 26);
	}
	dfm_note(r, "wrote %zu bytes", at);
	return dfm_put_owned(r, "out", out, at);
}

static const struct dfm_param echo_params[] = {
	{"text", DFM_STR, "", "text to write", NULL, 0, 0},
	{"ms", DFM_INT, "0", "milliseconds to sleep first, reporting progress", NULL, 0, 600000},
	{"size", DFM_INT, "0", "extra pseudo-random bytes to append", NULL, 0, 1 << 30},
	{"tally", DFM_STR, "", "file to append the instance name to", NULL, 0, 0},
	{"fail", DFM_STR, "none", "how to fail", "none|error|crash|abort", 0, 0},
	{"seed", DFM_INT, "0", "recorded seed", NULL, 0, 0},
	{0},
};

static const struct dfm_slot echo_inputs[] = {
	{"in", DFM_SLOT_LIST | DFM_SLOT_OPTIONAL, "artifacts whose digests are listed"},
	{0},
};

static const struct dfm_output echo_outputs[] = {
	{"out", "txt", "the text, input digests and padding"},
	{0},
};

static const struct dfm_kind echo_kind = {
	.name = "echo",
	.version = 1,
	.summary = "writes its text and the digests of its inputs (test kind)",
	.params = echo_params,
	.inputs = echo_inputs,
	.outputs = echo_outputs,
	.run = echo_run,
};

/* Joins its inputs into a Markdown table, like the real tables stage. */
static int
table_run(struct dfm_run *r)
{
	size_t n = dfm_ninputs(r, "rows"), len = 64, at;
	char *md;

	for (size_t i = 0; i < n; i++)
		len += dfm_input(r, "rows", i)->size + strlen(dfm_input(r, "rows", i)->name) + 8;
	if (!(md = malloc(len)))
		return dfm_fail(r, "out of memory");
	at = (size_t)sprintf(md, "| input | first line |\n|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct dfm_blob *b = dfm_input(r, "rows", i);
		const char *nl = memchr(b->data, '\n', b->size);
		int first = nl ? (int)(nl - (const char *)b->data) : (int)b->size;

		at += (size_t)sprintf(md + at, "| %s | %.*s |\n", b->name, first,
				      (const char *)b->data);
	}
	return dfm_put_owned(r, "table", md, at);
}

static const struct dfm_param table_params[] = {{0}};

static const struct dfm_slot table_inputs[] = {
	{"rows", DFM_SLOT_LIST, "artifacts, one row each"},
	{0},
};

static const struct dfm_output table_outputs[] = {
	{"table", "md", "a Markdown table"},
	{0},
};

static const struct dfm_kind table_kind = {
	.name = "table",
	.version = 1,
	.summary = "a Markdown table of its inputs' first lines (test kind)",
	.params = table_params,
	.inputs = table_inputs,
	.outputs = table_outputs,
	.run = table_run,
};

void
dfm_test_kinds_register(void)
{
	dfm_kind_register(&echo_kind);
	dfm_kind_register(&table_kind);
}
