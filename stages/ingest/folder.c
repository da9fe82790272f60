/* Image folder trees (one folder per class, images anywhere below it) and
 * list files (one "image-path label" per line).  Also the layout of Debian's
 * openclipart-png, which is a folder tree by category. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stages/ingest/ingest.h"

/* Relative paths of the image files below root/rel, sorted, appended. */
struct paths {
	char **v;
	size_t n, cap;
};

static void
paths_free(struct paths *p)
{
	dfm_names_free(p->v, p->n);
	memset(p, 0, sizeof *p);
}

static int
paths_add(struct dfm_ingest *in, struct paths *p, char *owned)
{
	if (!owned)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		char **v = realloc(p->v, cap * sizeof *v);

		if (!v) {
			free(owned);
			return dfm_ingest_fail(in, NULL, "out of memory");
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = owned;
	return 0;
}

/* Images directly in dir come first, then those of each subfolder in name
 * order, so the order is the same on every filesystem. */
static int
walk(struct dfm_ingest *in, const char *dir, struct paths *out)
{
	char **names = NULL, **subs = NULL;
	size_t n = 0, nsubs = 0;
	int rc;

	if ((rc = dfm_ingest_list_dir(in, dir, DFM_LIST_FILES, &names, &n)) ||
	    (rc = dfm_ingest_list_dir(in, dir, DFM_LIST_DIRS, &subs, &nsubs)))
		goto out;
	for (size_t i = 0; i < n && !rc; i++)
		if (dfm_is_image_name(names[i]))
			rc = paths_add(in, out, dfm_path_join(dir, names[i]));
	for (size_t i = 0; i < nsubs && !rc; i++) {
		char *sub = dfm_path_join(dir, subs[i]);

		rc = sub ? walk(in, sub, out) : dfm_ingest_fail(in, NULL, "out of memory");
		free(sub);
	}
out:
	dfm_names_free(names, n);
	dfm_names_free(subs, nsubs);
	return rc;
}

/* Calls fn on each image of each class folder of in->path, skipping a
 * folder named skip (may be NULL). */
static int
each_class(struct dfm_ingest *in, const char *skip,
	   int (*fn)(struct dfm_ingest *, const char *cls, struct paths *))
{
	char **cls = NULL;
	size_t ncls = 0;
	int rc;

	if ((rc = dfm_ingest_list_dir(in, in->path, DFM_LIST_DIRS, &cls, &ncls)))
		return rc;
	if (ncls == 0)
		rc = dfm_ingest_fail(in, in->path, "no class folders");
	for (size_t i = 0; i < ncls && !rc; i++) {
		struct paths p = {0};
		char *dir;

		if (skip && strcmp(cls[i], skip) == 0)
			continue;
		if (!(dir = dfm_path_join(in->path, cls[i])))
			rc = dfm_ingest_fail(in, NULL, "out of memory");
		if (!rc && !(rc = walk(in, dir, &p)) && p.n == 0)
			rc = dfm_ingest_fail(in, dir, "class folder has no images");
		if (!rc)
			rc = fn(in, cls[i], &p);
		paths_free(&p);
		free(dir);
	}
	dfm_names_free(cls, ncls);
	return rc;
}

static int
name_class(struct dfm_ingest *in, const char *cls, struct paths *p)
{
	int rc = 0;

	(void)cls;
	for (size_t i = 0; i < p->n && !rc; i++)
		rc = dfm_ingest_source(in, p->v[i]);
	return rc;
}

static int
read_class(struct dfm_ingest *in, const char *cls, struct paths *p)
{
	int label, *labels = malloc((p->n + 1) * sizeof *labels);
	int rc = labels ? dfm_ingest_class(in, cls, &label) :
			  dfm_ingest_fail(in, NULL, "out of memory");

	for (size_t i = 0; i < p->n && !rc; i++)
		labels[i] = label;
	if (!rc)
		rc = dfm_ingest_images(in, p->v, labels, p->n);
	free(labels);
	return rc;
}

static int
folder_files(struct dfm_ingest *in)
{
	return each_class(in, NULL, name_class);
}

static int
folder_read(struct dfm_ingest *in)
{
	return each_class(in, NULL, read_class);
}

/* openclipart-png: its "unsorted" folder is no category.  The package's
 * checksum list stands for its 8,000 files in the key. */
static const char clipart_dir[] = "/usr/share/openclipart/png";
static const char clipart_sums[] = "/var/lib/dpkg/info/openclipart-png.md5sums";

static int
clipart_files(struct dfm_ingest *in)
{
	if (strcmp(in->path, clipart_dir) == 0)
		return dfm_ingest_source(in, clipart_sums);
	return each_class(in, "unsorted", name_class);
}

static int
clipart_read(struct dfm_ingest *in)
{
	return each_class(in, "unsorted", read_class);
}

/* Pairs of image and label, from list files */

void
dfm_pairs_free(struct dfm_pairs *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].label);
		free(e->v[i].list);
	}
	free(e->v);
	memset(e, 0, sizeof *e);
}

