/* IDX files (the MNIST format): big-endian magic 0x0000 08 NDIM, then NDIM
 * big-endian 32-bit sizes, then unsigned bytes.  Images have 3 dimensions,
 * labels 1.  Files may be gzip-compressed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stages/ingest/ingest.h"

static const char *const fmnist_classes[] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL,
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the magic and sizes; returns the element count of dimension 0. */
static int
header(struct dfm_ingest *in, const char *file, const uint8_t *p, size_t n, int ndim,
       uint32_t *dims)
{
	uint64_t count = 1;

	if (n < 4 || be32(p) != (0x0800u | (uint32_t)ndim))
		return dfm_ingest_fail(in, file, "not an IDX file of %d dimension%s of "
				       "bytes (wrong magic)", ndim, ndim > 1 ? "s" : "");
	if (n < 4 + 4 * (size_t)ndim)
		return dfm_ingest_fail(in, file, "truncated IDX header");
	for (int i = 0; i < ndim; i++) {
		dims[i] = be32(p + 4 + 4 * i);
		count *= dims[i];
	}
	if (ndim == 3 && (dims[1] == 0 || dims[2] == 0 || dims[1] > 4096 || dims[2] > 4096))
		return dfm_ingest_fail(in, file, "image size %ux%u is zero or too large",
				       dims[1], dims[2]);
	if (count != n - 4 - 4 * (size_t)ndim)
		return dfm_ingest_fail(in, file, "size does not match its header (%llu "
				       "bytes declared, %zu present)", (unsigned long long)count,
				       n - 4 - 4 * (size_t)ndim);
	return 0;
}

static int
number_classes(struct dfm_ingest *in, const char *file, const uint8_t *lab, uint32_t n)
{
	int max = -1, k;
	char name[16];

	for (uint32_t i = 0; i < n; i++)
		max = lab[i] > max ? lab[i] : max;
	for (int c = 0; c <= max; c++) {
		snprintf(name, sizeof name, "%d", c);
		if (dfm_ingest_class(in, name, &k))
			return dfm_ingest_fail(in, file, "out of memory");
	}
	return 0;
}

int
dfm_idx_parse(struct dfm_ingest *in, const char *file, const uint8_t *images,
	      size_t nimages, const uint8_t *labels, size_t nlabels)
{
	uint32_t di[3], dl[1];
	int rc;

	if ((rc = header(in, file, images, nimages, 3, di)) ||
	    (rc = header(in, file, labels, nlabels, 1, dl)))
		return rc;
	if (di[0] != dl[0])
		return dfm_ingest_fail(in, file, "%u images but %u labels", di[0], dl[0]);
	labels += 8;
	images += 16;
	if (!dfm_dsbuild_nclasses(in->b) && (rc = number_classes(in, file, labels, dl[0])))
		return rc;
	for (uint32_t i = 0; i < di[0]; i++) {
		if (labels[i] >= dfm_dsbuild_nclasses(in->b))
			return dfm_ingest_fail(in, file, "label %u of image %u out of range "
					       "(%d classes)", labels[i], i,
					       dfm_dsbuild_nclasses(in->b));
		rc = dfm_ingest_add(in, file, images + (size_t)i * di[1] * di[2],
				    (int)di[1], (int)di[2], 1, labels[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* The files of one split: images then labels, ".gz" when that exists. */
static int
split_files(struct dfm_ingest *in, const char *prefix, char *names[2])
{
	const char *base[2] = {"images-idx3-ubyte", "labels-idx1-ubyte"};

	for (int i = 0; i < 2; i++) {
		if (asprintf(&names[i], "%s/%s-%s.gz", in->path, prefix, base[i]) < 0) {
			names[i] = NULL;
			return dfm_ingest_fail(in, NULL, "out of memory");
		}
		if (access(names[i], F_OK) != 0)
			names[i][strlen(names[i]) - 3] = '\0';
	}
	return 0;
}

static const char *
prefix_of(struct dfm_ingest *in, int part)
{
	if (strcmp(in->split, "all") == 0)
		return part == 0 ? "train" : part == 1 ? "t10k" : NULL;
	if (part > 0)
		return NULL;
	return strcmp(in->split, "test") == 0 ? "t10k" : "train";
}

static int
read_split(struct dfm_ingest *in, const char *prefix)
{
	char *names[2] = {NULL, NULL};
	uint8_t *data[2] = {NULL, NULL};
	size_t size[2];
	int rc;

	if ((rc = split_files(in, prefix, names)))
		goto out;
	for (int i = 0; i < 2 && !rc; i++)
		rc = dfm_ingest_slurp(in, names[i], (size_t)1 << 32, &data[i], &size[i]);
	if (!rc)
		rc = dfm_idx_parse(in, names[0], data[0], size[0], data[1], size[1]);
out:
	for (int i = 0; i < 2; i++) {
		free(names[i]);
		free(data[i]);
	}
	return rc;
}

static int
idx_files(struct dfm_ingest *in)
{
	const char *prefix;
	int rc = 0;

	for (int part = 0; !rc && (prefix = prefix_of(in, part)); part++) {
		char *names[2] = {NULL, NULL};

		rc = split_files(in, prefix, names);
		for (int i = 0; i < 2 && !rc; i++)
			rc = dfm_ingest_source(in, names[i]);
		free(names[0]);
		free(names[1]);
	}
	return rc;
}

static int
idx_read(struct dfm_ingest *in)
{
	const char *prefix;
	int rc = 0;

	for (int part = 0; !rc && (prefix = prefix_of(in, part)); part++)
		rc = read_split(in, prefix);
	return rc;
}

static int
fmnist_read(struct dfm_ingest *in)
{
	int k;

	for (int i = 0; fmnist_classes[i]; i++)
		if (dfm_ingest_class(in, fmnist_classes[i], &k))
			return DFM_ERR_STAGE;
	return idx_read(in);
}

const struct dfm_adapter dfm_adapter_fmnist = {
	.name = "fmnist",
	.summary = "Fashion-MNIST, 70,000 28 x 28 grey images of 10 kinds of clothing",
	.default_path = "/usr/share/datasets/fashion-mnist",
	.install = "apt-get install dataset-fashion-mnist",
	.licence = "MIT",
	.has_split = 1,
	.files = idx_files,
	.read = fmnist_read,
};

const struct dfm_adapter dfm_adapter_idx = {
	.name = "idx",
	.summary = "IDX files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in 'path'",
	.has_split = 1,
	.files = idx_files,
	.read = idx_read,
};
