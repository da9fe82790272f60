#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tests/unit/data_util.h"
#include "tests/unit/inception_fixture.h"
#include "tests/unit/test.h"

int
incep_fixture_open(struct incep_fixture *f, const char *variant)
{
	char path[512], err[200];
	const char *top = getenv("TOP");

	memset(f, 0, sizeof *f);
	snprintf(path, sizeof path, "%s/tests/fixtures/inception/%s.safetensors",
		 top ? top : ".", variant);
	if (!(f->buf = dfm_test_read_file(path, &f->size)) ||
	    dfm_st_open(f->buf, f->size, &f->st, err, sizeof err) != 0) {
		dfm_test_fail(__FILE__, __LINE__, "cannot read fixture %s", path);
		incep_fixture_close(f);
		return -1;
	}
	return 0;
}

void
incep_fixture_close(struct incep_fixture *f)
{
	if (f->st)
		dfm_st_close(f->st);
	free(f->buf);
	memset(f, 0, sizeof *f);
}

/* The generator of inception_fixtures.py: splitmix64's finaliser over
 * fnv1a(name) + (i + 1) * golden, top 24 bits as a fraction. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xCBF29CE484222325u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001B3u;
	return h;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void
fill(const char *name, const int64_t *shape, int ndim, float *out, size_t count)
{
	uint64_t stream = fnv1a(name);
	double lo = -0.1, hi = 0.1;

	if (ends_with(name, "conv.weight")) {
		hi = sqrt(6.0 / (double)(shape[1] * shape[2] * shape[3]));
		lo = -hi;
	} else if (ends_with(name, "bn.weight") || ends_with(name, "bn.running_var")) {
		lo = 0.8;
		hi = 1.2;
	} else if (ends_with(name, ".weight") && ndim == 2) {
		hi = sqrt(3.0 / (double)shape[1]);
		lo = -hi;
	}
	for (size_t i = 0; i < count; i++) {
		uint64_t x = stream + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15u;

		x ^= x >> 30;
		x *= 0xBF58476D1CE4E5B9u;
		x ^= x >> 27;
		x *= 0x94D049BB133111EBu;
		x ^= x >> 31;
		out[i] = (float)(lo + (hi - lo) * ((double)(x >> 40) / (double)(1 << 24)));
	}
}

static int
add_tensor(struct dfm_st_writer *w, json_object *entry, float **keep, int *nkeep)
{
	json_object *jshape = json_object_array_get_idx(entry, 1);
	const char *name = json_object_get_string(json_object_array_get_idx(entry, 0));
	int64_t shape[4];
	int ndim = (int)json_object_array_length(jshape);
	size_t count = 1;
	float *data;

	for (int d = 0; d < ndim && d < 4; d++) {
		shape[d] = json_object_get_int64(json_object_array_get_idx(jshape, d));
		count *= (size_t)shape[d];
	}
	if (ndim > 4 || !(data = malloc(count * sizeof *data)))
		return -1;
	keep[(*nkeep)++] = data;
	fill(name, shape, ndim, data, count);
	return dfm_st_add(w, name, DFM_F32, ndim, shape, data);
}

void *
incep_weights(const struct incep_fixture *f, size_t *size)
{
	const char *list = dfm_st_meta_get(f->st, "weights");
	json_object *arr = list ? json_tokener_parse(list) : NULL;
	struct dfm_st_writer *w = dfm_st_writer_new();
	int n = arr ? (int)json_object_array_length(arr) : 0, nkeep = 0, bad = !arr || !w;
	float **keep = calloc((size_t)n + 1, sizeof *keep);
	void *out = NULL;

	bad = bad || !keep;
	for (int i = 0; i < n && !bad; i++)
		bad = add_tensor(w, json_object_array_get_idx(arr, i), keep, &nkeep) != 0;
	if (!bad)
		bad = dfm_st_meta(w, "variant", dfm_st_meta_get(f->st, "variant")) ||
		      dfm_st_meta(w, "network", "Inception-v3, random test weights");
	if (!bad)
		bad = dfm_st_writer_finish(w, &out, size) != 0;
	else
		dfm_st_writer_free(w);
	for (int i = 0; i < nkeep; i++)
		free(keep[i]);
	free(keep);
	json_object_put(arr);
	if (bad || !out)
		dfm_test_fail(__FILE__, __LINE__, "cannot generate the fixture's weights");
	return bad ? NULL : out;
}
