/* NumPy .npy arrays, and scikit-image's lfw_subset.npy (Debian
 * python3-skimage): 200 25 x 25 grey crops in [0, 1], the first 100 faces
 * from Labeled Faces in the Wild and the last 100 not faces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/ingest/ingest.h"

static int
parse_shape(const char *hdr, int64_t shape[4], int *ndim)
{
	const char *p = strstr(hdr, "'shape':");

	if (!p || !(p = strchr(p, '(')))
		return -1;
	*ndim = 0;
	for (p++; *p && *p != ')';) {
		char *end;
		long long v = strtoll(p, &end, 10);

		if (end == p || v < 0 || v > (1LL << 31) || *ndim == 4)
			return -1;
		shape[(*ndim)++] = v;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return *p == ')' && *ndim > 0 ? 0 : -1;
}

/* The header dict, as a NUL-terminated copy in hdr (at most len bytes). */
static int
read_header(const uint8_t *data, size_t size, char *hdr, size_t len, size_t *start)
{
	size_t hlen, skip;

	if (size < 10 || memcmp(data, "\x93NUMPY", 6) != 0)
		return -1;
	if (data[6] == 1) {
		hlen = data[8] | (size_t)data[9] << 8;
		skip = 10;
	} else if (data[6] == 2 || data[6] == 3) {
		if (size < 12)
			return -1;
		hlen = data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 |
		       (size_t)data[11] << 24;
		skip = 12;
	} else {
		return -1;
	}
	if (hlen >= len || hlen > size - skip)
		return -1;
	memcpy(hdr, data + skip, hlen);
	hdr[hlen] = '\0';
	*start = skip + hlen;
	return 0;
}

int
dfm_npy_parse(struct dfm_ingest *in, const char *file, const uint8_t *data, size_t size,
	      double **values, int64_t shape[4], int *ndim)
{
	char hdr[4096];
	size_t start, elem;
	int64_t n = 1;
	int f8;

	if (read_header(data, size, hdr, sizeof hdr, &start))
		return dfm_ingest_fail(in, file, "not a .npy file");
	f8 = strstr(hdr, "'descr': '<f8'") != NULL;
	if ((!f8 && !strstr(hdr, "'descr': '|u1'")) || !strstr(hdr, "'fortran_order': False"))
		return dfm_ingest_fail(in, file, "want a C-order array of <f8 or |u1");
	if (parse_shape(hdr, shape, ndim))
		return dfm_ingest_fail(in, file, "bad shape in the .npy header");
	elem = f8 ? 8 : 1;
	for (int i = 0; i < *ndim && n > 0; i++)
		n = shape[i] && n > (int64_t)(size / elem) / shape[i] ? -1 : n * shape[i];
	if (n <= 0 || (size_t)n > (size - start) / elem || (size_t)n * elem != size - start)
		return dfm_ingest_fail(in, file, "data size does not match the shape");
	if (!(*values = malloc((size_t)n * sizeof **values)))
		return dfm_ingest_fail(in, file, "out of memory");
	for (int64_t i = 0; i < n; i++) {
		if (f8)
			memcpy(&(*values)[i], data + start + 8 * i, 8);
		else
			(*values)[i] = data[start + i];
	}
	return 0;
}

static int
lfw25_files(struct dfm_ingest *in)
{
	return dfm_ingest_source(in, in->path);
}

static int
add_faces(struct dfm_ingest *in, const double *v, const int64_t *shape)
{
	size_t px = (size_t)shape[1] * shape[2];
	uint8_t *pix = malloc(px);
	int rc = 0;

	if (!pix)
		return dfm_ingest_fail(in, NULL, "out of memory");
	for (int64_t i = 0; i < shape[0] && !rc; i++) {
		for (size_t j = 0; j < px; j++) {
			double x = v[i * px + j];

			x = x > 0 ? (x < 1 ? x : 1) : 0;    /* NaN becomes 0 too */
			pix[j] = (uint8_t)(x * 255 + 0.5);
		}
		rc = dfm_ingest_add(in, in->path, pix, (int)shape[1], (int)shape[2], 1,
				    i < shape[0] / 2 ? 0 : 1);
	}
	free(pix);
	return rc;
}

static int
lfw25_read(struct dfm_ingest *in)
{
	uint8_t *data;
	size_t size;
	double *v = NULL;
	int64_t shape[4];
	int ndim, k, rc;

	if ((rc = dfm_ingest_class(in, "face", &k)) ||
	    (rc = dfm_ingest_class(in, "not face", &k)) ||
	    (rc = dfm_ingest_slurp(in, in->path, 1 << 28, &data, &size)))
		return rc;
	rc = dfm_npy_parse(in, in->path, data, size, &v, shape, &ndim);
	free(data);
	if (!rc && (ndim != 3 || shape[0] < 2 || shape[0] % 2 || shape[1] < 1 ||
		    shape[2] < 1 || shape[1] > 4096 || shape[2] > 4096))
		rc = dfm_ingest_fail(in, in->path, "want an even number of 2-d images");
	if (!rc)
		rc = add_faces(in, v, shape);
	free(v);
	return rc;
}

const struct dfm_adapter dfm_adapter_lfw25 = {
	.name = "lfw25",
	.summary = "scikit-image's LFW subset: 100 faces and 100 non-faces, 25 x 25",
	.default_path = "/usr/lib/python3/dist-packages/skimage/data/lfw_subset.npy",
	.install = "apt-get install python3-skimage",
	.licence = "LFW: research use; scikit-image BSD-3-Clause",
	.files = lfw25_files,
	.read = lfw25_read,
};
