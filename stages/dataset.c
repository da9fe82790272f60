#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/error.h"
#include "stages/dataset.h"
#include "stages/image.h"
#include "stages/nn/safetensors.h"

static int
bad(char *err, size_t errlen, const char *why)
{
	if (err)
		snprintf(err, errlen, "%s", why);
	return DFM_ERR_FORMAT;
}

static const struct dfm_tensor *
tensor(const struct dfm_st *st, const char *name, enum dfm_dtype t, int ndim)
{
	const struct dfm_tensor *x = dfm_st_get(st, name);

	return x && x->dtype == t && x->ndim == ndim ? x : NULL;
}

static int
read_classes(struct dfm_dataset *ds, char *err, size_t errlen)
{
	const char *text = dfm_st_meta_get(ds->st, "classes");
	json_object *arr = text ? json_tokener_parse(text) : NULL;
	int rc = bad(err, errlen, "metadata 'classes' is not a JSON array of strings");
	size_t n;

	if (!arr || !json_object_is_type(arr, json_type_array))
		goto out;
	n = json_object_array_length(arr);
	if (n == 0 || n > 1000000)
		goto out;
	if (!(ds->classes = calloc(n, sizeof *ds->classes))) {
		rc = bad(err, errlen, "out of memory");
		goto out;
	}
	ds->nclasses = (int)n;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(s, json_type_string))
			goto out;
		if (!(ds->classes[i] = strdup(json_object_get_string(s)))) {
			rc = bad(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(arr);
	return rc;
}

static int
read_fixed(struct dfm_dataset *ds, const struct dfm_tensor *im, char *err, size_t errlen)
{
	if (im->shape[1] < 1 || im->shape[2] < 1 || im->shape[1] > 1 << 15 ||
	    im->shape[2] > 1 << 15 || (im->shape[3] != 1 && im->shape[3] != 3))
		return bad(err, errlen, "'images' must be N x H x W x C with C 1 or 3");
	ds->n = im->shape[0];
	ds->h = (int)im->shape[1];
	ds->w = (int)im->shape[2];
	ds->c = (int)im->shape[3];
	ds->images = im->data;
	return 0;
}

/* Every image of a varying-size dataset must lie inside pixels. */
static int
read_varying(struct dfm_dataset *ds, char *err, size_t errlen)
{
	const struct dfm_tensor *px = tensor(ds->st, "pixels", DFM_U8, 1);
	const struct dfm_tensor *sh = tensor(ds->st, "shapes", DFM_I64, 2);
	const struct dfm_tensor *off = tensor(ds->st, "offsets", DFM_I64, 1);

	if (!px || !sh || !off || sh->shape[1] != 3 || off->shape[0] != sh->shape[0])
		return bad(err, errlen, "need 'images', or 'pixels', 'shapes' and 'offsets'");
	ds->n = sh->shape[0];
	ds->pixels = px->data;
	ds->npixels = px->shape[0];
	ds->shapes = sh->data;
	ds->offsets = off->data;
	for (int64_t i = 0; i < ds->n; i++) {
		const int64_t *s = ds->shapes + 3 * i;

		if (s[0] < 1 || s[1] < 1 || s[0] > 1 << 15 || s[1] > 1 << 15 ||
		    s[2] != (i ? ds->shapes[2] : s[2]) || (s[2] != 1 && s[2] != 3))
			return bad(err, errlen, "bad image shape in 'shapes'");
		if (ds->offsets[i] < 0 || ds->offsets[i] > ds->npixels ||
		    s[0] * s[1] * s[2] > ds->npixels - ds->offsets[i])
			return bad(err, errlen, "image outside 'pixels'");
	}
	ds->c = ds->n ? (int)ds->shapes[2] : 1;
	return 0;
}

static int
read_labels(struct dfm_dataset *ds, char *err, size_t errlen)
{
	const struct dfm_tensor *lab = tensor(ds->st, "labels", DFM_I32, 1);
	const struct dfm_tensor *orig = tensor(ds->st, "orig_sizes", DFM_I64, 2);

	if (!lab || lab->shape[0] != ds->n)
		return bad(err, errlen, "'labels' must be I32 with one label per image");
	ds->labels = lab->data;
	for (int64_t i = 0; i < ds->n; i++)
		if (ds->labels[i] < 0 || ds->labels[i] >= ds->nclasses)
			return bad(err, errlen, "label out of range of 'classes'");
	if (orig && orig->shape[0] == ds->n && orig->shape[1] == 2)
		ds->orig_sizes = orig->data;
	return 0;
}

int
dfm_dataset_open(const void *data, size_t size, struct dfm_dataset *ds, char *err,
		 size_t errlen)
{
	const struct dfm_tensor *im;
	int rc;

	memset(ds, 0, sizeof *ds);
	if ((rc = dfm_st_open(data, size, &ds->st, err, errlen)))
		return rc;
	if ((rc = read_classes(ds, err, errlen)))
		goto fail;
	im = tensor(ds->st, "images", DFM_U8, 4);
	rc = im ? read_fixed(ds, im, err, errlen) : read_varying(ds, err, errlen);
	if (rc || (rc = read_labels(ds, err, errlen)))
		goto fail;
	ds->source = dfm_st_meta_get(ds->st, "source");
	ds->licence = dfm_st_meta_get(ds->st, "licence");
	ds->split = dfm_st_meta_get(ds->st, "split");
	return 0;
fail:
	dfm_dataset_close(ds);
	return rc;
}

void
dfm_dataset_close(struct dfm_dataset *ds)
{
	for (int i = 0; ds->classes && i < ds->nclasses; i++)
		free(ds->classes[i]);
	free(ds->classes);
	dfm_st_close(ds->st);
	memset(ds, 0, sizeof *ds);
}

const uint8_t *
dfm_dataset_image(const struct dfm_dataset *ds, int64_t i, int *h, int *w, int *c)
{
	if (ds->images) {
		*h = ds->h;
		*w = ds->w;
		*c = ds->c;
		return ds->images + (size_t)i * ds->h * ds->w * ds->c;
	}
	*h = (int)ds->shapes[3 * i];
	*w = (int)ds->shapes[3 * i + 1];
	*c = (int)ds->shapes[3 * i + 2];
	return ds->pixels + ds->offsets[i];
}

static char *
classes_json(const struct dfm_dataset *ds)
{
	json_object *arr = json_object_new_array();
	char *s = NULL;

	if (!arr)
		return NULL;
	for (int i = 0; i < ds->nclasses; i++) {
		json_object *name = json_object_new_string(ds->classes[i]);

		if (!name || json_object_array_add(arr, name)) {
			json_object_put(name);
			goto out;
		}
	}
	s = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(arr);
	return s;
}

static int
add_meta(struct dfm_st_writer *w, const struct dfm_dataset *ds)
{
	char *classes = classes_json(ds);
	int rc = classes ? dfm_st_meta(w, "classes", classes) : DFM_ERR_NOMEM;

	free(classes);
	if (!rc && ds->source)
		rc = dfm_st_meta(w, "source", ds->source);
	if (!rc && ds->licence)
		rc = dfm_st_meta(w, "licence", ds->licence);
	if (!rc && ds->split)
		rc = dfm_st_meta(w, "split", ds->split);
	return rc;
}

/* How the pixel tensor joins the file: copied, adopted (owned, the buffer
 * it points to) or reserved (filled in later at *at). */
struct pixels {
	void *owned;
	uint8_t **at;
};

static int
add_pixels(struct dfm_st_writer *w, const char *name, int ndim, const int64_t *shape,
	   const uint8_t *data, const struct pixels *how)
{
	if (how->owned)
		return dfm_st_adopt(w, name, DFM_U8, ndim, shape, how->owned);
	if (how->at)
		return dfm_st_reserve(w, name, DFM_U8, ndim, shape, (void **)how->at);
	return dfm_st_add(w, name, DFM_U8, ndim, shape, data);
}

static int
add_tensors(struct dfm_st_writer *w, const struct dfm_dataset *ds, const struct pixels *how)
{
	int64_t s_img[4] = {ds->n, ds->h, ds->w, ds->c}, s_n[1] = {ds->n};
	int64_t s_px[1] = {ds->npixels}, s_sh[2] = {ds->n, 3}, s_orig[2] = {ds->n, 2};
	int rc;

	if (ds->images || how->at)
		rc = add_pixels(w, "images", 4, s_img, ds->images, how);
	else if (!(rc = add_pixels(w, "pixels", 1, s_px, ds->pixels, how)) &&
		 !(rc = dfm_st_add(w, "shapes", DFM_I64, 2, s_sh, ds->shapes)))
		rc = dfm_st_add(w, "offsets", DFM_I64, 1, s_n, ds->offsets);
	if (!rc)
		rc = dfm_st_add(w, "labels", DFM_I32, 1, s_n, ds->labels);
	if (!rc && ds->orig_sizes)
		rc = dfm_st_add(w, "orig_sizes", DFM_I64, 2, s_orig, ds->orig_sizes);
	return rc;
}

static int
write_dataset(const struct dfm_dataset *ds, const struct pixels *how, void **out,
	      size_t *size)
{
	struct dfm_st_writer *w = dfm_st_writer_new();
	int rc;

	if (!w) {
		free(how->owned);
		return DFM_ERR_NOMEM;
	}
	if ((rc = add_tensors(w, ds, how)) || (rc = add_meta(w, ds))) {
		dfm_st_writer_free(w);
		return rc;
	}
	return dfm_st_writer_finish(w, out, size);
}

int
dfm_dataset_write(const struct dfm_dataset *ds, void **out, size_t *size)
{
	return write_dataset(ds, &(struct pixels){0}, out, size);
}

int
dfm_dataset_write_owned(const struct dfm_dataset *ds, void *pixels, void **out,
			size_t *size)
{
	if (pixels != (ds->images ? ds->images : ds->pixels)) {
		free(pixels);
		return DFM_ERR_USAGE;
	}
	return write_dataset(ds, &(struct pixels){.owned = pixels}, out, size);
}

int
dfm_dataset_write_reserved(const struct dfm_dataset *ds, void **out, size_t *size,
			   uint8_t **images)
{
	if (ds->images || ds->pixels || ds->h < 1 || ds->w < 1)
		return DFM_ERR_USAGE;
	return write_dataset(ds, &(struct pixels){.at = images}, out, size);
}

int64_t *
dfm_dataset_counts(const struct dfm_dataset *ds)
{
	int64_t *count = calloc(ds->nclasses, sizeof *count);

	for (int64_t i = 0; count && i < ds->n; i++)
		count[ds->labels[i]]++;
	return count;
}

static void
describe_sizes(const struct dfm_dataset *ds, FILE *f)
{
	int64_t minh = INT64_MAX, maxh = 0, minw = INT64_MAX, maxw = 0;

	if (ds->images) {
		fprintf(f, "images: %lld, %d x %d, %d channel%s\n", (long long)ds->n,
			ds->h, ds->w, ds->c, ds->c == 1 ? "" : "s");
		return;
	}
	for (int64_t i = 0; i < ds->n; i++) {
		const int64_t *s = ds->shapes + 3 * i;

		minh = s[0] < minh ? s[0] : minh;
		maxh = s[0] > maxh ? s[0] : maxh;
		minw = s[1] < minw ? s[1] : minw;
		maxw = s[1] > maxw ? s[1] : maxw;
	}
	fprintf(f, "images: %lld, sizes vary from %lld x %lld to %lld x %lld, "
		"%d channel%s\n", (long long)ds->n, (long long)minh, (long long)minw,
		(long long)maxh, (long long)maxw, ds->c, ds->c == 1 ? "" : "s");
}

int
dfm_dataset_describe(const void *data, size_t size, void *file)
{
	struct dfm_dataset ds;
	FILE *f = file;
	int64_t *count;
	char err[200];

	if (dfm_dataset_open(data, size, &ds, err, sizeof err)) {
		fprintf(f, "not a dataset: %s\n", err);
		return DFM_ERR_FORMAT;
	}
	fprintf(f, "source: %s\n", ds.source ? ds.source : "unknown");
	if (ds.licence)
		fprintf(f, "licence: %s\n", ds.licence);
	if (ds.split)
		fprintf(f, "split: %s\n", ds.split);
	describe_sizes(&ds, f);
	fprintf(f, "classes: %d\n", ds.nclasses);
	if ((count = dfm_dataset_counts(&ds)))
		for (int k = 0; k < ds.nclasses; k++)
			fprintf(f, "  %5d  %-32s %lld\n", k, ds.classes[k], (long long)count[k]);
	free(count);
	dfm_dataset_close(&ds);
	return count ? 0 : DFM_ERR_NOMEM;
}

/* Folder exports */

/* A class name as one path component: letters, digits, '-', '_' and '.'
 * kept (a leading dot is not), everything else '_'. */
static void
safe_name(const char *name, int k, char *out, size_t len)
{
	size_t j = 0;

	for (const char *p = name; *p && j + 1 < len; p++) {
		char ch = *p;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
			 (ch == '.' && j > 0);

		out[j++] = ok ? ch : '_';
	}
	out[j] = '\0';
	if (j == 0)
		snprintf(out, len, "class%d", k);
}

static int
make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0777) && errno != EEXIST) {
		int e = errno;

		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(e));
		return e;
	}
	return 0;
}