int
dfm_pairs_add(struct dfm_ingest *in, struct dfm_pairs *e, const char *base,
	      const char *path, const char *label, const char *list, int line)
{
	struct dfm_pair *x;

	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 256;
		struct dfm_pair *v = realloc(e->v, cap * sizeof *v);

		if (!v)
			return dfm_ingest_fail(in, NULL, "out of memory");
		e->v = v;
		e->cap = cap;
	}
	x = &e->v[e->n];
	x->file = path[0] == '/' || !base ? strdup(path) : dfm_path_join(base, path);
	x->label = strdup(label);
	x->list = strdup(list);
	x->line = line;
	if (!x->file || !x->label || !x->list) {
		free(x->file);
		free(x->label);
		free(x->list);
		return dfm_ingest_fail(in, NULL, "out of memory");
	}
	e->n++;
	return 0;
}

/* Splits "path label" at the last run of blanks or a comma. */
static int
split_line(char *line, char **path, char **label)
{
	char *end = line + strlen(line), *sep;

	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	while (*line && isspace((unsigned char)*line))
		line++;
	for (sep = end; sep > line && !isspace((unsigned char)sep[-1]) && sep[-1] != ','; sep--)
		;
	if (sep == line || sep == end)
		return -1;
	*label = sep;
	for (sep--; sep > line && (isspace((unsigned char)sep[-1]) || sep[-1] == ','); sep--)
		;
	*sep = '\0';
	*path = line;
	return 0;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, slash - path) : strdup(".");
}

int
dfm_ingest_lines(struct dfm_ingest *in, const char *file,
		 int (*fn)(struct dfm_ingest *, char *line, int lineno, void *), void *arg)
{
	uint8_t *text;
	size_t size;
	int line = 0, rc;

	if ((rc = dfm_ingest_slurp(in, file, (size_t)1 << 30, &text, &size)))
		return rc;
	for (char *s = (char *)text, *end; s < (char *)text + size && !rc; s = end + 1) {
		if (!(end = memchr(s, '\n', (char *)text + size - s)))
			end = (char *)text + size;
		*end = '\0';
		if (end > s && end[-1] == '\r')
			end[-1] = '\0';
		line++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '#')
			rc = fn(in, s, line, arg);
	}
	free(text);
	return rc;
}

struct list_arg {
	struct dfm_pairs *pairs;
	const char *base;
};

static int
list_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	struct list_arg *la = arg;
	char *path, *label;

	if (split_line(s, &path, &label))
		return dfm_ingest_fail(in, in->path, "line %d: want 'image-path label'", line);
	return dfm_pairs_add(in, la->pairs, la->base, path, label, in->path, line);
}

