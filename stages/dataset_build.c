/* The dataset builder behind every ingest adapter (see dataset.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/dataset.h"
#include "stages/image.h"

struct dfm_dsbuild {
	int max_side;
	int c;                       /* channels of every stored image; 0: none yet */
	uint8_t *pix;
	size_t npix, cappix;
	int64_t *shapes, *orig;      /* n x 3 and n x 2 */
	int32_t *labels;
	int64_t n, cap;
	char **classes;
	int nclasses, capclasses;
	char *source, *licence, *split;
	int shrunk;
};

struct dfm_dsbuild *
dfm_dsbuild_new(int max_side)
{
	struct dfm_dsbuild *b = calloc(1, sizeof *b);

	if (b)
		b->max_side = max_side > 0 ? max_side : 0;
	return b;
}

void
dfm_dsbuild_free(struct dfm_dsbuild *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nclasses; i++)
		free(b->classes[i]);
	free(b->classes);
	free(b->pix);
	free(b->shapes);
	free(b->orig);
	free(b->labels);
	free(b->source);
	free(b->licence);
	free(b->split);
	free(b);
}

int
dfm_dsbuild_class(struct dfm_dsbuild *b, const char *name)
{
	char *copy;

	for (int i = b->nclasses - 1; i >= 0; i--)
		if (strcmp(b->classes[i], name) == 0)
			return i;
	if (b->nclasses == b->capclasses) {
		int cap = b->capclasses ? 2 * b->capclasses : 16;
		char **p = realloc(b->classes, cap * sizeof *p);

		if (!p)
			return -1;
		b->classes = p;
		b->capclasses = cap;
	}
	if (!(copy = strdup(name)))
		return -1;
	b->classes[b->nclasses] = copy;
	return b->nclasses++;
}

int
dfm_dsbuild_nclasses(const struct dfm_dsbuild *b)
{
	return b->nclasses;
}

int64_t
dfm_dsbuild_count(const struct dfm_dsbuild *b)
{
	return b->n;
}