static int
write_file(const char *path, const void *data, size_t size, char *err, size_t errlen)
{
	FILE *f = fopen(path, "wbx");
	int rc = 0;

	if (!f || fwrite(data, 1, size, f) != size)
		rc = errno ? errno : EIO;
	if (f && fclose(f) && !rc)
		rc = errno ? errno : EIO;
	if (rc)
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(rc));
	return rc;
}

static int
export_image(const struct dfm_dataset *ds, int64_t i, const char *dir, char **cls,
	     FILE *csv, char *err, size_t errlen)
{
	int h, w, c, k = ds->labels[i];
	const uint8_t *pix = dfm_dataset_image(ds, i, &h, &w, &c);
	char rel[600], path[4200];
	void *png;
	size_t size;
	int rc;

	snprintf(rel, sizeof rel, "%s/%06lld.png", cls[k], (long long)i);
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	if ((rc = dfm_png_encode(pix, h, w, c, &png, &size))) {
		snprintf(err, errlen, "cannot encode '%s': %s", path, dfm_strerror(rc));
		return rc;
	}
	rc = write_file(path, png, size, err, errlen);
	free(png);
	if (!rc && fprintf(csv, "%s,%d,\"%s\"\n", rel, k, cls[k]) < 0)
		rc = EIO;
	return rc;
}