static int
numeric(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
by_label(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	if (numeric(x) && numeric(y) && strlen(x) != strlen(y))
		return strlen(x) < strlen(y) ? -1 : 1;
	return strcmp(x, y);
}

/* Classes in label order: numerically when labels are numbers. */
static int
pair_classes(struct dfm_ingest *in, struct dfm_pairs *e)
{
	char **labels = malloc((e->n + 1) * sizeof *labels);
	int k, rc = 0;

	if (!labels)
		return dfm_ingest_fail(in, NULL, "out of memory");
	for (size_t i = 0; i < e->n; i++)
		labels[i] = e->v[i].label;
	qsort(labels, e->n, sizeof *labels, by_label);
	for (size_t i = 0; i < e->n && !rc; i++)
		if (i == 0 || strcmp(labels[i], labels[i - 1]) != 0)
			rc = dfm_ingest_class(in, labels[i], &k);
	free(labels);
	return rc;
}

int
dfm_pairs_files(struct dfm_ingest *in, struct dfm_pairs *e)
{
	int rc = 0;

	for (size_t i = 0; i < e->n && !rc && in->listing; i++)
		rc = dfm_ingest_source(in, e->v[i].file);
	return rc;
}

/* Every image is checked before any is decoded, so a missing one fails
 * fast and names its list line. */
int
dfm_pairs_read(struct dfm_ingest *in, struct dfm_pairs *e)
{
	char **paths;
	int *labels, rc;

	if (e->n == 0)
		return dfm_ingest_fail(in, in->path, "lists no images");
	if ((rc = pair_classes(in, e)))
		return rc;
	paths = malloc(e->n * sizeof *paths);
	labels = malloc(e->n * sizeof *labels);
	if (!paths || !labels)
		rc = dfm_ingest_fail(in, NULL, "out of memory");
	for (size_t i = 0; i < e->n && !rc; i++) {
		if (access(e->v[i].file, R_OK) != 0)
			rc = dfm_ingest_fail(in, e->v[i].list, "line %d names a missing "
					     "image '%s'", e->v[i].line, e->v[i].file);
		else
			rc = dfm_ingest_class(in, e->v[i].label, &labels[i]);
		paths[i] = e->v[i].file;
	}
	if (!rc)
		rc = dfm_ingest_images(in, paths, labels, e->n);
	free(paths);
	free(labels);
	return rc;
}

/* Reads the list file at in->path; the caller frees the pairs. */
static int
load_list(struct dfm_ingest *in, struct dfm_pairs *e)
{
	struct list_arg la = {e, dir_of(in->path)};
	int rc;

	if (!la.base)
		return dfm_ingest_fail(in, NULL, "out of memory");
	rc = dfm_ingest_lines(in, in->path, list_line, &la);
	free((char *)la.base);
	return rc;
}

static int
list_files(struct dfm_ingest *in)
{
	struct dfm_pairs e = {0};
	int rc;

	if ((rc = dfm_ingest_source(in, in->path)) || !in->listing)
		return rc;
	if (!(rc = load_list(in, &e)))
		rc = dfm_pairs_files(in, &e);
	dfm_pairs_free(&e);
	return rc;
}

static int
list_read(struct dfm_ingest *in)
{
	struct dfm_pairs e = {0};
	int rc;

	if (!(rc = load_list(in, &e)))
		rc = dfm_pairs_read(in, &e);
	dfm_pairs_free(&e);
	return rc;
}

const struct dfm_adapter dfm_adapter_folder = {
	.name = "folder",
	.summary = "a folder with one subfolder of PNG or JPEG images per class",
	.files = folder_files,
	.read = folder_read,
};

const struct dfm_adapter dfm_adapter_list = {
	.name = "list",
	.summary = "a list file of 'image-path label' lines, paths relative to it",
	.files = list_files,
	.read = list_read,
};

const struct dfm_adapter dfm_adapter_clipart = {
	.name = "clipart",
	.summary = "Debian openclipart-png: clip art in 21 category folders",
	.default_path = clipart_dir,
	.install = "apt-get install openclipart-png",
	.licence = "public domain (Open Clip Art Library)",
	.default_max_side = 128,
	.skip_oversized = 1,
	.files = clipart_files,
	.read = clipart_read,
};
