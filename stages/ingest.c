/* The ingest kind: reads a dataset in its native format into a dataset
 * artifact (stages/dataset.h).  The adapters, one per format, live under
 * stages/ingest/; this file picks one and holds what they share. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "stages/ingest/ingest.h"
#include "stages/stage.h"

#define ADAPTERS(X) \
	X(dfm_adapter_fmnist) \
	X(dfm_adapter_idx) \
	X(dfm_adapter_cifar10) \
	X(dfm_adapter_cifar100) \
	X(dfm_adapter_folder) \
	X(dfm_adapter_list) \
	X(dfm_adapter_mnist) \
	X(dfm_adapter_emoji) \
	X(dfm_adapter_glyphs) \
	X(dfm_adapter_digits8) \
	X(dfm_adapter_lfw25) \
	X(dfm_adapter_clipart) \
	X(dfm_adapter_aircraft) \
	X(dfm_adapter_indoor) \
	X(dfm_adapter_food101) \
	X(dfm_adapter_dtd) \
	X(dfm_adapter_lfw) \
	X(dfm_adapter_voc2012) \
	X(dfm_adapter_svhn) \
	X(dfm_adapter_flowers102) \
	X(dfm_adapter_cars)

#define DECLARE(sym) extern const struct dfm_adapter sym;
ADAPTERS(DECLARE)

static const struct dfm_adapter *const adapters[] = {
#define LIST(sym) &sym,
	ADAPTERS(LIST)
	NULL
};

const struct dfm_adapter *
dfm_adapter_at(size_t i)
{
	return i < sizeof adapters / sizeof adapters[0] ? adapters[i] : NULL;
}

const struct dfm_adapter *
dfm_adapter_find(const char *name)
{
	for (size_t i = 0; adapters[i]; i++)
		if (strcmp(adapters[i]->name, name) == 0)
			return adapters[i];
	return NULL;
}

int
dfm_ingest_fail(struct dfm_ingest *in, const char *file, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (file)
		n = snprintf(in->err, sizeof in->err, "'%s': ", file);
	if (n < 0 || (size_t)n >= sizeof in->err)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(in->err + n, sizeof in->err - n, fmt, ap);
	va_end(ap);
	return DFM_ERR_STAGE;
}

static void
install_hint(const struct dfm_adapter *a, char *buf, size_t len)
{
	if (a->install)
		snprintf(buf, len, "install it with: %s", a->install);
	else
		snprintf(buf, len, "check the 'path' parameter");
}

int
dfm_ingest_source(struct dfm_ingest *in, const char *path)
{
	char hint[300];

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	install_hint(in->adapter, hint, sizeof hint);
	if (in->listing)
		return dfm_source(in->run, path, hint);
	if (access(path, R_OK) != 0)
		return dfm_ingest_fail(in, path, "cannot read: %s; %s", strerror(errno), hint);
	return 0;
}

char *
dfm_path_join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", dir, name) < 0)
		return NULL;
	return s;
}

/* Plain files are read in one go; gzip files stream through zlib. */
static int
slurp_plain(int fd, size_t max, uint8_t **data, size_t *size, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	int rc = 0;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return DFM_ERR_FORMAT;
	}
	if ((size_t)st.st_size > max) {
		snprintf(err, errlen, "larger than %zu bytes", max);
		return E2BIG;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		snprintf(err, errlen, "out of memory");
		return DFM_ERR_NOMEM;
	}
	while (len < (size_t)st.st_size && !rc) {
		ssize_t got = read(fd, buf + len, (size_t)st.st_size - len);

		if (got > 0)
			len += (size_t)got;
		else
			rc = got < 0 ? errno : EIO;
	}
	if (rc) {
		snprintf(err, errlen, "cannot read: %s", strerror(rc));
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*data = buf;
	*size = len;
	return 0;
}