static int
export_class_dirs(const struct dfm_dataset *ds, const char *dir, char **cls,
		  char *err, size_t errlen)
{
	char path[4200];
	int rc = 0;

	for (int k = 0; k < ds->nclasses && !rc; k++) {
		char name[200];

		safe_name(ds->classes[k], k, name, sizeof name);
		for (int j = 0; j < k; j++)
			if (strcmp(cls[j], name) == 0)
				snprintf(name, sizeof name, "class%d", k);
		if (!(cls[k] = strdup(name)))
			return DFM_ERR_NOMEM;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		rc = make_dir(path, err, errlen);
	}
	return rc;
}

static int
export_all(const struct dfm_dataset *ds, const char *dir, char **cls, char *err,
	   size_t errlen)
{
	char path[4200];
	FILE *csv;
	int rc;

	if ((rc = make_dir(dir, err, errlen)) ||
	    (rc = export_class_dirs(ds, dir, cls, err, errlen)))
		return rc;
	snprintf(path, sizeof path, "%s/labels.csv", dir);
	if (!(csv = fopen(path, "wx"))) {
		rc = errno;
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(rc));
		return rc;
	}
	fprintf(csv, "file,label,class\n");
	for (int64_t i = 0; i < ds->n && !rc; i++)
		rc = export_image(ds, i, dir, cls, csv, err, errlen);
	if (fclose(csv) && !rc) {
		rc = errno;
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(rc));
	}
	return rc;
}

int
dfm_dataset_export_dir(const void *data, size_t size, const char *dir, char *err,
		       size_t errlen)
{
	struct dfm_dataset ds;
	char **cls;
	int rc;

	if ((rc = dfm_dataset_open(data, size, &ds, err, errlen)))
		return rc;
	if (!(cls = calloc(ds.nclasses, sizeof *cls))) {
		dfm_dataset_close(&ds);
		return DFM_ERR_NOMEM;
	}
	rc = export_all(&ds, dir, cls, err, errlen);
	for (int k = 0; k < ds.nclasses; k++)
		free(cls[k]);
	free(cls);
	dfm_dataset_close(&ds);
	return rc;
}
