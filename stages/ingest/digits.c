/* scikit-learn's digits.csv.gz (Debian python3-sklearn): 1,797 lines of 64
 * pixel counts from 0 to 16 (an 8 x 8 image, ink high) and the digit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/ingest/ingest.h"

enum { SIDE = 8, PIXELS = SIDE * SIDE };

static int
digits_files(struct dfm_ingest *in)
{
	return dfm_ingest_source(in, in->path);
}

/* Parses one line of 65 integers.  Ink stays bright on black, as in MNIST. */
static int
parse_line(char *s, uint8_t *pix, int *label)
{
	for (int i = 0; i <= PIXELS; i++) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v > 16 || (i < PIXELS && *end != ','))
			return -1;
		if (i < PIXELS)
			pix[i] = (uint8_t)((v * 255 + 8) / 16);
		else
			*label = (int)v;
		s = end + 1;
	}
	return 0;
}

static int
digits_read(struct dfm_ingest *in)
{
	uint8_t *text, pix[PIXELS];
	size_t size;
	char name[16];
	int rc, k, label = 0, line = 0;

	for (int d = 0; d < 10; d++) {
		snprintf(name, sizeof name, "%d", d);
		if ((rc = dfm_ingest_class(in, name, &k)))
			return rc;
	}
	if ((rc = dfm_ingest_slurp(in, in->path, 1 << 26, &text, &size)))
		return rc;
	for (char *s = (char *)text, *end; s < (char *)text + size && !rc; s = end + 1) {
		if (!(end = strchr(s, '\n')))
			end = s + strlen(s);
		*end = '\0';
		line++;
		if (!*s)
			continue;
		if (parse_line(s, pix, &label) || label > 9)
			rc = dfm_ingest_fail(in, in->path, "line %d: want 64 values from 0 "
					     "to 16 and a digit", line);
		else
			rc = dfm_ingest_add(in, in->path, pix, SIDE, SIDE, 1, label);
	}
	free(text);
	return rc;
}

const struct dfm_adapter dfm_adapter_digits8 = {
	.name = "digits8",
	.summary = "scikit-learn's 1,797 8 x 8 handwritten digits (UCI optdigits)",
	.default_path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
	.install = "apt-get install python3-sklearn",
	.licence = "CC BY 4.0 (UCI Machine Learning Repository)",
	.files = digits_files,
	.read = digits_read,
};
