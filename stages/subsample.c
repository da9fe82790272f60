/* The subsample kind: a class-balanced random subset of n images (the
 * paper's 5,000), split into a training part and a validation part (the
 * paper's 4,000 and 1,000).  The test set is not routed through here: it is
 * ingested whole with split "test".
 *
 * Balance: each class gets floor(n / K) images, the first n mod K classes
 * of a seeded shuffle one more; a class with fewer images gives all it has
 * and its shortfall goes round the others again.  The validation part takes
 * from each class its share of val (largest remainders round), so both
 * parts stay balanced.  Images keep their original order in every output.
 *
 * The random stream is splitmix64 seeded with the seed parameter: each
 * class's images are shuffled by Fisher-Yates in class order, and the
 * first of the shuffled images are taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/dataset.h"
#include "stages/stage.h"

static const struct dfm_param params[] = {
	{"n", DFM_INT, "5000", "images to keep, balanced over classes", NULL, 1, 1e9},
	{"val", DFM_INT, "1000", "of those, images for the validation part", NULL, 0, 1e9},
	{"seed", DFM_INT, "0", "seed of the random choice", NULL, 0, 0},
	{0},
};

static const struct dfm_slot inputs[] = {
	{"data", 0, "the dataset to subsample"},
	{0},
};

static const struct dfm_output outputs[] = {
	{"data", "safetensors", "all n chosen images"},
	{"train", "safetensors", "the chosen images less the validation part"},
	{"val", "safetensors", "the validation part"},
	{0},
};

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias. */
static uint64_t
below(uint64_t *s, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = splitmix64(s);
	while (x >= limit);
	return x % n;
}

static void
shuffle(int64_t *v, int64_t n, uint64_t *s)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)below(s, (uint64_t)i + 1), t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* Quotas per class summing to min(n, images): equal shares, the extra
 * images to the first classes of a shuffled order, and what a small class
 * cannot give shared again among the others. */
static void
quotas(const int64_t *avail, int k, int64_t n, int64_t *q, uint64_t *s)
{
	int64_t order[k], left = n, sum = 0;

	for (int c = 0; c < k; c++) {
		q[c] = 0;
		order[c] = c;
		sum += avail[c];
	}
	left = n < sum ? n : sum;
	shuffle(order, k, s);
	while (left > 0) {
		int64_t open = 0, share, extra, seen = 0;

		for (int c = 0; c < k; c++)
			open += q[c] < avail[c];
		share = left / open;
		extra = left % open;
		for (int i = 0; i < k; i++) {
			int c = (int)order[i];
			int64_t want, take;

			if (q[c] >= avail[c])
				continue;
			want = share + (seen++ < extra);
			take = want < avail[c] - q[c] ? want : avail[c] - q[c];
			q[c] += take;
			left -= take;
		}
	}
}

/* Splits total into parts proportional to weights by largest remainder. */
static void
proportional(const int64_t *w, int k, int64_t sum, int64_t total, int64_t *out)
{
	int64_t given = 0;

	for (int c = 0; c < k; c++) {
		out[c] = sum ? total * w[c] / sum : 0;
		given += out[c];
	}
	while (given < total) {
		int best = -1;
		int64_t bestrem = -1;

		for (int c = 0; c < k; c++) {
			int64_t rem = sum ? total * w[c] % sum : 0;

			if (out[c] < w[c] && rem > bestrem) {
				best = c;
				bestrem = rem;
			}
		}
		if (best < 0)
			break;
		out[best]++;
		given++;
	}
}

/* Marks each chosen image 1 (train) or 2 (val) in pick. */
static int
choose(const struct dfm_dataset *ds, int64_t n, int64_t val, uint64_t seed,
       uint8_t *pick)
{
	int k = ds->nclasses;
	int64_t *avail = dfm_dataset_counts(ds), *q = calloc(k, sizeof *q);
	int64_t *vq = calloc(k, sizeof *vq), *idx = malloc((ds->n + 1) * sizeof *idx);
	int64_t *start = calloc(k + 1, sizeof *start), total = 0;
	int rc = DFM_ERR_NOMEM;

	if (!avail || !q || !vq || !idx || !start)
		goto out;
	quotas(avail, k, n, q, &seed);
	for (int c = 0; c < k; c++) {
		start[c + 1] = start[c] + avail[c];
		total += q[c];
	}
	proportional(q, k, total, val < total ? val : total, vq);
	for (int64_t i = 0; i < ds->n; i++)
		idx[start[ds->labels[i]]++] = i;
	for (int c = k - 1; c >= 0; c--)
		start[c + 1] = start[c];
	start[0] = 0;
	for (int c = 0; c < k; c++) {
		shuffle(idx + start[c], avail[c], &seed);
		for (int64_t j = 0; j < q[c]; j++)
			pick[idx[start[c] + j]] = j < vq[c] ? 2 : 1;
	}
	rc = 0;
out:
	free(avail);
	free(q);
	free(vq);
	free(idx);
	free(start);
	return rc;
}