static int
slurp_gzip(int fd, size_t max, uint8_t **data, size_t *size, char *err, size_t errlen)
{
	gzFile gz = gzdopen(fd, "rb");
	uint8_t *buf = NULL, *p;
	size_t len = 0, cap = 0;
	int got, e, rc = DFM_ERR_NOMEM;

	if (!gz) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return DFM_ERR_NOMEM;
	}
	gzbuffer(gz, 1 << 17);
	do {
		if (cap - len < 1 << 16) {
			cap = cap ? 2 * cap : 1 << 20;
			if (!(p = realloc(buf, cap))) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = p;
		}
		if ((got = gzread(gz, buf + len, (unsigned)(cap - len))) < 0) {
			snprintf(err, errlen, "cannot read: %s", gzerror(gz, &e));
			rc = DFM_ERR_FORMAT;
			goto out;
		}
		len += (size_t)got;
		if (len > max) {
			snprintf(err, errlen, "larger than %zu bytes", max);
			rc = E2BIG;
			goto out;
		}
	} while (got > 0);
	buf[len] = '\0';
	*data = buf;
	*size = len;
	buf = NULL;
	rc = 0;
out:
	gzclose(gz);
	free(buf);
	return rc;
}

int
dfm_read_file(const char *path, size_t max, uint8_t **data, size_t *size, char *err,
	      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t magic[2];
	int rc;

	if (fd < 0) {
		rc = errno;
		snprintf(err, errlen, "cannot open: %s", strerror(rc));
		return rc;
	}
	if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
		return slurp_gzip(fd, max, data, size, err, errlen);
	rc = slurp_plain(fd, max, data, size, err, errlen);
	close(fd);
	return rc;
}

int
dfm_ingest_slurp(struct dfm_ingest *in, const char *path, size_t max, uint8_t **data,
		 size_t *size)
{
	char err[300];

	if (dfm_read_file(path, max, data, size, err, sizeof err))
		return dfm_ingest_fail(in, path, "%s", err);
	return 0;
}

int
dfm_ingest_class(struct dfm_ingest *in, const char *name, int *label)
{
	int k = dfm_dsbuild_class(in->b, name);

	if (k < 0)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (k >= in->ncounted) {
		int n = in->ncounted ? 2 * in->ncounted : 64;
		int64_t *p;

		while (n <= k)
			n *= 2;
		if (!(p = realloc(in->per_class, n * sizeof *p)))
			return dfm_ingest_fail(in, NULL, "out of memory");
		memset(p + in->ncounted, 0, (n - in->ncounted) * sizeof *p);
		in->per_class = p;
		in->ncounted = n;
	}
	*label = k;
	return 0;
}

int
dfm_ingest_full(struct dfm_ingest *in, int label)
{
	return in->limit > 0 && label >= 0 && label < in->ncounted &&
	       in->per_class[label] >= in->limit;
}

int
dfm_ingest_add(struct dfm_ingest *in, const char *file, const uint8_t *pix, int h,
	       int w, int c, int label)
{
	int rc;

	if (label < 0 || label >= dfm_dsbuild_nclasses(in->b) || label >= in->ncounted)
		return dfm_ingest_fail(in, file, "label %d out of range", label);
	if (dfm_ingest_full(in, label))
		return 0;
	if ((rc = dfm_dsbuild_add(in->b, pix, h, w, c, label)))
		return dfm_ingest_fail(in, file, "cannot add image: %s", dfm_strerror(rc));
	in->per_class[label]++;
	return 0;
}

int
dfm_decode_file(const char *path, struct dfm_image *im, char *err, size_t errlen)
{
	uint8_t *data;
	size_t size;
	int rc;

	if ((rc = dfm_read_file(path, (size_t)1 << 30, &data, &size, err, errlen)))
		return rc;
	rc = dfm_image_decode(data, size, im, err, errlen);
	free(data);
	return rc;
}

