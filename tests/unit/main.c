/* Runs the registered unit tests; prints one line per test and a total. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/test.h"

static struct dfm_test *head, **tail = &head;
static int failed_now;
static char dir[256];

void
dfm_test_register(struct dfm_test *t)
{
	*tail = t;
	tail = &t->next;
}

void
dfm_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed_now = 1;
}

const char *
dfm_test_dir(void)
{
	return dir;
}

static void
fresh_dir(const char *name)
{
	char cmd[600];
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(dir, sizeof dir, "%s/dfm-unit-%d-%s", base, (int)getpid(), name);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot make %s\n", dir);
}

int
main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	char cmd[300];

	for (struct dfm_test *t = head; t; t = t->next) {
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		fresh_dir(t->name);
		failed_now = 0;
		t->fn();
		printf("%s %s\n", failed_now ? "FAIL" : "ok  ", t->name);
		fflush(stdout);
		if (failed_now)
			failed++;
		else
			passed++;
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "  cannot remove %s\n", dir);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