/* Writes the images whose pick is in mask as output name. */
static int
put_part(struct dfm_run *r, const struct dfm_dataset *ds, const uint8_t *pick,
	 unsigned mask, const char *name, const char *split)
{
	struct dfm_dataset out = *ds;
	size_t img = (size_t)ds->h * ds->w * ds->c;
	int64_t m = 0;
	uint8_t *pix = NULL;
	int32_t *lab = NULL;
	int64_t *orig = NULL;
	void *buf;
	size_t len;
	int rc = DFM_ERR_NOMEM;

	for (int64_t i = 0; i < ds->n; i++)
		m += (pick[i] & mask) != 0;
	pix = malloc(m * img + 1);
	lab = malloc((m + 1) * sizeof *lab);
	orig = ds->orig_sizes ? malloc((m + 1) * 2 * sizeof *orig) : NULL;
	if (!pix || !lab || (ds->orig_sizes && !orig))
		goto out;
	for (int64_t i = 0, j = 0; i < ds->n; i++) {
		if (!(pick[i] & mask))
			continue;
		memcpy(pix + j * img, ds->images + i * img, img);
		lab[j] = ds->labels[i];
		if (orig)
			memcpy(orig + 2 * j, ds->orig_sizes + 2 * i, 2 * sizeof *orig);
		j++;
	}
	out.n = m;
	out.images = pix;
	out.labels = lab;
	out.orig_sizes = orig;
	out.split = split;
	if (!(rc = dfm_dataset_write(&out, &buf, &len)))
		rc = dfm_put_owned(r, name, buf, len);
out:
	free(pix);
	free(lab);
	free(orig);
	return rc == DFM_ERR_STAGE || !rc ? rc : dfm_fail(r, "cannot write '%s': %s", name,
							   dfm_strerror(rc));
}

static int
subsample_run(struct dfm_run *r)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);
	int64_t n = dfm_int(r, "n"), val = dfm_int(r, "val");
	struct dfm_dataset ds;
	uint8_t *pick = NULL;
	char err[300];
	int rc;

	if (val > n)
		return dfm_fail(r, "val (%lld) exceeds n (%lld)", (long long)val, (long long)n);
	if (dfm_dataset_open(in->data, in->size, &ds, err, sizeof err))
		return dfm_fail(r, "input '%s' is not a dataset: %s", in->name, err);
	if (!ds.images) {
		rc = dfm_fail(r, "input '%s' has images of varying sizes: resize it first",
			      in->name);
		goto out;
	}
	if (ds.n < n)
		dfm_note(r, "'%s' has only %lld images; keeping them all", in->name,
			 (long long)ds.n);
	if (!(pick = calloc(ds.n + 1, 1)) ||
	    choose(&ds, n, val, (uint64_t)dfm_int(r, "seed"), pick)) {
		rc = dfm_fail(r, "out of memory");
		goto out;
	}
	if (!(rc = put_part(r, &ds, pick, 3, "data", ds.split)) &&
	    !(rc = put_part(r, &ds, pick, 1, "train", "train")))
		rc = put_part(r, &ds, pick, 2, "val", "val");
out:
	free(pick);
	dfm_dataset_close(&ds);
	return rc;
}

static int
subsample_describe(const char *output, const void *data, size_t size, void *file)
{
	(void)output;
	return dfm_dataset_describe(data, size, file);
}

const struct dfm_kind dfm_kind_subsample = {
	.name = "subsample",
	.version = 1,
	.summary = "class-balanced seeded subset, split into train and val parts",
	.params = params,
	.inputs = inputs,
	.outputs = outputs,
	.run = subsample_run,
	.describe = subsample_describe,
};
