#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/nn/safetensors.h"
#include "tests/unit/metrics_fixture.h"
#include "tests/unit/test.h"

void *
mf_load(const char *name, size_t *size)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char path[1024];
	FILE *f;
	long len;
	void *buf = NULL;

	snprintf(path, sizeof path, "%s/tests/fixtures/metrics/%s", top, name);
	if (!(f = fopen(path, "rb"))) {
		dfm_test_fail(__FILE__, __LINE__, "cannot open fixture %s", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = aligned_alloc(64, ((size_t)len + 63) / 64 * 64)) &&
	    fread(buf, 1, (size_t)len, f) == (size_t)len)
		*size = (size_t)len;
	else {
		free(buf);
		buf = NULL;
		dfm_test_fail(__FILE__, __LINE__, "cannot read fixture %s", path);
	}
	fclose(f);
	return buf;
}

json_object *
mf_reference(void)
{
	static json_object *ref;
	size_t size;
	char *text;

	if (ref)
		return ref;
	if (!(text = mf_load("reference.json", &size)))
		return NULL;
	text[size - 1] = '\0';
	ref = json_tokener_parse(text);
	free(text);
	return ref;
}

double
mf_number(json_object *obj, const char *k1, const char *k2, const char *k3)
{
	const char *keys[3] = {k1, k2, k3};

	for (int i = 0; i < 3 && keys[i] && obj; i++)
		if (!json_object_object_get_ex(obj, keys[i], &obj))
			obj = NULL;
	return obj ? json_object_get_double(obj) : NAN;
}

static void *
finish(struct dfm_st_writer *w, size_t *size)
{
	void *buf = NULL, *aligned;

	if (dfm_st_writer_finish(w, &buf, size) != 0)
		return NULL;
	/* The engine hands inputs over 64-byte aligned; do the same. */
	if ((aligned = aligned_alloc(64, (*size + 63) / 64 * 64)))
		memcpy(aligned, buf, *size);
	free(buf);
	return aligned;
}

void *
mf_features(const char *tensor, const float *data, int64_t n, int64_t d,
	    const char *network, size_t *size)
{
	struct dfm_st_writer *w = dfm_st_writer_new();
	int64_t shape[2] = {n, d};

	if (!w || dfm_st_add(w, tensor, DFM_F32, 2, shape, data) ||
	    (network && dfm_st_meta(w, "network", network))) {
		dfm_st_writer_free(w);
		return NULL;
	}
	return finish(w, size);
}

void *
mf_dataset(const uint8_t *images, const int32_t *labels, int64_t n, int h, int w,
	   int c, size_t *size)
{
	struct dfm_st_writer *wr = dfm_st_writer_new();
	int64_t shape[4] = {n, h, w, c}, lshape[1] = {n};

	if (!wr || dfm_st_add(wr, "images", DFM_U8, 4, shape, images) ||
	    (labels && dfm_st_add(wr, "labels", DFM_I32, 1, lshape, labels)) ||
	    dfm_st_meta(wr, "source", "unit test")) {
		dfm_st_writer_free(wr);
		return NULL;
	}
	return finish(wr, size);
}

json_object *
mf_output_json(struct dfm_run *r, const char *name)
{
	size_t size;
	const char *data = dfm_run_output(r, name, &size);
	char *text;
	json_object *obj;

	if (!data || !(text = strndup(data, size)))
		return NULL;
	obj = json_tokener_parse(text);
	free(text);
	return obj;
}
