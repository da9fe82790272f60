/* Runs the pipeline of examples/data/dfmake.yaml through the stage API,
 * without the engine: for each source named on the command line, ingest,
 * resize to 32 x 32 RGB, a class-balanced subset of 5,000 and a labelled
 * grid, written as OUTDIR/SOURCE.png.  For looking at what the data stages
 * make.  Usage: data-grids OUTDIR SOURCE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run.h"

static struct dfm_run *
step(const char *kind, const char *const *kv, const void *in, size_t insize)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find(kind), kind);
	char err[200];

	if (!r)
		return NULL;
	for (int i = 0; kv[i]; i += 2)
		if (dfm_run_param(r, kv[i], kv[i + 1], err, sizeof err)) {
			fprintf(stderr, "data-grids: %s\n", err);
			dfm_run_free(r);
			return NULL;
		}
	if (in)
		dfm_run_input(r, "data", in, insize, "data-grids");
	if (dfm_run_exec(r)) {
		fprintf(stderr, "data-grids: %s: %s\n", kind, dfm_run_failure(r));
		dfm_run_free(r);
		return NULL;
	}
	return r;
}

static int
save(const char *dir, const char *source, const void *png, size_t size)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "%s/%s.png", dir, source);
	if (!(f = fopen(path, "wb"))) {
		perror(path);
		return 1;
	}
	ok = fwrite(png, 1, size, f) == size;
	if (fclose(f) || !ok) {
		perror(path);
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

static int
grid(const char *dir, const char *source)
{
	const char *const ingest[] = {"source", source, NULL};
	const char *const resize[] = {"size", "32", "channels", "3", NULL};
	const char *const sub[] = {"n", "5000", "val", "0", NULL};
	const char *const draw[] = {"per_class", "10", "max_classes", "40", NULL};
	struct dfm_run *r[4] = {NULL};
	const char *const *params[4] = {ingest, resize, sub, draw};
	const char *kinds[4] = {"ingest", "resize", "subsample", "export"};
	const char *outs[4] = {"data", "data", "data", "grid"};
	const void *data = NULL;
	size_t size = 0;
	int rc = 1;

	for (int i = 0; i < 4; i++) {
		if (!(r[i] = step(kinds[i], params[i], data, size)))
			goto out;
		data = dfm_run_output(r[i], outs[i], &size);
	}
	rc = save(dir, source, data, size);
out:
	for (int i = 0; i < 4; i++)
		dfm_run_free(r[i]);
	return rc;
}

int
main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: data-grids OUTDIR SOURCE...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		rc |= grid(argv[1], argv[i]);
	return rc;
}
