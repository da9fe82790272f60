/* The npm package "emoji-datasource-google": emoji.json lists each emoji
 * with its image file (img/google/64/NAME.png, 64 x 64 RGBA) and its
 * category, which becomes its class.  Skin-tone variants are left out (they
 * are near copies), and so is the "Component" category (bare skin-tone and
 * hair swatches).  The package is immutable per version, so its
 * package.json and emoji.json stand for the images in the key.
 *
 * emoji.json is 1.3 MB of nested objects of which two strings per entry
 * matter, so it is read as a stream of events (yajl) rather than built
 * into a tree: a tenth of the time, and nothing to free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "stages/ingest/ingest.h"

static int
emoji_files(struct dfm_ingest *in)
{
	const char *names[] = {"package.json", "emoji.json"};
	int rc = 0;

	for (int i = 0; i < 2 && !rc; i++) {
		char *path = dfm_path_join(in->path, names[i]);

		rc = dfm_ingest_source(in, path);
		free(path);
	}
	return rc;
}

struct emoji {
	char *image, *category;
};

/* The scan of emoji.json: depth 1 is the top-level array, depth 2 an
 * entry's object, whose "image" and "category" strings are kept. */
struct scan {
	struct emoji *v, cur;
	size_t n, cap;
	int depth;
	char **field;     /* where the next string goes, or NULL */
	const char *why;  /* why the scan stopped, when it was not yajl */
};

static int
on_start_map(void *ctx)
{
	struct scan *s = ctx;

	if (s->depth == 0) {
		s->why = "not a JSON array";
		return 0;
	}
	if (++s->depth == 2)
		s->cur = (struct emoji){0};
	s->field = NULL;
	return 1;
}

static int
wanted(const struct emoji *e)
{
	return e->category && e->image && strcmp(e->category, "Component") != 0 &&
	       !strchr(e->image, '/');
}

static int
on_end_map(void *ctx)
{
	struct scan *s = ctx;

	if (s->depth-- != 2)
		return 1;
	if (!wanted(&s->cur)) {
		free(s->cur.image);
		free(s->cur.category);
		s->cur = (struct emoji){0};
		return 1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct emoji *v = realloc(s->v, cap * sizeof *v);

		if (!v) {
			free(s->cur.image);
			free(s->cur.category);
			s->cur = (struct emoji){0};
			s->why = "out of memory";
			return 0;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = s->cur;
	s->cur = (struct emoji){0};
	return 1;
}

static int
on_start_array(void *ctx)
{
	struct scan *s = ctx;

	s->depth++;
	s->field = NULL;
	return 1;
}

static int
on_end_array(void *ctx)
{
	((struct scan *)ctx)->depth--;
	return 1;
}

static int
on_key(void *ctx, const unsigned char *key, size_t len)
{
	struct scan *s = ctx;

	s->field = NULL;
	if (s->depth != 2)
		return 1;
	if (len == 5 && memcmp(key, "image", 5) == 0)
		s->field = &s->cur.image;
	else if (len == 8 && memcmp(key, "category", 8) == 0)
		s->field = &s->cur.category;
	return 1;
}

static int
on_string(void *ctx, const unsigned char *str, size_t len)
{
	struct scan *s = ctx;

	if (s->depth == 0) {
		s->why = "not a JSON array";
		return 0;
	}
	if (!s->field)
		return 1;
	free(*s->field);
	if (!(*s->field = strndup((const char *)str, len))) {
		s->why = "out of memory";
		return 0;
	}
	s->field = NULL;
	return 1;
}

/* A number, true, false or null: never a wanted field's value. */
static int
on_other(void *ctx)
{
	struct scan *s = ctx;

	if (s->depth == 0) {
		s->why = "not a JSON array";
		return 0;
	}
	s->field = NULL;
	return 1;
}

static int
on_bool(void *ctx, int value)
{
	(void)value;
	return on_other(ctx);
}

static int
on_number(void *ctx, const char *text, size_t len)
{
	(void)text;
	(void)len;
	return on_other(ctx);
}

static const yajl_callbacks events = {
	.yajl_null = on_other,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_end_map,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end_array,
};

static void
scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].image);
		free(s->v[i].category);
	}
	free(s->cur.image);
	free(s->cur.category);
	free(s->v);
}