int
dfm_ingest_decoded(struct dfm_ingest *in, const char *path, int rc, const char *err,
		   struct dfm_image *im, int label)
{
	if (rc == E2BIG && in->adapter && in->adapter->skip_oversized) {
		dfm_note(in->run, "skipped '%s': %s", path, err);
		return 0;
	}
	if (rc)
		return dfm_ingest_fail(in, path, "%s", err);
	if (in->adapter && in->adapter->crop_bottom) {
		if (im->h <= in->adapter->crop_bottom) {
			dfm_image_free(im);
			return dfm_ingest_fail(in, path, "image height %d leaves nothing once "
					       "the %d-row banner is cut", im->h,
					       in->adapter->crop_bottom);
		}
		im->h -= in->adapter->crop_bottom;
	}
	rc = dfm_ingest_add(in, path, im->pix, im->h, im->w, im->c, label);
	dfm_image_free(im);
	return rc;
}

int
dfm_ingest_image_file(struct dfm_ingest *in, const char *path, int label)
{
	struct dfm_image im = {0};
	char err[300];
	int rc;

	if (dfm_ingest_full(in, label))
		return 0;
	rc = dfm_decode_file(path, &im, err, sizeof err);
	return dfm_ingest_decoded(in, path, rc, err, &im, label);
}

int
dfm_is_image_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
		       strcasecmp(dot, ".jpeg") == 0);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dfm_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static int
wanted(const char *dir, const char *name, int want)
{
	char *path = dfm_path_join(dir, name);
	struct stat st;
	int ok;

	if (!path)
		return 0;
	ok = stat(path, &st) == 0 &&
	     (!(want & DFM_LIST_DIRS) || S_ISDIR(st.st_mode)) &&
	     (!(want & DFM_LIST_FILES) || S_ISREG(st.st_mode));
	free(path);
	return ok;
}

int
dfm_ingest_list_dir(struct dfm_ingest *in, const char *dir, int want, char ***names,
		    size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL, **p;
	size_t len = 0, cap = 0;
	int rc = DFM_ERR_STAGE;

	if (!d)
		return dfm_ingest_fail(in, dir, "cannot open folder: %s", strerror(errno));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !wanted(dir, e->d_name, want))
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 64;
			if (!(p = realloc(v, cap * sizeof *v)))
				goto nomem;
			v = p;
		}
		if (!(v[len] = strdup(e->d_name)))
			goto nomem;
		len++;
	}
	if (len)
		qsort(v, len, sizeof *v, by_name);
	*names = v;
	*n = len;
	v = NULL;
	rc = 0;
	goto out;
nomem:
	dfm_ingest_fail(in, dir, "out of memory");
out:
	closedir(d);
	dfm_names_free(v, len);
	return rc;
}

/* The kind */

static const struct dfm_param params[] = {
	{"source", DFM_STR, NULL, "adapter or dataset: fmnist, mnist, emoji, glyphs, "
	 "digits8, lfw25, clipart, idx, cifar10, cifar100, folder, list, aircraft, "
	 "indoor, food101, dtd, lfw, voc2012, svhn, flowers102, cars", NULL, 0, 0},
	{"path", DFM_STR, "", "where the dataset lives; empty: the packaged "
	 "default", NULL, 0, 0},
	{"split", DFM_STR, "train", "which part, for sources that have splits",
	 "train|test|all", 0, 0},
	{"labels", DFM_STR, "fine", "CIFAR-100 label set", "fine|coarse", 0, 0},
	{"limit", DFM_INT, "0", "at most this many images per class, in source "
	 "order; 0 takes all", NULL, 0, 1e9},
	{"max_side", DFM_INT, "0", "shrink (antialiased) images whose longer side "
	 "exceeds this; 0: the source's default (128 for clipart, else keep)", NULL, 0, 1 << 15},
	{"size", DFM_INT, "32", "side of rendered glyph images (glyphs only)", NULL,
	 8, 512},
	{0},
};

static const struct dfm_output outputs[] = {
	{"data", "safetensors", "the dataset: images, labels, class names"},
	{0},
};

