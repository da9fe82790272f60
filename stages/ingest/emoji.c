/* The npm package "emoji-datasource-google": emoji.json lists each emoji
 * with its image file (img/google/64/NAME.png, 64 x 64 RGBA) and its
 * category, which becomes its class.  Skin-tone variants are left out (they
 * are near copies), and so is the "Component" category (bare skin-tone and
 * hair swatches).  The package is immutable per version, so its
 * package.json and emoji.json stand for the images in the key. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *
field(json_object *e, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(e, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
wanted(json_object *e)
{
	const char *cat = field(e, "category"), *image = field(e, "image");

	return cat && image && strcmp(cat, "Component") != 0 && !strchr(image, '/');
}

/* Classes in name order, so that they do not depend on emoji.json's order. */
static int
make_classes(struct dfm_ingest *in, json_object *list)
{
	size_t n = json_object_array_length(list), m = 0;
	const char **cats = malloc((n + 1) * sizeof *cats);
	int k, rc = 0;

	if (!cats)
		return dfm_ingest_fail(in, NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (wanted(json_object_array_get_idx(list, i)))
			cats[m++] = field(json_object_array_get_idx(list, i), "category");
	qsort(cats, m, sizeof *cats, by_string);
	for (size_t i = 0; i < m && !rc; i++)
		if (i == 0 || strcmp(cats[i], cats[i - 1]) != 0)
			rc = dfm_ingest_class(in, cats[i], &k);
	free(cats);
	return rc;
}

static int
add_images(struct dfm_ingest *in, json_object *list)
{
	size_t n = json_object_array_length(list), m = 0;
	char **paths = calloc(n + 1, sizeof *paths);
	int *labels = malloc((n + 1) * sizeof *labels), rc = 0;

	if (!paths || !labels)
		rc = dfm_ingest_fail(in, NULL, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		json_object *e = json_object_array_get_idx(list, i);

		if (!wanted(e))
			continue;
		if ((rc = dfm_ingest_class(in, field(e, "category"), &labels[m])))
			break;
		if (asprintf(&paths[m], "%s/img/google/64/%s", in->path, field(e, "image")) < 0) {
			paths[m] = NULL;
			rc = dfm_ingest_fail(in, NULL, "out of memory");
			break;
		}
		m++;
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
	uint8_t *text = NULL;
	size_t size;
	json_object *list = NULL;
	int rc;

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if ((rc = dfm_ingest_slurp(in, path, 1 << 28, &text, &size)))
		goto out;
	list = json_tokener_parse((char *)text);
	if (!list || !json_object_is_type(list, json_type_array)) {
		rc = dfm_ingest_fail(in, path, "not a JSON array");
		goto out;
	}
	if (!(rc = make_classes(in, list)))
		rc = add_images(in, list);
out:
	json_object_put(list);
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