/* The wanted entries of the emoji.json text at path, in file order. */
static int
scan(struct dfm_ingest *in, const char *path, const uint8_t *text, size_t size,
     struct scan *s)
{
	yajl_handle h = yajl_alloc(&events, NULL, s);
	yajl_status st;
	int rc = 0;

	if (!h)
		return dfm_ingest_fail(in, NULL, "out of memory");
	st = yajl_parse(h, text, size);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_client_canceled) {
		rc = dfm_ingest_fail(in, path, "%s", s->why);
	} else if (st != yajl_status_ok) {
		unsigned char *msg = yajl_get_error(h, 0, text, size);
		size_t len = msg ? strcspn((char *)msg, "\n") : 0;

		rc = dfm_ingest_fail(in, path, "%.*s", len ? (int)len : 12,
				     len ? (char *)msg : "invalid JSON");
		yajl_free_error(h, msg);
	} else if (s->depth != 0 || !s->v) {
		rc = dfm_ingest_fail(in, path, s->v ? "not a JSON array" : "no emoji listed");
	}
	yajl_free(h);
	return rc;
}

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Classes in name order, so that they do not depend on emoji.json's order. */
static int
make_classes(struct dfm_ingest *in, const struct scan *s)
{
	const char **cats = malloc((s->n + 1) * sizeof *cats);
	int k, rc = 0;

	if (!cats)
		return dfm_ingest_fail(in, NULL, "out of memory");
	for (size_t i = 0; i < s->n; i++)
		cats[i] = s->v[i].category;
	qsort(cats, s->n, sizeof *cats, by_string);
	for (size_t i = 0; i < s->n && !rc; i++)
		if (i == 0 || strcmp(cats[i], cats[i - 1]) != 0)
			rc = dfm_ingest_class(in, cats[i], &k);
	free(cats);
	return rc;
}

static int
add_images(struct dfm_ingest *in, const struct scan *s)
{
	char **paths = calloc(s->n + 1, sizeof *paths);
	int *labels = malloc((s->n + 1) * sizeof *labels), rc = 0;
	size_t m = 0;

	if (!paths || !labels)
		rc = dfm_ingest_fail(in, NULL, "out of memory");
	for (; m < s->n && !rc; m++) {
		if ((rc = dfm_ingest_class(in, s->v[m].category, &labels[m])))
			break;
		if (asprintf(&paths[m], "%s/img/google/64/%s", in->path, s->v[m].image) < 0) {
			paths[m] = NULL;
			rc = dfm_ingest_fail(in, NULL, "out of memory");
		}
	}
	if (!rc)
		rc = dfm_ingest_images(in, paths, labels, m);
	for (size_t i = 0; paths && i < m; i++)
		free(paths[i]);
	free(paths);
	free(labels);
	return rc;
}

static int
emoji_read(struct dfm_ingest *in)
{
	char *path = dfm_path_join(in->path, "emoji.json");
	struct scan s = {0};
	uint8_t *text = NULL;
	size_t size;
	int rc;

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (!(rc = dfm_ingest_slurp(in, path, 1 << 28, &text, &size)) &&
	    !(rc = scan(in, path, text, size, &s)) && !(rc = make_classes(in, &s)))
		rc = add_images(in, &s);
	scan_free(&s);
	free(text);
	free(path);
	return rc;
}

const struct dfm_adapter dfm_adapter_emoji = {
	.name = "emoji",
	.summary = "npm emoji-datasource-google: 64 x 64 emoji in 9 categories",
	.default_path = "npm:emoji-datasource-google",
	.install = "make deps (npm install emoji-datasource-google@15.1.2 into .data)",
	.licence = "Apache-2.0 (Noto Emoji images); MIT (emoji-datasource)",
	.files = emoji_files,
	.read = emoji_read,
};