static char *
resolve_path(const struct dfm_adapter *a, const char *given)
{
	char *dir, *p;

	if (given && *given)
		return strdup(given);
	if (!a->default_path)
		return NULL;
	if (strncmp(a->default_path, "npm:", 4) != 0)
		return strdup(a->default_path);
	if (!(dir = dfm_data_dir()))
		return NULL;
	if (asprintf(&p, "%s/node_modules/%s", dir, a->default_path + 4) < 0)
		p = NULL;
	free(dir);
	return p;
}

/* Fills in from the parameters; the caller frees in->path. */
static int
setup(struct dfm_run *r, struct dfm_ingest *in)
{
	const char *name = dfm_str(r, "source");

	memset(in, 0, sizeof *in);
	in->run = r;
	if (!(in->adapter = dfm_adapter_find(name)))
		return dfm_fail(r, "unknown source '%s'", name);
	in->path = resolve_path(in->adapter, dfm_str(r, "path"));
	if (!in->path)
		return dfm_fail(r, "source '%s' needs a 'path' parameter", name);
	in->split = dfm_str(r, "split");
	in->labels = dfm_str(r, "labels");
	in->limit = dfm_int(r, "limit");
	in->size = (int)dfm_int(r, "size");
	return 0;
}

static int
ingest_sources(struct dfm_run *r)
{
	struct dfm_ingest in;
	int rc;

	if ((rc = setup(r, &in)))
		return rc;
	in.listing = 1;
	if ((rc = in.adapter->files(&in)) && in.err[0])
		rc = dfm_fail(r, "%s", in.err);
	free((char *)in.path);
	return rc;
}

static int
finish(struct dfm_run *r, struct dfm_ingest *in)
{
	const struct dfm_adapter *a = in->adapter;
	void *out;
	size_t size;
	int rc;

	if (dfm_dsbuild_meta(in->b, "source", a->name) ||
	    (a->licence && dfm_dsbuild_meta(in->b, "licence", a->licence)) ||
	    dfm_dsbuild_meta(in->b, "split", a->has_split ? in->split : "all"))
		return dfm_fail(r, "out of memory");
	rc = dfm_dsbuild_finish(in->b, &out, &size, in->err, sizeof in->err);
	in->b = NULL;
	if (rc)
		return dfm_fail(r, "source '%s' at '%s': %s", a->name, in->path, in->err);
	return dfm_put_owned(r, "data", out, size);
}

static int
ingest_run(struct dfm_run *r)
{
	struct dfm_ingest in;
	int rc, max_side;

	if ((rc = setup(r, &in)))
		return rc;
	max_side = (int)dfm_int(r, "max_side");
	if (!(in.b = dfm_dsbuild_new(max_side ? max_side : in.adapter->default_max_side))) {
		rc = dfm_fail(r, "out of memory");
		goto out;
	}
	if ((rc = in.adapter->files(&in)) || (rc = in.adapter->read(&in))) {
		rc = dfm_fail(r, "%s", in.err[0] ? in.err : dfm_strerror(rc));
		goto out;
	}
	dfm_note(r, "%s: %lld images in %d classes from '%s'", in.adapter->name,
		 (long long)dfm_dsbuild_count(in.b), dfm_dsbuild_nclasses(in.b), in.path);
	rc = finish(r, &in);
out:
	dfm_dsbuild_free(in.b);
	free(in.per_class);
	free((char *)in.path);
	return rc;
}

static int
ingest_describe(const char *output, const void *data, size_t size, void *file)
{
	(void)output;
	return dfm_dataset_describe(data, size, file);
}

const struct dfm_kind dfm_kind_ingest = {
	.name = "ingest",
	.version = 1,
	.summary = "read a dataset in its native format into a dataset artifact",
	.params = params,
	.outputs = outputs,
	.run = ingest_run,
	.sources = ingest_sources,
	.describe = ingest_describe,
};