int
dfm_dsbuild_meta(struct dfm_dsbuild *b, const char *key, const char *value)
{
	char **slot = strcmp(key, "source") == 0 ? &b->source :
		      strcmp(key, "licence") == 0 ? &b->licence :
		      strcmp(key, "split") == 0 ? &b->split : NULL;
	char *copy;

	if (!slot)
		return DFM_ERR_NOTFOUND;
	if (!(copy = strdup(value)))
		return DFM_ERR_NOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

static int
grow(struct dfm_dsbuild *b, size_t bytes)
{
	if (b->n == b->cap) {
		int64_t cap = b->cap ? 2 * b->cap : 256;
		int64_t *s = realloc(b->shapes, cap * 3 * sizeof *s);
		int64_t *o = s ? realloc(b->orig, cap * 2 * sizeof *o) : NULL;
		int32_t *l = o ? realloc(b->labels, cap * sizeof *l) : NULL;

		if (s)
			b->shapes = s;
		if (o)
			b->orig = o;
		if (!l)
			return DFM_ERR_NOMEM;
		b->labels = l;
		b->cap = cap;
	}
	if (b->npix + bytes > b->cappix) {
		size_t cap = b->cappix ? 2 * b->cappix : 1 << 20;
		uint8_t *p;

		while (cap < b->npix + bytes)
			cap *= 2;
		if (!(p = realloc(b->pix, cap)))
			return DFM_ERR_NOMEM;
		b->pix = p;
		b->cappix = cap;
	}
	return 0;
}

/* The size an image is stored at: its own, or shrunk to max_side. */
static void
stored_size(const struct dfm_dsbuild *b, int h, int w, int *sh, int *sw)
{
	int side = h > w ? h : w;

	*sh = h;
	*sw = w;
	if (!b->max_side || side <= b->max_side)
		return;
	*sh = (int)((int64_t)h * b->max_side * 2 / side + 1) / 2;
	*sw = (int)((int64_t)w * b->max_side * 2 / side + 1) / 2;
	*sh = *sh < 1 ? 1 : *sh;
	*sw = *sw < 1 ? 1 : *sw;
}

/* Grey pixels to RGB where they lie: n grey values at p become 3 n bytes
 * from p, written from the end so that no value is overwritten unread. */
static void
grey_to_rgb_in_place(uint8_t *p, size_t n)
{
	for (size_t i = n; i-- > 0;)
		p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = p[i];
}

/* The first colour image after grey ones: every stored image becomes RGB,
 * so that a dataset has one channel count (grey images added later are
 * made RGB as they come). */
static int
promote_to_rgb(struct dfm_dsbuild *b)
{
	int rc = grow(b, 2 * b->npix);

	if (rc)
		return rc;
	grey_to_rgb_in_place(b->pix, b->npix);
	b->npix *= 3;
	for (int64_t i = 0; i < b->n; i++)
		b->shapes[3 * i + 2] = 3;
	b->c = 3;
	return 0;
}

int
dfm_dsbuild_add(struct dfm_dsbuild *b, const uint8_t *pix, int h, int w, int c,
		int label)
{
	int sh, sw, rc;
	uint8_t *dst;
	size_t bytes;

	if (label < 0 || label >= b->nclasses || h < 1 || w < 1 || (c != 1 && c != 3))
		return DFM_ERR_FORMAT;
	if (c > b->c && b->c && (rc = promote_to_rgb(b)))
		return rc;
	if (!b->c)
		b->c = c;
	stored_size(b, h, w, &sh, &sw);
	bytes = (size_t)sh * sw * b->c;
	if ((rc = grow(b, bytes)))
		return rc;
	dst = b->pix + b->npix;
	if (sh != h || sw != w) {
		if ((rc = dfm_resample(pix, h, w, c, dst, sh, sw, 1)))
			return rc;
		if (c != b->c)
			grey_to_rgb_in_place(dst, (size_t)sh * sw);
		b->shrunk = 1;
	} else {
		dfm_convert_channels(pix, c, dst, b->c, (size_t)h * w);
	}
	b->npix += bytes;
	b->shapes[3 * b->n] = sh;
	b->shapes[3 * b->n + 1] = sw;
	b->shapes[3 * b->n + 2] = b->c;
	b->orig[2 * b->n] = h;
	b->orig[2 * b->n + 1] = w;
	b->labels[b->n++] = label;
	return 0;
}

static int
check_classes(const struct dfm_dsbuild *b, char *err, size_t errlen)
{
	int64_t *count;
	int empty = -1;

	if (b->n == 0 || b->nclasses == 0) {
		snprintf(err, errlen, "no images found");
		return DFM_ERR_FORMAT;
	}
	if (!(count = calloc(b->nclasses, sizeof *count)))
		return DFM_ERR_NOMEM;
	for (int64_t i = 0; i < b->n; i++)
		count[b->labels[i]]++;
	for (int k = b->nclasses - 1; k >= 0; k--)
		if (!count[k])
			empty = k;
	free(count);
	if (empty >= 0) {
		snprintf(err, errlen, "class '%s' has no images", b->classes[empty]);
		return DFM_ERR_FORMAT;
	}
	return 0;
}

static int
same_size(const struct dfm_dsbuild *b)
{
	for (int64_t i = 1; i < b->n; i++)
		if (b->shapes[3 * i] != b->shapes[0] || b->shapes[3 * i + 1] != b->shapes[1])
			return 0;
	return 1;
}

/* Serialises the dataset, handing the pixel buffer over to the artifact. */
static int
serialise(struct dfm_dsbuild *b, void **out, size_t *size)
{
	struct dfm_dataset ds = {0};
	int64_t *offsets = malloc((b->n + 1) * sizeof *offsets), at = 0;
	uint8_t *pix = b->pix;
	int rc;

	if (!offsets)
		return DFM_ERR_NOMEM;
	for (int64_t i = 0; i < b->n; i++) {
		offsets[i] = at;
		at += b->shapes[3 * i] * b->shapes[3 * i + 1] * b->c;
	}
	ds = (struct dfm_dataset){.n = b->n, .c = b->c, .labels = b->labels,
		.nclasses = b->nclasses, .classes = b->classes, .source = b->source,
		.licence = b->licence, .split = b->split};
	if (same_size(b)) {
		ds.h = (int)b->shapes[0];
		ds.w = (int)b->shapes[1];
		ds.images = pix;
	} else {
		ds.pixels = pix;
		ds.shapes = b->shapes;
		ds.offsets = offsets;
		ds.npixels = at;
	}
	if (b->shrunk || !same_size(b))
		ds.orig_sizes = b->orig;
	b->pix = NULL;
	rc = dfm_dataset_write_owned(&ds, pix, out, size);
	free(offsets);
	return rc;
}

int
dfm_dsbuild_finish(struct dfm_dsbuild *b, void **out, size_t *size, char *err,
		   size_t errlen)
{
	int rc = check_classes(b, err, errlen);

	if (!rc && (rc = serialise(b, out, size)))
		snprintf(err, errlen, "cannot write the dataset: %s", dfm_strerror(rc));
	dfm_dsbuild_free(b);
	return rc;
}
