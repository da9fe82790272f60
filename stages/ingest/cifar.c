/* CIFAR-10 and CIFAR-100 binary versions: records of label bytes (CIFAR-10:
 * one; CIFAR-100: coarse then fine) and 3,072 pixel bytes, the red, green
 * and blue 32 x 32 planes in turn.  Class names come from the text files
 * beside the batches (batches.meta.txt; fine_label_names.txt and
 * coarse_label_names.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/ingest/ingest.h"

enum { SIDE = 32, PLANE = SIDE * SIDE };

static const char *const cifar10_train[] = {
	"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
	"data_batch_4.bin", "data_batch_5.bin", NULL,
};
static const char *const cifar10_test[] = {"test_batch.bin", NULL};
static const char *const cifar100_train[] = {"train.bin", NULL};
static const char *const cifar100_test[] = {"test.bin", NULL};

int
dfm_cifar_parse(struct dfm_ingest *in, const char *file, const uint8_t *data,
		size_t size, int cifar100)
{
	size_t nlab = cifar100 ? 2 : 1, rec = nlab + 3 * PLANE;
	int which = cifar100 && strcmp(in->labels, "coarse") != 0 ? 1 : 0;
	uint8_t pix[3 * PLANE];
	int rc;

	if (size == 0 || size % rec)
		return dfm_ingest_fail(in, file, "size %zu is not a whole number of "
				       "%zu-byte CIFAR records", size, rec);
	for (size_t r = 0; r < size / rec; r++) {
		const uint8_t *p = data + r * rec;
		int label = p[which];

		if (label >= dfm_dsbuild_nclasses(in->b))
			return dfm_ingest_fail(in, file, "label %d of record %zu out of "
					       "range (%d classes)", label, r,
					       dfm_dsbuild_nclasses(in->b));
		for (int i = 0; i < PLANE; i++)
			for (int ch = 0; ch < 3; ch++)
				pix[3 * i + ch] = p[nlab + ch * PLANE + i];
		if ((rc = dfm_ingest_add(in, file, pix, SIDE, SIDE, 3, label)))
			return rc;
	}
	return 0;
}

static const char *const *
batches(struct dfm_ingest *in, int cifar100, int part)
{
	int all = strcmp(in->split, "all") == 0, test = strcmp(in->split, "test") == 0;

	if (part > 1 || (part == 1 && !all))
		return NULL;
	if (test || part == 1)
		return cifar100 ? cifar100_test : cifar10_test;
	return cifar100 ? cifar100_train : cifar10_train;
}

static const char *
names_file(struct dfm_ingest *in, int cifar100)
{
	if (!cifar100)
		return "batches.meta.txt";
	return strcmp(in->labels, "coarse") == 0 ? "coarse_label_names.txt" :
						    "fine_label_names.txt";
}

static int
each_file(struct dfm_ingest *in, int cifar100, int (*fn)(struct dfm_ingest *, const char *, int),
	  int arg)
{
	const char *const *list;
	int rc = 0;

	for (int part = 0; !rc && (list = batches(in, cifar100, part)); part++)
		for (int i = 0; !rc && list[i]; i++) {
			char *path = dfm_path_join(in->path, list[i]);

			rc = path ? fn(in, path, arg) : dfm_ingest_fail(in, NULL, "out of memory");
			free(path);
		}
	return rc;
}

static int
list_one(struct dfm_ingest *in, const char *path, int arg)
{
	(void)arg;
	return dfm_ingest_source(in, path);
}

static int
read_one(struct dfm_ingest *in, const char *path, int cifar100)
{
	uint8_t *data;
	size_t size;
	int rc;

	if ((rc = dfm_ingest_slurp(in, path, (size_t)1 << 30, &data, &size)))
		return rc;
	rc = dfm_cifar_parse(in, path, data, size, cifar100);
	free(data);
	return rc;
}

/* One class per non-empty line of the names file. */
static int
read_names(struct dfm_ingest *in, int cifar100)
{
	char *path = dfm_path_join(in->path, names_file(in, cifar100));
	uint8_t *text = NULL;
	size_t size;
	int rc, k;

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if ((rc = dfm_ingest_slurp(in, path, 1 << 20, &text, &size)))
		goto out;
	for (char *line = (char *)text, *end; line < (char *)text + size; line = end + 1) {
		if (!(end = memchr(line, '\n', (char *)text + size - line)))
			end = (char *)text + size;
		*end = '\0';
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		if (*line && (rc = dfm_ingest_class(in, line, &k)))
			goto out;
	}
	if (!dfm_dsbuild_nclasses(in->b))
		rc = dfm_ingest_fail(in, path, "no class names");
out:
	free(text);
	free(path);
	return rc;
}

static int
files(struct dfm_ingest *in, int cifar100)
{
	char *names = dfm_path_join(in->path, names_file(in, cifar100));
	int rc;

	if (!names)
		return dfm_ingest_fail(in, NULL, "out of memory");
	rc = dfm_ingest_source(in, names);
	free(names);
	return rc ? rc : each_file(in, cifar100, list_one, 0);
}

static int
cifar10_files(struct dfm_ingest *in)
{
	return files(in, 0);
}

static int
cifar100_files(struct dfm_ingest *in)
{
	return files(in, 1);
}

static int
cifar10_read(struct dfm_ingest *in)
{
	int rc = read_names(in, 0);

	return rc ? rc : each_file(in, 0, read_one, 0);
}

static int
cifar100_read(struct dfm_ingest *in)
{
	int rc = read_names(in, 1);

	return rc ? rc : each_file(in, 1, read_one, 1);
}

const struct dfm_adapter dfm_adapter_cifar10 = {
	.name = "cifar10",
	.summary = "CIFAR-10 binary version (cifar-10-batches-bin) in 'path'",
	.has_split = 1,
	.files = cifar10_files,
	.read = cifar10_read,
};

const struct dfm_adapter dfm_adapter_cifar100 = {
	.name = "cifar100",
	.summary = "CIFAR-100 binary version (cifar-100-binary) in 'path'; labels "
		   "fine or coarse",
	.has_split = 1,
	.files = cifar100_files,
	.read = cifar100_read,
};
